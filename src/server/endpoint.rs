//! Which endpoint a request is for: the one table of paths and methods.

use super::response::{plain, RespBody};
use hyper::header::{HeaderValue, ALLOW};
use hyper::{Method, Request, Response, StatusCode};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Declaraties,
    Testbatches,
    Metrics,
    Healthz,
    Readyz,
    /// `POST /registry`: an iWlz message into the registry.
    Registry,
    /// `POST /netwerkmodel/notificaties`: a register names a changed record.
    Notificaties,
    /// `GET /ledger/nacalculatie?year=Y[&format=csv]`.
    LedgerNacalculatie,
    /// `GET /ledger/report?year=Y`.
    LedgerReport,
    /// `GET /ledger/onderwijstijd?schooljaar=Y[&format=csv]`.
    LedgerOnderwijstijd,
    /// `GET /ledger/herschikking?year=Y`: the caller's herschikking history.
    LedgerHerschikking,
    /// `POST /ledger/herschikking/akkoord?zorgkantoor=Z&year=Y`.
    LedgerHerschikkingAkkoord,
    /// `POST /ledger/herschikking/definitief?agb=A&zorgkantoor=Z&year=Y`:
    /// the zorgkantoor's act.
    LedgerHerschikkingDefinitief,
    /// `GET /ledger/absence?year=Y[&format=csv[&section=pupils_by_month]]`.
    LedgerAbsence,
    /// `POST /ledger/absence`: absence registration (CSV or JSON).
    LedgerAbsenceUpload,
    /// `GET /declaraties/{id}` and `GET /declaraties/{id}/antwoord`: one of
    /// the sender's own messages, and its kept answer.
    Message,
    /// `GET /` (and `GET /testbatches` from a browser): the test-batch page
    /// and its files (`server/page.rs`).
    Page,
    /// `GET /openapi.json`: the API's OpenAPI document (`server/openapi.rs`).
    OpenApi,
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
            Endpoint::Registry => "registry",
            Endpoint::Notificaties => "netwerkmodel_notificaties",
            Endpoint::LedgerNacalculatie => "ledger_nacalculatie",
            Endpoint::LedgerReport => "ledger_report",
            Endpoint::LedgerOnderwijstijd => "ledger_onderwijstijd",
            Endpoint::LedgerHerschikking => "ledger_herschikking",
            Endpoint::LedgerHerschikkingAkkoord => "ledger_herschikking_akkoord",
            Endpoint::LedgerHerschikkingDefinitief => "ledger_herschikking_definitief",
            Endpoint::LedgerAbsence => "ledger_absence",
            Endpoint::LedgerAbsenceUpload => "ledger_absence_upload",
            Endpoint::Message => "declaratie",
            Endpoint::Page => "page",
            Endpoint::OpenApi => "openapi",
            Endpoint::Other => "other",
        }
    }

    /// Needs a bearer token.
    pub fn protected(self) -> bool {
        matches!(
            self,
            Endpoint::Declaraties
                | Endpoint::Testbatches
                | Endpoint::Registry
                | Endpoint::Notificaties
                | Endpoint::LedgerNacalculatie
                | Endpoint::LedgerReport
                | Endpoint::LedgerOnderwijstijd
                | Endpoint::LedgerHerschikking
                | Endpoint::LedgerHerschikkingAkkoord
                | Endpoint::LedgerHerschikkingDefinitief
                | Endpoint::LedgerAbsence
                | Endpoint::LedgerAbsenceUpload
                | Endpoint::Message
        )
    }
}

/// Phase 1: which endpoint, or an early 404/405.
/// (The early answer is boxed: it is the rare path.)
pub fn request_filter<B>(req: &Request<B>) -> Result<Endpoint, Box<Response<RespBody>>> {
    let get = req.method() == Method::GET || req.method() == Method::HEAD;
    let (ep, allowed) = match req.uri().path() {
        "/testbatches" if get && super::page::wants_html(req) => (Endpoint::Page, Method::GET),
        p if super::page::PATHS.contains(&p) => (Endpoint::Page, Method::GET),
        "/declaraties" => (Endpoint::Declaraties, Method::POST),
        "/testbatches" => (Endpoint::Testbatches, Method::POST),
        "/metrics" => (Endpoint::Metrics, Method::GET),
        "/openapi.json" => (Endpoint::OpenApi, Method::GET),
        "/healthz" => (Endpoint::Healthz, Method::GET),
        "/readyz" => (Endpoint::Readyz, Method::GET),
        "/registry" => (Endpoint::Registry, Method::POST),
        "/netwerkmodel/notificaties" => (Endpoint::Notificaties, Method::POST),
        "/ledger/nacalculatie" => (Endpoint::LedgerNacalculatie, Method::GET),
        "/ledger/report" => (Endpoint::LedgerReport, Method::GET),
        "/ledger/onderwijstijd" => (Endpoint::LedgerOnderwijstijd, Method::GET),
        "/ledger/herschikking" => (Endpoint::LedgerHerschikking, Method::GET),
        "/ledger/herschikking/akkoord" => (Endpoint::LedgerHerschikkingAkkoord, Method::POST),
        "/ledger/herschikking/definitief" => (Endpoint::LedgerHerschikkingDefinitief, Method::POST),
        // One path, two endpoints: reading the report and registering.
        "/ledger/absence" if req.method() == Method::POST => {
            (Endpoint::LedgerAbsenceUpload, Method::POST)
        }
        "/ledger/absence" => (Endpoint::LedgerAbsence, Method::GET),
        p if p.starts_with("/declaraties/") => (Endpoint::Message, Method::GET),
        _ => return Err(Box::new(plain(StatusCode::NOT_FOUND, "not found\n"))),
    };
    let method = req.method();
    if method == allowed || (allowed == Method::GET && method == Method::HEAD) {
        Ok(ep)
    } else {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        let allow = match ep {
            Endpoint::LedgerAbsence => "GET, POST",
            _ => allowed.as_str(),
        };
        if let Ok(v) = HeaderValue::from_str(allow) {
            r.headers_mut().insert(ALLOW, v);
        }
        Err(Box::new(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, path: &str) -> Request<()> {
        Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap()
    }

    #[test]
    fn routes_and_methods() {
        assert_eq!(
            request_filter(&req(Method::POST, "/declaraties")).unwrap(),
            Endpoint::Declaraties
        );
        assert_eq!(
            request_filter(&req(Method::GET, "/healthz")).unwrap(),
            Endpoint::Healthz
        );
        let r = request_filter(&req(Method::GET, "/declaraties")).unwrap_err();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            request_filter(&req(Method::GET, "/")).unwrap(),
            Endpoint::Page
        );
        let browser = Request::builder()
            .uri("/testbatches")
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .body(())
            .unwrap();
        assert_eq!(request_filter(&browser).unwrap(), Endpoint::Page);
        let r = request_filter(&req(Method::GET, "/testbatches")).unwrap_err();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            request_filter(&req(Method::GET, "/ledger/absence")).unwrap(),
            Endpoint::LedgerAbsence
        );
        assert_eq!(
            request_filter(&req(Method::POST, "/ledger/absence")).unwrap(),
            Endpoint::LedgerAbsenceUpload
        );
        let r = request_filter(&req(Method::PUT, "/ledger/absence")).unwrap_err();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[ALLOW], "GET, POST");
        let r = request_filter(&req(Method::GET, "/nope")).unwrap_err();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
}
