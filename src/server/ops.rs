//! `[server] metrics_listen`: `/metrics` (and `/healthz`, `/readyz`) on a
//! listener of their own, so the address providers reach serves no figures.
//! When it is set, `/metrics` on the main listener is 404.

use super::response::{plain, with_type, RespBody};
use super::state::State;
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

fn answer<B>(state: &State, req: &Request<B>) -> Response<RespBody> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    match req.uri().path() {
        "/metrics" => {
            let (ty, body) = state.metrics.render();
            with_type(StatusCode::OK, &ty, body.into())
        }
        "/healthz" => plain(StatusCode::OK, "ok\n"),
        "/readyz" if state.is_ready() => plain(StatusCode::OK, "ready\n"),
        "/readyz" => plain(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// Serves the metrics listener until the task is dropped.
pub async fn run_metrics(listener: TcpListener, state: Arc<State>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let st = state.clone();
                let svc = hyper::service::service_fn(move |req| {
                    let r = answer(&st, &req);
                    async move { Ok::<_, Infallible>(r) }
                });
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(state.server().header_read_timeout)
                    .serve_connection(TokioIo::new(stream), svc);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
