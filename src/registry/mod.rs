//! The iWlz registry: who may be declared for, learnt from the real iWlz 2.2
//! messages the zorgkantoor already handles (IO31 indicatiebesluit, AW33
//! toewijzing, AW35 aanvang zorg, AW39 mutatie).
//!
//! - [`iwlz`] reads those messages as a stream, one client at a time.
//! - [`ingest`] applies them to a [`RegistryStore`], idempotently.
//! - [`sqlite`] is the store in `DATA_DIR/gateway.db` ([`crate::store`]).
//!
//! The rules (04xx, [`crate::rules::indication`]) see one client at a time as
//! a [`ClientRegistry`], fetched once per client with a few indexed queries.
//!
//! Every record carries a [`Stamp`] derived from the message it came from; a
//! record replaces a stored one with the same natural key only when its stamp
//! is not older. So the content of the store depends on the set of messages
//! ingested, not on their order or on how often each was ingested.

pub mod ingest;
pub mod iwlz;
pub mod sqlite;

use crate::rules::IndicationSource;
use crate::store::StoreError;
use crate::types::{AgbCode, Bsn, Datum, Period};
use std::cell::RefCell;
use std::fmt;
use std::io;

/// The four iWlz messages the gateway ingests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BerichtSoort {
    Io31,
    Aw33,
    Aw35,
    Aw39,
}

impl BerichtSoort {
    pub const ALL: [BerichtSoort; 4] = [Self::Io31, Self::Aw33, Self::Aw35, Self::Aw39];

    /// The BerichtCode in the Header.
    pub fn code(self) -> u16 {
        match self {
            Self::Io31 => 388,
            Self::Aw33 => 352,
            Self::Aw35 => 354,
            Self::Aw39 => 358,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Io31 => "IO31",
            Self::Aw33 => "AW33",
            Self::Aw35 => "AW35",
            Self::Aw39 => "AW39",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The message namespace of iWlz release 2.2.
    pub fn namespace(self) -> &'static str {
        match self {
            Self::Io31 => "http://www.istandaarden.nl/iwlz/2_2/io31/schema",
            Self::Aw33 => "http://www.istandaarden.nl/iwlz/2_2/aw33/schema",
            Self::Aw35 => "http://www.istandaarden.nl/iwlz/2_2/aw35/schema",
            Self::Aw39 => "http://www.istandaarden.nl/iwlz/2_2/aw39/schema",
        }
    }

    pub fn from_namespace(ns: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.namespace() == ns)
    }
}

impl fmt::Display for BerichtSoort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An inclusive range of days that may be open-ended (no Einddatum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Geldigheid {
    pub ingangsdatum: Datum,
    pub einddatum: Option<Datum>,
}

impl Geldigheid {
    pub fn new(ingangsdatum: Datum, einddatum: Option<Datum>) -> Self {
        Self {
            ingangsdatum,
            einddatum,
        }
    }

    /// Valid on every day of `p`.
    pub fn covers(&self, p: &Period) -> bool {
        self.ingangsdatum <= p.from && self.einddatum.is_none_or(|e| e >= p.to)
    }

    /// Valid on at least one day of `p`.
    pub fn overlaps(&self, p: &Period) -> bool {
        self.ingangsdatum <= p.to && self.einddatum.is_none_or(|e| e >= p.from)
    }
}

/// An indicated function (GeindiceerdeFunctie) or ZZP (GeindiceerdZorgzwaartepakket).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Geindiceerd {
    /// FunctieCode, or ZzpCode for a ZZP.
    pub code: u16,
    pub geldig: Geldigheid,
}

/// An Indicatie (IO31, repeated in AW33), keyed by (BSN, Besluitnummer).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Indicatie {
    pub besluitnummer: u64,
    pub afgiftedatum: Option<Datum>,
    pub geldig: Geldigheid,
    pub functies: Vec<Geindiceerd>,
    pub zzps: Vec<Geindiceerd>,
}

impl Indicatie {
    /// A decision with no indicated function and no indicated ZZP is negative:
    /// nothing can be declared on it.
    pub fn positief(&self) -> bool {
        !self.functies.is_empty() || !self.zzps.is_empty()
    }
}

/// A ToegewezenFunctie (AW33). Natural key: (BSN, FunctieCode, Instelling, Ingangsdatum).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ToegewezenFunctie {
    pub functiecode: u16,
    pub instelling: AgbCode,
    pub geldig: Geldigheid,
    /// Of the Indicatie the allocation came with.
    pub besluitnummer: u64,
    pub toewijzingsdatum: Option<Datum>,
    pub toewijzingstijd: Option<String>,
    pub reden_intrekking: Option<String>,
}

/// Leveringsvorm 2: persoonsgebonden budget.
pub const LEVERINGSVORM_PGB: u8 = 2;

/// A ToegewezenZorgzwaartepakket (AW33).
/// Natural key: (BSN, ZzpCode, Ingangsdatum, Instelling, Leveringsvorm).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ToegewezenZzp {
    pub zzpcode: u16,
    /// Absent for a pgb.
    pub instelling: Option<AgbCode>,
    pub leveringsvorm: u8,
    pub geldig: Geldigheid,
    pub besluitnummer: u64,
    pub toewijzingsdatum: Option<Datum>,
    pub toewijzingstijd: Option<String>,
    pub reden_intrekking: Option<String>,
}

