//! End-to-end tests of `zio-gateway serve`: the real server on a loopback
//! port, in-process, spoken to over HTTP/1.1 by a small hyper client.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use zio_gateway::config::{Config, Token};
use zio_gateway::server::{self, State};
use zio_gateway::types::AgbCode;

const REQUEST: &str = "conformance/cases/001-valid-basic/request.xml";
/// The bearer token of 11110001 (the Afzender of the conformance cases).
const TOKEN: &str = "test-token-11110001";
const AUTH: (&str, &str) = ("authorization", "Bearer test-token-11110001");

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn with_token(config: &mut Config) {
    config.tokens.push(Token {
        role: zio_gateway::config::Role::Aanbieder(AgbCode::parse("11110001").unwrap()),
        sha256: sha256_hex(TOKEN),
    });
}

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(max_body: Option<u64>) -> Server {
        Self::start_with(max_body, |_| {}).await
    }

    /// `settings` adjusts `[server]` of the conformance configuration (which
    /// has the defaults).
    async fn start_with(
        max_body: Option<u64>,
        settings: impl FnOnce(&mut zio_gateway::config::Server),
    ) -> Server {
        let mut config = Config::load_dir(Path::new("conformance/config")).expect("config");
        if let Some(n) = max_body {
            config.limits.max_message_bytes = Some(n);
        }
        settings(&mut config.server);
        with_token(&mut config);
        config.rate_limits.requests_per_second = 10_000;
        config.rate_limits.burst = 10_000;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::new(config));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listener, state, async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Answer {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
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
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

fn declaration() -> Bytes {
    Bytes::from(std::fs::read(REQUEST).unwrap())
}

async fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut h = vec![AUTH];
    h.extend_from_slice(headers);
    send(addr, Method::POST, path, &h, declaration()).await
}

async fn get(addr: SocketAddr, path: &str) -> Answer {
    send(addr, Method::GET, path, &[], Bytes::new()).await
}

#[tokio::test]
async fn declaraties_answers_the_retourbericht_in_xml() {
    let s = Server::start(None).await;
    let a = post(
        s.addr,
        "/declaraties",
        &[("content-type", "application/xml")],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/xml"));
    assert!(a.headers.contains_key("x-request-id"));
    assert!(
        a.body.contains("<Verwerking>Geaccepteerd</Verwerking>"),
        "{}",
        a.body
    );
    assert!(a.body.contains("<Identificatie>CONF-001</Identificatie>"));
    assert!(a.body.trim_end().ends_with("</Retourbericht>"));
    s.shutdown().await;
}

#[tokio::test]
async fn declaraties_answers_json_when_asked() {
    let s = Server::start(None).await;
    let a = post(s.addr, "/declaraties", &[("accept", "application/json")]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.headers["content-type"], "application/json");
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["verwerking"], "Geaccepteerd");
    assert_eq!(v["prestaties"].as_array().unwrap().len(), 2);
    assert_eq!(v["prestaties"][0]["route"], "ZIO");
    assert_eq!(v["prestaties"][1]["route"], "REGULIER");
    assert_eq!(v["totalen"]["bedrag_geaccepteerd"], 87975);
    s.shutdown().await;
}

#[tokio::test]
async fn testbatches_answer_test() {
    let s = Server::start(None).await;
    let a = post(s.addr, "/testbatches", &[("accept", "application/json")]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["verwerking"], "Test");
    assert_eq!(v["prestaties"].as_array().unwrap().len(), 2);
    // A test batch's lines are not counted as real traffic.
    let m = get(s.addr, "/metrics").await;
    assert!(!m.body.contains("zio_gateway_lines_total{"), "{}", m.body);
    assert!(m
        .body
        .contains("zio_gateway_messages_total{endpoint=\"testbatches\",verwerking=\"Test\"} 1"));
    s.shutdown().await;
}

#[tokio::test]
async fn an_oversize_body_gets_0104() {
    let s = Server::start(Some(500)).await;
    let a = post(s.addr, "/declaraties", &[("accept", "application/json")]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["verwerking"], "Afgewezen");
    assert_eq!(v["retourcodes"][0]["code"], "0104", "{}", a.body);
    assert_eq!(v["prestaties"].as_array().unwrap().len(), 0);
    s.shutdown().await;
}

