//! The registry and ledger endpoints (a bearer token required, see
//! [`super::handler`]):
//!
//! - `POST /registry`: one iWlz 2.2 message (IO31, AW33, AW35, AW39), the
//!   HTTP twin of `zio-gateway ingest`. 200 with JSON of what changed; 400
//!   with `error` and `locatie` (line:column and element path) for a
//!   malformed message, which changes nothing; 413 above the size limit.
//! - `GET /ledger/nacalculatie?year=Y` (`&format=csv`): the nacalculatie
//!   section in the JSON form of `messages.md` (or its CSV).
//! - `GET /ledger/report?year=Y`: the whole `LedgerReport` as JSON.
//! - `GET /ledger/onderwijstijd?schooljaar=Y` (`&format=csv`): care
//!   declared in school time in the school year from 1 August of Y.
//! - `GET /ledger/absence?year=Y` (`&format=csv`, `&section=pupils_by_month`):
//!   the absence report (`docs/absence.md`); its upload, `POST
//!   /ledger/absence`, is in [`super::absence`].
//! - `GET /ledger/herschikking[?year=Y]`: the calling provider's herschikking
//!   history; `POST /ledger/herschikking/akkoord?zorgkantoor=Z&year=Y`: the
//!   provider marks its ZiO row agreed;
//!   `POST /ledger/herschikking/definitief?agb=A&zorgkantoor=Z&year=Y` is the
//!   zorgkantoor's act (as `ledger herschikking definitief`): a provider's
//!   token gets 403.
//!
//! The body of `/registry` is streamed to a temporary file on a blocking
//! thread (hashed on the way: the SHA-256 names the message), never held
//! whole in memory.

use super::body::{feed, ChannelReader, BODY_CHANNEL_CHUNKS};
use super::endpoint::Endpoint;
use super::response::{plain, with_type, RespBody};
use super::state::State;
use crate::sinks::ledger::absence_report::{AbsenceReport, AbsenceSection};
use crate::sinks::ledger::report::{LedgerReport, OnderwijstijdReport, ReportSection};
use crate::sinks::registry::ingest::{self, IngestError, IngestReport, Tally};
use crate::types::AgbCode;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{self, BufReader, Read, Seek, Write};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Largest registry message when `[limits] max_message_bytes` is 0.
const REGISTRY_MAX_BYTES: u64 = 256 * 1024 * 1024;

pub(super) fn json_response(status: StatusCode, v: &Value) -> Response<RespBody> {
    if status.is_client_error() || status.is_server_error() {
        // Errors share the one problem body: `error` becomes its detail.
        let mut extra = v.as_object().cloned().unwrap_or_default();
        let detail = extra.remove("error");
        let detail = detail.as_ref().and_then(Value::as_str).unwrap_or_default();
        return super::response::problem_with(status, detail, extra);
    }
    let mut body = serde_json::to_vec(v).unwrap_or_default();
    body.push(b'\n');
    with_type(status, "application/json", Bytes::from(body))
}

fn tally(t: &Tally) -> Value {
    json!({"added": t.added, "updated": t.updated, "unchanged": t.unchanged, "older": t.older})
}

/// The JSON answer of an ingested message.
pub fn report_json(r: &IngestReport) -> Value {
    let c = &r.counts;
    json!({
        "soort": r.header.soort.name(),
        "identificatie": r.header.identificatie.to_string(),
        "dagtekening": r.header.dagtekening.to_string(),
        "sha256": r.sha256,
        "clienten": r.clienten,
        "already_ingested": r.already_ingested,
        "changed": c.changed(),
        "counts": {
            "indications": tally(&c.indicaties),
            "function_allocations": tally(&c.toewijzingen),
            "zzp_allocations": tally(&c.zzp_toewijzingen),
            "starts_of_delivery": tally(&c.aanvangen),
            "mutations": tally(&c.mutaties),
        },
        "summary": r.to_string(),
    })
}

enum IngestFailure {
    TooLarge,
    Ingest(IngestError),
}

/// Spools the body to a temporary file (hashing it), then ingests it.
fn spool_and_ingest(
    state: &State,
    mut body: ChannelReader,
    cap: u64,
) -> Result<IngestReport, IngestFailure> {
    let io_err = |e: io::Error| IngestFailure::Ingest(IngestError::Io(e));
    let mut file = tempfile::tempfile().map_err(io_err)?;
    let mut hash = Sha256::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = body.read(&mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > cap {
            return Err(IngestFailure::TooLarge);
        }
        hash.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(io_err)?;
    }
    drop(body);
    file.rewind().map_err(io_err)?;
    let sha = hex::encode(hash.finalize());
    let registry = state.pipeline.backends.registry.as_ref().ok_or_else(|| {
        IngestFailure::Ingest(IngestError::Io(io::Error::other("no registry store")))
    })?;
    registry
        .with_writer(|store| {
            ingest::ingest_reader(
                store,
                BufReader::with_capacity(256 * 1024, file),
                sha,
                ingest::Options::default(),
            )
        })
        .map_err(IngestFailure::Ingest)
}

