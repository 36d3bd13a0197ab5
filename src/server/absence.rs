//! `POST /ledger/absence`: absence registration over HTTP, the twin of
//! `zio-gateway ledger absence FILE` (`docs/absence.md`). The body is CSV
//! (`Content-Type: text/csv`) or JSON (`application/json`), read whole (it
//! is small: at most [`MAX_BYTES`]) on a blocking thread, then validated
//! whole; one bad row answers 400 with `rij` and the reason and nothing is
//! recorded. A provider's token may register its own AGB only: a row of
//! another AGB answers the one 403 of every endpoint, before any row is
//! validated, so the answer says nothing about that AGB.

use super::access::Denied;
use super::admin::json_response;
use super::body::{feed, ChannelReader, BODY_CHANNEL_CHUNKS};
use super::response::{plain, RespBody};
use super::state::State;
use crate::sinks::ledger::absence::{self, UploadFormat};
use crate::sinks::ledger::herschikking::now_ms;
use crate::types::AgbCode;
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Request, Response, StatusCode};
use serde_json::json;
use std::io::Read;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The largest upload: about 150,000 rows, far more than a provider's year.
pub const MAX_BYTES: u64 = 16 * 1024 * 1024;

/// CSV or JSON by the request's media type (parameters such as `charset`
/// ignored); `None` for anything else.
fn format_of<B>(req: &Request<B>) -> Option<UploadFormat> {
    let ct = req.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    let media = ct.split(';').next()?.trim().to_ascii_lowercase();
    match media.as_str() {
        "text/csv" => Some(UploadFormat::Csv),
        "application/json" => Some(UploadFormat::Json),
        _ => None,
    }
}

/// What became of an upload, decided on the blocking thread.
enum Outcome {
    Registered(absence::Registered),
    Bad(absence::BadRow),
    Forbidden,
    TooLarge,
    Unreadable(std::io::Error),
    Store(crate::sinks::ledger::LedgerError),
}

fn read_capped(mut body: ChannelReader) -> Result<Option<Vec<u8>>, std::io::Error> {
    let mut out = Vec::new();
    let n = (&mut body).take(MAX_BYTES + 1).read_to_end(&mut out)?;
    Ok((n as u64 <= MAX_BYTES).then_some(out))
}

fn run(state: &State, body: ChannelReader, format: UploadFormat, own: Option<&AgbCode>) -> Outcome {
    let bytes = match read_capped(body) {
        Ok(Some(b)) => b,
        Ok(None) => return Outcome::TooLarge,
        Err(e) => return Outcome::Unreadable(e),
    };
    let raw = match absence::parse_upload(&bytes, format) {
        Ok(raw) => raw,
        Err(b) => return Outcome::Bad(b),
    };
    if let Some(agb) = own {
        if raw.iter().any(|r| r.agb != agb.as_str()) {
            return Outcome::Forbidden;
        }
    }
    let regime = &state.config().regime;
    let rows = match absence::validate(&raw, regime) {
        Ok(rows) => rows,
        Err(b) => return Outcome::Bad(b),
    };
    let Some(ledger) = state.pipeline.backends.ledger.as_ref() else {
        return Outcome::Store(crate::sinks::ledger::LedgerError::Invalid(
            "no ledger".into(),
        ));
    };
    let actor = match own {
        Some(agb) => format!("aanbieder:{agb}"),
        None => "zorgkantoor".to_owned(),
    };
    match absence::store_rows(&**ledger, &rows, &actor, now_ms()) {
        Ok(r) => Outcome::Registered(r),
        Err(e) => Outcome::Store(e),
    }
}

/// `POST /ledger/absence`; `own`: the provider the token belongs to (`None`
/// for the zorgkantoor, which registers for any provider).
pub async fn upload(
    state: &Arc<State>,
    req: Request<Incoming>,
    own: Option<AgbCode>,
) -> Response<RespBody> {
    if state.pipeline.backends.ledger.is_none() {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "no ledger\n");
    }
    let Some(format) = format_of(&req) else {
        return json_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &json!({"error": "Content-Type must be text/csv or application/json"}),
        );
    };
    let (tx, rx) = mpsc::channel(BODY_CHANNEL_CHUNKS);
    let pace = super::fair::Pace::of(state.server());
    tokio::spawn(feed(req.into_body(), tx, pace, Default::default()));
    let st = state.clone();
    let span = tracing::Span::current();
    let done = tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        run(&st, ChannelReader::new(rx), format, own.as_ref())
    })
    .await;
    match done {
        Ok(Outcome::Registered(r)) => {
            tracing::info!(
                rijen = r.rijen,
                gewijzigd = r.gewijzigd,
                "absence registered"
            );
            json_response(StatusCode::OK, &json!(r))
        }
        Ok(Outcome::Bad(b)) => {
            // The reason may quote a value (a BSN): the caller sees it, the
            // log gets the row number only.
            tracing::warn!(rij = b.rij, "absence upload refused");
            json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": format!("nothing registered: {}", b.reason), "rij": b.rij}),
            )
        }
        Ok(Outcome::Forbidden) => {
            tracing::warn!("absence upload with a row of another provider");
            Denied::Forbidden.response()
        }
        Ok(Outcome::TooLarge) => json_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &json!({"error": format!("upload larger than {MAX_BYTES} bytes")}),
        ),
        Ok(Outcome::Unreadable(e)) => json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": format!("the request body could not be read: {e}")}),
        ),
        Ok(Outcome::Store(e)) => {
            tracing::error!(error = %e, "absence registration failed");
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "ledger unavailable: nothing registered\n",
            )
        }
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
    }
}
