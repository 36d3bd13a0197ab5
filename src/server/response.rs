//! Every response the server makes that is not an answer to a declaration:
//! the plain-text bodies, the one error body (RFC 9457
//! `application/problem+json`) for every error status, the one mapping from
//! [`Error`] to an HTTP status, and content negotiation (`Accept` with
//! q-values, 406 when nothing offered fits).

use crate::error::{Error, Fault};
use crate::sinks::answer::Format;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Request, Response, StatusCode};
use std::io;

pub type RespBody = BoxBody<Bytes, io::Error>;

/// The media type of every error body.
pub const PROBLEM: &str = "application/problem+json";

/// A short text response; for an error status (4xx, 5xx) the text becomes the
/// `detail` of a problem body, so every error has the same shape.
pub fn plain(status: StatusCode, text: &'static str) -> Response<RespBody> {
    if status.is_client_error() || status.is_server_error() {
        return problem(status, text.trim_end());
    }
    with_type(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(text.as_bytes()),
    )
}

/// The one error body: `{"type": "about:blank", "title", "status", "detail"}`
/// (RFC 9457). `detail` is for the caller; it never carries a BSN.
pub fn problem(status: StatusCode, detail: &str) -> Response<RespBody> {
    problem_with(status, detail, serde_json::Map::new())
}

/// A problem body with extension members (e.g. `locatie`).
pub fn problem_with(
    status: StatusCode,
    detail: &str,
    extra: serde_json::Map<String, serde_json::Value>,
) -> Response<RespBody> {
    let mut body = serde_json::Map::new();
    body.insert("type".into(), "about:blank".into());
    body.insert(
        "title".into(),
        status.canonical_reason().unwrap_or("Error").into(),
    );
    body.insert("status".into(), status.as_u16().into());
    body.insert("detail".into(), detail.into());
    for (k, v) in extra {
        body.entry(k).or_insert(v);
    }
    let mut bytes = serde_json::to_vec(&body).unwrap_or_default();
    bytes.push(b'\n');
    with_type(status, PROBLEM, Bytes::from(bytes))
}

pub fn with_type(status: StatusCode, ty: &str, body: Bytes) -> Response<RespBody> {
    let mut r = Response::new(Full::new(body).map_err(|never| match never {}).boxed());
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(ty) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r
}

/// The status for a request that got no answer: the sender's fault is 400;
/// ours (the store) is 503 with `Retry-After`, since nothing was recorded
/// and the same request will do once the store is back; an upstream's is 502.
pub fn error_response(e: &Error) -> Response<RespBody> {
    match e.fault() {
        Fault::Sender => {
            tracing::warn!(error = %e, "the request could not be read: 400");
            plain(
                StatusCode::BAD_REQUEST,
                "the request body could not be read\n",
            )
        }
        Fault::Backend if e.retryable() => {
            tracing::error!(error = %e, "store failure: nothing recorded, 503");
            let mut r = plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "store unavailable: nothing recorded, send again later\n",
            );
            r.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("5"));
            r
        }
        Fault::Upstream => {
            tracing::error!(error = %e, "upstream failure: 502");
            plain(StatusCode::BAD_GATEWAY, "upstream unavailable\n")
        }
        Fault::Backend | Fault::Config => {
            tracing::error!(error = %e, "internal failure: 500");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
        }
    }
}

