//! 01xx checks that need only the header or the totals: 0105, 0108, 0109, 0110.
//! (0101-0104 come from the reader; 0106 and 0107 need the ledger and the
//! server.)

use crate::config::Config;
use crate::model::declaration::{Header, Prestatie, Totalen};
use crate::retourcode::Retourcode;
use crate::types::{Cents, Datum, DebetCredit};

pub fn check_header(config: &Config, header: &Header, today: Datum) -> Vec<Retourcode> {
    let mut codes = Vec::new();
    if !config.gateway.zorgkantoren.contains(&header.ontvanger) {
        codes.push(Retourcode::R0108);
    }
    if header.periode.to < header.periode.from {
        codes.push(Retourcode::R0109);
    }
    if header.bericht.dagtekening > today {
        codes.push(Retourcode::R0110);
    }
    codes
}

/// What the lines add up to, kept while they stream past, for 0105.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub lines: u64,
    pub debet: Cents,
    pub credit: Cents,
}

impl Tally {
    pub fn add(&mut self, p: &Prestatie) {
        self.lines += 1;
        match p.debet_credit {
            DebetCredit::Debet => self.debet += p.bedrag,
            DebetCredit::Credit => self.credit += p.bedrag,
        }
    }

    /// 0105 when the declared Totalen differ from the lines.
    pub fn check(&self, totalen: &Totalen) -> Option<Retourcode> {
        let matches = totalen.aantal_prestaties == self.lines
            && totalen.totaal_debet == self.debet
            && totalen.totaal_credit == self.credit;
        (!matches).then_some(Retourcode::R0105)
    }
}
