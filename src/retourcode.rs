//! Every check the gateway makes has one retourcode: its number, its Dutch
//! text and its severity live here, in one place.

use serde::{Deserialize, Serialize};

/// Whether a code rejects its line (`fout`) or only annotates it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ernst {
    Fout,
    Waarschuwing,
}

impl Ernst {
    pub fn as_str(self) -> &'static str {
        match self {
            Ernst::Fout => "fout",
            Ernst::Waarschuwing => "waarschuwing",
        }
    }
}

macro_rules! retourcodes {
    ($($variant:ident = $code:literal, $ernst:ident, $text:literal;)*) => {
        /// A retourcode of `docs/contract/retourcodes.md`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Retourcode { $($variant),* }

        impl Retourcode {
            pub const ALL: &'static [Retourcode] = &[$(Retourcode::$variant),*];
            /// The four-digit code.
            pub fn code(self) -> &'static str {
                match self { $(Retourcode::$variant => $code),* }
            }
            pub fn ernst(self) -> Ernst {
                match self { $(Retourcode::$variant => Ernst::$ernst),* }
            }
            /// Human text, Dutch, as the answer carries it.
            pub fn omschrijving(self) -> &'static str {
                match self { $(Retourcode::$variant => $text),* }
            }
            pub fn from_code(code: &str) -> Option<Self> {
                match code { $($code => Some(Retourcode::$variant),)* _ => None }
            }
        }
    };
}

// Kept answers (sinks::answer) store a code by its position: a new code
// goes at the end.
retourcodes! {
    R0101 = "0101", Fout, "Bericht is geen welgevormde XML";
    R0102 = "0102", Fout, "Bericht voldoet niet aan het berichtschema";
    R0103 = "0103", Fout, "DOCTYPE of entiteitsdeclaraties zijn niet toegestaan";
    R0104 = "0104", Fout, "Bericht is groter dan het toegestane maximum";
    R0105 = "0105", Fout, "Totalen komen niet overeen met de prestaties";
    R0106 = "0106", Fout, "BerichtIdentificatie is al verwerkt voor deze afzender";
    R0107 = "0107", Fout, "Afzender is niet de geauthenticeerde zorgaanbieder";
    R0108 = "0108", Fout, "Ontvanger is geen zorgkantoor dat deze gateway bedient";
    R0109 = "0109", Fout, "Declaratieperiode ongeldig: einddatum voor begindatum";
    R0110 = "0110", Fout, "Dagtekening ligt na de dag van ontvangst";
    R0201 = "0201", Fout, "BSN voldoet niet aan de elfproef";
    R0202 = "0202", Fout, "Geboortedatum ligt na de dagtekening of na de begindatum van een prestatie";
    R0301 = "0301", Fout, "Onbekende productcode";
    R0302 = "0302", Fout, "Eenheid niet toegestaan voor deze productcode";
    R0303 = "0303", Fout, "Einddatum ligt voor begindatum";
    R0304 = "0304", Fout, "Periode valt niet binnen een kalendermaand";
    R0305 = "0305", Fout, "Periode valt buiten de declaratieperiode";
    R0306 = "0306", Fout, "Bedrag is niet gelijk aan geleverd volume maal producttarief";
    R0307 = "0307", Fout, "Producttarief hoger dan het maximumtarief voor deze code in dat jaar";
    R0308 = "0308", Fout, "ReferentieNummer is al gebruikt";
    R0309 = "0309", Fout, "Creditregel verwijst naar een onbekende, afgewezen of al gecrediteerde prestatie";
    R0310 = "0310", Fout, "Periode eindigt na de dagtekening";
    R0311 = "0311", Fout, "Volume onmogelijk voor de periode";
    R0312 = "0312", Fout, "Creditregel zonder VorigReferentieNummer of debetregel met VorigReferentieNummer";
    R0401 = "0401", Fout, "Geen geldig indicatiebesluit met dit besluitnummer voor de hele periode";
    R0402 = "0402", Fout, "Indicatie dekt deze zorgsoort niet";
    R0403 = "0403", Fout, "Geen toewijzing van deze zorg aan deze zorgaanbieder voor de periode";
    R0404 = "0404", Fout, "Toewijzing is een persoonsgebonden budget (pgb), geen zorg in natura";
    R0405 = "0405", Fout, "Kindproduct voor een client van 18 jaar of ouder";
    R0406 = "0406", Fout, "Geen aanvang levering (AW35) op of voor de begindatum, of levering beeindigd (AW39) voor de einddatum";
    R0407 = "0407", Fout, "ZiO-code terwijl de ZZP-toewijzing verblijf, vpt, dtv of vkb is, geen mpt";
    R0501 = "0501", Fout, "ZiO-code voor zorg buiten de looptijd van de regeling";
    R0502 = "0502", Fout, "ZiO-code terwijl zorgaanbieder en zorgkantoor op die data geen deelnemer zijn";
    R0503 = "0503", Fout, "ZiO-code zonder Brin of zonder Onderwijstijd = true";
    R0504 = "0504", Waarschuwing, "ZiO-code buiten de looptijd omgezet naar de reguliere code";
    R0505 = "0505", Waarschuwing, "Deelnemer declareert reguliere code in onderwijstijd binnen de looptijd: ZiO-code verwacht";
    R0506 = "0506", Waarschuwing, "Gedeclareerd volume overschrijdt het afgesproken volume voor dit jaar en deze code";
    R0507 = "0507", Waarschuwing, "Deelnemer zonder afspraak voor dit jaar en deze code";
    R0901 = "0901", Waarschuwing, "Upstream niet bereikbaar: de prestaties zijn opgeslagen en worden later geleverd";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_roundtrip() {
        let mut seen = std::collections::HashSet::new();
        for &rc in Retourcode::ALL {
            assert!(seen.insert(rc.code()), "duplicate {}", rc.code());
            assert_eq!(Retourcode::from_code(rc.code()), Some(rc));
            assert_eq!(rc.code().len(), 4);
        }
        assert_eq!(Retourcode::from_code("9999"), None);
    }

    #[test]
    fn warnings_are_exactly_the_specs() {
        let warnings: Vec<_> = Retourcode::ALL
            .iter()
            .filter(|r| r.ernst() == Ernst::Waarschuwing)
            .map(|r| r.code())
            .collect();
        assert_eq!(warnings, ["0504", "0505", "0506", "0507", "0901"]);
    }
}
