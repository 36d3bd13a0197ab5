//! `POST /netwerkmodel/notificaties`: a register tells the zorgkantoor which
//! records changed; the gateway asks the register for them and stores them
//! in the registry before it answers 200. While a register cannot be
//! reached the answer is 503 with `Retry-After` (the sender sends again; a
//! notification is never acknowledged and then lost), and the 04xx checks
//! go on from what is stored.

use super::admin::json_response;
use super::body::collect;
use super::response::RespBody;
use super::state::State;
use crate::sinks::netwerkmodel::notificatie::{Notificatie, MAX_SUBJECTS};
use crate::sinks::netwerkmodel::{apply, Applied, Fetched, Service};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

/// A notification is a few hundred bytes; this leaves room for a long list.
const MAX_BYTES: u64 = 64 * 1024 + MAX_SUBJECTS as u64 * 256;

pub async fn notificaties(state: &Arc<State>, req: Request<Incoming>) -> Response<RespBody> {
    let Some(service) = state.netwerkmodel.clone() else {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": "no [registry.netwerkmodel] configured: this gateway reads no register"}),
        );
    };
    if state.pipeline.backends.registry.is_none() {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": "no registry store"}),
        );
    }
    let pace = super::fair::Pace::of(state.server());
    let (mut rx, n) = collect(req.into_body(), MAX_BYTES, pace, Default::default()).await;
    let mut body = Vec::with_capacity(n as usize);
    while let Ok(chunk) = rx.try_recv() {
        match chunk {
            Ok(b) => body.extend_from_slice(&b),
            Err(e) => {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": format!("the request body could not be read: {e}")}),
                )
            }
        }
    }
    let n = match Notificatie::parse(&body) {
        Ok(n) => n,
        Err(e) => {
            service.telemetry.notification("-", "refused");
            return json_response(StatusCode::BAD_REQUEST, &json!({"error": e}));
        }
    };
    if n.ontvanger_id != service.zorgkantoor() {
        service.telemetry.notification(&n.event_type, "refused");
        return json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({"error": format!(
                "ontvangerID {} is not this gateway's zorgkantoor ({})",
                n.ontvanger_id,
                service.zorgkantoor()
            )}),
        );
    }
    let mut results = Vec::new();
    for s in &n.subject_list {
        let record = s.record().expect("checked by parse");
        let fetched = match service.fetch_record(&record).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(record = %s.record_id, error = %e, "register query failed: notification not acknowledged");
                service
                    .telemetry
                    .notification(&n.event_type, "register_unavailable");
                let mut r = json_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &json!({"error": format!("{}: {e}; send the notification again", s.record_id),
                            "stored_before": results}),
                );
                r.headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("30"));
                return r;
            }
        };
        match store(state, &service, fetched).await {
            Ok((applied, f)) => {
                results.push(outcome(&s.record_id, &applied, &f, n.verwijdering()));
            }
            Err(e) => {
                tracing::error!(error = %e, "registry store failure");
                service
                    .telemetry
                    .notification(&n.event_type, "store_failure");
                return json_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &json!({"error": "registry store failure: send the notification again"}),
                );
            }
        }
    }
    let replay = results.iter().all(|r| r["uitkomst"] == "herhaald");
    service
        .telemetry
        .notification(&n.event_type, if replay { "replay" } else { "stored" });
    json_response(
        StatusCode::OK,
        &json!({"eventType": n.event_type, "verwerkt": results}),
    )
}

/// Stores on a blocking thread (the registry store is synchronous).
async fn store(
    state: &Arc<State>,
    service: &Service,
    fetched: Fetched,
) -> Result<(Applied, Fetched), crate::error::Error> {
    let st = state.clone();
    let (applied, fetched) = tokio::task::spawn_blocking(move || {
        let reg = st
            .pipeline
            .backends
            .registry
            .as_ref()
            .expect("checked by the caller");
        let r = reg.with_writer(|s| apply(s, &fetched));
        r.map(|a| (a, fetched))
    })
    .await
    .map_err(|e| crate::error::Error::backend(format!("registry writer: {e}")))??;
    service.observe(&fetched);
    Ok((applied, fetched))
}

fn outcome(record_id: &str, a: &Applied, f: &Fetched, verwijdering: bool) -> Value {
    let uitkomst = if f.is_empty() {
        // A removed record is no longer in the register; what the registry
        // holds of it stays until a later fact replaces it
        // (docs/netwerkmodel.md).
        if verwijdering {
            "verwijderd_in_register"
        } else {
            "niet_gevonden"
        }
    } else if a.replay {
        "herhaald"
    } else {
        "opgeslagen"
    };
    let c = &a.counts;
    let t = |x: &crate::sinks::registry::ingest::Tally| json!({"nieuw": x.added, "gewijzigd": x.updated, "ongewijzigd": x.unchanged, "ouder": x.older});
    json!({
        "recordID": record_id,
        "uitkomst": uitkomst,
        "indicaties": t(&c.indicaties),
        "functie_toewijzingen": t(&c.toewijzingen),
        "zzp_toewijzingen": t(&c.zzp_toewijzingen),
        "geweigerd": f.refused,
    })
}
