//! The Declaratiebericht as typed values: what the reader hands out and the
//! rules, the ledger and the forwarder take in.

use crate::types::{
    AgbCode, Brin, Bsn, Cents, Datum, DebetCredit, Eenheid, Period, ProductCode, Referentie,
    ZorgkantoorCode,
};
use serde::{Deserialize, Serialize};

/// Namespace of the Declaratiebericht.
pub const NS_DECLARATIE: &str = "urn:zio-gateway:declaratie:1";
/// Namespace of the Retourbericht.
pub const NS_RETOUR: &str = "urn:zio-gateway:retour:1";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BerichtId {
    pub identificatie: Referentie,
    #[serde(with = "crate::types::iso_serde")]
    pub dagtekening: Datum,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub bericht: BerichtId,
    pub afzender: AgbCode,
    pub ontvanger: ZorgkantoorCode,
    pub periode: Period,
}

/// One client with all its lines: the unit the reader hands out, so memory is
/// bounded by the largest client, not by the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    /// 1-based position in the message, for locations.
    pub index: u64,
    pub bsn: Bsn,
    pub geboortedatum: Datum,
    pub besluitnummer: u64,
    pub prestaties: Vec<Prestatie>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prestatie {
    pub referentie: Referentie,
    pub vorig_referentie: Option<Referentie>,
    pub product: ProductCode,
    pub periode: Period,
    pub volume: u64,
    pub eenheid: Eenheid,
    pub tarief: Cents,
    pub bedrag: Cents,
    pub debet_credit: DebetCredit,
    pub onderwijstijd: Option<bool>,
    pub brin: Option<Brin>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totalen {
    pub aantal_prestaties: u64,
    pub totaal_debet: Cents,
    pub totaal_credit: Cents,
}
