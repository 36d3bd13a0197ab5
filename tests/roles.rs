//! Roles over HTTP: every protected endpoint with a provider's token (its
//! own data and a foreign AGB) and with the zorgkantoor's. A provider that
//! asks for another's data gets 403 whatever exists, and learns nothing.

mod http;

use bytes::Bytes;
use http::*;
use hyper::{Method, StatusCode};

/// The one body of every 403 (problem+json): the same whether the data
/// asked for exists or not.
const FORBIDDEN: &str =
    "{\"detail\":\"forbidden\",\"status\":403,\"title\":\"Forbidden\",\"type\":\"about:blank\"}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_checks_role_and_agb() {
    let s = Server::start().await;
    let addr = s.addr;

    // Declarations: a provider as itself; the zorgkantoor may not.
    let a = declare(addr, AUTH_A, declaration("ROL-1")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.verwerking(), "Geaccepteerd", "{}", a.body);
    // B posting as A: rejected whole, 0107.
    let b = declare(addr, AUTH_B, declaration("ROL-2")).await;
    assert_eq!(b.status, StatusCode::OK);
    assert_eq!(b.codes(), ["0107"], "{}", b.body);
    for path in ["/declaraties", "/testbatches"] {
        let z = send(
            addr,
            Method::POST,
            path,
            &[AUTH_ZK, JSON],
            Bytes::from(declaration("ROL-3")),
        )
        .await;
        assert_eq!(z.status, StatusCode::FORBIDDEN, "{path}");
    }
    let t = send(
        addr,
        Method::POST,
        "/testbatches",
        &[AUTH_A, JSON],
        Bytes::from(declaration("ROL-T")),
    )
    .await;
    assert_eq!(t.verwerking(), "Test", "{}", t.body);

    // The registry: the zorgkantoor only.
    for auth in [AUTH_A, AUTH_B] {
        let r = send(
            addr,
            Method::POST,
            "/registry",
            &[auth],
            Bytes::from(registry_sample()),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert_eq!(r.body, FORBIDDEN);
    }
    let r = send(
        addr,
        Method::POST,
        "/registry",
        &[AUTH_ZK],
        Bytes::from(registry_sample()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // One message: its owner; another provider gets 404 (looked up under its
    // own AGB) or 403 when it names the owner; the zorgkantoor names the AGB.
    assert_eq!(
        get(addr, "/declaraties/ROL-1", AUTH_A).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(addr, "/declaraties/ROL-1/antwoord", AUTH_A)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        get(addr, "/declaraties/ROL-1?agb=12345678", AUTH_A)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        get(addr, "/declaraties/ROL-1", AUTH_B).await.status,
        StatusCode::NOT_FOUND
    );
    // Foreign AGB: 403 whether the message exists or not (same body).
    let known = get(addr, "/declaraties/ROL-1?agb=12345678", AUTH_B).await;
    let unknown = get(addr, "/declaraties/NOPE-9?agb=12345678", AUTH_B).await;
    let nobody = get(addr, "/declaraties/NOPE-9?agb=99999999", AUTH_B).await;
    for x in [&known, &unknown, &nobody] {
        assert_eq!(x.status, StatusCode::FORBIDDEN);
        assert_eq!(x.body, known.body);
    }
    assert_eq!(
        get(addr, "/declaraties/ROL-1/antwoord?agb=12345678", AUTH_B)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(addr, "/declaraties/ROL-1", AUTH_ZK).await.status,
        StatusCode::BAD_REQUEST
    );
    let z = get(addr, "/declaraties/ROL-1?agb=12345678", AUTH_ZK).await;
    assert_eq!(z.status, StatusCode::OK, "{}", z.body);
    assert_eq!(z.json()["afzender"], A);

    // The ledger: a provider sees its own rows only; the zorgkantoor all.
    for path in ["/ledger/nacalculatie?year=2024", "/ledger/report?year=2024"] {
        let own = get(addr, path, AUTH_A).await;
        assert_eq!(own.status, StatusCode::OK, "{path}: {}", own.body);
        let rows = own.json()["nacalculatie"].as_array().unwrap().clone();
        assert!(!rows.is_empty(), "{path}: {}", own.body);
        assert!(rows.iter().all(|r| r["agb"] == A), "{}", own.body);
        let other = get(addr, path, AUTH_B).await;
        assert_eq!(other.status, StatusCode::OK);
        assert!(
            !other.body.contains(A),
            "B sees A's rows on {path}: {}",
            other.body
        );
        for q in ["&agb=12345678", "&agb=99999999", "&agb=x"] {
            let f = get(addr, &format!("{path}{q}"), AUTH_B).await;
            assert_eq!(f.status, StatusCode::FORBIDDEN, "{path}{q}");
            assert_eq!(f.body, FORBIDDEN);
        }
        // 403 comes before the year is validated: no oracle either.
        let f = get(addr, "/ledger/report?agb=12345678", AUTH_B).await;
        assert_eq!(f.status, StatusCode::FORBIDDEN);
        let all = get(addr, path, AUTH_ZK).await;
        assert_eq!(all.status, StatusCode::OK);
        assert!(all.body.contains(A), "{}", all.body);
        let one = get(addr, &format!("{path}&agb=22220002"), AUTH_ZK).await;
        assert_eq!(one.status, StatusCode::OK);
        assert!(!one.body.contains(A), "{}", one.body);
    }
    let csv = get(addr, "/ledger/nacalculatie?year=2024&format=csv", AUTH_B).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(!csv.body.contains(A), "{}", csv.body);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_cannot_replace_the_registry() {
    // The failure of issue 11: B posted an IO31 and A's declaration was then
    // rejected on every line.
    let s = Server::start().await;
    let r = send(
        s.addr,
        Method::POST,
        "/registry",
        &[AUTH_B],
        Bytes::from(registry_sample()),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let a = declare(s.addr, AUTH_A, declaration("REG-1")).await;
    assert_eq!(a.verwerking(), "Geaccepteerd", "{}", a.body);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_their_own_listener() {
    let s = Server::start_with(|c| c.server.metrics_listen = Some("127.0.0.1:0".into())).await;
    assert_eq!(
        get(s.addr, "/metrics", AUTH_A).await.status,
        StatusCode::NOT_FOUND
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let maddr = l.local_addr().unwrap();
    let task = tokio::spawn(zio_gateway::server::ops::run_metrics(l, s.state.clone()));
    let m = get(maddr, "/metrics", AUTH_A).await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m.body.contains("zio_gateway_"), "{}", m.body);
    assert_eq!(
        get(maddr, "/declaraties", AUTH_A).await.status,
        StatusCode::NOT_FOUND
    );
    task.abort();
    s.shutdown().await;
}

const CSV_BODY: (&str, &str) = ("content-type", "text/csv");
const JSON_BODY: (&str, &str) = ("content-type", "application/json");
const ABSENCE_HEADER: &str = "agb,zorgkantoor,bsn,brin,product_code,maand,soort,volume\n";

/// One absence row of pupil 123456782 at 12AB for H307.
fn absence_row(agb: &str, maand: &str, soort: &str, volume: &str) -> String {
    format!("{agb},5509,123456782,12AB,H307,{maand},{soort},{volume}\n")
}

async fn post_absence(
    addr: std::net::SocketAddr,
    auth: (&str, &str),
    ty: (&str, &str),
    path: &str,
    body: String,
) -> Answer {
    send(addr, Method::POST, path, &[auth, ty], Bytes::from(body)).await
}

/// Absence over HTTP: a provider registers and reads its own rows only (a
/// row or `?agb=` of another AGB: the one 403, nothing recorded); the
/// zorgkantoor registers and reads any. Re-upload changes nothing; a bad
/// row is answered with its number and nothing of the upload is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absence_by_role_and_agb() {
    let s = Server::start().await;
    let addr = s.addr;
    let path = "/ledger/absence";
    let own = format!(
        "{ABSENCE_HEADER}{}{}",
        absence_row(A, "2024-03", "gepland", "4"),
        absence_row(A, "2024-04", "ongepland", "1.5")
    );
    let r = post_absence(addr, AUTH_A, CSV_BODY, path, own.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.json()["rijen"].as_u64(), r.json()["gewijzigd"].as_u64()),
        (Some(2), Some(2))
    );
    let again = post_absence(addr, AUTH_A, CSV_BODY, path, own).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.json()["gewijzigd"], 0, "{}", again.body);

    // Another provider's row, or another provider's AGB asked: 403, the
    // same body whether that AGB exists or not, and nothing recorded.
    let mixed = format!(
        "{ABSENCE_HEADER}{}{}",
        absence_row(A, "2024-05", "gepland", "9"),
        absence_row(B, "2024-05", "gepland", "1")
    );
    let f = post_absence(addr, AUTH_A, CSV_BODY, path, mixed).await;
    assert_eq!(f.status, StatusCode::FORBIDDEN, "{}", f.body);
    assert_eq!(f.body, FORBIDDEN);
    for agb in [A, "99999999"] {
        let body = format!(
            "{ABSENCE_HEADER}{}",
            absence_row(agb, "2024-05", "gepland", "1")
        );
        let f = post_absence(addr, AUTH_B, CSV_BODY, path, body).await;
        assert_eq!(f.status, StatusCode::FORBIDDEN, "{agb}: {}", f.body);
        assert_eq!(f.body, FORBIDDEN);
    }
    let body = format!(
        "{ABSENCE_HEADER}{}",
        absence_row(A, "2024-05", "gepland", "1")
    );
    let f = post_absence(addr, AUTH_A, CSV_BODY, "/ledger/absence?agb=22220002", body).await;
    assert_eq!(f.status, StatusCode::FORBIDDEN);

    // A bad row: 400 with its number and reason; the good row before it
    // is not recorded either.
    let bad = format!(
        "{ABSENCE_HEADER}{}{}",
        absence_row(A, "2024-05", "gepland", "9"),
        absence_row(A, "2024-05", "ziek", "1")
    );
    let b = post_absence(addr, AUTH_A, CSV_BODY, path, bad).await;
    assert_eq!(b.status, StatusCode::BAD_REQUEST, "{}", b.body);
    assert_eq!(b.json()["rij"], 2, "{}", b.body);
    assert!(
        b.json()["detail"].as_str().unwrap().contains("soort"),
        "{}",
        b.body
    );

    // JSON by its Content-Type; anything else is 415.
    let json = format!(
        r#"[{{"agb": "{A}", "zorgkantoor": "5509", "bsn": "123456782", "brin": "12AB",
        "product_code": "H307", "maand": "2024-06", "soort": "ongepland", "volume": "0.25"}}]"#
    );
    let j = post_absence(addr, AUTH_A, JSON_BODY, path, json.clone()).await;
    assert_eq!(j.status, StatusCode::OK, "{}", j.body);
    assert_eq!(j.json()["gewijzigd"], 1);
    let t = post_absence(addr, AUTH_A, ("content-type", "text/plain"), path, json).await;
    assert_eq!(t.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", t.body);

    // The zorgkantoor registers for any provider.
    let body = format!(
        "{ABSENCE_HEADER}{}",
        absence_row(A, "2024-07", "gepland", "2")
    );
    let z = post_absence(addr, AUTH_ZK, CSV_BODY, path, body).await;
    assert_eq!(z.status, StatusCode::OK, "{}", z.body);

    // The report: gepland 4 + 2 = 6 h, ongepland 1.5 + 0.25 = 1.75 h, nothing
    // of May (both uploads refused); onverklaard 1200 - 0 - 6 - 1.75.
    let report = get(addr, "/ledger/absence?year=2024", AUTH_A).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    let rows = report.json()["absence"].as_array().unwrap().clone();
    let h307 = rows.iter().find(|r| r["code"] == "H307").unwrap();
    assert_eq!(h307["agb"], A);
    assert_eq!(h307["agreed"], "1200.00");
    assert_eq!(h307["declared"], "0.00");
    assert_eq!(h307["afwezig_gepland"], "6.00");
    assert_eq!(h307["afwezig_ongepland"], "1.75");
    assert_eq!(h307["onverklaard"], "1192.25");
    assert!(rows.iter().all(|r| r["agb"] == A), "{}", report.body);
    let csv = get(addr, "/ledger/absence?year=2024&format=csv", AUTH_A).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"),
        "{:?}",
        csv.headers
    );
    assert!(
        csv.body
            .contains("12345678,5509,H307,uur,1200.00,0.00,6.00,1.75,1192.25"),
        "{}",
        csv.body
    );
    let pupils = get(
        addr,
        "/ledger/absence?year=2024&format=csv&section=pupils_by_month",
        AUTH_A,
    )
    .await;
    assert_eq!(
        pupils.body.lines().next(),
        Some("agb,zorgkantoor,month,pupils,pupils_starting,pupils_leaving")
    );
    let other = get(addr, "/ledger/absence?year=2024", AUTH_B).await;
    assert_eq!(other.status, StatusCode::OK);
    assert!(!other.body.contains(A), "B sees A's rows: {}", other.body);
    for q in ["&agb=12345678", "&agb=99999999"] {
        let f = get(addr, &format!("/ledger/absence?year=2024{q}"), AUTH_B).await;
        assert_eq!(f.status, StatusCode::FORBIDDEN, "{q}");
        assert_eq!(f.body, FORBIDDEN);
    }
    let all = get(addr, "/ledger/absence?year=2024", AUTH_ZK).await;
    assert!(all.body.contains(A), "{}", all.body);
    let none = get(addr, "/ledger/absence?year=2024&agb=22220002", AUTH_ZK).await;
    assert_eq!(none.status, StatusCode::OK);
    assert!(!none.body.contains(A), "{}", none.body);
    assert_eq!(
        get(addr, "/ledger/absence", AUTH_A).await.status,
        StatusCode::BAD_REQUEST
    );
    let put = send(addr, Method::PUT, path, &[AUTH_A], Bytes::new()).await;
    assert_eq!(put.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(put.headers["allow"], "GET, POST");
    s.shutdown().await;
}