/// StatusAanlevering 3: the earlier report with this key is withdrawn.
pub const STATUS_VERWIJDEREN: u8 = 3;

/// A GeleverdeFunctie (AW35): delivery started on `begindatum` on the
/// allocation (FunctieCode, ToewijzingIngangsdatum, Instelling).
/// Natural key: (BSN, FunctieCode, Instelling, ToewijzingIngangsdatum, Begindatum).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Aanvang {
    pub functiecode: u16,
    pub instelling: AgbCode,
    pub toewijzing_ingangsdatum: Datum,
    pub begindatum: Datum,
    pub besluitnummer: u64,
    /// StatusAanlevering (1 first, 2 changed, 3 withdrawn); 1 when absent.
    pub status: u8,
}

/// Mutatiecodes that end the delivery on the Mutatiedatum.
pub const MUTATIECODES_EINDE: [u16; 4] = [17, 19, 20, 21];

/// A MutatieFunctie (AW39).
/// Natural key: (BSN, FunctieCode, Instelling, ToewijzingIngangsdatum, Mutatiedatum, Mutatiecode).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mutatie {
    pub functiecode: u16,
    pub instelling: AgbCode,
    pub toewijzing_ingangsdatum: Datum,
    pub mutatiecode: u16,
    /// For an ending mutation, the last day of care.
    pub mutatiedatum: Datum,
    pub besluitnummer: u64,
    pub status: u8,
}

impl Mutatie {
    pub fn beeindigt(&self) -> bool {
        MUTATIECODES_EINDE.contains(&self.mutatiecode)
    }
}

/// Everything the registry holds for one BSN, as the 04xx rules see it.
/// Withdrawn reports (StatusAanlevering 3) are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientRegistry {
    pub indicaties: Vec<Indicatie>,
    pub functies: Vec<ToegewezenFunctie>,
    pub zzps: Vec<ToegewezenZzp>,
    pub aanvangen: Vec<Aanvang>,
    pub mutaties: Vec<Mutatie>,
}

impl ClientRegistry {
    pub fn is_empty(&self) -> bool {
        self.indicaties.is_empty()
            && self.functies.is_empty()
            && self.zzps.is_empty()
            && self.aanvangen.is_empty()
            && self.mutaties.is_empty()
    }
}

/// The Header of an iWlz message, as far as the registry needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IwlzHeader {
    pub soort: BerichtSoort,
    pub identificatie: String,
    pub dagtekening: Datum,
    /// Absent in IO31 (the CIZ is the sender).
    pub afzender: Option<String>,
    pub ontvanger: Option<String>,
}

/// One Client of an iWlz message with what the checks need of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IwlzClient {
    pub bsn: Option<Bsn>,
    pub geboortedatum: Option<Datum>,
    pub indicaties: Vec<Indicatie>,
    pub functies: Vec<ToegewezenFunctie>,
    pub zzps: Vec<ToegewezenZzp>,
    pub aanvangen: Vec<Aanvang>,
    pub mutaties: Vec<Mutatie>,
}

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

/// The record of one ingested message (content only: no file name, no clock,
/// so ingesting the same set twice leaves the same store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BerichtRecord {
    /// SHA-256 of the bytes, lower-case hex: the identity of the message.
    pub sha256: String,
    pub header: IwlzHeader,
    pub clienten: u64,
}

/// The store of indications and allocations. SQLite now (`sqlite.rs`);
/// PostgreSQL can implement the same trait.
pub trait RegistryStore {
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

/// An in-memory source for tests and tools: BSN -> registry.
impl IndicationSource for std::collections::HashMap<Bsn, ClientRegistry> {
    fn client(&self, bsn: &Bsn) -> ClientRegistry {
        self.get(bsn).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::parse_datum;

    fn d(s: &str) -> Datum {
        parse_datum(s).unwrap()
    }

    #[test]
    fn geldigheid_covers_and_overlaps_inclusively() {
        let g = Geldigheid::new(d("2024-01-01"), Some(d("2024-03-31")));
        assert!(g.covers(&Period::new(d("2024-01-01"), d("2024-03-31"))));
        assert!(!g.covers(&Period::new(d("2023-12-31"), d("2024-01-05"))));
        assert!(!g.covers(&Period::new(d("2024-03-30"), d("2024-04-01"))));
        assert!(g.overlaps(&Period::new(d("2024-03-31"), d("2024-04-30"))));
        assert!(!g.overlaps(&Period::new(d("2024-04-01"), d("2024-04-30"))));
        let open = Geldigheid::new(d("2024-01-01"), None);
        assert!(open.covers(&Period::new(d("2099-01-01"), d("2099-12-31"))));
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

    #[test]
    fn soort_round_trips() {
        for k in BerichtSoort::ALL {
            assert_eq!(BerichtSoort::from_namespace(k.namespace()), Some(k));
            assert_eq!(BerichtSoort::from_name(k.name()), Some(k));
        }
    }
}
