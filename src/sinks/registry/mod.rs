//! The iWlz registry: who may be declared for, learnt from the real iWlz 2.2
//! messages the zorgkantoor already handles (IO31 indicatiebesluit, AW33
//! toewijzing, AW35 aanvang zorg, AW39 mutatie).
//!
//! - [`crate::read::iwlz`] reads those messages as a stream, one client at a time.
//! - [`ingest`] applies them to a [`RegistryStore`], idempotently.
//! - [`sqlite`] is the store in `DATA_DIR/gateway.db` ([`crate::sinks::store`]);
//!   [`postgres`] the same in the shared PostgreSQL, when one is configured.
//! - [`stores`] is what a running gateway holds: a writer and a pool of
//!   read connections on either backend.
//!
//! The rules (04xx, [`crate::rules::indication`]) see one client at a time as
//! a [`ClientRegistry`], fetched once per client with a few indexed queries.
//!
//! Every record carries a [`Stamp`] derived from the message it came from; a
//! record replaces a stored one with the same natural key only when its stamp
//! is not older. So the content of the store depends on the set of messages
//! ingested, not on their order or on how often each was ingested.

pub mod ingest;
pub mod postgres;
pub mod sqlite;
pub mod stores;

pub use stores::{Lease, Lookups, RegistryConn, RegistryLocation, RegistryStores};

use crate::model::iwlz::{
    Aanvang, ClientRegistry, Indicatie, IwlzHeader, Mutatie, ToegewezenFunctie, ToegewezenZzp,
};
use crate::rules::IndicationSource;
use crate::sinks::store::StoreError;
use crate::types::{AgbCode, Bsn, Datum};
use std::cell::RefCell;
use std::io;

/// The version of a record: the message it came from and, for allocations,
/// the moment of allocation. Of two records with one natural key the one with
/// the greater stamp is the current one. Its text form orders like the stamp.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp(String);

impl Stamp {
    /// `dagtekening|toewijzing|identificatie`: the message's Dagtekening first
    /// (a later message states the current view), then the allocation moment,
    /// then the Identificatie as a deterministic tie-breaker.
    pub fn new(header: &IwlzHeader, toewijzing: Option<(Datum, Option<&str>)>) -> Self {
        let t = match toewijzing {
            Some((d, Some(t))) => format!("{d}T{t}"),
            Some((d, None)) => format!("{d}T"),
            None => String::new(),
        };
        Stamp(format!(
            "{}|{t}|{}",
            header.dagtekening, header.identificatie
        ))
    }

    /// A fact from a netwerkmodel register: the register's own moment of the
    /// fact (an allocation's vaststellingMoment, an indication's
    /// afgiftedatum) in the places of the Dagtekening and the allocation
    /// moment, and the record's register and id in the place of the
    /// Identificatie. So a later fact wins whichever path it came by, and
    /// the stamp says where a stored fact came from.
    pub fn register(dag: Datum, moment: Option<&str>, bron: &str) -> Self {
        Stamp(format!("{dag}|{}|{bron}", moment.unwrap_or("")))
    }

    pub fn from_stored(s: String) -> Self {
        Stamp(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What applying one record did to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// A new natural key.
    Added,
    /// A newer version with other content replaced the stored one.
    Updated,
    /// The store already held this content (perhaps under an older stamp).
    Unchanged,
    /// The store holds a newer version: nothing changed.
    Older,
}

/// The record of one ingested message or register answer (content only: no
/// file name, no clock, so ingesting the same set twice leaves the same
/// store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BerichtRecord {
    /// SHA-256 of the bytes, lower-case hex: the identity of the message.
    pub sha256: String,
    /// `IO31`, `AW33`, `AW35`, `AW39`, or the register an answer came from
    /// (`indicatieregister`, `bemiddelingsregister`).
    pub soort: String,
    /// The message's Identificatie, or the register record asked for.
    pub identificatie: String,
    /// The message's Dagtekening, or the day of the newest fact in an answer.
    pub dagtekening: Datum,
    pub afzender: Option<String>,
    pub ontvanger: Option<String>,
    pub clienten: u64,
}

impl BerichtRecord {
    pub fn of_message(sha256: String, header: &IwlzHeader, clienten: u64) -> Self {
        Self {
            sha256,
            soort: header.soort.name().to_owned(),
            identificatie: header.identificatie.clone(),
            dagtekening: header.dagtekening,
            afzender: header.afzender.clone(),
            ontvanger: header.ontvanger.clone(),
            clienten,
        }
    }
}

/// The store of indications and allocations: SQLite (`sqlite.rs`) or
/// PostgreSQL (`postgres.rs`), with the same content and the same dump for
/// the same messages.
pub trait RegistryStore {
    /// Whether the connection can still be used (a pool drops one that
    /// cannot: the database server restarted, the network failed).
    fn usable(&self) -> bool {
        true
    }