/// `POST /registry`.
pub async fn registry(state: &Arc<State>, req: Request<Incoming>) -> Response<RespBody> {
    if state.pipeline.backends.registry.is_none() {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "no registry store\n");
    }
    let cap = state
        .config()
        .limits
        .max_message_bytes
        .unwrap_or(REGISTRY_MAX_BYTES);
    let (tx, rx) = mpsc::channel(BODY_CHANNEL_CHUNKS);
    let pace = super::fair::Pace::of(state.server());
    tokio::spawn(feed(req.into_body(), tx, pace, Default::default()));
    let st = state.clone();
    let span = tracing::Span::current();
    let done = tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        spool_and_ingest(&st, ChannelReader::new(rx), cap)
    })
    .await;
    match done {
        Ok(Ok(report)) => {
            tracing::info!(
                soort = report.header.soort.name(),
                clienten = report.clienten,
                already_ingested = report.already_ingested,
                changed = report.counts.changed(),
                "registry message ingested"
            );
            json_response(StatusCode::OK, &report_json(&report))
        }
        Ok(Err(IngestFailure::TooLarge)) => json_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &json!({"error": format!("message larger than {cap} bytes")}),
        ),
        Ok(Err(IngestFailure::Ingest(IngestError::Message(e)))) => {
            // The message text may quote values (a BSN): the caller sees it,
            // the log gets the location only.
            let locatie = e.locatie();
            tracing::warn!(
                locatie = locatie.as_deref().unwrap_or("-"),
                "registry message refused"
            );
            json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": format!("not ingested: {e}"), "locatie": locatie}),
            )
        }
        Ok(Err(IngestFailure::Ingest(IngestError::Io(e)))) => {
            tracing::warn!(error = %e, "registry message could not be read");
            json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": format!("the request body could not be read: {e}")}),
            )
        }
        Ok(Err(IngestFailure::Ingest(IngestError::Store(e)))) => {
            tracing::error!(error = %e, "registry store failure");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"error": "registry store failure: nothing changed"}),
            )
        }
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
    }
}

/// The value of `key` in the query string (no percent-decoding needed for
/// the plain values used here).
fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// `GET /ledger/nacalculatie`, `GET /ledger/report` and
/// `GET /ledger/onderwijstijd`; `only`: the rows of this provider only (see
/// `access.rs`).
pub async fn ledger<B>(
    state: &Arc<State>,
    ep: Endpoint,
    req: &Request<B>,
    only: Option<&AgbCode>,
) -> Response<RespBody> {
    let query = req.uri().query().unwrap_or("");
    let key = if ep == Endpoint::LedgerOnderwijstijd {
        "schooljaar"
    } else {
        "year"
    };
    let Some(year) = query_param(query, key)
        .and_then(|y| y.parse::<i32>().ok())
        .filter(|y| (1900..=9998).contains(y))
    else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": format!("query parameter `{key}` (YYYY) is required")}),
        );
    };
    let csv = match query_param(query, "format") {
        None | Some("json") => false,
        Some("csv") if ep != Endpoint::LedgerReport => true,
        Some(_) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": "`format` is json or csv (csv: nacalculatie, onderwijstijd and absence)"}),
            )
        }
    };
    // `section` belongs to the absence report only; elsewhere it is ignored.
    let asked = query_param(query, "section").filter(|_| ep == Endpoint::LedgerAbsence);
    let section = match asked.map(AbsenceSection::parse) {
        None => AbsenceSection::Absence,
        Some(Some(s)) => s,
        Some(None) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": "`section` is absence or pupils_by_month (absence report only)"}),
            )
        }
    };
    if state.pipeline.backends.ledger.is_none() {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "no ledger\n");
    }
    let st = state.clone();
    let only = only.cloned();
    let built = tokio::task::spawn_blocking(move || {
        let l = st.pipeline.backends.ledger.as_ref().expect("checked above");
        let mut out = Vec::new();
        if ep == Endpoint::LedgerAbsence {
            let mut r = AbsenceReport::build(&**l, &st.config().regime, year)?;
            if let Some(agb) = &only {
                r.restrict(agb);
            }
            let w = if csv {
                r.write_csv(section, &mut out)
            } else {
                r.write_json(&mut out)
            };
            return Ok(w.map(|_| out));
        }
        if ep == Endpoint::LedgerOnderwijstijd {
            let mut r = OnderwijstijdReport::build(&**l, &st.config().regime, year)?;
            if let Some(agb) = &only {
                r.onderwijstijd.retain(|row| row.agb == agb.as_str());
            }
            let w = if csv {
                r.write_csv(&mut out)
            } else {
                r.write_json(&mut out)
            };
            return Ok(w.map(|_| out));
        }
        let mut report = LedgerReport::build(&**l, &st.config().regime, year)?;
        if let Some(agb) = &only {
            super::access::restrict(&mut report, agb);
        }
        let w = match (ep, csv) {
            (Endpoint::LedgerNacalculatie, true) => {
                report.write_csv(ReportSection::Nacalculatie, &mut out)
            }
            (Endpoint::LedgerNacalculatie, false) => {
                let v = json!({
                    "year": report.year,
                    "nacalculatie": report.nacalculatie,
                    "totaal_budgetgarantie_cents": report.totaal_budgetgarantie_cents,
                    "per_aanbieder": report.per_aanbieder,
                });
                serde_json::to_writer(&mut out, &v)
                    .map_err(io::Error::other)
                    .and_then(|_| out.write_all(b"\n"))
            }
            _ => report.write_json(&mut out),
        };
        Ok::<_, crate::sinks::ledger::LedgerError>(w.map(|_| out))
    })
    .await;
    let written = match built {
        Ok(Ok(w)) => w,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "ledger report failed");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "ledger unavailable\n");
        }
        Err(_) => return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
    };
    match written {
        Ok(out) if csv => with_type(StatusCode::OK, "text/csv; charset=utf-8", out.into()),
        Ok(out) => with_type(StatusCode::OK, "application/json", out.into()),
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
    }
}

