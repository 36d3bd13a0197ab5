//! The verdicts: what the check decides about a message and each of its
//! lines. The answer writer, the ledger and the forwarder read them; none of
//! them decides anything.

use crate::model::declaration::Prestatie;
use crate::retourcode::Retourcode;
use crate::types::{Bsn, Cents, Datum, ProductCode};
use serde::{Deserialize, Serialize};

/// Where an accepted line goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Route {
    #[serde(rename = "ZIO")]
    Zio,
    #[serde(rename = "REGULIER")]
    Regulier,
    #[serde(rename = "AFGEWEZEN")]
    Afgewezen,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Zio => "ZIO",
            Route::Regulier => "REGULIER",
            Route::Afgewezen => "AFGEWEZEN",
        }
    }
}

/// The verdict on one declared line, with the line itself so the sinks
/// (answer, ledger, forwarding) need nothing else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineVerdict {
    pub client_index: u64,
    pub bsn: Bsn,
    #[serde(with = "crate::types::iso_serde")]
    pub geboortedatum: Datum,
    pub besluitnummer: u64,
    pub prestatie: Prestatie,
    pub route: Route,
    /// The code as forwarded (after a remap).
    pub product_code: ProductCode,
    /// The declared code when it was remapped.
    pub oorspronkelijke_product_code: Option<ProductCode>,
    /// Sorted, without duplicates.
    pub codes: Vec<Retourcode>,
}

impl LineVerdict {
    pub fn accepted(&self) -> bool {
        self.route != Route::Afgewezen
    }

    /// What the answer shows of this line.
    pub fn view(&self) -> LineView<'_> {
        LineView {
            referentie: self.prestatie.referentie.as_str(),
            bsn: self.bsn.as_str(),
            route: self.route,
            product_code: self.product_code.as_str(),
            oorspronkelijke_product_code: self
                .oorspronkelijke_product_code
                .as_ref()
                .map(|c| c.as_str()),
            codes: &self.codes,
        }
    }
}

/// The part of a [`LineVerdict`] the answer shows, borrowed (from a verdict
/// or straight from the check's spool).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineView<'a> {
    pub referentie: &'a str,
    pub bsn: &'a str,
    pub route: Route,
    /// The code as forwarded (after a remap).
    pub product_code: &'a str,
    /// The declared code when it was remapped.
    pub oorspronkelijke_product_code: Option<&'a str>,
    /// Sorted, without duplicates.
    pub codes: &'a [Retourcode],
}

/// A message-level retourcode with what we know of where and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageCode {
    pub code: Retourcode,
    pub detail: Option<String>,
    pub locatie: Option<String>,
}

impl MessageCode {
    pub fn plain(code: Retourcode) -> Self {
        Self {
            code,
            detail: None,
            locatie: None,
        }
    }

    /// Omschrijving: the code's text, and the specific cause when known.
    pub fn omschrijving(&self) -> String {
        match &self.detail {
            Some(d) => format!("{}: {d}", self.code.omschrijving()),
            None => self.code.omschrijving().to_owned(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verwerking {
    Geaccepteerd,
    Gedeeltelijk,
    Afgewezen,
    Test,
}

impl Verwerking {
    pub fn as_str(self) -> &'static str {
        match self {
            Verwerking::Geaccepteerd => "Geaccepteerd",
            Verwerking::Gedeeltelijk => "Gedeeltelijk",
            Verwerking::Afgewezen => "Afgewezen",
            Verwerking::Test => "Test",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerTotals {
    pub aantal_geaccepteerd: u64,
    pub bedrag_geaccepteerd: Cents,
    pub aantal_afgewezen: u64,
    pub bedrag_afgewezen: Cents,
}
