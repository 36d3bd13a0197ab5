//! The test-batch page (`GET /`, and `GET /testbatches` from a browser):
//! plain HTML, CSS and JavaScript embedded in the binary. The page posts a
//! provider's file to `POST /testbatches` (nothing recorded or forwarded) and
//! shows the Retourbericht in brief; BSNs are masked except the last three
//! digits. No build step: the files under `page/` are served as they are.

use super::response::{plain, with_type, RespBody};
use bytes::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL};
use hyper::{Response, StatusCode};

const INDEX: &str = include_str!("page/index.html");
const CSS: &str = include_str!("page/page.css");
const JS: &str = include_str!("page/page.js");

/// The paths the page is made of (all `GET`).
pub const PATHS: &[&str] = &["/", "/page.css", "/page.js"];

/// Same-origin only: the page loads nothing from elsewhere and talks only to
/// this gateway.
const CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One file of the page by request path (`/testbatches` is the page too).
pub fn serve(path: &str) -> Response<RespBody> {
    let (ty, body) = match path {
        "/" | "/testbatches" => ("text/html; charset=utf-8", INDEX),
        "/page.css" => ("text/css; charset=utf-8", CSS),
        "/page.js" => ("text/javascript; charset=utf-8", JS),
        _ => return plain(StatusCode::NOT_FOUND, "not found\n"),
    };
    let mut r = with_type(StatusCode::OK, ty, Bytes::from_static(body.as_bytes()));
    let h = r.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// Whether a `GET /testbatches` comes from a browser that wants the page
/// (its `Accept` names `text/html`).
pub fn wants_html<B>(req: &hyper::Request<B>) -> bool {
    req.headers()
        .get_all(hyper::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::CONTENT_TYPE;

    #[test]
    fn every_file_is_served_with_its_type() {
        for p in PATHS {
            let r = serve(p);
            assert_eq!(r.status(), StatusCode::OK, "{p}");
            assert!(r.headers().contains_key("content-security-policy"));
        }
        assert!(serve("/page.js").headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript"));
        assert_eq!(serve("/nope").status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn the_page_loads_only_its_own_files() {
        assert!(INDEX.contains("src=\"/page.js\""));
        assert!(INDEX.contains("href=\"/page.css\""));
        assert!(!INDEX.contains("http://") && !INDEX.contains("https://"));
        assert!(JS.contains("/testbatches"));
    }
}
