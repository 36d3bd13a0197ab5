//! Every response the server makes that is not an answer to a declaration:
//! the plain-text bodies and the one mapping from [`Error`] to an HTTP status.

use crate::error::{Error, Fault};
use crate::sinks::answer::Format;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Request, Response, StatusCode};
use std::io;

pub type RespBody = BoxBody<Bytes, io::Error>;

pub fn plain(status: StatusCode, text: &'static str) -> Response<RespBody> {
    with_type(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(text.as_bytes()),
    )
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
    }
}