    /// Whether any iWlz message was ever ingested. Until then `check` runs no
    /// 04xx check at all.
    fn is_loaded(&self) -> Result<bool, StoreError>;

    /// Everything held for one BSN (a few indexed queries).
    fn client(&self, bsn: &Bsn) -> Result<ClientRegistry, StoreError>;

    /// The Indicatie with this Besluitnummer for this BSN.
    fn indicatie(&self, bsn: &Bsn, besluitnummer: u64) -> Result<Option<Indicatie>, StoreError>;

    /// The allocations of a function to a provider valid on `dag`.
    fn toewijzingen(
        &self,
        bsn: &Bsn,
        functiecode: u16,
        instelling: &AgbCode,
        dag: Datum,
    ) -> Result<Vec<ToegewezenFunctie>, StoreError>;

    /// The message with this SHA-256 was ingested before.
    fn bericht_bekend(&self, sha256: &str) -> Result<bool, StoreError>;

    /// Starts applying one message: nothing is visible until `commit`, and
    /// dropping the transaction undoes everything.
    fn begin(&mut self) -> Result<Box<dyn RegistryTx + '_>, StoreError>;

    /// A canonical text dump of the registry's content, in key order.
    fn dump(&self, out: &mut dyn io::Write) -> Result<(), StoreError>;
}

/// Applying one message. Each `put_*` stores the record unless the store
/// holds a newer version of the same natural key (see [`Stamp`]).
pub trait RegistryTx {
    fn put_indicatie(
        &mut self,
        bsn: &Bsn,
        x: &Indicatie,
        stamp: &Stamp,
    ) -> Result<Change, StoreError>;
    fn put_functie(
        &mut self,
        bsn: &Bsn,
        x: &ToegewezenFunctie,
        stamp: &Stamp,
    ) -> Result<Change, StoreError>;
    fn put_zzp(
        &mut self,
        bsn: &Bsn,
        x: &ToegewezenZzp,
        stamp: &Stamp,
    ) -> Result<Change, StoreError>;
    fn put_aanvang(&mut self, bsn: &Bsn, x: &Aanvang, stamp: &Stamp) -> Result<Change, StoreError>;
    fn put_mutatie(&mut self, bsn: &Bsn, x: &Mutatie, stamp: &Stamp) -> Result<Change, StoreError>;
    /// Records the message itself; `Added` unless it was recorded before.
    fn put_bericht(&mut self, x: &BerichtRecord) -> Result<Change, StoreError>;
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// A [`RegistryStore`] as the rules' [`IndicationSource`]. A store failure
/// during a check cannot become a verdict: the client is looked up as empty,
/// the failure is kept, and the caller must refuse the outcome when
/// [`StoreIndications::failure`] returns one.
pub struct StoreIndications<'a> {
    store: &'a dyn RegistryStore,
    failure: RefCell<Option<StoreError>>,
}

impl<'a> StoreIndications<'a> {
    pub fn new(store: &'a dyn RegistryStore) -> Self {
        Self {
            store,
            failure: RefCell::new(None),
        }
    }

    /// The first store failure met while checking, if any.
    pub fn failure(&self) -> Option<StoreError> {
        self.failure.borrow().clone()
    }
}

impl IndicationSource for StoreIndications<'_> {
    fn client(&self, bsn: &Bsn) -> ClientRegistry {
        match self.store.client(bsn) {
            Ok(r) => r,
            Err(e) => {
                self.failure.borrow_mut().get_or_insert(e);
                ClientRegistry::default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::iwlz::BerichtSoort;
    use crate::types::parse_datum;

    fn d(s: &str) -> Datum {
        parse_datum(s).unwrap()
    }

    #[test]
    fn stamps_order_by_dagtekening_then_allocation_moment() {
        let h = |dag: &str, id: &str| IwlzHeader {
            soort: BerichtSoort::Aw33,
            identificatie: id.into(),
            dagtekening: d(dag),
            afzender: None,
            ontvanger: None,
        };
        let a = Stamp::new(
            &h("2024-01-05", "B"),
            Some((d("2024-01-04"), Some("10:00:00"))),
        );
        let b = Stamp::new(
            &h("2024-01-05", "A"),
            Some((d("2024-01-04"), Some("11:00:00"))),
        );
        let c = Stamp::new(&h("2024-02-01", "A"), Some((d("2024-01-01"), None)));
        assert!(a < b && b < c);
        assert!(Stamp::new(&h("2024-01-05", "A"), None) < Stamp::new(&h("2024-01-05", "B"), None));
    }
}