#[tokio::test]
async fn an_oversize_body_much_larger_than_the_limit_still_gets_its_answer() {
    let s = Server::start(Some(500)).await;
    // 1 MiB of body after the limit: the server stops checking at 500 bytes
    // and discards the rest so the client can read its answer.
    let mut body = std::fs::read(REQUEST).unwrap();
    body.extend(std::iter::repeat_n(b' ', 1 << 20));
    let a = send(
        s.addr,
        Method::POST,
        "/declaraties",
        &[AUTH],
        Bytes::from(body),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("<Code>0104</Code>"), "{}", a.body);
    s.shutdown().await;
}

#[tokio::test]
async fn metrics_count_lines_by_route_and_code() {
    let s = Server::start(None).await;
    assert_eq!(
        post(s.addr, "/declaraties", &[]).await.status,
        StatusCode::OK
    );
    let m = get(s.addr, "/metrics").await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(
        m.body
            .contains("zio_gateway_lines_total{code=\"none\",route=\"ZIO\"} 1"),
        "{}",
        m.body
    );
    assert!(m
        .body
        .contains("zio_gateway_lines_total{code=\"none\",route=\"REGULIER\"} 1"));
    assert!(m
        .body
        .contains("zio_gateway_request_duration_seconds_bucket"));
    assert!(m.body.contains("zio_gateway_batch_lines_count 1"));
    assert!(m.body.contains(
        "zio_gateway_messages_total{endpoint=\"declaraties\",verwerking=\"Geaccepteerd\"} 1"
    ));
    // No BSN in the metrics.
    assert!(!m.body.contains("111222333"));
    s.shutdown().await;
}

#[tokio::test]
async fn health_readiness_and_unknown_paths() {
    let s = Server::start(None).await;
    assert_eq!(get(s.addr, "/healthz").await.status, StatusCode::OK);
    assert_eq!(get(s.addr, "/readyz").await.status, StatusCode::OK);
    assert_eq!(get(s.addr, "/nope").await.status, StatusCode::NOT_FOUND);
    let a = get(s.addr, "/declaraties").await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.headers["allow"], "POST");
    s.shutdown().await;
}

#[tokio::test]
async fn the_request_id_of_the_caller_is_kept() {
    let s = Server::start(None).await;
    let a = send(
        s.addr,
        Method::GET,
        "/healthz",
        &[("x-request-id", "abc-123")],
        Bytes::new(),
    )
    .await;
    assert_eq!(a.headers["x-request-id"], "abc-123");
    let a = send(
        s.addr,
        Method::GET,
        "/healthz",
        &[("x-request-id", "no spaces please")],
        Bytes::new(),
    )
    .await;
    assert_ne!(a.headers["x-request-id"], "no spaces please");
    s.shutdown().await;
}

/// Shutdown stops accepting but lets a request already under way finish.
#[tokio::test]
async fn shutdown_drains_in_flight_requests() {
    let s = Server::start(None).await;
    let body = std::fs::read(REQUEST).unwrap();
    let (first, rest) = body.split_at(400);
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "POST /declaraties HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {TOKEN}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first).await.unwrap();
    stream.flush().await.unwrap();
    // Let the server pick the request up, then ask it to stop.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let addr = s.addr;
    let Server { stop, task, .. } = s;
    let _ = stop.unwrap().send(());
    tokio::time::sleep(Duration::from_millis(200)).await;
    // New connections are refused once the listener is gone.
    assert!(TcpStream::connect(addr).await.is_err());
    assert!(
        !task.is_finished(),
        "the server waits for the request under way"
    );
    stream.write_all(rest).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("<Verwerking>Geaccepteerd</Verwerking>"));
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("server stops after draining")
        .unwrap()
        .unwrap();
}

/// A body sent in many small chunks is checked as it arrives.
#[tokio::test]
async fn a_chunked_body_streams_through() {
    let s = Server::start(None).await;
    let body = std::fs::read(REQUEST).unwrap();
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    stream
        .write_all(format!("POST /testbatches HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {TOKEN}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    for piece in body.chunks(97) {
        stream
            .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
            .await
            .unwrap();
        stream.write_all(piece).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
    }
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("<Verwerking>Test</Verwerking>"));
    s.shutdown().await;
}

