//! Where is my message? `GET /declaraties/{identificatie}` tells the sender
//! what became of one of its own messages: when it came, its Verwerking,
//! lines accepted per route and rejected, and for each forwarded message
//! (`-Z`, `-R`) its delivery state, attempts, last error and delivery time.
//! `GET /declaraties/{identificatie}/antwoord` gives the kept answer again.
//!
//! A message is looked up under the authenticated provider's AGB only, so
//! another provider's message is exactly as unknown as a message that was
//! never sent (404 either way).

use super::response::{negotiate, plain, with_type, RespBody};
use super::state::State;
use crate::sinks::answer::{Format, StoredAnswer};
use crate::sinks::ledger::{MessageStatus, OutboxRow};
use crate::types::{AgbCode, Referentie};
use bytes::Bytes;
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

/// Which of the two a path asks for, and for which message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessagePath {
    pub identificatie: String,
    pub answer: bool,
}

impl MessagePath {
    /// `/declaraties/{id}` or `/declaraties/{id}/antwoord`.
    pub fn parse(path: &str) -> Option<Self> {
        let rest = path.strip_prefix("/declaraties/")?;
        let (id, answer) = match rest.strip_suffix("/antwoord") {
            Some(id) => (id, true),
            None => (rest, false),
        };
        (!id.is_empty() && !id.contains('/')).then(|| Self {
            identificatie: id.to_owned(),
            answer,
        })
    }
}

fn state_of(row: &OutboxRow) -> &'static str {
    if row.delivered() {
        "delivered"
    } else if row.attempts > 0 {
        "failing"
    } else {
        "pending"
    }
}

fn millis(ms: i64) -> Value {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or(Value::Null, |t| Value::String(t.to_rfc3339()))
}

/// The JSON body of `GET /declaraties/{id}`.
pub fn status_json(s: &MessageStatus) -> Value {
    let r = &s.receipt;
    json!({
        "identificatie": s.identificatie,
        "afzender": s.agb.as_str(),
        "ontvanger": s.zorgkantoor,
        "dagtekening": s.dagtekening.to_string(),
        "ontvangen": s.received.to_string(),
        "ontvangen_om": if r.received_at_ms > 0 { millis(r.received_at_ms) } else { Value::Null },
        "verwerking": if r.verwerking.is_empty() { Value::Null } else { Value::String(r.verwerking.clone()) },
        "regels": {
            "geaccepteerd_zio": r.accepted_zio,
            "geaccepteerd_regulier": r.accepted_regulier,
            "afgewezen": r.rejected,
            "vastgelegd": s.lines_recorded,
        },
        "doorgestuurd": s.forwarded.iter().map(|f| json!({
            "identificatie": f.forward_id,
            "route": f.route.as_str(),
            "regels": f.lines,
            "status": state_of(f),
            "pogingen": f.attempts,
            "laatste_fout": f.last_error,
            "geleverd_om": f.delivered_at.map_or(Value::Null, millis),
        })).collect::<Vec<_>>(),
    })
}

/// Serves both paths for the authenticated provider `agb`.
pub async fn message(
    state: &Arc<State>,
    agb: &AgbCode,
    what: MessagePath,
    req: &Request<hyper::body::Incoming>,
) -> Response<RespBody> {
    let Some(ledger) = state.pipeline.backends.ledger.clone() else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "no ledger\n");
    };
    let Some(id) = Referentie::parse(&what.identificatie) else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    let format = match negotiate(req) {
        Ok(f) => f,
        Err(refused) => return *refused,
    };
    let agb = agb.clone();
    let looked_up = tokio::task::spawn_blocking(move || {
        if what.answer {
            ledger
                .stored_answer(&agb, &id)
                .map(|found| found.map(|(_, bytes)| Found::Answer(bytes)))
        } else {
            ledger
                .message_status(&agb, &id)
                .map(|found| found.map(Found::Status))
        }
    })
    .await;
    match looked_up {
        Ok(Ok(Some(Found::Status(s)))) => {
            let mut body = serde_json::to_vec(&status_json(&s)).unwrap_or_default();
            body.push(b'\n');
            with_type(StatusCode::OK, "application/json", Bytes::from(body))
        }
        Ok(Ok(Some(Found::Answer(bytes)))) => answer_again(&bytes, format),
        Ok(Ok(None)) => plain(StatusCode::NOT_FOUND, "not found\n"),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "ledger lookup failed");
            plain(StatusCode::SERVICE_UNAVAILABLE, "ledger unavailable\n")
        }
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
    }
}

enum Found {
    Status(MessageStatus),
    Answer(Vec<u8>),
}

fn answer_again(bytes: &[u8], format: Format) -> Response<RespBody> {
    let mut out = Vec::new();
    match StoredAnswer::parse(bytes).and_then(|a| a.write(format, &mut out)) {
        Ok(()) => {
            let ty = match format {
                Format::Xml => "application/xml; charset=utf-8",
                Format::Json => "application/json",
            };
            with_type(StatusCode::OK, ty, Bytes::from(out))
        }
        Err(e) => {
            tracing::error!(error = %e, "kept answer unreadable");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            MessagePath::parse("/declaraties/B-1"),
            Some(MessagePath {
                identificatie: "B-1".into(),
                answer: false
            })
        );
        assert_eq!(
            MessagePath::parse("/declaraties/B-1/antwoord"),
            Some(MessagePath {
                identificatie: "B-1".into(),
                answer: true
            })
        );
        assert_eq!(MessagePath::parse("/declaraties/"), None);
        assert_eq!(MessagePath::parse("/declaraties/a/b"), None);
        assert_eq!(MessagePath::parse("/declaraties"), None);
    }
}
