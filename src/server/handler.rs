//! One request as a short sequence of phases sharing one [`RequestCtx`]
//! (after Pingora's proxy phases):
//!
//! 1. [`request_filter`]: method and path to an [`Endpoint`], or an early answer.
//! 2. [`authenticate`]: the bearer token names the provider (401 without one),
//!    whose rate limits may refuse the request (429 with Retry-After).
//! 3. [`admit`]: a concurrency permit for check requests, or 503 (back-pressure).
//! 4. [`declaration`]: the body streamed into the pipeline on a blocking thread; a
//!    message whose Afzender is not the authenticated provider is rejected
//!    whole (0107); accepted lines recorded in the ledger, then forwarded,
//!    and only then the answer streamed back.
//! 5. [`logging`]: metrics and the one log line per request.
//!
//! Who may call what: the role of the token (aanbieder or zorgkantoor)
//! against the table in [`super::access`], checked right after
//! authentication (403 before any lookup). `/metrics`, `/healthz`, `/readyz`
//! are open (serve `/metrics` on `[server] metrics_listen`, an internal
//! network).
//!
//! Nothing here logs a line's content: no BSN, no reference, only the
//! sender's AGB code and the message identificatie.

use super::access::{self, Scope};
use super::auth::{bearer, retry_after_secs};
use super::body::{
    collect, collect_whole, feed, ChannelBody, ChannelReader, ChannelWriter, WholeBody,
    ANSWER_CHANNEL_CHUNKS, BODY_CHANNEL_CHUNKS, WHOLE_BODY_BYTES,
};
use super::endpoint::{request_filter, Endpoint};
use super::fair::{too_slow_response, Admission, Pace, TooSlow};
use super::response::{error_response, negotiate, plain, with_type, RespBody};
use super::state::State;
use super::status::{self, MessagePath};
use crate::config::Role;
use crate::error::Error;
use crate::pipeline::{Arrival, Disposition, Processed};
use crate::sinks::answer::Format;
use crate::types::AgbCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE,
};
use hyper::{Request, Response, StatusCode};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

/// The request id header, read when the caller sends a sane one and always
/// set on the response.
pub const REQUEST_ID: &str = "x-request-id";

/// What the phases of one request share.
pub struct RequestCtx {
    pub id: String,
    pub endpoint: Endpoint,
    pub started: Instant,
    /// The authenticated provider (`None` for the zorgkantoor).
    pub agb: Option<AgbCode>,
    /// Whose data the request may see (after authorization).
    pub scope: Option<Scope>,
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
    /// Retourcodes by (route, code): every code of a line (`none` for none).
    pub codes: BTreeMap<(&'static str, &'static str), u64>,
    pub line_count: u64,
    /// A byte-identical resend answered with the kept answer.
    pub repeat: bool,
}