/// Past the concurrency cap a check request waits, then hears 503; health
/// checks are not capped.
#[tokio::test]
async fn the_concurrency_cap_answers_503_when_full() {
    let s = Server::start_with(None, |server| {
        server.max_concurrent = 1;
        server.queue_timeout = Duration::from_millis(200);
    })
    .await;
    let body = std::fs::read(REQUEST).unwrap();
    let mut held = TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "POST /declaraties HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {TOKEN}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    held.write_all(head.as_bytes()).await.unwrap();
    held.write_all(&body[..100]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let a = post(s.addr, "/declaraties", &[]).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.headers["retry-after"], "1");
    assert_eq!(get(s.addr, "/healthz").await.status, StatusCode::OK);
    let m = get(s.addr, "/metrics").await;
    assert!(m.body.contains("zio_gateway_busy_total 1"), "{}", m.body);
    assert!(m.body.contains("zio_gateway_checks_in_flight 1"));
    // The held request completes, and the slot is free again.
    held.write_all(&body[100..]).await.unwrap();
    let mut answer = String::new();
    held.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        post(s.addr, "/declaraties", &[]).await.status,
        StatusCode::OK
    );
    s.shutdown().await;
}

/// A client that never finishes its request head is cut off.
#[tokio::test]
async fn a_slow_request_head_times_out() {
    let s = Server::start_with(None, |server| {
        server.header_read_timeout = Duration::from_millis(300);
    })
    .await;
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    stream
        .write_all(b"POST /declaraties HTTP/1.1\r\nhost: loc")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the server keeps a stalled head open");
    s.shutdown().await;
}

#[tokio::test]
async fn without_a_valid_token_401() {
    let s = Server::start(None).await;
    for auth in [None, Some("Bearer wrong-token"), Some("Basic dGVzdA==")] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        for path in ["/declaraties", "/testbatches", "/registry"] {
            let a = send(s.addr, Method::POST, path, &headers, declaration()).await;
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path} {auth:?}");
            assert!(a.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"));
        }
        let a = send(
            s.addr,
            Method::GET,
            "/ledger/report?year=2024",
            &headers,
            Bytes::new(),
        )
        .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    // Health and metrics stay open.
    assert_eq!(get(s.addr, "/healthz").await.status, StatusCode::OK);
    assert_eq!(get(s.addr, "/metrics").await.status, StatusCode::OK);
    let m = get(s.addr, "/metrics").await.body;
    assert!(m.contains("zio_gateway_unauthorized_total 12"), "{m}");
    s.shutdown().await;
}

