//! The iWlz netwerkmodel registers as a source of the registry, beside the
//! IO31/AW33 messages.
//!
//! In the netwerkmodel each party keeps its own register; the others are
//! notified of a change and then query that register over GraphQL. The
//! gateway reads two: the CIZ's Indicatieregister (in place of IO31) and the
//! zorgkantoren's Bemiddelingsregister (in place of AW33). AW35 and AW39 stay
//! messages: no register holds them.
//!
//! - [`notificatie`] reads a notification: which records changed.
//! - [`client`] asks a register (two-way TLS, an OAuth2 token, retries),
//!   [`token`] keeps the token, [`queries`] are the operations, checked
//!   against the official schemas at compile time.
//! - [`map`] turns the answers into the registry's records, stamped with the
//!   register's own moment and the record's id ([`crate::sinks::registry::Stamp::register`]): the
//!   same fact by message and by register is one record, and the later fact
//!   wins whichever way it came.
//! - [`apply`] stores them in one transaction, with the answer recorded
//!   like an ingested message, so the same answer twice changes nothing.
//! - [`telemetry`] are the metrics per register.
//!
//! A notification is acknowledged only once what it names is stored; while
//! a register cannot be reached the sender gets a 503 and sends again, the
//! 04xx checks go on from what is stored, and `registry sync` catches up
//! on whatever was missed.

pub mod client;
pub mod failure;
pub mod map;
pub mod notificatie;
pub mod queries;
pub mod telemetry;
pub mod token;

use crate::config::Netwerkmodel;
use crate::sinks::registry::ingest::Counts;
use crate::sinks::registry::{BerichtRecord, RegistryStore};
use crate::sinks::store::StoreError;
use crate::types::Datum;
use client::{Register, RegisterClient, RegisterError};
use map::{IndicatieFeit, RawIndicatie, RawSpecificatie, SpecificatieFeit};
use notificatie::Record;
use queries::{
    bemiddelingspecificatie_op_id, bemiddelingspecificaties_sinds, wlz_indicatie_op_id,
    wlz_indicaties_van_zorgkantoor, BemiddelingspecificatieOpId, BemiddelingspecificatiesSinds,
    WlzIndicatieOpId, WlzIndicatiesVanZorgkantoor,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use telemetry::Telemetry;

/// What one query (or one sync) brought, ready to store.
#[derive(Debug, Default)]
pub struct Fetched {
    /// `indicatieregister`, `bemiddelingsregister`, or `sync`.
    pub soort: String,
    /// The record asked for, or `since ...` for a sync.
    pub identificatie: String,
    /// SHA-256 over the answers' bytes: the same answer again is a replay.
    pub sha256: String,
    pub indicaties: Vec<IndicatieFeit>,
    pub specificaties: Vec<SpecificatieFeit>,
    /// Records the register returned with a value the gateway cannot use,
    /// with the reason (nothing of such a record is stored).
    pub refused: Vec<String>,
}

impl Fetched {
    fn newest_day(&self) -> Option<Datum> {
        let a = self
            .indicaties
            .iter()
            .filter_map(|f| f.indicatie.afgiftedatum);
        let b = self
            .specificaties
            .iter()
            .filter_map(|f| f.zzp.toewijzingsdatum);
        a.chain(b).max()
    }

    pub fn is_empty(&self) -> bool {
        self.indicaties.is_empty() && self.specificaties.is_empty()
    }
}

/// What storing a [`Fetched`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The same answer was stored before: nothing was written.
    pub replay: bool,
    pub counts: Counts,
}

/// The registers as the gateway uses them.
pub struct Service {
    client: RegisterClient,
    zorgkantoor: String,
    pub telemetry: Arc<Telemetry>,
}

fn hash_bodies<'a>(bodies: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h = Sha256::new();
    for b in bodies {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    }
    hex::encode(h.finalize())
}

impl Service {
    pub fn new(cfg: &Netwerkmodel, telemetry: Arc<Telemetry>) -> Result<Self, RegisterError> {
        Ok(Self {
            client: RegisterClient::new(cfg, telemetry.clone())?,
            zorgkantoor: cfg.zorgkantoor.as_str().to_owned(),
            telemetry,
        })
    }