/// Set on the answer to a byte-identical resend: the answer is the one kept
/// from the first time, not a new verdict.
pub const REPEAT: &str = "x-zio-herhaling";

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
            agb: None,
            scope: None,
            checked: None,
        };
        let mut resp = match request_filter(&req) {
            Err(early) => *early,
            Ok(ep) => {
                ctx.endpoint = ep;
                let refused = if ep.protected() {
                    match authenticate(&state, &req) {
                        Ok(role) => {
                            ctx.agb = role.agb().cloned();
                            match access::authorize(ep, &role, req.uri().query()) {
                                Ok(scope) => {
                                    ctx.scope = Some(scope);
                                    None
                                }
                                Err(denied) => {
                                    state.metrics.unauthorized_total.inc();
                                    tracing::warn!(role = role.label(), "not allowed: {denied:?}");
                                    Some(denied.response())
                                }
                            }
                        }
                        Err(r) => Some(*r),
                    }
                } else {
                    None
                };
                match (refused, ep) {
                    (Some(r), _) => r,
                    (None, Endpoint::Declaraties | Endpoint::Testbatches) => {
                        match admit(&state, ctx.agb.as_ref()).await {
                            Ok(permit) => declaration(&state, &mut ctx, req, permit).await,
                            Err(busy) => busy,
                        }
                    }
                    (None, Endpoint::Registry) => super::admin::registry(&state, req).await,
                    (None, Endpoint::Notificaties) => {
                        super::netwerkmodel::notificaties(&state, req).await
                    }
                    (
                        None,
                        Endpoint::LedgerHerschikking
                        | Endpoint::LedgerHerschikkingAkkoord
                        | Endpoint::LedgerHerschikkingDefinitief,
                    ) => {
                        // A provider's own; the zorgkantoor names one with ?agb=.
                        match ctx.scope.as_ref().and_then(|s| s.agb()).cloned() {
                            Some(agb) => {
                                let by = ctx.agb.clone();
                                super::admin::herschikking(&state, ep, &agb, by.as_ref(), &req)
                                    .await
                            }
                            None => plain(
                                StatusCode::BAD_REQUEST,
                                "name the provider with the query parameter agb\n",
                            ),
                        }
                    }
                    (None, Endpoint::Message) => {
                        let agb = ctx.scope.as_ref().and_then(|s| s.agb()).cloned();
                        match (agb, MessagePath::parse(req.uri().path())) {
                            (Some(agb), Some(what)) => {
                                status::message(&state, &agb, what, &req).await
                            }
                            (None, _) => plain(StatusCode::FORBIDDEN, "forbidden\n"),
                            (_, None) => plain(StatusCode::NOT_FOUND, "not found\n"),
                        }
                    }
                    (None, Endpoint::LedgerAbsenceUpload) => {
                        // Rows are checked against the token's own AGB.
                        let own = ctx.agb.clone();
                        super::absence::upload(&state, req, own).await
                    }
                    (
                        None,
                        Endpoint::LedgerNacalculatie
                        | Endpoint::LedgerReport
                        | Endpoint::LedgerOnderwijstijd
                        | Endpoint::LedgerAbsence,
                    ) => {
                        let only = ctx.scope.as_ref().and_then(|s| s.agb()).cloned();
                        super::admin::ledger(&state, ep, &req, only.as_ref()).await
                    }
                    (None, ep) => match ep {
                        Endpoint::Metrics if state.server().metrics_listen.is_some() => {
                            plain(StatusCode::NOT_FOUND, "not found\n")
                        }
                        Endpoint::Metrics => {
                            let (ty, body) = state.metrics.render();
                            with_type(StatusCode::OK, &ty, body.into())
                        }
                        Endpoint::Page => super::page::serve(req.uri().path()),
                        Endpoint::OpenApi => super::openapi::serve(),
                        Endpoint::Healthz => plain(StatusCode::OK, "ok\n"),
                        Endpoint::Readyz if state.is_ready() => plain(StatusCode::OK, "ready\n"),
                        Endpoint::Readyz => plain(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
                        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
                    },
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

/// Phase 2: the role of the bearer token (401 with `WWW-Authenticate`
/// otherwise), then its rate limits (429 with `Retry-After`).
pub fn authenticate<B>(state: &State, req: &Request<B>) -> Result<Role, Box<Response<RespBody>>> {
    let agb = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
        .and_then(|t| state.tokens.identify(t));
    let Some(agb) = agb else {
        state.metrics.unauthorized_total.inc();
        let mut r = plain(
            StatusCode::UNAUTHORIZED,
            "a valid bearer token is required\n",
        );
        r.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"zio-gateway\""),
        );
        return Err(Box::new(r));
    };
    if let Err(refusal) = state.limiter.admit(&agb) {
        state
            .metrics
            .rate_limited_total
            .with_label_values(&[refusal.label()])
            .inc();
        tracing::warn!(
            agb = agb.agb().map_or("-", |a| a.as_str()),
            limit = refusal.label(),
            "rate limit: 429"
        );
        let mut r = plain(
            StatusCode::TOO_MANY_REQUESTS,
            "rate limit reached, retry later\n",
        );
        if let Ok(v) = HeaderValue::from_str(&retry_after_secs(refusal.retry_after()).to_string()) {
            r.headers_mut().insert(RETRY_AFTER, v);
        }
        return Err(Box::new(r));
    }
    Ok(agb)
}

/// Phase 3: a slot among the provider's `max_concurrent_per_agb`, then
/// among `max_concurrent` check requests ([`super::fair`]). Waiting for them
/// is the back-pressure; past `queue_timeout` the client hears 503 and when
/// to come back.
pub async fn admit(
    state: &Arc<State>,
    agb: Option<&AgbCode>,
) -> Result<Admission, Response<RespBody>> {
    let acquire = async {
        let provider = match agb.and_then(|a| state.fair.slots(a)) {
            Some(s) => Some(s.acquire_owned().await.ok()?),
            None => None,
        };
        let global = state.permits.clone().acquire_owned().await.ok()?;
        Some(Admission { provider, global })
    };
    match tokio::time::timeout(state.server().queue_timeout, acquire).await {
        Ok(Some(p)) => Ok(p),
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

/// Phase 4: stream the body into the pipeline on a blocking thread and
/// stream its answer back. The permit is held until the answer is written.
pub async fn declaration(
    state: &Arc<State>,
    ctx: &mut RequestCtx,
    req: Request<Incoming>,
    permit: Admission,
) -> Response<RespBody> {
    let test = ctx.endpoint == Endpoint::Testbatches;
    let agb = ctx.agb.clone().expect("authenticated before the check");
    let format = match negotiate(&req) {
        Ok(f) => f,
        Err(refused) => return *refused,
    };
    let in_flight = InFlight::new(state.clone(), permit);
    let pace = Pace::of(state.server());
    let too_slow = TooSlow::default();
    let slow = too_slow.clone();
    let announced = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body_rx = match announced {
        Some(len) if len <= WHOLE_BODY_BYTES && state.pipeline.records_on_runtime() => {
            let body = collect_whole(req.into_body(), len, pace, slow).await;
            state.metrics.batch_bytes.observe(body.len() as f64);
            if too_slow.is_set() {
                tracing::warn!("request body too slow: 408");
                return too_slow_response();
            }
            let _in_flight = in_flight;
            return check_here(state, ctx, &agb, format, test, body).await;
        }
        Some(len) if len <= WHOLE_BODY_BYTES => {
            let (rx, n) = collect(req.into_body(), len, pace, slow).await;
            state.metrics.batch_bytes.observe(n as f64);
            rx
        }
        _ => {
            let (body_tx, body_rx) = mpsc::channel(BODY_CHANNEL_CHUNKS);
            let st = state.clone();
            tokio::spawn(
                async move {
                    let n = feed(req.into_body(), body_tx, pace, slow).await;
                    st.metrics.batch_bytes.observe(n as f64);
                }
                .in_current_span(),
            );
            body_rx
        }
    };
    let (head_tx, head_rx) = oneshot::channel();
    let (ans_tx, ans_rx) = mpsc::channel(ANSWER_CHANNEL_CHUNKS);
    let st = state.clone();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let _in_flight = in_flight;
        run_check(
            &st,
            &agb,
            format,
            test,
            ChannelReader::new(body_rx),
            head_tx,
            ans_tx,
        );
    });
    let head = head_rx.await;
    if too_slow.is_set() {
        tracing::warn!("request body too slow: 408");
        return too_slow_response();
    }
    match head {
        Ok(Ok(summary)) => {
            count(state, ctx.endpoint, test, &summary);
            let repeat = summary.repeat;
            ctx.checked = Some(summary);
            let mut r = Response::new(ChannelBody::new(ans_rx).boxed());
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(answer_type(format)));
            if repeat {
                r.headers_mut()
                    .insert(REPEAT, HeaderValue::from_static("true"));
            }
            r
        }
        Ok(Err(e)) => error_response(&e),
        Err(_) => {
            tracing::error!("the checker stopped without an answer");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
        }
    }
}

/// Phase 4 for a small message read whole, on the request's own task: the
/// check (local reads only, [`crate::pipeline::Pipeline::records_on_runtime`]),
/// the recording awaited (the group writer's commit, no thread blocked on
/// it), then the answer written whole. No blocking thread, no channel: the
/// hand-offs per request are the writer's and its reply.
async fn check_here(
    state: &Arc<State>,
    ctx: &mut RequestCtx,
    agb: &AgbCode,
    format: Format,
    test: bool,
    body: WholeBody,
) -> Response<RespBody> {
    let arrival = arrival(agb, test);
    let checked = match state.pipeline.check(body, &arrival) {
        Ok(c) => c,
        Err(e) => return error_response(&e),
    };
    let mut processed = match state.pipeline.record(checked).await {
        Ok(p) => p,
        Err(e) => return error_response(&e),
    };
    let summary = summarize(&processed);
    state.limiter.charge_lines(agb, summary.line_count);
    let mut answer = Vec::with_capacity(4 * 1024);
    if let Err(e) = state.pipeline.answer(&mut processed, format, &mut answer) {
        tracing::error!(error = %e, "writing the answer failed");
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n");
    }
    count(state, ctx.endpoint, test, &summary);
    let repeat = summary.repeat;
    ctx.checked = Some(summary);
    let mut r = with_type(StatusCode::OK, answer_type(format), answer.into());
    if repeat {
        r.headers_mut()
            .insert(REPEAT, HeaderValue::from_static("true"));
    }
    r
}

fn answer_type(format: Format) -> &'static str {
    match format {
        Format::Xml => "application/xml; charset=utf-8",
        Format::Json => "application/json",
    }
}

