//! One request as a short sequence of phases sharing one [`RequestCtx`]
//! (after Pingora's proxy phases):
//!
//! 1. [`request_filter`]: method and path to an [`Endpoint`], or an early answer.
//! 2. [`admit`]: a concurrency permit for check requests, or 503 (back-pressure).
//! 3. [`check`]: the body streamed into the checker on a blocking thread; the
//!    answer streamed back.
//! 4. [`logging`]: metrics and the one log line per request.
//!
//! Nothing here logs a line's content: no BSN, no reference, only the
//! sender's AGB code and the message identificatie.

use super::body::{
    feed, ChannelBody, ChannelReader, ChannelWriter, ANSWER_CHANNEL_CHUNKS, BODY_CHANNEL_CHUNKS,
};
use super::State;
use crate::check::{check_message, Outcome};
use crate::message::writer::Format;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};
use tracing::Instrument;

pub type RespBody = BoxBody<Bytes, io::Error>;

/// The request id header, read when the caller sends a sane one and always
/// set on the response.
pub const REQUEST_ID: &str = "x-request-id";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Declaraties,
    Testbatches,
    Metrics,
    Healthz,
    Readyz,
    /// No such path (404) or method (405).
    Other,
}

impl Endpoint {
    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::Declaraties => "declaraties",
            Endpoint::Testbatches => "testbatches",
            Endpoint::Metrics => "metrics",
            Endpoint::Healthz => "healthz",
            Endpoint::Readyz => "readyz",
            Endpoint::Other => "other",
        }
    }
}

/// What the phases of one request share.
pub struct RequestCtx {
    pub id: String,
    pub endpoint: Endpoint,
    pub started: Instant,
    /// Set by the check phase, for the log line.
    pub checked: Option<Summary>,
}

/// What the checker found, for metrics and the log: bounded values only.
#[derive(Debug, Default)]
pub struct Summary {
    pub verwerking: &'static str,
    pub afzender: Option<String>,
    pub bericht: Option<String>,
    /// Message-level codes (the message was rejected whole when not empty).
    pub message_codes: Vec<&'static str>,
    /// Lines by (route, first code or `none`).
    pub lines: BTreeMap<(&'static str, &'static str), u64>,
    pub line_count: u64,
}