/// The herschikking endpoints, for the provider `agb` (the token's own, or
/// the one the zorgkantoor named); `by`: the provider the token belongs to,
/// `None` for the zorgkantoor.
pub async fn herschikking<B>(
    state: &Arc<State>,
    ep: Endpoint,
    agb: &crate::types::AgbCode,
    by: Option<&crate::types::AgbCode>,
    req: &Request<B>,
) -> Response<RespBody> {
    use crate::sinks::ledger::herschikking::{make_definitief, mark_akkoord, now_ms, Side};
    // access.rs decided this already; said again where the act is done.
    if ep == Endpoint::LedgerHerschikkingDefinitief && by.is_some() {
        return json_response(
            StatusCode::FORBIDDEN,
            &json!({"error": "making a herschikking definitief is the zorgkantoor's act"}),
        );
    }
    if state.pipeline.backends.ledger.is_none() {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "no ledger\n");
    }
    let query = req.uri().query().unwrap_or("").to_owned();
    let year = query_param(&query, "year").and_then(|y| y.parse::<i32>().ok());
    let zk = query_param(&query, "zorgkantoor").and_then(crate::types::ZorgkantoorCode::parse);
    if ep != Endpoint::LedgerHerschikking && (year.is_none() || zk.is_none()) {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "query parameters `zorgkantoor` (4 digits) and `year` are required"}),
        );
    }
    let (st, agb, by) = (state.clone(), agb.clone(), by.cloned());
    let done = tokio::task::spawn_blocking(move || {
        let l = st.pipeline.backends.ledger.as_ref().expect("checked above");
        if ep == Endpoint::LedgerHerschikking {
            let events: Vec<_> = l
                .herschikking_events(year)?
                .into_iter()
                .filter(|e| e.agb == agb)
                .collect();
            return Ok(Ok(json!({ "events": events })));
        }
        let key = (agb.clone(), zk.expect("checked"), year.expect("checked"));
        let regime = &st.config().regime;
        let done = if ep == Endpoint::LedgerHerschikkingDefinitief {
            make_definitief(&**l, regime, &key, "zorgkantoor", now_ms())
        } else {
            match by {
                Some(me) => {
                    mark_akkoord(&**l, regime, &key, Side::Aanbieder, me.as_str(), now_ms())
                }
                None => mark_akkoord(
                    &**l,
                    regime,
                    &key,
                    Side::Zorgkantoor,
                    "zorgkantoor",
                    now_ms(),
                ),
            }
        };
        Ok(match done {
            Ok(e) => Ok(json!(e)),
            Err(crate::sinks::ledger::LedgerError::Invalid(m)) => Err(m),
            Err(e) => return Err(e),
        })
    })
    .await;
    match done {
        Ok(Ok(Ok(v))) => json_response(StatusCode::OK, &v),
        Ok(Ok(Err(m))) => json_response(StatusCode::CONFLICT, &json!({ "error": m })),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "ledger herschikking failed");
            plain(StatusCode::SERVICE_UNAVAILABLE, "ledger unavailable\n")
        }
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::query_param;

    #[test]
    fn query_parameters() {
        assert_eq!(query_param("year=2024&format=csv", "year"), Some("2024"));
        assert_eq!(query_param("year=2024&format=csv", "format"), Some("csv"));
        assert_eq!(query_param("", "year"), None);
    }
}
