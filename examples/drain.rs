//! How fast a backlog drains: records MESSAGES messages (two forwarded
//! messages each, one per route) into a fresh SQLite ledger while the
//! upstream is unknown to the worker, then starts the delivery worker
//! against a bare HTTP upstream on loopback and times until the outbox is
//! empty. The baseline, in the same run: the same upstream taking the same
//! number of POSTs of a forwarded message's size straight from a hyper
//! client with the worker's concurrency (what the upstream can take).
//!
//!     cargo run --release --example drain -- [MESSAGES]
//!
//! Loopback only; bounded.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::io::BufReader;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zio_gateway::config::{Config, Upstream};
use zio_gateway::pipeline::{Arrival, Backends, Disposition, Pipeline};
use zio_gateway::sinks::forward::{OutboxForwarder, WorkerOptions};
use zio_gateway::sinks::ledger::sqlite::SqliteLedger;
use zio_gateway::sinks::ledger::LedgerStore;

const CONCURRENCY: usize = 16;

async fn bare_upstream(seen: Arc<AtomicU64>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let seen = seen.clone();
                    async move {
                        let _ = req.into_body().collect().await?;
                        seen.fetch_add(1, Ordering::Relaxed);
                        Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(sock), svc)
                    .await;
            });
        }
    });
    addr
}

fn message(template: &str, n: u64) -> String {
    let id = format!("DR-{n}");
    template
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

fn main() {
    let messages: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let addr = rt.block_on(bare_upstream(seen.clone()));
    let url = format!("http://{addr}/in");

    // The backlog: recorded with the worker not running.
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn LedgerStore> = Arc::new(SqliteLedger::open_data_dir(dir.path()).unwrap());
    let mut config =
        Config::load_file(&root.join("conformance/config/gateway.toml")).expect("config");
    config.upstreams.zio = Upstream::Http(url.clone());
    config.upstreams.regulier = Upstream::Http(url.clone());
    config.upstreams.concurrency = CONCURRENCY;
    let fwd = Arc::new(OutboxForwarder::new(
        store.clone(),
        config.upstreams.clone(),
        rt.handle().clone(),
        CONCURRENCY,
    ));
    let backends = Backends {
        ledger: Some(store.clone()),
        registry: None,
    };
    let pipeline = Pipeline::new(Arc::new(config.clone()), backends)
        .with_group_commit(256)
        .unwrap()
        .with_forwarder(fwd.clone());
    let template =
        std::fs::read_to_string(root.join("conformance/cases/001-valid-basic/request.xml"))
            .unwrap();
    let arrival = Arrival {
        today: chrono::NaiveDate::from_ymd_opt(2024, 4, 10).unwrap(),
        authenticated: None,
        disposition: Disposition::Process,
    };
    for n in 0..messages {
        let body = message(&template, n);
        pipeline
            .process(BufReader::new(body.as_bytes()), &arrival)
            .unwrap();
    }
    let rows = store.outbox_pending().unwrap();

    // Baseline: the upstream taking as many POSTs straight from a client.
    let body = Bytes::from(message(&template, 0));
    let baseline = rt.block_on(async {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(CONCURRENCY)
            .build_http();
        let next = Arc::new(AtomicU64::new(0));
        let t = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..CONCURRENCY {
            let (client, next, body, url) =
                (client.clone(), next.clone(), body.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < rows {
                    let req = Request::post(url.as_str())
                        .body(Full::new(body.clone()))
                        .unwrap();
                    let resp = client.request(req).await.unwrap();
                    let _ = resp.into_body().collect().await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        t.elapsed()
    });

    // The drain.
    seen.store(0, Ordering::Relaxed);
    let t = Instant::now();
    let worker = fwd.start_worker(WorkerOptions {
        poll_interval: Duration::from_millis(500),
        concurrency: CONCURRENCY,
    });
    while store.outbox_pending().unwrap() > 0 {
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "not drained in 10 minutes"
        );
    }
    let drained = t.elapsed();
    worker.stop();
    let per_s = |d: Duration| rows as f64 / d.as_secs_f64();
    println!(
        "backlog {rows} rows: drained in {:.2} s ({:.0} rows/s); upstream alone {:.2} s ({:.0} POST/s); ratio {:.2}; upstream saw {}",
        drained.as_secs_f64(),
        per_s(drained),
        baseline.as_secs_f64(),
        per_s(baseline),
        per_s(drained) / per_s(baseline),
        seen.load(Ordering::Relaxed)
    );
}
