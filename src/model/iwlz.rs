//! The iWlz registry's values: what IO31, AW33, AW35 and AW39 say about a
//! client, as the 04xx rules and the registry store both see it.

use crate::types::{AgbCode, Bsn, Datum, Period};
use std::fmt;

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
/// Leveringsvorm 7: modulair pakket thuis, the only one in the experiment.
pub const LEVERINGSVORM_MPT: u8 = 7;
/// The functions a provider delivers under an mpt allocation: begeleiding
/// individueel (81) and in groepsverband (82). The netwerkmodel's
/// Bemiddelingsregister allocates a ZZP with its leveringsvorm, not
/// functions; an mpt allocation there stands for these (docs/interpretation.md).
pub const MPT_FUNCTIES: [u16; 2] = [81, 82];
/// Leveringsvormen outside the experiment (0407): verblijf (4), vpt (5),
/// dtv (8), vkb (9). The experiment covers mpt (7) only.
pub const LEVERINGSVORMEN_NOT_MPT: [u8; 4] = [4, 5, 8, 9];

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
    fn soort_round_trips() {
        for k in BerichtSoort::ALL {
            assert_eq!(BerichtSoort::from_namespace(k.namespace()), Some(k));
            assert_eq!(BerichtSoort::from_name(k.name()), Some(k));
        }
    }
}