/// Making a herschikking definitive over HTTP: the zorgkantoor's act, for
/// the provider it names; a provider gets 403; a second time is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn herschikking_definitief_is_the_zorgkantoors_act() {
    let s = Server::start().await;
    let addr = s.addr;
    let post = |auth: (&'static str, &'static str), path: &'static str| async move {
        send(addr, Method::POST, path, &[auth], Bytes::new()).await
    };
    let key = "/ledger/herschikking/definitief?agb=12345678&zorgkantoor=5509&year=2024";
    for path in [
        key,
        "/ledger/herschikking/definitief?zorgkantoor=5509&year=2024",
    ] {
        let f = post(AUTH_A, path).await;
        assert_eq!(f.status, StatusCode::FORBIDDEN, "{path}: {}", f.body);
        assert_eq!(f.body, FORBIDDEN);
    }
    let f = post(AUTH_B, key).await;
    assert_eq!(f.status, StatusCode::FORBIDDEN);
    // The zorgkantoor names the provider, the zorgkantoor and the year.
    let n = post(
        AUTH_ZK,
        "/ledger/herschikking/definitief?zorgkantoor=5509&year=2024",
    )
    .await;
    assert_eq!(n.status, StatusCode::BAD_REQUEST, "{}", n.body);
    let n = post(
        AUTH_ZK,
        "/ledger/herschikking/definitief?agb=12345678&year=2024",
    )
    .await;
    assert_eq!(n.status, StatusCode::BAD_REQUEST, "{}", n.body);
    let status = |v: serde_json::Value| v["nacalculatie"][0]["herschikking_status"].clone();
    let before = get(addr, "/ledger/nacalculatie?year=2024", AUTH_A).await;
    assert_eq!(status(before.json()), "voorlopig");

    let d = post(AUTH_ZK, key).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    let e = d.json();
    assert_eq!(e["action"], "definitief");
    assert_eq!(e["actor"], "zorgkantoor");
    assert_eq!(e["agb"], A);
    assert_eq!(
        (e["old_cents"].as_i64(), e["new_cents"].as_i64()),
        (Some(9_180_000), Some(9_180_000))
    );
    let after = get(addr, "/ledger/nacalculatie?year=2024", AUTH_A).await;
    assert_eq!(status(after.json()), "definitief", "{}", after.body);
    // Once: a second time is refused, and so is a year without agreement.
    let again = post(AUTH_ZK, key).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    let none = post(
        AUTH_ZK,
        "/ledger/herschikking/definitief?agb=12345678&zorgkantoor=5509&year=2023",
    )
    .await;
    assert_eq!(none.status, StatusCode::CONFLICT, "{}", none.body);
    // Each side marks the ZiO row agreed over HTTP: the zorgkantoor names
    // the provider; the provider marks its own; only both make `akkoord`.
    let n = post(
        AUTH_ZK,
        "/ledger/herschikking/akkoord?zorgkantoor=5509&year=2024",
    )
    .await;
    assert_eq!(n.status, StatusCode::BAD_REQUEST, "{}", n.body);
    let z = post(
        AUTH_ZK,
        "/ledger/herschikking/akkoord?agb=12345678&zorgkantoor=5509&year=2024",
    )
    .await;
    assert_eq!(z.status, StatusCode::OK, "{}", z.body);
    assert_eq!(z.json()["action"], "akkoord_zorgkantoor");
    let agreed = |v: serde_json::Value| v["nacalculatie"][0]["akkoord"].clone();
    let half = get(addr, "/ledger/nacalculatie?year=2024", AUTH_A).await;
    assert_eq!(agreed(half.json()), false, "{}", half.body);
    let f = post(
        AUTH_B,
        "/ledger/herschikking/akkoord?agb=12345678&zorgkantoor=5509&year=2024",
    )
    .await;
    assert_eq!(f.status, StatusCode::FORBIDDEN, "{}", f.body);
    let a = post(
        AUTH_A,
        "/ledger/herschikking/akkoord?zorgkantoor=5509&year=2024",
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let both = get(addr, "/ledger/nacalculatie?year=2024", AUTH_A).await;
    assert_eq!(agreed(both.json()), true, "{}", both.body);
    // The history says who did what.
    let h = get(addr, "/ledger/herschikking?year=2024", AUTH_A).await;
    let events = h.json()["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 3, "{}", h.body);
    assert_eq!(events[0]["action"], "definitief");
    assert_eq!(events[1]["actor"], "zorgkantoor");
    s.shutdown().await;
}
