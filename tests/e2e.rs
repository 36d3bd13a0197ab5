//! End-to-end: the real `zio-gateway serve` binary on a loopback port (it
//! prints the bound address of `--listen 127.0.0.1:0` as its first line),
//! with a temporary configuration (the example one, no upstreams) and a
//! temporary data directory. Every test is bounded (timeouts everywhere).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_zio-gateway");
/// The example configuration's token, for AGB 12345678.
const TOKEN: &str = "voorbeeld-token-12345678";
const AUTH: (&str, &str) = ("authorization", "Bearer voorbeeld-token-12345678");
const JSON: (&str, &str) = ("accept", "application/json");
/// The example configuration's zorgkantoor token.
const ZK_AUTH: (&str, &str) = ("authorization", "Bearer voorbeeld-token-zorgkantoor");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example configuration without upstreams, edited by `edit`.
fn write_config(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(root().join("config/gateway.toml")).unwrap();
    let text = text
        .replace("zio = \"spool:upstream/zio\"", "zio = \"none\"")
        .replace(
            "regulier = \"spool:upstream/regulier\"",
            "regulier = \"none\"",
        );
    assert!(
        text.contains("zio = \"none\""),
        "the example config changed"
    );
    let cfg = dir.join("config");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join("gateway.toml"), edit(text)).unwrap();
    cfg
}

struct Gateway {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Gateway {
    /// Starts `serve` on `dir/config` and `dir/data` and waits for its address.
    fn start(dir: &Path, extra: &[&str]) -> Gateway {
        let log = dir.join(format!("serve-{}.log", std::process::id()));
        let log = unique(log);
        let mut child = Command::new(BIN)
            .arg("serve")
            .arg("--config")
            .arg(dir.join("config"))
            .arg("--data")
            .arg(dir.join("data"))
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start the binary");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "no address printed: {}",
                    std::fs::read_to_string(&log).unwrap()
                );
            }
        };
        let addr = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "first line `{line}` is not an address: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        Gateway { child, addr, log }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// Waits for the process to end (bounded).
    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let end = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!("the gateway did not stop within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn unique(p: PathBuf) -> PathBuf {
    let mut p = p;
    let mut n = 0;
    while p.exists() {
        n += 1;
        p.set_extension(format!("{n}.log"));
    }
    p
}

/// Declaration `id` of 12345678 (or `afzender`): two lines, both accepted by
/// the example configuration (H307 in school time, H300 regular), with
/// references unique to `id`.
fn declaration_from(afzender: &str, id: &str) -> Bytes {
    let t = std::fs::read_to_string(root().join("conformance/cases/001-valid-basic/request.xml"))
        .unwrap();
    Bytes::from(
        t.replace(
            "<Afzender>11110001</Afzender>",
            &format!("<Afzender>{afzender}</Afzender>"),
        )
        .replace(
            "<Identificatie>CONF-001</Identificatie>",
            &format!("<Identificatie>{id}</Identificatie>"),
        )
        .replace(
            "<ReferentieNummer>R1<",
            &format!("<ReferentieNummer>{id}-1<"),
        )
        .replace(
            "<ReferentieNummer>R2<",
            &format!("<ReferentieNummer>{id}-2<"),
        ),
    )
}

fn declaration(id: &str) -> Bytes {
    declaration_from("12345678", id)
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn verwerking(&self) -> String {
        self.json()["verwerking"].as_str().unwrap_or("").to_owned()
    }

    fn codes(&self) -> Vec<String> {
        self.json()["retourcodes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["code"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> std::io::Result<Answer> {
    let go = async {
        let stream = TcpStream::connect(addr).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = sender
            .send_request(req.body(Full::new(body)).unwrap())
            .await
            .map_err(std::io::Error::other)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(std::io::Error::other)?
            .to_bytes();
        Ok(Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    };
    tokio::time::timeout(Duration::from_secs(10), go)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::other("timed out")))
}

async fn declare(addr: SocketAddr, id: &str) -> Answer {
    send(
        addr,
        Method::POST,
        "/declaraties",
        &[AUTH, JSON],
        declaration(id),
    )
    .await
    .unwrap()
}

async fn get(addr: SocketAddr, path: &str) -> Answer {
    send(addr, Method::GET, path, &[AUTH], Bytes::new())
        .await
        .unwrap()
}

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("zio-e2e-")
        .tempdir()
        .unwrap()
}

