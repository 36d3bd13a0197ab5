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

pub mod absence;
pub mod access;
pub mod admin;
pub mod auth;
pub mod body;
pub mod endpoint;
pub mod fair;
pub mod handler;
pub mod log_line;
pub mod metrics;
pub mod netwerkmodel;
pub mod openapi;
pub mod ops;
pub mod page;
pub mod response;
pub mod state;
pub mod status;

use crate::config::{Config, Upstream};
use crate::error::{Error, Result};
use crate::sinks::forward::{OutboxForwarder, Worker, WorkerOptions};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
pub use state::State;
use std::future::Future;
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The most a connection reads ahead (hyper's `max_buf_size`; a request
/// head must fit too).
const READ_BUF_BYTES: usize = 64 * 1024;

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
    state.metrics.ready.set(1);
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
                        .header_read_timeout(state.server().header_read_timeout)
                        // hyper's read buffer grows to ~400 KB under a fast
                        // upload, and each body chunk queued for the check
                        // (BODY_CHANNEL_CHUNKS) keeps its piece alive: ~4 MB
                        // per large request (issue 11). With 64 KiB the check
                        // still has 8 chunks queued ahead of it.
                        .max_buf_size(READ_BUF_BYTES)
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
    state.metrics.ready.set(0);
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("drained"),
        _ = tokio::time::sleep(state.server().drain_timeout) => {
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
/// request); its `[server]` carries the flags of `serve`. The ledger is
/// PostgreSQL when `ZIO_GATEWAY_LEDGER_URL` or `[store] postgres_url` is set
/// (the environment wins), else SQLite in `data`.
pub fn serve(mut config: Config, data: &Path) -> Result<()> {
    config.upstreams.resolve_spools(data);
    let _ = tracing_subscriber::fmt()
        .fmt_fields(log_line::SpanFields)
        .event_format(log_line::JsonLine)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(io::stderr)
        .try_init();
    // One runtime for requests and deliveries alike.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.server.runtime_threads())
        .enable_all()
        .build()
        .map_err(|e| Error::backend(format!("cannot start the runtime: {e}")))?;
    let pg_url = config.ledger_url();
    let listen = config.server.listen.clone();
    let _one_serve = match pg_url {
        None => Some(crate::sinks::store::hold_data_dir(data)?),
        Some(_) => None,
    };
    let state = State::open(config, data, pg_url.as_deref())?;
    let (state, worker) = with_upstreams(state, rt.handle())?;
    let state = with_netwerkmodel(state)?;
    for w in state.config().warnings() {
        tracing::warn!("{w}");
    }
    if state.tokens.is_empty() {
        tracing::warn!("no [[tokens]] configured: every authenticated endpoint answers 401");
    }
    let state = Arc::new(state);
    rt.spawn(forget_old_answers(state.clone()));
    rt.block_on(async {
        let listener = TcpListener::bind(&listen).await.map_err(|e| {
            Error::config(format!(
                "{}: [server] key `listen` ({listen}): cannot bind: {e}",
                state.config().source.display()
            ))
        })?;
        if let Some(m) = state.server().metrics_listen.clone() {
            let ml = TcpListener::bind(&m).await.map_err(|e| {
                Error::config(format!(
                    "{}: [server] key `metrics_listen` ({m}): cannot bind: {e}",
                    state.config().source.display()
                ))
            })?;
            tokio::spawn(ops::run_metrics(ml, state.clone()));
        }
        let addr = listener
            .local_addr()
            .map_err(|e| Error::backend(format!("listen {listen}: {e}")))?;
        {
            use std::io::Write;
            let mut out = io::stdout().lock();
            let _ = writeln!(out, "{addr}");
            let _ = out.flush();
        }
        run(listener, state.clone(), shutdown_signal())
            .await
            .map_err(|e| Error::backend(format!("server error: {e}")))
    })?;
    if let Some(w) = worker {
        // What is still pending stays in the outbox for the next start.
        w.stop();
    }
    Ok(())
}

/// Kept answers older than `[server] keep_answers_days` are forgotten, once
/// an hour.
async fn forget_old_answers(state: Arc<State>) {
    let Some(ledger) = state.pipeline.backends.ledger.clone() else {
        return;
    };
    let keep_ms = i64::from(state.config().server.keep_answers_days) * 86_400_000;
    loop {
        let l = ledger.clone();
        let before = chrono::Utc::now().timestamp_millis() - keep_ms;
        match tokio::task::spawn_blocking(move || l.purge_answers(before)).await {
            Ok(Ok(n)) if n > 0 => tracing::info!(answers = n, "forgot old answers"),
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot forget old answers"),
            _ => {}
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

/// The registers of `[registry.netwerkmodel]`, when configured: a client
/// that cannot be built (a certificate file missing or unreadable) stops the
/// start, as any configuration fault does. The metrics exist either way.
pub fn with_netwerkmodel(mut state: State) -> Result<State> {
    let telemetry = Arc::new(crate::sinks::netwerkmodel::telemetry::Telemetry::new());
    state.metrics.register(telemetry.collectors());
    if let Some(cfg) = state.config().netwerkmodel.clone() {
        let service = crate::sinks::netwerkmodel::Service::new(&cfg, telemetry).map_err(|e| {
            Error::config(format!(
                "{}: [registry.netwerkmodel]: {e}",
                state.config().source.display()
            ))
        })?;
        state.netwerkmodel = Some(Arc::new(service));
    }
    Ok(state)
}

/// The forwarder of `[upstreams]`: the durable outbox (in the ledger store)
/// with its delivery worker on `runtime` and its metrics, when any route has
/// an upstream; record only when both are `none`.
pub fn with_upstreams(
    state: State,
    runtime: &tokio::runtime::Handle,
) -> Result<(State, Option<Worker>)> {
    let ups = state.config().upstreams.clone();
    let store = state.pipeline.backends.ledger.clone();
    let Some(store) = store.filter(|_| ups.zio != Upstream::None || ups.regulier != Upstream::None)
    else {
        // The families exist (at 0) for dashboards whatever the deployment.
        state
            .metrics
            .register(crate::sinks::forward::Telemetry::new().collectors());
        return Ok((state, None));
    };
    let concurrency = ups.concurrency;
    let waits = ups.answer_wait_ms > 0;
    let mut fwd = OutboxForwarder::new(store, ups, runtime.clone(), concurrency)
        .marking_through(state.pipeline.group_writer());
    if waits {
        fwd = fwd.holding_for_request();
    }
    state.metrics.register(fwd.telemetry().collectors());
    let worker = fwd.start_worker(WorkerOptions {
        concurrency,
        ..WorkerOptions::default()
    });
    Ok((state.with_forwarder(Arc::new(fwd)), Some(worker)))
}
