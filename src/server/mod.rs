//! The daemon: `zio-gateway serve`, hyper 1 on tokio.
//!
//! - `POST /declaraties`: a Declaratiebericht, streamed to the checker;
//!   answers the Retourbericht (XML, or JSON with `Accept: application/json`).
//! - `POST /testbatches`: the same checks, Verwerking `Test`, nothing
//!   recorded or forwarded.
//! - `GET /metrics` (Prometheus text), `GET /healthz`, `GET /readyz`.
//!
//! The request path is a short sequence of phases in [`handler`]; the body
//! bridge between hyper and the synchronous checker is in [`body`]. The server
//! knows nothing about rules: it hands bytes to [`crate::check`] and bytes of
//! the answer back to the client.

pub mod body;
pub mod handler;

use crate::config::Config;
use crate::forward::{Forwarder, NoUpstream};
use crate::metrics::Metrics;
use crate::rules::{Context, NoHistory};
use crate::types::Datum;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Server settings that are not (yet) in the configuration file.
#[derive(Clone, Debug)]
pub struct Options {
    /// Check requests (`/declaraties`, `/testbatches`) running at once.
    pub max_concurrent: usize,
    /// How long a check request waits for a slot before 503.
    pub queue_timeout: Duration,
    /// Time allowed for a request's head to arrive.
    pub header_read_timeout: Duration,
    /// Longest silence between two chunks of a request body.
    pub body_idle_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_concurrent: 64,
            queue_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// The seam where the ledger and the registry plug in (later work): the
/// per-request [`Context`] is built here, and only here.
///
/// Today every request sees [`NoHistory`] and no indication source, like
/// `zio-gateway check` without `--record`. Wiring the ledger means adding an
/// `Arc<dyn History + Send + Sync>` (and the registry an
/// `Arc<dyn IndicationSource + Send + Sync>`) here and returning them below.
#[derive(Default)]
pub struct Backends {
    _private: (),
}

impl Backends {
    /// The rules' context for one request received on `today`.
    pub fn context<'a>(&'a self, config: &'a Config, today: Datum) -> Context<'a> {
        Context {
            regime: &config.regime,
            today,
            indications: None,
            require_start_of_delivery: config.indications.require_start_of_delivery,
            history: &NoHistory,
        }
    }
}

/// What every request shares.
pub struct State {
    pub config: Arc<Config>,
    pub options: Options,
    pub metrics: Metrics,
    pub backends: Backends,
    pub forwarder: Box<dyn Forwarder>,
    /// Caps concurrent check requests; waiting for a permit is the back-pressure.
    permits: Arc<Semaphore>,
    /// Set once the configuration (and, later, the store) is loaded and the
    /// listener runs; cleared when shutdown begins so balancers drain us.
    ready: AtomicBool,
    next_request: AtomicU64,
    /// Distinguishes request ids of this process from an earlier one's.
    boot: u32,
}

impl State {
    pub fn new(config: Config, options: Options) -> Self {
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32 ^ std::process::id().rotate_left(16))
            .unwrap_or(0);
        Self {
            config: Arc::new(config),
            permits: Arc::new(Semaphore::new(options.max_concurrent.max(1))),
            options,
            metrics: Metrics::new(),
            backends: Backends::default(),
            forwarder: Box::new(NoUpstream),
            ready: AtomicBool::new(false),
            next_request: AtomicU64::new(1),
            boot,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// A fresh request id, unique within this process.
    fn request_id(&self) -> String {
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}-{n:08x}", self.boot)
    }
}

/// Serves `listener` until `shutdown` completes, then stops accepting, lets
/// in-flight requests finish (up to `drain_timeout`) and returns.
pub async fn run(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    state.ready.store(true, Ordering::Release);
    tracing::info!(addr = %listener.local_addr()?, "listening");
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let st = state.clone();
                    let svc = hyper::service::service_fn(move |req| handler::handle(st.clone(), req));
                    let conn = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(state.options.header_read_timeout)
                        .serve_connection(TokioIo::new(stream), svc);
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = &mut shutdown => break,
        }
    }
    state.ready.store(false, Ordering::Release);
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("drained"),
        _ = tokio::time::sleep(state.options.drain_timeout) => {
            tracing::warn!("drain timeout: closing the remaining connections");
        }
    }
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// `zio-gateway serve`: binds, serves until SIGTERM, drains. `config` is
/// already loaded (errors are found at start-up, never at the first request).
pub fn serve(config: Config, listen: &str, options: Options) -> Result<(), String> {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(io::stderr)
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| format!("--listen {listen}: cannot bind: {e}"))?;
        let state = Arc::new(State::new(config, options));
        run(listener, state, shutdown_signal())
            .await
            .map_err(|e| format!("server error: {e}"))
    })
}