/// The service entry: runs the phases inside a span carrying the request id.
pub async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<RespBody>, Infallible> {
    let id = incoming_request_id(&req).unwrap_or_else(|| state.request_id());
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    async move {
        let mut ctx = RequestCtx {
            id,
            endpoint: Endpoint::Other,
            started: Instant::now(),
            checked: None,
        };
        let mut resp = match request_filter(&req) {
            Err(early) => *early,
            Ok(ep) => {
                ctx.endpoint = ep;
                match ep {
                    Endpoint::Declaraties | Endpoint::Testbatches => match admit(&state).await {
                        Ok(permit) => check(&state, &mut ctx, req, permit).await,
                        Err(busy) => busy,
                    },
                    Endpoint::Metrics => {
                        let (ty, body) = state.metrics.render();
                        with_type(StatusCode::OK, &ty, body.into())
                    }
                    Endpoint::Healthz => plain(StatusCode::OK, "ok\n"),
                    Endpoint::Readyz if state.is_ready() => plain(StatusCode::OK, "ready\n"),
                    Endpoint::Readyz => plain(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
                    Endpoint::Other => plain(StatusCode::NOT_FOUND, "not found\n"),
                }
            }
        };
        if let Ok(v) = HeaderValue::from_str(&ctx.id) {
            resp.headers_mut().insert(REQUEST_ID, v);
        }
        logging(&state, &ctx, resp.status());
        Ok(resp)
    }
    .instrument(span)
    .await
}

/// Phase 1: which endpoint, or an early 404/405.
/// (The early answer is boxed: it is the rare path.)
pub fn request_filter<B>(req: &Request<B>) -> Result<Endpoint, Box<Response<RespBody>>> {
    let (ep, allowed) = match req.uri().path() {
        "/declaraties" => (Endpoint::Declaraties, Method::POST),
        "/testbatches" => (Endpoint::Testbatches, Method::POST),
        "/metrics" => (Endpoint::Metrics, Method::GET),
        "/healthz" => (Endpoint::Healthz, Method::GET),
        "/readyz" => (Endpoint::Readyz, Method::GET),
        _ => return Err(Box::new(plain(StatusCode::NOT_FOUND, "not found\n"))),
    };
    let method = req.method();
    if method == allowed || (allowed == Method::GET && method == Method::HEAD) {
        Ok(ep)
    } else {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        if let Ok(v) = HeaderValue::from_str(allowed.as_str()) {
            r.headers_mut().insert(ALLOW, v);
        }
        Err(Box::new(r))
    }
}

/// Phase 2: a slot among `max_concurrent` check requests. Waiting for one is
/// the back-pressure; past `queue_timeout` the client hears 503 and when to
/// come back.
pub async fn admit(state: &Arc<State>) -> Result<OwnedSemaphorePermit, Response<RespBody>> {
    let acquire = state.permits.clone().acquire_owned();
    match tokio::time::timeout(state.options.queue_timeout, acquire).await {
        Ok(Ok(p)) => Ok(p),
        _ => {
            state.metrics.busy_total.inc();
            tracing::warn!("concurrency cap reached: 503");
            let mut r = plain(StatusCode::SERVICE_UNAVAILABLE, "busy, retry later\n");
            r.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            Err(r)
        }
    }
}

/// Phase 3: stream the body into `check_message` on a blocking thread and
/// stream its answer back. The permit is held until the answer is written.
pub async fn check(
    state: &Arc<State>,
    ctx: &mut RequestCtx,
    req: Request<Incoming>,
    permit: OwnedSemaphorePermit,
) -> Response<RespBody> {
    let test = ctx.endpoint == Endpoint::Testbatches;
    let format = negotiate(&req);
    let (body_tx, body_rx) = mpsc::channel(BODY_CHANNEL_CHUNKS);
    let st = state.clone();
    let idle = state.options.body_idle_timeout;
    tokio::spawn(
        async move {
            let n = feed(req.into_body(), body_tx, idle).await;
            st.metrics.batch_bytes.observe(n as f64);
        }
        .in_current_span(),
    );
    let (head_tx, head_rx) = oneshot::channel();
    let (ans_tx, ans_rx) = mpsc::channel(ANSWER_CHANNEL_CHUNKS);
    let st = state.clone();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let _in_flight = InFlight::new(&st, permit);
        run_check(
            &st,
            format,
            test,
            ChannelReader::new(body_rx),
            head_tx,
            ans_tx,
        );
    });
    match head_rx.await {
        Ok(Ok(summary)) => {
            record(state, ctx.endpoint, test, &summary);
            ctx.checked = Some(summary);
            let ty = match format {
                Format::Xml => "application/xml; charset=utf-8",
                Format::Json => "application/json",
            };
            let mut r = Response::new(ChannelBody::new(ans_rx).boxed());
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(ty));
            r
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the request body could not be read");
            plain(
                StatusCode::BAD_REQUEST,
                "the request body could not be read\n",
            )
        }
        Err(_) => {
            tracing::error!("the checker stopped without an answer");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
        }
    }
}

/// Holds the permit and the in-flight gauge for the life of one check.
struct InFlight<'a> {
    state: &'a State,
    _permit: OwnedSemaphorePermit,
}

impl<'a> InFlight<'a> {
    fn new(state: &'a State, permit: OwnedSemaphorePermit) -> Self {
        state.metrics.in_flight.inc();
        Self {
            state,
            _permit: permit,
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.state.metrics.in_flight.dec();
    }
}

/// The blocking part: check, forward (real messages only), then write the
/// answer. The summary goes out before the answer so the response head can.
fn run_check(
    state: &State,
    format: Format,
    test: bool,
    body: ChannelReader,
    head_tx: oneshot::Sender<io::Result<Summary>>,
    ans_tx: mpsc::Sender<super::body::Chunk>,
) {
    let config = &*state.config;
    let today = chrono::Local::now().date_naive();
    let cctx = state.backends.context(config, today);
    let result = check_message(body, config, &cctx).and_then(|mut outcome| {
        let summary = summarize(&mut outcome, test)?;
        if !test && !outcome.rejected_whole() {
            state.forwarder.forward(&mut outcome)?;
        }
        Ok((outcome, summary))
    });
    let mut outcome = match result {
        Ok((outcome, summary)) => {
            if head_tx.send(Ok(summary)).is_err() {
                return;
            }
            outcome
        }
        Err(e) => {
            let _ = head_tx.send(Err(e));
            return;
        }
    };
    let mut w = ChannelWriter::new(ans_tx);
    match outcome
        .write_answer(config, format, test, &mut w)
        .and_then(|_| io::Write::flush(&mut w))
    {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            tracing::debug!("client went away during the answer");
        }
        Err(e) => {
            tracing::error!(error = %e, "writing the answer failed");
            w.fail(e);
        }
    }
}

