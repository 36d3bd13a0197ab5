//! What `[rate_limits]` means with several instances (docs/limits.md): each
//! instance keeps its own quota per provider, like nginx `limit_req`, also
//! when the instances share one PostgreSQL ledger. Two servers in-process
//! on one ledger: one provider spends its line budget on the first, is
//! refused there, and the second still admits its own full budget.
//!
//! The budget is in lines per minute (3 here, one line back every 20 s), so
//! the test does not depend on how fast the machine runs it.
//!
//! Needs a PostgreSQL (see tests/ledger_support): without one the test
//! prints "SKIPPED: no PostgreSQL" and returns.

mod ledger_support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use ledger_support::{agb, pg_ledger, pg_ledger_again, rf, root};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use zio_gateway::config::{Config, Role, Token};
use zio_gateway::pipeline::Backends;
use zio_gateway::server::{self, State};
use zio_gateway::sinks::ledger::LedgerStore;
use zio_gateway::types::AgbCode;

const TOKEN: &str = "test-token-11110001";

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn config() -> Config {
    let mut config = Config::load_dir(&root().join("conformance/config")).expect("config");
    config.tokens.push(Token {
        role: Role::Aanbieder(AgbCode::parse("11110001").unwrap()),
        sha256: sha256_hex(TOKEN),
    });
    config.rate_limits.requests_per_second = 10_000;
    config.rate_limits.burst = 10_000;
    // Two-line messages: the second takes the budget into debt, the third
    // is refused.
    config.rate_limits.lines_per_minute = 3;
    config
}

/// The valid two-line conformance message under a fresh Identificatie.
fn message(id: &str) -> Bytes {
    std::fs::read_to_string(root().join("conformance/cases/001-valid-basic/request.xml"))
        .unwrap()
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
        .into()
}

async fn start(ledger: Arc<dyn LedgerStore>) -> (SocketAddr, oneshot::Sender<()>) {
    let state = State::with_backends(
        config(),
        Backends {
            ledger: Some(ledger),
            registry: None,
        },
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server::run(listener, Arc::new(state), async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

async fn declare(addr: SocketAddr, id: &str) -> StatusCode {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/declaraties")
        .header("host", "localhost")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Full::new(message(id)))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status();
    let _ = resp.into_body().collect().await;
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_instance_admits_its_own_quota_on_one_ledger_pg() {
    let Some(first) = tokio::task::block_in_place(|| pg_ledger("limits")) else {
        return;
    };
    let second = tokio::task::block_in_place(|| pg_ledger_again("limits"));
    let ledger: Arc<dyn LedgerStore> = Arc::new(first);
    let (a, stop_a) = start(ledger.clone()).await;
    let (b, stop_b) = start(Arc::new(second)).await;

    let mut on_a = Vec::new();
    for id in ["LIM-A0", "LIM-A1", "LIM-A2"] {
        on_a.push(declare(a, id).await);
    }
    assert_eq!(
        on_a,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ],
        "instance A: its own budget"
    );
    // The provider is out of budget on A; B has spent nothing of its own.
    let mut on_b = Vec::new();
    for id in ["LIM-B0", "LIM-B1", "LIM-B2"] {
        on_b.push(declare(b, id).await);
    }
    assert_eq!(
        on_b,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ],
        "instance B: a budget of its own, not what A left"
    );
    // A is still refusing: B's admissions gave A nothing back either.
    assert_eq!(declare(a, "LIM-A3").await, StatusCode::TOO_MANY_REQUESTS);

    // Both recorded into the one ledger: the provider got twice one
    // instance's quota through two instances.
    let p = agb("11110001");
    let recorded = tokio::task::block_in_place(|| {
        [
            "LIM-A0", "LIM-A1", "LIM-A2", "LIM-A3", "LIM-B0", "LIM-B1", "LIM-B2",
        ]
        .map(|id| ledger.message_processed(&p, &rf(id)).unwrap())
    });
    assert_eq!(recorded, [true, true, false, false, true, true, false]);
    let _ = stop_a.send(());
    let _ = stop_b.send(());
}
