//! The daemon: `zio-gateway serve`, hyper 1 on tokio.
//!
//! - `POST /declaraties`: a Declaratiebericht, streamed to the checker
//!   (ledger and registry in the rules' context, as `check --record`); the
//!   accepted lines are recorded (and queued for forwarding) before the
//!   Retourbericht is sent (XML, or JSON with `Accept: application/json`).
//! - `POST /testbatches`: the same checks, Verwerking `Test`, nothing
//!   recorded or forwarded.
//! - `POST /registry`, `GET /ledger/nacalculatie`, `GET /ledger/report`: see
//!   [`admin`].
//! - `GET /metrics` (Prometheus text), `GET /healthz`, `GET /readyz`.
//!
//! Every endpoint but the last three needs `Authorization: Bearer <token>`
//! ([`auth`]); a provider's requests and lines are rate limited.
//!
//! The request path is a short sequence of phases in [`handler`]; the body
//! bridge between hyper and the synchronous checker is in [`body`]. The server
//! knows nothing about rules: it hands bytes to [`crate::check`] and bytes of
//! the answer back to the client.

pub mod admin;
pub mod auth;
pub mod body;
pub mod handler;

use crate::config::Config;
use crate::config::Upstream;
use crate::forward::{Forwarder, NoUpstream, OutboxForwarder, Worker, WorkerOptions};
use crate::ledger::{self, LedgerStore};
use crate::metrics::{ForwardSnapshot, Metrics};
use crate::registry::{RegistryStore, StoreIndications};
use crate::rules::{Context, History, IndicationSource};
use crate::store::{Store, StoreError};
use crate::types::Datum;
use auth::{Limiter, Tokens};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Server settings: `[server]` of the configuration, overridden by flags.
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

/// The ledger and the registry, shared by every request. The per-request
/// [`Context`] is built here, and only here, exactly as `check --record`
/// builds it in `cli.rs`: the ledger as [`History`] (0106, 0308/0309 across
/// messages, 0506), the registry as the indication source (04xx) once
/// anything was ingested.
///
/// [`Backends::none`] (in-process tests) has neither: every request sees
/// [`NoHistory`] and no indication source, like `check` without a store.
#[derive(Default)]
pub struct Backends {
    /// Shared with the forwarder (its outbox lives in the ledger store).
    pub ledger: Option<Arc<dyn LedgerStore>>,
    pub registry: Option<RegistryStores>,
}

/// The registry's SQLite store: one writer (`POST /registry`) and a small
/// pool of read connections for checks (a check holds one for its length,
/// so checks do not wait for each other).
pub struct RegistryStores {
    dir: PathBuf,
    idle: Mutex<Vec<Store>>,
    writer: Mutex<Store>,
    loaded: AtomicBool,
}

/// Read connections kept open between checks.
const REGISTRY_IDLE_CONNECTIONS: usize = 16;

impl RegistryStores {
    /// Opens (creating and migrating) `DATA_DIR/gateway.db`.
    pub fn open(dir: &Path) -> Result<Self, String> {
        let writer = Store::open(dir).map_err(|e| format!("registry: {e}"))?;
        let loaded = writer.is_loaded().map_err(|e| format!("registry: {e}"))?;
        Ok(Self {
            dir: dir.to_owned(),
            idle: Mutex::new(Vec::new()),
            writer: Mutex::new(writer),
            loaded: AtomicBool::new(loaded),
        })
    }

    /// Whether any iWlz message was ingested (until then no 04xx check runs).
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    fn take(&self) -> Result<Store, StoreError> {
        if let Some(s) = self.idle.lock().expect("registry pool").pop() {
            return Ok(s);
        }
        Store::open(&self.dir)
    }

    fn give_back(&self, s: Store) {
        let mut idle = self.idle.lock().expect("registry pool");
        if idle.len() < REGISTRY_IDLE_CONNECTIONS {
            idle.push(s);
        }
    }