/// Reads the verdicts once for the metrics and the log.
fn summarize(outcome: &mut Outcome, test: bool) -> io::Result<Summary> {
    let mut s = Summary {
        verwerking: if test {
            "Test"
        } else {
            outcome.verwerking().as_str()
        },
        afzender: outcome
            .header
            .as_ref()
            .map(|h| h.afzender.as_str().to_owned()),
        bericht: outcome
            .header
            .as_ref()
            .map(|h| h.bericht.identificatie.as_str().to_owned()),
        message_codes: outcome
            .message_codes
            .iter()
            .map(|m| m.code.code())
            .collect(),
        ..Summary::default()
    };
    if !outcome.rejected_whole() {
        for v in outcome.lines.iter()? {
            let v = v?;
            let code = v.codes.first().map_or("none", |c| c.code());
            *s.lines.entry((v.route.as_str(), code)).or_default() += 1;
            s.line_count += 1;
        }
    }
    Ok(s)
}

/// Metrics of one checked message. Test batches count as messages only: their
/// lines stay out of `lines_total`, like they stay out of the ledger.
fn record(state: &State, endpoint: Endpoint, test: bool, s: &Summary) {
    let m = &state.metrics;
    m.messages_total
        .with_label_values(&[endpoint.label(), s.verwerking])
        .inc();
    m.batch_lines.observe(s.line_count as f64);
    if !test {
        for ((route, code), n) in &s.lines {
            m.lines_total.with_label_values(&[route, code]).inc_by(*n);
        }
    }
}

/// Phase 4: the request's metrics and its one log line.
pub fn logging(state: &State, ctx: &RequestCtx, status: StatusCode) {
    let ep = ctx.endpoint.label();
    let elapsed = ctx.started.elapsed();
    state
        .metrics
        .requests_total
        .with_label_values(&[ep, status.as_str()])
        .inc();
    state
        .metrics
        .request_duration
        .with_label_values(&[ep])
        .observe(elapsed.as_secs_f64());
    let ms = elapsed.as_secs_f64() * 1000.0;
    match &ctx.checked {
        Some(s) => tracing::info!(
            endpoint = ep,
            status = status.as_u16(),
            elapsed_ms = ms,
            verwerking = s.verwerking,
            afzender = s.afzender.as_deref().unwrap_or("-"),
            bericht = s.bericht.as_deref().unwrap_or("-"),
            message_codes = ?s.message_codes,
            lines = s.line_count,
            "checked"
        ),
        None => tracing::info!(
            endpoint = ep,
            status = status.as_u16(),
            elapsed_ms = ms,
            "request"
        ),
    }
}

/// JSON when the client asks for it, else XML.
pub fn negotiate<B>(req: &Request<B>) -> Format {
    let json = req
        .headers()
        .get_all(hyper::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|m| {
            m.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if json {
        Format::Json
    } else {
        Format::Xml
    }
}

/// The caller's `x-request-id` when it is short and plain; otherwise we make one.
fn incoming_request_id<B>(req: &Request<B>) -> Option<String> {
    let v = req.headers().get(REQUEST_ID)?.to_str().ok()?;
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| v.to_owned())
}

fn plain(status: StatusCode, text: &'static str) -> Response<RespBody> {
    with_type(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(text.as_bytes()),
    )
}

fn with_type(status: StatusCode, ty: &str, body: Bytes) -> Response<RespBody> {
    let mut r = Response::new(Full::new(body).map_err(|never| match never {}).boxed());
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(ty) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, path: &str, accept: Option<&str>) -> Request<()> {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(a) = accept {
            b = b.header("accept", a);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn routes_and_methods() {
        assert_eq!(
            request_filter(&req(Method::POST, "/declaraties", None)).unwrap(),
            Endpoint::Declaraties
        );
        assert_eq!(
            request_filter(&req(Method::GET, "/healthz", None)).unwrap(),
            Endpoint::Healthz
        );
        let r = request_filter(&req(Method::GET, "/declaraties", None)).unwrap_err();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        let r = request_filter(&req(Method::GET, "/nope", None)).unwrap_err();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn accept_picks_json() {
        assert!(matches!(
            negotiate(&req(Method::POST, "/", Some("application/json"))),
            Format::Json
        ));
        assert!(matches!(
            negotiate(&req(
                Method::POST,
                "/",
                Some("text/html, Application/JSON;q=0.9")
            )),
            Format::Json
        ));
        assert!(matches!(
            negotiate(&req(Method::POST, "/", None)),
            Format::Xml
        ));
        assert!(matches!(
            negotiate(&req(Method::POST, "/", Some("*/*"))),
            Format::Xml
        ));
    }
}