    pub fn zorgkantoor(&self) -> &str {
        &self.zorgkantoor
    }

    async fn indicatie(
        &self,
        id: &str,
    ) -> Result<(Vec<IndicatieFeit>, Vec<String>, Vec<u8>), RegisterError> {
        let a = self
            .client
            .query::<WlzIndicatieOpId>(
                Register::Indicatieregister,
                wlz_indicatie_op_id::Variables {
                    wlz_indicatie_id: id.to_owned(),
                    initieel_verantwoordelijk_zorgkantoor: self.zorgkantoor.clone(),
                },
            )
            .await?;
        let (ok, bad) = split(
            a.data
                .wlz_indicatie
                .iter()
                .map(|x| map::indicatie(&RawIndicatie::from(x))),
        );
        Ok((ok, bad, a.body))
    }

    /// Asks the register for one notified record (and, for an allocation,
    /// the indication it belongs to, for its besluitnummer).
    pub async fn fetch_record(&self, record: &Record) -> Result<Fetched, RegisterError> {
        match record {
            Record::WlzIndicatie(id) => {
                let (indicaties, refused, body) = self.indicatie(id).await?;
                Ok(fetched(
                    Register::Indicatieregister.name(),
                    format!("WlzIndicatie/{id}"),
                    hash_bodies([body.as_slice()]),
                    indicaties,
                    Vec::new(),
                    refused,
                ))
            }
            Record::Bemiddelingspecificatie(id) => {
                let a = self
                    .client
                    .query::<BemiddelingspecificatieOpId>(
                        Register::Bemiddelingsregister,
                        bemiddelingspecificatie_op_id::Variables {
                            bemiddelingspecificatie_id: id.clone(),
                            uitvoerend_zorgkantoor: self.zorgkantoor.clone(),
                        },
                    )
                    .await?;
                let (specs, mut refused) = split(
                    a.data
                        .bemiddelingspecificatie
                        .iter()
                        .map(|x| map::specificatie(&RawSpecificatie::from(x))),
                );
                let mut bodies = vec![a.body];
                let mut indicaties = Vec::new();
                let wanted: BTreeSet<&str> =
                    specs.iter().map(|s| s.wlzindicatie_id.as_str()).collect();
                for w in wanted {
                    match self.indicatie(w).await {
                        Ok((ind, bad, body)) => {
                            indicaties.extend(ind);
                            refused.extend(bad);
                            bodies.push(body);
                        }
                        // Not ours to read (another zorgkantoor is initially
                        // responsible), or refused: the allocation is stored
                        // without its besluitnummer, which 0403 does not need.
                        Err(e) if !e.retryable() => {
                            tracing::warn!(wlz_indicatie_id = w, error = %e, "indication of an allocation not read");
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(fetched(
                    Register::Bemiddelingsregister.name(),
                    format!("Bemiddelingspecificatie/{id}"),
                    hash_bodies(bodies.iter().map(Vec::as_slice)),
                    indicaties,
                    specs,
                    refused,
                ))
            }
        }
    }

    /// Everything of this zorgkantoor: its indications, and the allocations
    /// fixed since `since` (all of them without).
    pub async fn fetch_sync(
        &self,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Fetched, RegisterError> {
        let ind = self
            .client
            .query::<WlzIndicatiesVanZorgkantoor>(
                Register::Indicatieregister,
                wlz_indicaties_van_zorgkantoor::Variables {
                    initieel_verantwoordelijk_zorgkantoor: self.zorgkantoor.clone(),
                },
            )
            .await?;
        let sinds = since.map_or_else(
            || "0001-01-01T00:00:00Z".to_owned(),
            |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        let spec = self
            .client
            .query::<BemiddelingspecificatiesSinds>(
                Register::Bemiddelingsregister,
                bemiddelingspecificaties_sinds::Variables {
                    uitvoerend_zorgkantoor: self.zorgkantoor.clone(),
                    sinds: sinds.clone(),
                },
            )
            .await?;
        let (mut indicaties, mut refused) = split(
            ind.data
                .wlz_indicatie
                .iter()
                .map(|x| map::indicatie(&RawIndicatie::from(x))),
        );
        // The register has no filter on a moment for indications: those
        // issued before `since` are left out here (they were stored then).
        if let Some(t) = since {
            let day = t.date_naive();
            indicaties.retain(|i| i.indicatie.afgiftedatum.is_none_or(|d| d >= day));
        }
        let (specs, bad) = split(
            spec.data
                .bemiddelingspecificatie
                .iter()
                .map(|x| map::specificatie(&RawSpecificatie::from(x))),
        );
        refused.extend(bad);
        Ok(fetched(
            "sync",
            format!("since {sinds}"),
            hash_bodies([ind.body.as_slice(), spec.body.as_slice()]),
            indicaties,
            specs,
            refused,
        ))
    }

    /// Sets the newest-fact gauges from what was stored.
    pub fn observe(&self, f: &Fetched) {
        if let Some(m) = f.indicaties.iter().map(|i| i.moment).max() {
            self.telemetry.fact(Register::Indicatieregister.name(), m);
        }
        if let Some(m) = f.specificaties.iter().map(|s| s.moment).max() {
            self.telemetry
                .fact(Register::Bemiddelingsregister.name(), m);
        }
    }
}

/// What a query brought, with each allocation given the besluitnummer of
/// its indication when the answer holds it.
fn fetched(
    soort: &str,
    identificatie: String,
    sha256: String,
    indicaties: Vec<IndicatieFeit>,
    specificaties: Vec<SpecificatieFeit>,
    refused: Vec<String>,
) -> Fetched {
    // An allocation takes the besluitnummer of its indication, when the
    // answer holds it (the registry keeps 0 otherwise: 0403 does not
    // look at it).
    let besluit: HashMap<&str, u64> = indicaties
        .iter()
        .map(|i| (i.wlzindicatie_id.as_str(), i.indicatie.besluitnummer))
        .collect();
    let specificaties = specificaties
        .into_iter()
        .map(|s| {
            let b = besluit
                .get(s.wlzindicatie_id.as_str())
                .copied()
                .unwrap_or(0);
            s.met_besluitnummer(b)
        })
        .collect();
    Fetched {
        soort: soort.to_owned(),
        identificatie,
        sha256,
        indicaties,
        specificaties,
        refused,
    }
}

fn split<T>(it: impl Iterator<Item = Result<T, String>>) -> (Vec<T>, Vec<String>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for r in it {
        match r {
            Ok(x) => ok.push(x),
            Err(e) => bad.push(e),
        }
    }
    (ok, bad)
}

/// Stores what a query brought, in one transaction. The answer is recorded
/// as an ingested message is (by its SHA-256), so the same answer again is
/// a replay and changes nothing; an answer with nothing in it is not
/// recorded (it would mark an empty registry as loaded).
pub fn apply(store: &mut dyn RegistryStore, f: &Fetched) -> Result<Applied, StoreError> {
    if f.is_empty() {
        return Ok(Applied::default());
    }
    if store.bericht_bekend(&f.sha256)? {
        return Ok(Applied {
            replay: true,
            counts: Counts::default(),
        });
    }
    let mut counts = Counts::default();
    let mut tx = store.begin()?;
    let mut clients = BTreeSet::new();
    for i in &f.indicaties {
        clients.insert(i.bsn.as_str());
        counts
            .indicaties
            .add(tx.put_indicatie(&i.bsn, &i.indicatie, &i.stamp)?);
    }
    for s in &f.specificaties {
        clients.insert(s.bsn.as_str());
        counts
            .zzp_toewijzingen
            .add(tx.put_zzp(&s.bsn, &s.zzp, &s.stamp)?);
        for x in &s.functies {
            counts
                .toewijzingen
                .add(tx.put_functie(&s.bsn, x, &s.stamp)?);
        }
    }
    let dag = f.newest_day().expect("not empty");
    tx.put_bericht(&BerichtRecord {
        sha256: f.sha256.clone(),
        soort: f.soort.clone(),
        identificatie: f.identificatie.clone(),
        dagtekening: dag,
        afzender: None,
        ontvanger: None,
        clienten: clients.len() as u64,
    })?;
    tx.commit()?;
    Ok(Applied {
        replay: false,
        counts,
    })
}