    /// Runs `f` with the writer (one ingest at a time); marks the registry
    /// loaded when `f` succeeded.
    pub fn with_writer<R, E>(&self, f: impl FnOnce(&mut Store) -> Result<R, E>) -> Result<R, E> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let r = f(&mut w)?;
        self.loaded.store(true, Ordering::Release);
        Ok(r)
    }
}

/// The ledger or the registry failed during a check: no verdict can be
/// trusted and nothing is recorded (503, the client sends again).
#[derive(Debug)]
pub struct BackendFailure(pub String);

impl Backends {
    /// No ledger, no registry.
    pub fn none() -> Self {
        Self::default()
    }

    /// Opens the ledger (PostgreSQL when `pg_url` is given, else SQLite in
    /// `data_dir`) and the registry store in `data_dir`.
    pub fn open(data_dir: &Path, pg_url: Option<&str>) -> Result<Self, String> {
        let registry =
            RegistryStores::open(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
        let ledger = ledger::open(data_dir, pg_url)
            .map_err(|e| format!("{}: ledger: {e}", data_dir.display()))?;
        Ok(Self {
            ledger: Some(Arc::from(ledger)),
            registry: Some(registry),
        })
    }

    /// Runs `f` (the check) with the rules' context for a request received on
    /// `today`; a ledger or registry failure met meanwhile voids the result.
    pub fn check_with<R>(
        &self,
        config: &Config,
        today: Datum,
        f: impl FnOnce(&Context<'_>) -> R,
    ) -> Result<R, BackendFailure> {
        let view = self
            .ledger
            .as_ref()
            .map(|l| ledger::LedgerView::new(&**l, &config.regime));
        let conn = match self.registry.as_ref().filter(|r| r.is_loaded()) {
            Some(r) => Some(
                r.take()
                    .map_err(|e| BackendFailure(format!("registry: {e}")))?,
            ),
            None => None,
        };
        let indications = conn.as_ref().map(|s| StoreIndications::new(s));
        let ctx = Context::new(
            config,
            today,
            indications.as_ref().map(|r| r as &dyn IndicationSource),
            view.as_ref().map(|v| v as &dyn History),
        );
        let r = f(&ctx);
        let failure = indications.as_ref().and_then(|i| i.failure());
        drop(indications);
        if let (Some(c), Some(reg)) = (conn, self.registry.as_ref()) {
            if failure.is_none() {
                reg.give_back(c);
            }
        }
        if let Some(e) = failure {
            return Err(BackendFailure(format!("registry lookup failed: {e}")));
        }
        if let Some(e) = view.as_ref().and_then(|v| v.take_error()) {
            return Err(BackendFailure(format!("ledger lookup failed: {e}")));
        }
        Ok(r)
    }
}

impl Options {
    /// The settings of `[server]`.
    pub fn from_config(s: &crate::config::Server) -> Self {
        let ms = Duration::from_millis;
        Self {
            max_concurrent: s.max_concurrent.max(1),
            queue_timeout: ms(s.queue_timeout_ms),
            header_read_timeout: ms(s.header_read_timeout_ms),
            body_idle_timeout: ms(s.body_idle_timeout_ms),
            drain_timeout: ms(s.drain_timeout_ms),
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
    /// Bearer tokens of the providers (hashed).
    pub tokens: Tokens,
    /// Per-provider request and line limits.
    pub limiter: Limiter,
    /// Caps concurrent check requests; waiting for a permit is the back-pressure.
    permits: Arc<Semaphore>,
    /// Set once the configuration and the store are loaded and the listener
    /// runs; cleared when shutdown begins so balancers drain us.
    ready: AtomicBool,
    next_request: AtomicU64,
    /// Distinguishes request ids of this process from an earlier one's.
    boot: u32,
}

impl State {
    /// A server without ledger or registry (in-process tests).
    pub fn new(config: Config, options: Options) -> Self {
        Self::with_backends(config, options, Backends::none())
    }

    /// A server on the store of `data_dir` (and the PostgreSQL ledger when
    /// `pg_url` is given). The agreements imported into the ledger replace
    /// the configured ones, as for `check`.
    pub fn open(
        mut config: Config,
        options: Options,
        data_dir: &Path,
        pg_url: Option<&str>,
    ) -> Result<Self, String> {
        let backends = Backends::open(data_dir, pg_url)?;
        if let Some(l) = &backends.ledger {
            ledger::agreements::apply_stored_agreements(&mut config.regime, &**l)
                .map_err(|e| format!("ledger agreements: {e}"))?;
        }
        Ok(Self::with_backends(config, options, backends))
    }

    pub fn with_backends(config: Config, options: Options, backends: Backends) -> Self {
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32 ^ std::process::id().rotate_left(16))
            .unwrap_or(0);
        let tokens = Tokens::new(&config.tokens);
        let limiter = Limiter::new(tokens.agbs(), &config.rate_limits);
        Self {
            config: Arc::new(config),
            permits: Arc::new(Semaphore::new(options.max_concurrent.max(1))),
            options,
            metrics: Metrics::new(),
            backends,
            forwarder: Box::new(NoUpstream),
            tokens,
            limiter,
            ready: AtomicBool::new(false),
            next_request: AtomicU64::new(1),
            boot,
        }
    }

    /// Replaces the forwarder (default: [`NoUpstream`]).
    pub fn with_forwarder(mut self, forwarder: Box<dyn Forwarder>) -> Self {
        self.forwarder = forwarder;
        self
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

/// `zio-gateway serve`: opens the store, binds, prints the bound address as
/// the first line of standard output, serves until SIGTERM, drains. `config`
/// is already loaded (errors are found at start-up, never at the first
/// request). The ledger is PostgreSQL when `ZIO_GATEWAY_LEDGER_URL` or
/// `[store] postgres_url` is set (the environment wins), else SQLite in
/// `data`.
pub fn serve(config: Config, data: &Path, listen: &str, options: Options) -> Result<(), String> {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(io::stderr)
        .try_init();
    let pg_url = config.ledger_url();
    let state = State::open(config, options, data, pg_url.as_deref())?;
    let (state, worker) = with_upstreams(state)?;
    if state.tokens.is_empty() {
        tracing::warn!("no [[tokens]] configured: every authenticated endpoint answers 401");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| format!("listen {listen}: cannot bind: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("listen {listen}: {e}"))?;
        {
            use std::io::Write;
            let mut out = io::stdout().lock();
            let _ = writeln!(out, "{addr}");
            let _ = out.flush();
        }
        run(listener, Arc::new(state), shutdown_signal())
            .await
            .map_err(|e| format!("server error: {e}"))
    })?;
    if let Some(w) = worker {
        // What is still pending stays in the outbox for the next start.
        w.stop();
    }
    Ok(())
}

/// The forwarder of `[upstreams]`: the durable outbox (in the ledger store)
/// with its delivery worker and metrics hook when any route has an
/// upstream; [`NoUpstream`] (record only) when both are `none`.
pub fn with_upstreams(state: State) -> Result<(State, Option<Worker>), String> {
    let ups = state.config.upstreams.clone();
    if ups.zio == Upstream::None && ups.regulier == Upstream::None {
        return Ok((state, None));
    }
    let Some(store) = state.backends.ledger.clone() else {
        return Ok((state, None));
    };
    let fwd = OutboxForwarder::new(store, ups).map_err(|e| format!("upstreams: {e}"))?;
    let stats = fwd.stats();
    state.metrics.set_forward_stats(move || ForwardSnapshot {
        outbox_pending: i64::try_from(stats.pending_count()).unwrap_or(i64::MAX),
        upstream_attempts: vec![("delivered", stats.delivered()), ("failed", stats.failed())],
    });
    fwd.refresh_pending();
    let worker = fwd
        .start_worker(WorkerOptions::default())
        .map_err(|e| format!("upstreams: cannot start the delivery worker: {e}"))?;
    Ok((state.with_forwarder(Box::new(fwd)), Some(worker)))
}
