//! Shared by the HTTP tests (roles, fairness, hostile inputs): the real
//! server in-process on a loopback port, with a store in a temporary data
//! directory, two providers and a zorgkantoor, and a small hyper client.

#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use zio_gateway::config::{Config, Role, Token};
use zio_gateway::server::{self, State};
use zio_gateway::types::AgbCode;

/// Provider A: the Afzender of the example configuration's participant.
pub const A: &str = "12345678";
/// Provider B: another provider with a token.
pub const B: &str = "22220002";
pub const AUTH_A: (&str, &str) = ("authorization", "Bearer token-a");
pub const AUTH_B: (&str, &str) = ("authorization", "Bearer token-b");
pub const AUTH_ZK: (&str, &str) = ("authorization", "Bearer token-zk");
pub const JSON: (&str, &str) = ("accept", "application/json");

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The example configuration, no upstreams, with the three tokens.
pub fn config() -> Config {
    let mut c = Config::load_file(&root().join("config/gateway.toml")).expect("config");
    c.upstreams.zio = zio_gateway::config::Upstream::None;
    c.upstreams.regulier = zio_gateway::config::Upstream::None;
    c.tokens = vec![
        Token::aanbieder(AgbCode::parse(A).unwrap(), sha256_hex("token-a")),
        Token::aanbieder(AgbCode::parse(B).unwrap(), sha256_hex("token-b")),
        Token {
            role: Role::Zorgkantoor,
            sha256: sha256_hex("token-zk"),
        },
    ];
    c.rate_limits.requests_per_second = 10_000;
    c.rate_limits.burst = 10_000;
    c
}

pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<State>,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start() -> Server {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(edit: impl FnOnce(&mut Config)) -> Server {
        let mut c = config();
        edit(&mut c);
        let dir = tempfile::Builder::new()
            .prefix("zio-http-")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        let state = tokio::task::block_in_place(|| State::open(c, &data, None)).expect("open");
        let state = Arc::new(state);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            state,
            dir,
            stop: Some(stop),
            task,
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The retourcodes of a JSON answer (message level and line level).
    pub fn codes(&self) -> Vec<String> {
        let v = self.json();
        let mut out = Vec::new();
        for c in v["retourcodes"].as_array().into_iter().flatten() {
            if let Some(s) = c["code"].as_str() {
                out.push(s.to_owned());
            }
        }
        for l in v["prestaties"].as_array().into_iter().flatten() {
            for c in l["retourcodes"].as_array().into_iter().flatten() {
                if let Some(s) = c["code"].as_str() {
                    out.push(s.to_owned());
                }
            }
        }
        out
    }

    pub fn verwerking(&self) -> String {
        self.json()["verwerking"].as_str().unwrap_or("").to_owned()
    }
}

pub async fn send(
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
    let resp = tokio::time::timeout(
        Duration::from_secs(30),
        sender.send_request(req.body(Full::new(body)).unwrap()),
    )
    .await
    .expect("answered in time")
    .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

pub async fn get(addr: SocketAddr, path: &str, auth: (&str, &str)) -> Answer {
    send(addr, Method::GET, path, &[auth], Bytes::new()).await
}

/// The conformance declaration with `afzender` and identificatie `id`.
pub fn declaration_from(afzender: &str, id: &str) -> String {
    let t = std::fs::read_to_string(root().join("conformance/cases/001-valid-basic/request.xml"))
        .unwrap();
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
    )
}

pub fn declaration(id: &str) -> String {
    declaration_from(A, id)
}

pub async fn declare(addr: SocketAddr, auth: (&str, &str), body: String) -> Answer {
    send(
        addr,
        Method::POST,
        "/declaraties",
        &[auth, JSON],
        Bytes::from(body),
    )
    .await
}

pub fn registry_sample() -> Vec<u8> {
    std::fs::read(root().join("tests/registry_samples/io31-example.xml")).unwrap()
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