#[tokio::test]
async fn a_forged_afzender_gets_0107() {
    let mut config = Config::load_dir(Path::new("conformance/config")).expect("config");
    config.tokens.push(Token {
        role: zio_gateway::config::Role::Aanbieder(AgbCode::parse("22220002").unwrap()),
        sha256: sha256_hex("other-token"),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(State::new(config));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server::run(listener, state, async {
        let _ = stopped.await;
    }));
    for path in ["/declaraties", "/testbatches"] {
        let a = send(
            addr,
            Method::POST,
            path,
            &[("authorization", "Bearer other-token")],
            declaration(),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK);
        assert!(a.body.contains("<Code>0107</Code>"), "{}", a.body);
        assert!(
            a.body
                .contains("<AantalGeaccepteerd>0</AantalGeaccepteerd>"),
            "{}",
            a.body
        );
        assert!(!a.body.contains("<Prestatie>"), "{}", a.body);
    }
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn over_the_request_rate_429_with_retry_after() {
    let mut config = Config::load_dir(Path::new("conformance/config")).expect("config");
    with_token(&mut config);
    config.rate_limits.requests_per_second = 1;
    config.rate_limits.burst = 2;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(State::new(config));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server::run(listener, state, async {
        let _ = stopped.await;
    }));
    let mut statuses = Vec::new();
    let mut retry = None;
    for _ in 0..4 {
        let a = post(addr, "/testbatches", &[]).await;
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            retry = Some(a.headers["retry-after"].to_str().unwrap().to_owned());
        }
        statuses.push(a.status);
    }
    assert_eq!(statuses[0], StatusCode::OK);
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let secs: u64 = retry.unwrap().parse().unwrap();
    assert!((1..=2).contains(&secs));
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn over_the_line_budget_the_next_request_gets_429() {
    let mut config = Config::load_dir(Path::new("conformance/config")).expect("config");
    with_token(&mut config);
    config.rate_limits.lines_per_minute = 3;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(State::new(config));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server::run(listener, state, async {
        let _ = stopped.await;
    }));
    // 2 lines each: the second message takes the budget (3) into debt.
    assert_eq!(post(addr, "/testbatches", &[]).await.status, StatusCode::OK);
    assert_eq!(post(addr, "/testbatches", &[]).await.status, StatusCode::OK);
    let a = post(addr, "/testbatches", &[]).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    let secs: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=21).contains(&secs), "{secs}");
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn metrics_count_every_retourcode_of_a_line() {
    // R1-R4: 0201 and one more code each (0503, 0306, 0507, 0505); R5: 0201
    // only; R6: ZIO without a code (conformance case 050).
    let s = Server::start(None).await;
    let body =
        std::fs::read("conformance/cases/050-0201-client-several-lines/request.xml").unwrap();
    let a = send(s.addr, Method::POST, "/declaraties", &[AUTH], body.into()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let m = get(s.addr, "/metrics").await.body;
    for (series, n) in [
        (
            "zio_gateway_lines_total{code=\"0201\",route=\"AFGEWEZEN\"}",
            5,
        ),
        (
            "zio_gateway_lines_total{code=\"0306\",route=\"AFGEWEZEN\"}",
            1,
        ),
        (
            "zio_gateway_lines_total{code=\"0503\",route=\"AFGEWEZEN\"}",
            1,
        ),
        (
            "zio_gateway_lines_total{code=\"0505\",route=\"AFGEWEZEN\"}",
            1,
        ),
        (
            "zio_gateway_lines_total{code=\"0507\",route=\"AFGEWEZEN\"}",
            1,
        ),
        ("zio_gateway_lines_total{code=\"none\",route=\"ZIO\"}", 1),
        ("zio_gateway_routed_lines_total{route=\"AFGEWEZEN\"}", 5),
        ("zio_gateway_routed_lines_total{route=\"ZIO\"}", 1),
        ("zio_gateway_ready", 1),
    ] {
        assert!(m.contains(&format!("{series} {n}\n")), "{series} {n}:\n{m}");
    }
    assert!(m.contains("zio_gateway_build_info{"), "{m}");
    assert!(m.contains("process_resident_memory_bytes "), "{m}");
    s.shutdown().await;
}

#[tokio::test]
async fn every_error_is_a_problem_and_accept_is_negotiated() {
    let s = Server::start(None).await;
    let problem = |a: &Answer, status: u16| {
        assert_eq!(a.status.as_u16(), status, "{}", a.body);
        assert_eq!(a.headers["content-type"], "application/problem+json");
        let v: serde_json::Value = serde_json::from_str(&a.body).expect("JSON");
        assert_eq!(v["status"], status, "{}", a.body);
        assert!(
            v["title"].is_string() && v["detail"].is_string(),
            "{}",
            a.body
        );
    };
    problem(&get(s.addr, "/nope").await, 404);
    problem(
        &send(s.addr, Method::DELETE, "/declaraties", &[], Bytes::new()).await,
        405,
    );
    problem(
        &send(s.addr, Method::POST, "/declaraties", &[], declaration()).await,
        401,
    );
    problem(
        &send(s.addr, Method::GET, "/ledger/report", &[AUTH], Bytes::new()).await,
        400,
    );
    // Accept with q-values: JSON preferred, XML preferred, neither.
    let a = post(
        s.addr,
        "/testbatches",
        &[("accept", "application/xml;q=0.2, application/json;q=0.9")],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers["content-type"], "application/json");
    let a = post(
        s.addr,
        "/testbatches",
        &[("accept", "application/json;q=0.2, */*;q=0.5")],
    )
    .await;
    assert!(a.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/xml"));
    problem(
        &post(s.addr, "/testbatches", &[("accept", "text/html")]).await,
        406,
    );
    // The document is served.
    let d = get(s.addr, "/openapi.json").await;
    assert_eq!(d.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&d.body).unwrap();
    assert_eq!(v["openapi"], "3.1.0");
    s.shutdown().await;
}
