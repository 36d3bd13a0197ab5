//! `GET /openapi.json`: the OpenAPI 3.1 document of every endpoint, kept in
//! `docs/openapi.json` and embedded in the binary. `tests/server.rs` checks
//! that it names every path of `server/endpoint.rs`; CI runs schemathesis
//! against a live server from it (`scripts/schemathesis.sh`).

use super::response::{with_type, RespBody};
use bytes::Bytes;
use hyper::{Response, StatusCode};

pub const DOCUMENT: &str = include_str!("../../docs/openapi.json");

pub fn serve() -> Response<RespBody> {
    with_type(
        StatusCode::OK,
        "application/json",
        Bytes::from_static(DOCUMENT.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1() {
        let v: serde_json::Value = serde_json::from_str(DOCUMENT).expect("JSON");
        assert_eq!(v["openapi"], "3.1.0");
        for path in [
            "/declaraties",
            "/testbatches",
            "/declaraties/{id}",
            "/declaraties/{id}/antwoord",
            "/registry",
            "/netwerkmodel/notificaties",
            "/ledger/nacalculatie",
            "/ledger/report",
            "/ledger/onderwijstijd",
            "/ledger/absence",
            "/ledger/herschikking",
            "/ledger/herschikking/akkoord",
            "/ledger/herschikking/definitief",
            "/metrics",
            "/healthz",
            "/readyz",
            "/openapi.json",
            "/",
        ] {
            assert!(v["paths"][path].is_object(), "{path} is not documented");
        }
        let absence = &v["paths"]["/ledger/absence"];
        assert!(absence["get"].is_object() && absence["post"].is_object());
        let decl = &v["paths"]["/declaraties"]["post"]["responses"]["200"]["headers"];
        assert!(decl["x-zio-herhaling"].is_object());
    }
}