/// The answer's form from `Accept` (RFC 9110 12.5.1): each offered type
/// gets the q-value of the most specific range that matches it
/// (`application/json` over `application/*` over `*/*`); the highest q wins,
/// XML on a tie; no `Accept` means XML. When neither form is acceptable
/// (every match has q=0, or nothing matches) the answer is 406.
pub fn negotiate<B>(req: &Request<B>) -> Result<Format, Box<Response<RespBody>>> {
    let headers: Vec<&str> = req
        .headers()
        .get_all(hyper::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if headers.iter().all(|h| h.trim().is_empty()) {
        return Ok(Format::Xml);
    }
    let ranges: Vec<(String, String, f32)> = headers
        .iter()
        .flat_map(|h| h.split(','))
        .filter_map(media_range)
        .collect();
    let q = |ty: &str, sub: &str| -> f32 {
        let mut best: Option<(u8, f32)> = None;
        for (t, s, q) in &ranges {
            let specificity = if t == ty && s == sub {
                2
            } else if t == ty && s == "*" {
                1
            } else if t == "*" && s == "*" {
                0
            } else {
                continue;
            };
            if best.is_none_or(|(b, _)| specificity > b) {
                best = Some((specificity, *q));
            }
        }
        best.map_or(0.0, |(_, q)| q)
    };
    let xml = q("application", "xml");
    let json = q("application", "json");
    if xml <= 0.0 && json <= 0.0 {
        return Err(Box::new(problem(
            StatusCode::NOT_ACCEPTABLE,
            "the answer is available as application/xml or application/json",
        )));
    }
    Ok(if json > xml {
        Format::Json
    } else {
        Format::Xml
    })
}

/// One media range of `Accept`: lower-cased type and subtype and its q
/// (1 when absent; an unreadable q counts as 0).
fn media_range(item: &str) -> Option<(String, String, f32)> {
    let mut parts = item.split(';');
    let (ty, sub) = parts.next()?.trim().split_once('/')?;
    let (ty, sub) = (
        ty.trim().to_ascii_lowercase(),
        sub.trim().to_ascii_lowercase(),
    );
    if ty.is_empty() || sub.is_empty() || (ty == "*" && sub != "*") {
        return None;
    }
    let mut q = 1.0;
    for p in parts {
        if let Some((k, v)) = p.split_once('=') {
            if k.trim().eq_ignore_ascii_case("q") {
                q = v
                    .trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|q| (0.0..=1.0).contains(q))
                    .unwrap_or(0.0);
            }
        }
    }
    Some((ty, sub, q))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_fault_has_its_status() {
        assert_eq!(
            error_response(&Error::sender("x")).status(),
            StatusCode::BAD_REQUEST
        );
        let r = error_response(&Error::backend("x"));
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[RETRY_AFTER], "5");
        assert_eq!(
            error_response(&Error::backend("x").with_retry(false)).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            error_response(&Error::upstream("x")).status(),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            error_response(&Error::config("x")).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(r.headers()[CONTENT_TYPE], PROBLEM);
    }

    fn accept(values: &[&str]) -> Result<Format, StatusCode> {
        let mut b = Request::builder();
        for v in values {
            b = b.header("accept", *v);
        }
        negotiate(&b.body(()).unwrap()).map_err(|r| r.status())
    }

    #[test]
    fn accept_with_q_values() {
        use Format::{Json, Xml};
        let ok = |v: &[&str], f: Format| {
            assert_eq!(
                std::mem::discriminant(&accept(v).unwrap()),
                std::mem::discriminant(&f),
                "{v:?}"
            )
        };
        ok(&[], Xml);
        ok(&["*/*"], Xml);
        ok(&["application/json"], Json);
        ok(&["text/html, Application/JSON;q=0.9"], Json);
        ok(&["application/xml;q=0.5, application/json;q=0.8"], Json);
        ok(&["application/json;q=0.5, application/xml"], Xml);
        ok(&["application/json;q=0.5, */*;q=0.9"], Xml);
        ok(&["*/*;q=0.1, application/xml;q=0"], Json);
        ok(&["application/*"], Xml);
        ok(&["text/html", "application/json"], Json);
        for refused in [
            &["text/html"][..],
            &["application/json;q=0, application/xml;q=0"],
            &["application/json;q=0, */*;q=0"],
            &["image/png, text/*"],
        ] {
            assert_eq!(
                accept(refused).unwrap_err(),
                StatusCode::NOT_ACCEPTABLE,
                "{refused:?}"
            );
        }
    }

    #[test]
    fn every_error_is_a_problem() {
        let r = plain(StatusCode::NOT_FOUND, "not found\n");
        assert_eq!(r.headers()[CONTENT_TYPE], PROBLEM);
        let ok = plain(StatusCode::OK, "ok\n");
        assert!(ok.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
    }
}