/// `zio-gateway ledger report` on `dir`: (ZiO lines recorded for 12345678 in
/// 2024: one per message of [`declaration`]; the JSON).
fn ledger_report(dir: &Path) -> (u64, serde_json::Value) {
    let out = Command::new(BIN)
        .args(["ledger", "report", "--year", "2024", "--config"])
        .arg(dir.join("config"))
        .arg("--data")
        .arg(dir.join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let lines = v["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["agb"] == "12345678")
        .map(|r| r["lines"].as_u64().unwrap())
        .sum::<u64>();
    (lines, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_is_recorded_a_resend_gets_its_answer_and_a_reused_id_0106() {
    let dir = tmp();
    write_config(dir.path(), |t| t);
    let mut g = Gateway::start(dir.path(), &[]);
    assert_eq!(get(g.addr, "/readyz").await.status, StatusCode::OK);

    let a = declare(g.addr, "E2E-1").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.verwerking(), "Geaccepteerd", "{}", a.body);
    assert!(a.headers.contains_key("x-request-id"));
    assert!(!a.headers.contains_key("x-zio-herhaling"));

    // Byte for byte the same message (its answer was lost): the same answer
    // again, marked as a repeat; nothing recorded twice.
    let again = declare(g.addr, "E2E-1").await;
    assert_eq!(again.body, a.body);
    assert_eq!(again.headers["x-zio-herhaling"], "true");
    // Also in the other format, and from the answer endpoint.
    let xml = send(
        g.addr,
        Method::POST,
        "/declaraties",
        &[AUTH],
        declaration("E2E-1"),
    )
    .await
    .unwrap();
    assert!(
        xml.body.contains("<Verwerking>Geaccepteerd</Verwerking>"),
        "{}",
        xml.body
    );
    assert_eq!(xml.headers["x-zio-herhaling"], "true");
    let kept = send(
        g.addr,
        Method::GET,
        "/declaraties/E2E-1/antwoord",
        &[AUTH, JSON],
        Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(kept.body, a.body);

    // Another message under the used Identificatie: 0106.
    let other = declaration("E2E-1");
    let other = Bytes::from(
        String::from_utf8(other.to_vec())
            .unwrap()
            .replace("<ReferentieNummer>E2E-1-2<", "<ReferentieNummer>E2E-1-3<"),
    );
    let reused = send(g.addr, Method::POST, "/declaraties", &[AUTH, JSON], other)
        .await
        .unwrap();
    assert_eq!(reused.verwerking(), "Afgewezen", "{}", reused.body);
    assert_eq!(reused.codes(), ["0106"], "{}", reused.body);
    assert!(!reused.headers.contains_key("x-zio-herhaling"));

    // Where is my message: its receipt, for its sender only.
    let s = get(g.addr, "/declaraties/E2E-1").await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.body);
    let v = s.json();
    assert_eq!(v["verwerking"], "Geaccepteerd");
    assert_eq!(v["regels"]["geaccepteerd_zio"], 1);
    assert_eq!(v["regels"]["geaccepteerd_regulier"], 1);
    assert_eq!(v["regels"]["afgewezen"], 0);
    assert_eq!(
        get(g.addr, "/declaraties/NOPE-1").await.status,
        StatusCode::NOT_FOUND
    );

    // A test batch of a new message: checked, nothing recorded.
    let t = send(
        g.addr,
        Method::POST,
        "/testbatches",
        &[AUTH, JSON],
        declaration("E2E-T"),
    )
    .await
    .unwrap();
    assert_eq!(t.verwerking(), "Test", "{}", t.body);
    let t = send(
        g.addr,
        Method::POST,
        "/testbatches",
        &[AUTH, JSON],
        declaration("E2E-T"),
    )
    .await
    .unwrap();
    assert!(
        t.codes().is_empty(),
        "a test batch was recorded: {}",
        t.body
    );
    // ... while a test batch of a recorded message sees the ledger.
    let t = send(
        g.addr,
        Method::POST,
        "/testbatches",
        &[AUTH, JSON],
        declaration("E2E-1"),
    )
    .await
    .unwrap();
    assert_eq!(t.codes(), ["0106"], "{}", t.body);

    // The ledger over HTTP: the H307 line (76500) is the realisatie.
    let n = get(g.addr, "/ledger/nacalculatie?year=2024").await;
    assert_eq!(n.status, StatusCode::OK, "{}", n.body);
    let v = n.json();
    assert_eq!(v["year"], 2024);
    let row = &v["nacalculatie"][0];
    assert_eq!(row["agb"], "12345678");
    assert_eq!(row["realisatie_cents"], 76500);
    assert_eq!(row["budgetgarantie_cents"], 9180000 - 76500);
    let csv = get(g.addr, "/ledger/nacalculatie?year=2024&format=csv").await;
    assert!(csv.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(
        csv.body.starts_with("agb,zorgkantoor,herschikking_cents"),
        "{}",
        csv.body
    );
    assert!(
        csv.body.contains("12345678,5509,9180000,76500,9103500"),
        "{}",
        csv.body
    );
    assert_eq!(v["totaal_budgetgarantie_cents"], 9180000 - 76500);
    assert_eq!(v["per_aanbieder"][0]["agb"], "12345678");
    assert_eq!(row["herschikking_status"], "voorlopig");
    // School year 2023/2024: the H307 line in school time at 12AB; the
    // H300 line without Onderwijstijd is not there.
    let o = get(g.addr, "/ledger/onderwijstijd?schooljaar=2023").await;
    assert_eq!(o.status, StatusCode::OK, "{}", o.body);
    let o = o.json();
    assert_eq!(o["schooljaar"], "2023/2024");
    assert_eq!(o["tot_en_met"], "2024-07-31");
    let rows = o["onderwijstijd"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{o}");
    assert_eq!(rows[0]["brin"], "12AB");
    assert_eq!(rows[0]["product_code"], "H307");
    assert_eq!(rows[0]["zio"], true);
    assert_eq!(rows[0]["volume"], 10);
    assert_eq!(rows[0]["bedrag_cents"], 76500);
    assert_eq!(rows[0]["clienten"], 1);
    let ocsv = get(g.addr, "/ledger/onderwijstijd?schooljaar=2023&format=csv").await;
    assert!(
        ocsv.body
            .contains("12AB,5509,12345678,H307,true,uur,10,76500,1"),
        "{}",
        ocsv.body
    );
    assert_eq!(
        get(g.addr, "/ledger/onderwijstijd?year=2023").await.status,
        StatusCode::BAD_REQUEST
    );
    // The herschikking over HTTP: the provider marks its ZiO row agreed;
    // making it definitief is the zorgkantoor's act (403 for a provider).
    let post = |path: &'static str| send(g.addr, Method::POST, path, &[AUTH], Bytes::new());
    let a = post("/ledger/herschikking/akkoord?zorgkantoor=5509&year=2024")
        .await
        .unwrap();
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.json()["action"], "akkoord_aanbieder");
    let d = post("/ledger/herschikking/definitief?zorgkantoor=5509&year=2024")
        .await
        .unwrap();
    assert_eq!(d.status, StatusCode::FORBIDDEN, "{}", d.body);
    let h = get(g.addr, "/ledger/herschikking?year=2024").await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.body);
    assert_eq!(
        h.json()["events"].as_array().unwrap().len(),
        1,
        "{}",
        h.body
    );
    let n = get(g.addr, "/ledger/nacalculatie?year=2024").await.json();
    assert_eq!(n["nacalculatie"][0]["akkoord_aanbieder"], true);
    assert_eq!(n["nacalculatie"][0]["akkoord"], false);
    let r = get(g.addr, "/ledger/report?year=2024").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json()["volumes"].is_array(), "{}", r.body);
    assert_eq!(
        get(g.addr, "/ledger/report").await.status,
        StatusCode::BAD_REQUEST
    );

    // The CLI sees the same ledger: the ZiO line, once.
    assert_eq!(ledger_report(dir.path()).0, 1);

    // Metrics carry the new families.
    let m = get(g.addr, "/metrics").await.body;
    assert!(m.contains("zio_gateway_outbox_pending"), "{m}");
    assert!(m.contains("zio_gateway_lines_total"), "{m}");

    g.signal("TERM");
    assert_eq!(g.wait(Duration::from_secs(10)).code(), Some(0));
    let logs = g.logs();
    assert!(!logs.contains("111222333"), "a BSN in the logs:\n{logs}");
    for line in logs.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if v["fields"]["message"] == "checked" {
            assert!(v["span"]["request_id"].is_string(), "{line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_afzender_gets_0107_and_nothing_is_recorded() {
    let dir = tmp();
    write_config(dir.path(), |t| t);
    let g = Gateway::start(dir.path(), &[]);
    let body = declaration_from("11110001", "FORGED-1");
    let a = send(
        g.addr,
        Method::POST,
        "/declaraties",
        &[AUTH, JSON],
        body.clone(),
    )
    .await
    .unwrap();
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.verwerking(), "Afgewezen", "{}", a.body);
    assert_eq!(a.codes(), ["0107"], "{}", a.body);
    assert_eq!(a.json()["totalen"]["aantal_geaccepteerd"], 0);
    // Nothing recorded: the same again is 0107 again, not 0106.
    let a = send(g.addr, Method::POST, "/declaraties", &[AUTH, JSON], body)
        .await
        .unwrap();
    assert_eq!(a.codes(), ["0107"], "{}", a.body);
    drop(g);
    assert_eq!(ledger_report(dir.path()).0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_gets_401() {
    let dir = tmp();
    write_config(dir.path(), |t| t);
    let g = Gateway::start(dir.path(), &[]);
    for auth in [
        vec![],
        vec![("authorization", "Bearer voorbeeld-token-00000000")],
        vec![("authorization", "voorbeeld-token-12345678")],
    ] {
        for path in ["/declaraties", "/testbatches", "/registry"] {
            let a = send(g.addr, Method::POST, path, &auth, declaration("X"))
                .await
                .unwrap();
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path} {auth:?}");
            assert_eq!(
                a.headers["www-authenticate"],
                "Bearer realm=\"zio-gateway\""
            );
        }
        let a = send(
            g.addr,
            Method::GET,
            "/ledger/nacalculatie?year=2024",
            &auth,
            Bytes::new(),
        )
        .await
        .unwrap();
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let a = declare(g.addr, "OK-1").await;
    assert_eq!(a.verwerking(), "Geaccepteerd", "{}", a.body);
    assert!(!g.logs().contains(TOKEN), "the token was logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_limit_sender_gets_429_with_retry_after() {
    let dir = tmp();
    write_config(dir.path(), |t| {
        t.replace("requests_per_second = 20", "requests_per_second = 1")
            .replace("burst = 40", "burst = 2")
    });
    let g = Gateway::start(dir.path(), &[]);
    let mut refused = None;
    for i in 0..5 {
        let a = send(
            g.addr,
            Method::POST,
            "/testbatches",
            &[AUTH, JSON],
            declaration(&format!("L-{i}")),
        )
        .await
        .unwrap();
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(a);
            break;
        }
        assert_eq!(a.status, StatusCode::OK);
    }
    let a = refused.expect("no 429 within 5 quick requests");
    let secs: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&secs), "{secs}");
    let m = send(g.addr, Method::GET, "/metrics", &[], Bytes::new())
        .await
        .unwrap();
    assert!(
        m.body
            .contains("zio_gateway_rate_limited_total{limit=\"requests\"} 1"),
        "{}",
        m.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_body_gets_0104() {
    let dir = tmp();
    write_config(dir.path(), |t| t);
    let g = Gateway::start(dir.path(), &["--max-body", "600"]);
    let a = declare(g.addr, "BIG-1").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.codes(), ["0104"], "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_is_cut_off_at_the_header_timeout() {
    let dir = tmp();
    write_config(dir.path(), |t| {
        t.replace(
            "header_read_timeout_ms = 10000",
            "header_read_timeout_ms = 500",
        )
    });
    let g = Gateway::start(dir.path(), &[]);
    let mut s = TcpStream::connect(g.addr).await.unwrap();
    s.write_all(b"POST /declaraties HTTP/1.1\r\nhost: loc")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection was not closed");
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    // The server still serves.
    assert_eq!(get(g.addr, "/healthz").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_and_exits_0() {
    let dir = tmp();
    write_config(dir.path(), |t| t);
    let mut g = Gateway::start(dir.path(), &[]);
    // A request in flight: head and half the body sent.
    let body = declaration("DRAIN-1");
    let mut s = TcpStream::connect(g.addr).await.unwrap();
    let head = format!(
        "POST /declaraties HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {TOKEN}\r\n\
         accept: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body[..200]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    g.signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Not ready any more, no new connections ... but the request finishes.
    s.write_all(&body[200..]).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("answer in time")
        .unwrap();
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"verwerking\":\"Geaccepteerd\""), "{text}");
    assert_eq!(g.wait(Duration::from_secs(10)).code(), Some(0));
    assert_eq!(ledger_report(dir.path()).0, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_sigkill_every_acknowledged_message_is_recorded_exactly_once() {
    let dir = tmp();
    write_config(dir.path(), |t| t);
    let mut g = Gateway::start(dir.path(), &[]);
    let addr = g.addr;
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..4 {
        let acked = acked.clone();
        let sent = sent.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..15 {
                let id = format!("K{w}-{i}");
                sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                match send(
                    addr,
                    Method::POST,
                    "/declaraties",
                    &[AUTH, JSON],
                    declaration(&id),
                )
                .await
                {
                    Ok(a) if a.status == StatusCode::OK => {
                        if a.verwerking() == "Geaccepteerd" {
                            acked.lock().unwrap().push(id);
                        }
                    }
                    Ok(a) if a.status == StatusCode::TOO_MANY_REQUESTS => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    _ => break, // the server is gone
                }
            }
        }));
    }
    // Kill once some messages are acknowledged (bounded wait).
    let end = Instant::now() + Duration::from_secs(10);
    while acked.lock().unwrap().len() < 10 && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    g.signal("KILL");
    let status = g.wait(Duration::from_secs(5));
    assert!(!status.success());
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 10, "only {} acknowledged", acked.len());
    let sent = sent.load(std::sync::atomic::Ordering::Relaxed);

    // Recorded exactly once: one ZiO line per message at most (references
    // are unique), and every acknowledged message's line is there.
    let (lines, _) = ledger_report(dir.path());
    eprintln!(
        "SIGKILL: {sent} sent, {} acknowledged, {lines} recorded",
        acked.len()
    );
    assert!(
        lines >= acked.len() as u64,
        "{lines} lines for {} acknowledged",
        acked.len()
    );
    assert!(lines <= sent, "{lines} lines for {sent} sent");

    // After a restart every acknowledged message is known: its resend gets
    // the kept answer again, and recording it again changes nothing.
    let g = Gateway::start(dir.path(), &[]);
    for id in &acked {
        let a = declare(g.addr, id).await;
        assert_eq!(a.verwerking(), "Geaccepteerd", "{id}: {}", a.body);
        assert_eq!(a.headers["x-zio-herhaling"], "true", "{id}");
    }
    drop(g);
    assert_eq!(ledger_report(dir.path()).0, lines);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_messages_over_http() {
    let dir = tmp();
    write_config(dir.path(), |t| t);
    let g = Gateway::start(dir.path(), &[]);
    let io31 = std::fs::read(root().join("tests/registry_samples/io31-example.xml")).unwrap();
    let a = send(
        g.addr,
        Method::POST,
        "/registry",
        &[ZK_AUTH],
        Bytes::from(io31.clone()),
    )
    .await
    .unwrap();
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v = a.json();
    assert_eq!(v["soort"], "IO31", "{}", a.body);
    assert_eq!(v["already_ingested"], false);
    assert_eq!(v["changed"], true);
    assert!(
        v["counts"]["indications"]["added"].as_u64().unwrap() >= 1,
        "{}",
        a.body
    );
    // The same bytes again: nothing changes.
    let a = send(
        g.addr,
        Method::POST,
        "/registry",
        &[ZK_AUTH],
        Bytes::from(io31),
    )
    .await
    .unwrap();
    assert_eq!(a.json()["already_ingested"], true, "{}", a.body);
    // Malformed: 400 with a location, nothing changed.
    let a = send(
        g.addr,
        Method::POST,
        "/registry",
        &[ZK_AUTH],
        Bytes::from_static(b"<?xml version=\"1.0\"?>\n<Bericht><Header>"),
    )
    .await
    .unwrap();
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    let v = a.json();
    // The one error body (application/problem+json), with its locatie.
    assert!(
        v["detail"].as_str().unwrap().starts_with("not ingested"),
        "{}",
        a.body
    );
    assert_eq!(v["status"], 400, "{}", a.body);
    assert!(v["locatie"].is_string(), "{}", a.body);
    // With the registry loaded the 04xx checks run: this declaration's
    // client has no indication here.
    let d = declare(g.addr, "REG-1").await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(
        d.body.contains("\"04"),
        "no 04xx after loading the registry: {}",
        d.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_lines_reach_a_spool_upstream() {
    let dir = tmp();
    let zio = dir.path().join("upstream-zio");
    let regulier = dir.path().join("upstream-regulier");
    let (z, r) = (zio.display().to_string(), regulier.display().to_string());
    write_config(dir.path(), |t| {
        t.replace("zio = \"none\"", &format!("zio = \"spool:{z}\""))
            .replace("regulier = \"none\"", &format!("regulier = \"spool:{r}\""))
    });
    let g = Gateway::start(dir.path(), &[]);
    let a = declare(g.addr, "FWD-1").await;
    assert_eq!(a.verwerking(), "Geaccepteerd", "{}", a.body);
    let files = |d: &Path| -> Vec<String> {
        std::fs::read_dir(d)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default()
    };
    let end = Instant::now() + Duration::from_secs(10);
    while (files(&zio).is_empty() || files(&regulier).is_empty()) && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (fz, fr) = (files(&zio), files(&regulier));
    assert_eq!(fz.len(), 1, "{fz:?}");
    assert_eq!(fr.len(), 1, "{fr:?}");
    // The file is in place a moment before the attempt is counted and the
    // backlog recounted: wait for the figures, then check them.
    let want: Vec<String> = ["ZIO", "REGULIER"]
        .iter()
        .map(|route| {
            format!(
                "zio_gateway_upstream_attempts_total{{outcome=\"delivered\",route=\"{route}\"}} 1"
            )
        })
        .chain(std::iter::once("zio_gateway_outbox_pending 0".to_owned()))
        .collect();
    let end = Instant::now() + Duration::from_secs(5);
    let mut m = get(g.addr, "/metrics").await.body;
    while !want.iter().all(|w| m.contains(w.as_str())) && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(100)).await;
        m = get(g.addr, "/metrics").await.body;
    }
    for w in &want {
        assert!(m.contains(w.as_str()), "{w}: {m}");
    }
}

/// A real upstream for the forwarding tests: an HTTP/1.1 server on loopback
/// that answers 503 while `down` is set, and otherwise 200, keeping the
/// Identificatie and path of every message it accepted.
struct Upstream {
    addr: SocketAddr,
    down: Arc<std::sync::atomic::AtomicBool>,
    accepted: Arc<std::sync::Mutex<Vec<(String, String, String)>>>,
}

impl Upstream {
    async fn start(down: bool) -> Upstream {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let down = Arc::new(AtomicBool::new(down));
        let accepted = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (d, acc) = (down.clone(), accepted.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    break;
                };
                let (d, acc) = (d.clone(), acc.clone());
                tokio::spawn(async move {
                    let svc =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let (d, acc) = (d.clone(), acc.clone());
                            async move {
                                let path = req.uri().path().to_owned();
                                let body = req.into_body().collect().await?.to_bytes();
                                let text = String::from_utf8_lossy(&body).into_owned();
                                let status = if d.load(Ordering::SeqCst) {
                                    StatusCode::SERVICE_UNAVAILABLE
                                } else {
                                    let id = between(&text, "<Identificatie>", "</Identificatie>");
                                    acc.lock().unwrap().push((path, id, text));
                                    StatusCode::OK
                                };
                                let mut resp = hyper::Response::new(Full::new(Bytes::new()));
                                *resp.status_mut() = status;
                                Ok::<_, hyper::Error>(resp)
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Upstream {
            addr,
            down,
            accepted,
        }
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    /// How often each forwarded Identificatie was accepted.
    fn counts(&self) -> std::collections::BTreeMap<String, usize> {
        let mut m = std::collections::BTreeMap::new();
        for (_, id, _) in self.accepted.lock().unwrap().iter() {
            *m.entry(id.clone()).or_insert(0) += 1;
        }
        m
    }

    /// Waits (bounded) until every id in `ids` was accepted at least once.
    async fn wait_for(&self, ids: &[String], limit: Duration) {
        let end = Instant::now() + limit;
        loop {
            let counts = self.counts();
            let missing: Vec<_> = ids.iter().filter(|i| !counts.contains_key(*i)).collect();
            if missing.is_empty() {
                return;
            }
            assert!(Instant::now() < end, "never delivered: {missing:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn between(text: &str, open: &str, close: &str) -> String {
    let start = text.find(open).map(|i| i + open.len()).unwrap_or(0);
    let end = text[start..].find(close).map_or(start, |i| start + i);
    text[start..end].to_owned()
}

/// The example configuration with both routes forwarded to `up` over HTTP
/// and short retry delays.
fn http_upstream_config(dir: &Path, up: &Upstream) {
    let addr = up.addr;
    write_config(dir, |t| {
        t.replace("zio = \"none\"", &format!("zio = \"http://{addr}/zio\""))
            .replace(
                "regulier = \"none\"",
                &format!("regulier = \"http://{addr}/regulier\""),
            )
            .replace("timeout_ms = 10000", "timeout_ms = 2000")
            .replace("retry_initial_ms = 500", "retry_initial_ms = 50")
            .replace("retry_max_ms = 60000", "retry_max_ms = 300")
            .replace("concurrency = 16 ", "concurrency = 4 ")
    });
}

/// Rows the worker may hold at once with `concurrency = 4` (sending, or
/// sent and not yet marked): the most a kill can leave to be sent twice.
const CLAIM_WINDOW: usize = 4 * 4;

fn forwarded_ids(ids: &[String]) -> Vec<String> {
    ids.iter()
        .flat_map(|id| [format!("{id}-Z"), format!("{id}-R")])
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accepted_lines_arrive_split_by_route_over_http() {
    let up = Upstream::start(false).await;
    let dir = tmp();
    http_upstream_config(dir.path(), &up);
    let g = Gateway::start(dir.path(), &[]);
    let a = declare(g.addr, "SPLIT-1").await;
    assert_eq!(a.verwerking(), "Geaccepteerd", "{}", a.body);
    assert!(
        a.codes().is_empty(),
        "delivered at once, no 0901: {}",
        a.body
    );
    up.wait_for(&forwarded_ids(&["SPLIT-1".into()]), Duration::from_secs(10))
        .await;
    let accepted = up.accepted.lock().unwrap().clone();
    let zio = accepted.iter().find(|(p, _, _)| p == "/zio").unwrap();
    let reg = accepted.iter().find(|(p, _, _)| p == "/regulier").unwrap();
    assert_eq!(zio.1, "SPLIT-1-Z");
    assert_eq!(reg.1, "SPLIT-1-R");
    // The ZiO message holds the H307 line only, the regular one the H300 line,
    // each with its own recomputed Totalen.
    assert!(zio.2.contains("<ProductCode>H307</ProductCode>") && !zio.2.contains("H300"));
    assert!(reg.2.contains("<ProductCode>H300</ProductCode>") && !reg.2.contains("H307"));
    assert!(zio.2.contains("<AantalPrestaties>1</AantalPrestaties>"));
    assert!(
        zio.2.contains("<TotaalDebet>76500</TotaalDebet>"),
        "{}",
        zio.2
    );
    assert!(reg.2.contains("<AantalPrestaties>1</AantalPrestaties>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upstream_outage_delays_and_then_delivers_everything_exactly_once() {
    let up = Upstream::start(true).await;
    let dir = tmp();
    http_upstream_config(dir.path(), &up);
    let g = Gateway::start(dir.path(), &[]);
    let ids: Vec<String> = (0..5).map(|i| format!("OUT-{i}")).collect();
    for id in &ids {
        let a = declare(g.addr, id).await;
        assert_eq!(a.verwerking(), "Geaccepteerd", "{}", a.body);
        // Answered once stored: the upstream's outage is not the provider's.
        assert!(a.codes().is_empty(), "{}", a.body);
    }
    // Down for a while: the worker keeps retrying, nothing arrives.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(up.counts().is_empty());
    let m = get(g.addr, "/metrics").await.body;
    assert!(
        m.contains("zio_gateway_upstream_attempts_total{outcome=\"failed\",route="),
        "{m}"
    );
    up.set_down(false);
    let want = forwarded_ids(&ids);
    up.wait_for(&want, Duration::from_secs(15)).await;
    // Give a duplicate the chance to show, then count.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let counts = up.counts();
    assert_eq!(counts.len(), want.len(), "{counts:?}");
    assert!(
        counts.values().all(|&n| n == 1),
        "delivered more than once: {counts:?}"
    );
    let m = get(g.addr, "/metrics").await.body;
    assert!(m.contains("zio_gateway_outbox_pending 0"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_sigkill_every_acknowledged_message_is_delivered() {
    let up = Upstream::start(false).await;
    let dir = tmp();
    http_upstream_config(dir.path(), &up);
    let mut g = Gateway::start(dir.path(), &[]);
    let addr = g.addr;
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for w in 0..4 {
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..15 {
                let id = format!("KD{w}-{i}");
                match send(
                    addr,
                    Method::POST,
                    "/declaraties",
                    &[AUTH, JSON],
                    declaration(&id),
                )
                .await
                {
                    Ok(a) if a.status == StatusCode::OK && a.verwerking() == "Geaccepteerd" => {
                        acked.lock().unwrap().push(id)
                    }
                    Ok(a) if a.status == StatusCode::TOO_MANY_REQUESTS => {
                        tokio::time::sleep(Duration::from_millis(100)).await
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }));
    }
    let end = Instant::now() + Duration::from_secs(10);
    while acked.lock().unwrap().len() < 8 && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    g.signal("KILL");
    assert!(!g.wait(Duration::from_secs(5)).success());
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 8, "only {} acknowledged", acked.len());
    // The restarted gateway's worker delivers whatever was still pending.
    let g = Gateway::start(dir.path(), &[]);
    let want = forwarded_ids(&acked);
    up.wait_for(&want, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let counts = up.counts();
    // At-least-once: only a message whose delivery was in flight at the kill
    // (sent, not yet marked) may arrive twice: at most the worker's window.
    let twice: Vec<_> = counts.iter().filter(|(_, &n)| n > 1).collect();
    assert!(counts.values().all(|&n| n <= 2), "{counts:?}");
    assert!(
        twice.len() <= CLAIM_WINDOW,
        "too many duplicates: {twice:?}"
    );
    eprintln!(
        "SIGKILL with upstream: {} acknowledged, {} forwarded ids, {} delivered twice",
        acked.len(),
        counts.len(),
        twice.len()
    );
    drop(g);
}

/// Issue 11, failure 4: under the usual umask (022) the data directory, the
/// database and the spool files were world-readable, and a relative
/// `spool:` path landed in the working directory.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_with_bsns_are_private_and_spools_stay_in_the_data_directory() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tmp();
    write_config(dir.path(), |t| {
        t.replace("zio = \"none\"", "zio = \"spool:upstream/zio\"")
    });
    let g = Gateway::start(dir.path(), &[]);
    let a = declare(g.addr, "PRIV-1").await;
    assert_eq!(a.verwerking(), "Geaccepteerd", "{}", a.body);
    let data = dir.path().join("data");
    let spool = data.join("upstream/zio");
    let end = Instant::now() + Duration::from_secs(10);
    let file = loop {
        let found = std::fs::read_dir(&spool).ok().and_then(|mut d| {
            d.find_map(|e| {
                let p = e.ok()?.path();
                (p.extension()? == "xml").then_some(p)
            })
        });
        if let Some(f) = found {
            break f;
        }
        assert!(Instant::now() < end, "nothing spooled: {}", g.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "data directory");
    assert_eq!(mode(&spool), 0o700, "spool directory");
    assert_eq!(mode(&file), 0o600, "{}", file.display());
    for e in std::fs::read_dir(&data).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }
    assert!(
        !dir.path().join("config/upstream").exists() && !Path::new("upstream").exists(),
        "a spool outside the data directory"
    );
}

/// Start-up refusals name the file and the key: a `listen` address in use,
/// and `zorgkantoren = []` (every message would get 0108).
#[test]
fn start_up_refusals_name_the_file_and_key() {
    let run = |dir: &Path, listen: &str| {
        let out = Command::new(BIN)
            .arg("serve")
            .arg("--config")
            .arg(dir.join("config"))
            .arg("--data")
            .arg(dir.join("data"))
            .args(["--listen", listen])
            .stdin(Stdio::null())
            .output()
            .expect("run the binary");
        assert!(!out.status.success(), "it started");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let dir = tmp();
    write_config(dir.path(), |t| t);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = run(dir.path(), &taken.local_addr().unwrap().to_string());
    assert!(err.contains("gateway.toml"), "{err}");
    assert!(err.contains("[server] key `listen`"), "{err}");
    let dir = tmp();
    write_config(dir.path(), |t| {
        t.replace("zorgkantoren = [\"5509\"]", "zorgkantoren = []")
    });
    let err = run(dir.path(), "127.0.0.1:0");
    assert!(err.contains("[gateway] key `zorgkantoren`"), "{err}");
    assert!(err.contains("gateway.toml"), "{err}");
}

/// One `serve` per SQLite data directory: a second one would deliver the
/// first one's outbox rows again (their leases are in the first's memory).
/// After the first dies, even by SIGKILL, the lock is free again.
#[test]
fn a_second_serve_on_the_same_data_directory_is_refused() {
    let dir = tmp();
    write_config(dir.path(), |t| t);
    let mut first = Gateway::start(dir.path(), &[]);
    let out = Command::new(BIN)
        .arg("serve")
        .arg("--config")
        .arg(dir.path().join("config"))
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .output()
        .expect("run the binary");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a second serve started: {err}");
    assert!(err.contains("another zio-gateway serve"), "{err}");
    first.signal("KILL");
    first.wait(Duration::from_secs(10));
    let again = Gateway::start(dir.path(), &[]);
    drop(again);
}

/// A reader in another process while `serve` runs (here the operator's
/// `zio-gateway ledger report`) must not take the WAL away from the server.
/// Before the fix every new connection of the server opened and closed
/// gateway.db, which dropped the process's fcntl locks on it; the report,
/// closing as "the last connection", then checkpointed and deleted the WAL
/// the server went on committing into (found by scripts/load-faults.sh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_report_while_serving_leaves_the_wal_to_the_server() {
    let dir = tmp();
    write_config(dir.path(), |t| t);
    let g = Gateway::start(dir.path(), &[]);
    for i in 0..3 {
        let a = declare(g.addr, &format!("WAL-{i}")).await;
        assert_eq!(a.verwerking(), "Geaccepteerd", "{}", a.body);
    }
    let wal = dir.path().join("data").join("gateway.db-wal");
    assert!(wal.exists(), "no WAL while serving");
    let (lines, _) = ledger_report(dir.path());
    assert_eq!(lines, 3);
    assert!(
        wal.exists(),
        "the report's connection deleted the server's WAL"
    );
    drop(g);
}

mod registry_support;

/// Two gateways on one PostgreSQL share the registry: a message ingested
/// through one (`POST /registry`) is known to the other, whose checks run
/// the 04xx rules from then on, although it had found the registry empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_ingested_through_one_instance_serves_another() {
    // The sync client must not run on the runtime's threads.
    let url = tokio::task::spawn_blocking(|| registry_support::pg_database("e2e_two"))
        .await
        .unwrap();
    let Some(url) = url else {
        return;
    };
    let start = |dir: &Path| {
        write_config(dir, |t| {
            let line = t
                .lines()
                .find(|l| l.starts_with("# postgres_url = "))
                .expect("the example config has a postgres_url line")
                .to_owned();
            t.replace(&line, &format!("postgres_url = \"{url}\""))
        });
        Gateway::start(dir, &[])
    };
    let (da, db) = (tmp(), tmp());
    let (a, b) = (start(da.path()), start(db.path()));

    let d = declare(b.addr, "REG-B-0").await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    assert!(
        !d.body.contains("\"04"),
        "04xx before any ingest: {}",
        d.body
    );

    let io31 = std::fs::read(root().join("tests/registry_samples/io31-example.xml")).unwrap();
    let r = send(
        a.addr,
        Method::POST,
        "/registry",
        &[ZK_AUTH],
        Bytes::from(io31.clone()),
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["already_ingested"], false, "{}", r.body);

    // Polled, not timed: B's "not loaded" is cached briefly.
    let mut seen = None;
    for i in 1..=300 {
        let d = declare(b.addr, &format!("REG-B-{i}")).await;
        assert_eq!(d.status, StatusCode::OK, "{}", d.body);
        if d.body.contains("\"04") {
            seen = Some(d);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen.is_some(), "B never ran the 04xx rules: {}", b.logs());
    // And B holds the very same registry: the message is known there.
    let r = send(
        b.addr,
        Method::POST,
        "/registry",
        &[ZK_AUTH],
        Bytes::from(io31),
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["already_ingested"], true, "{}", r.body);
    // Nothing of the registry went to either data directory.
    for dir in [da.path(), db.path()] {
        assert!(!dir.join("data/gateway.db").exists(), "{}", dir.display());
    }
    drop(a);
}
