//! 04xx: indication and allocation checks against the iWlz registry.
//! (Filled in by the indications issue; the seam is fixed here.)

use crate::regime::Product;
use crate::retourcode::Retourcode;
use crate::types::{AgbCode, Bsn, Datum, Period};

/// What a line says about the client and the care, as the 04xx checks need it.
pub struct LineFacts<'a> {
    pub bsn: &'a Bsn,
    pub geboortedatum: Datum,
    pub besluitnummer: u64,
    /// The declaring provider.
    pub instelling: &'a AgbCode,
    /// The product as forwarded (after any remap).
    pub product: &'a Product,
    pub periode: Period,
    pub require_start_of_delivery: bool,
}

/// The registry as the rules see it.
pub trait IndicationSource {
    fn check_line(&self, facts: &LineFacts<'_>, codes: &mut Vec<Retourcode>);
}

pub fn check(source: &dyn IndicationSource, facts: &LineFacts<'_>, codes: &mut Vec<Retourcode>) {
    source.check_line(facts, codes);
}