fn arrival(agb: &AgbCode, test: bool) -> Arrival<'_> {
    Arrival {
        today: chrono::Local::now().date_naive(),
        authenticated: Some(agb),
        disposition: if test {
            Disposition::Test
        } else {
            Disposition::Process
        },
    }
}

/// Holds the permit and the in-flight gauge for the life of one check,
/// from the first byte of its body read to the last of its answer written.
struct InFlight {
    state: Arc<State>,
    _permit: Admission,
}

impl InFlight {
    fn new(state: Arc<State>, permit: Admission) -> Self {
        state.metrics.in_flight.inc();
        Self {
            state,
            _permit: permit,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.state.metrics.in_flight.dec();
    }
}

/// The blocking part: the pipeline's steps up to the answer, then the
/// answer. The summary goes out before the answer so the response head can;
/// it goes out only once the lines are recorded, so an answer the client
/// receives means they are.
fn run_check(
    state: &State,
    agb: &AgbCode,
    format: Format,
    test: bool,
    body: ChannelReader,
    head_tx: oneshot::Sender<Result<Summary, Error>>,
    ans_tx: mpsc::Sender<super::body::Chunk>,
) {
    let arrival = arrival(agb, test);
    let mut processed = match state.pipeline.process(body, &arrival) {
        Ok(p) => p,
        Err(e) => {
            let _ = head_tx.send(Err(e));
            return;
        }
    };
    let summary = summarize(&processed);
    state.limiter.charge_lines(agb, summary.line_count);
    if head_tx.send(Ok(summary)).is_err() {
        return;
    }
    let mut w = ChannelWriter::new(ans_tx);
    match state
        .pipeline
        .answer(&mut processed, format, &mut w)
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

/// The figures for the metrics and the log, from what the check counted.
fn summarize(processed: &Processed) -> Summary {
    let outcome = &processed.outcome;
    let repeat = processed.repeat.is_some();
    // A repeat's lines were counted the first time.
    let whole = outcome.rejected_whole() || repeat;
    Summary {
        verwerking: processed.verwerking(),
        afzender: outcome
            .header
            .as_ref()
            .map(|h| h.afzender.as_str().to_owned()),
        bericht: outcome
            .header
            .as_ref()
            .map(|h| h.bericht.identificatie.as_str().to_owned()),
        message_codes: if repeat {
            Vec::new()
        } else {
            outcome
                .message_codes
                .iter()
                .map(|m| m.code.code())
                .collect()
        },
        repeat,
        lines: if whole {
            BTreeMap::new()
        } else {
            outcome.line_counts.clone()
        },
        codes: if whole {
            BTreeMap::new()
        } else {
            outcome.code_counts.clone()
        },
        line_count: if whole {
            0
        } else {
            outcome.line_counts.values().sum()
        },
    }
}

/// Metrics of one checked message. Test batches count as messages only: their
/// lines stay out of `lines_total`, like they stay out of the ledger.
fn count(state: &State, endpoint: Endpoint, test: bool, s: &Summary) {
    let m = &state.metrics;
    m.messages_total
        .with_label_values(&[endpoint.label(), s.verwerking])
        .inc();
    m.batch_lines.observe(s.line_count as f64);
    if !test {
        for ((route, code), n) in &s.codes {
            m.lines_total.with_label_values(&[route, code]).inc_by(*n);
        }
        for ((route, _), n) in &s.lines {
            m.routed_lines_total.with_label_values(&[route]).inc_by(*n);
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
    let agb = ctx.agb.as_ref().map_or("-", |a| a.as_str());
    match &ctx.checked {
        Some(s) => tracing::info!(
            endpoint = ep,
            agb,
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
            agb,
            status = status.as_u16(),
            elapsed_ms = ms,
            "request"
        ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Method;

    fn req(method: Method, path: &str, accept: Option<&str>) -> Request<()> {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(a) = accept {
            b = b.header("accept", a);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn accept_picks_json() {
        assert!(matches!(
            negotiate(&req(Method::POST, "/", Some("application/json"))),
            Ok(Format::Json)
        ));
        assert!(matches!(
            negotiate(&req(
                Method::POST,
                "/",
                Some("text/html, Application/JSON;q=0.9")
            )),
            Ok(Format::Json)
        ));
        assert!(matches!(
            negotiate(&req(Method::POST, "/", None)),
            Ok(Format::Xml)
        ));
        assert!(matches!(
            negotiate(&req(Method::POST, "/", Some("*/*"))),
            Ok(Format::Xml)
        ));
    }
}
