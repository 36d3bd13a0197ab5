//! The server's log lines: one per request, carrying the request id, and no
//! BSN in any of them, even when a rejection's detail quotes one. A separate
//! test binary, because it installs the process-wide tracing subscriber.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use zio_gateway::config::Config;
use zio_gateway::server::{self, State};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn post(addr: SocketAddr, path: &str, body: Vec<u8>) -> (String, String) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("host", "localhost")
        .header("authorization", "Bearer test-token-11110001")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (id, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_bsn_in_any_log_line() {
    let captured = Captured::default();
    let sink = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .init();

    let mut config = Config::load_dir(Path::new("conformance/config")).unwrap();
    use sha2::Digest;
    config.tokens.push(zio_gateway::config::Token {
        role: zio_gateway::config::Role::Aanbieder(
            zio_gateway::types::AgbCode::parse("11110001").unwrap(),
        ),
        sha256: sha2::Sha256::digest(b"test-token-11110001")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(State::new(config));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::run(listener, state, async {
        let _ = stopped.await;
    }));

    let cases = [
        ("001-valid-basic", "111222333"),
        ("015-0102-bsn-8-digits", "11122233"),
        ("048-0201-elfproef", "123456789"),
    ];
    let mut ids = Vec::new();
    for (case, bsn) in cases {
        let body = std::fs::read(format!("conformance/cases/{case}/request.xml")).unwrap();
        for path in ["/declaraties", "/testbatches"] {
            let (id, answer) = post(addr, path, body.clone()).await;
            // The answer itself does carry the BSN: that is the contract.
            assert!(answer.contains(bsn), "{case}: {answer}");
            ids.push(id);
        }
    }
    let _ = stop.send(());
    task.await.unwrap().unwrap();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for (case, bsn) in cases {
        assert!(!logs.contains(bsn), "{case}: a BSN in the logs:\n{logs}");
    }
    for id in ids {
        assert!(logs.contains(&id), "request id {id} not logged:\n{logs}");
    }
    assert!(logs.contains("\"verwerking\":\"Afgewezen\""), "{logs}");
}
