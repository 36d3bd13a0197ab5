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
