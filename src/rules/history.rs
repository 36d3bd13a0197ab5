//! What 0308 and 0309 know: the references of this message so far and, through
//! [`History`], the lines accepted by earlier messages (the ledger).
//!
//! The message's references are kept in a [`RefTable`]: a port, so the rules
//! stay free of storage. The check supplies one that spills to disk past a
//! size, so a batch of any size keeps memory flat (`check::refs`).

use crate::model::declaration::Prestatie;
use crate::types::{AgbCode, DebetCredit, ProductCode, Referentie, ZorgkantoorCode};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::io;

/// The state of a line accepted earlier, as a credit line sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriorLine {
    Open,
    Credited,
}

/// Lines accepted by earlier messages. The ledger implements it; `check`
/// without a ledger uses [`NoHistory`].
pub trait History {
    /// An accepted line of this provider already carries this reference.
    fn reference_used(&self, agb: &AgbCode, referentie: &Referentie) -> bool;
    /// The accepted line of this provider with this reference, if any.
    fn prior_line(&self, agb: &AgbCode, referentie: &Referentie) -> Option<PriorLine>;
    /// 0106: a message with this Identificatie of this Afzender was processed.
    fn message_processed(&self, _agb: &AgbCode, _identificatie: &Referentie) -> bool {
        false
    }
    /// 0506: the volume accepted so far for this pair, year (of Begindatum)
    /// and code, in the agreement's unit (hours, minutes converted exactly, or
    /// dagdelen), credits subtracted.
    fn declared_volume(
        &self,
        _agb: &AgbCode,
        _zk: &ZorgkantoorCode,
        _year: i32,
        _code: &ProductCode,
    ) -> Decimal {
        Decimal::ZERO
    }
}

/// No earlier messages: every reference is new, every credit of a line not in
/// the message is unknown.
pub struct NoHistory;

impl History for NoHistory {
    fn reference_used(&self, _: &AgbCode, _: &Referentie) -> bool {
        false
    }
    fn prior_line(&self, _: &AgbCode, _: &Referentie) -> Option<PriorLine> {
        None
    }
}

/// What one reference stands for in this message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefState {
    Accepted = 0,
    AcceptedCredited = 1,
    Rejected = 2,
    /// Not a line of this message: a line of an earlier message that a
    /// credit in this message cancelled.
    PriorCredited = 3,
}

impl RefState {
    /// The state stored as a number (see [`RefState::as_i64`]).
    pub fn from_i64(v: i64) -> Self {
        match v {
            0 => Self::Accepted,
            1 => Self::AcceptedCredited,
            2 => Self::Rejected,
            _ => Self::PriorCredited,
        }
    }

    pub fn as_i64(self) -> i64 {
        self as i64
    }
}

/// Where the references of one message are kept while it is checked.
pub trait RefTable {
    fn get(&self, r: &Referentie) -> io::Result<Option<RefState>>;
    fn set(&mut self, r: &Referentie, s: RefState) -> io::Result<()>;
}

/// A table in memory only: for small messages and tests.
impl RefTable for HashMap<Referentie, RefState> {
    fn get(&self, r: &Referentie) -> io::Result<Option<RefState>> {
        Ok(HashMap::get(self, r).copied())
    }
    fn set(&mut self, r: &Referentie, s: RefState) -> io::Result<()> {
        self.insert(r.clone(), s);
        Ok(())
    }
}

/// The references seen in this message, in input order.
pub struct MessageRefs {
    table: Box<dyn RefTable>,
    /// 0506: running declared volume per (year, code) in base units
    /// (minutes or dagdelen): the ledger's figure plus this message's lines.
    volumes: HashMap<(i32, ProductCode), i64>,
}

/// What the line rules need to know about a line's references.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefFacts {
    /// 0308: the reference is already used.
    pub duplicate: bool,
    /// 0309: for a credit line with a VorigReferentieNummer, whether the line
    /// it names may be credited now (`true` for other lines).
    pub creditable: bool,
}

impl MessageRefs {
    pub fn new(table: Box<dyn RefTable>) -> Self {
        Self {
            table,
            volumes: HashMap::new(),
        }
    }

    /// Kept in memory only.
    pub fn in_memory() -> Self {
        Self::new(Box::<HashMap<Referentie, RefState>>::default())
    }

    fn get(&self, r: &Referentie) -> io::Result<Option<RefState>> {
        self.table.get(r)
    }

    fn set(&mut self, r: &Referentie, s: RefState) -> io::Result<()> {
        self.table.set(r, s)
    }

    /// The facts 0308 and 0309 need for `p`, before `p` is remembered.
    pub fn facts(
        &self,
        history: &dyn History,
        agb: &AgbCode,
        p: &Prestatie,
    ) -> io::Result<RefFacts> {
        let duplicate =
            self.get(&p.referentie)?.is_some() || history.reference_used(agb, &p.referentie);
        let creditable = match (&p.debet_credit, &p.vorig_referentie) {
            (DebetCredit::Credit, Some(vorig)) => match self.get(vorig)? {
                Some(RefState::Accepted) => true,
                Some(_) => false,
                None => history.prior_line(agb, vorig) == Some(PriorLine::Open),
            },
            _ => true,
        };
        Ok(RefFacts {
            duplicate,
            creditable,
        })
    }

    /// 0506: adds `delta` base units to the running volume of (year, code),
    /// starting from `initial()` (the ledger's figure), and returns the total.
    pub fn add_volume(
        &mut self,
        year: i32,
        code: &ProductCode,
        delta: i64,
        initial: impl FnOnce() -> i64,
    ) -> i64 {
        let total = self
            .volumes
            .entry((year, code.clone()))
            .or_insert_with(initial);
        *total += delta;
        *total
    }

    /// Records the verdict on `p` so later lines of the message see it.
    pub fn remember(&mut self, p: &Prestatie, accepted: bool) -> io::Result<()> {
        // A duplicate (0308) never displaces the first occurrence.
        if self.get(&p.referentie)?.is_none() {
            let s = if accepted {
                RefState::Accepted
            } else {
                RefState::Rejected
            };
            self.set(&p.referentie, s)?;
        }
        if accepted && p.debet_credit == DebetCredit::Credit {
            if let Some(vorig) = &p.vorig_referentie {
                let s = match self.get(vorig)? {
                    Some(RefState::Accepted) => RefState::AcceptedCredited,
                    _ => RefState::PriorCredited,
                };
                self.set(vorig, s)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::types::{parse_datum, Eenheid, Period};

    fn line(r: &str, credit_of: Option<&str>) -> Prestatie {
        let d = parse_datum("2024-03-01").unwrap();
        Prestatie {
            referentie: Referentie::parse(r).unwrap(),
            vorig_referentie: credit_of.map(|v| Referentie::parse(v).unwrap()),
            product: ProductCode::parse("H300").unwrap(),
            periode: Period::new(d, d),
            volume: 1,
            eenheid: Eenheid::Uur,
            tarief: 1,
            bedrag: 1,
            debet_credit: if credit_of.is_some() {
                DebetCredit::Credit
            } else {
                DebetCredit::Debet
            },
            onderwijstijd: None,
            brin: None,
        }
    }

    pub(crate) fn run(refs: &mut MessageRefs) -> Vec<RefFacts> {
        let agb = AgbCode::parse("12345678").unwrap();
        let script = [
            (line("A", None), true),
            (line("A", None), false),
            (line("B", None), false),
            (line("C1", Some("A")), true),
            (line("C2", Some("A")), true),
            (line("C3", Some("B")), true),
            (line("C4", Some("X")), true),
        ];
        let mut out = Vec::new();
        for (p, accepted) in script {
            let f = refs.facts(&NoHistory, &agb, &p).unwrap();
            let accepted = accepted && !f.duplicate && f.creditable;
            refs.remember(&p, accepted).unwrap();
            out.push(f);
        }
        out
    }

    #[test]
    fn duplicates_and_credits_in_input_order() {
        let facts = run(&mut MessageRefs::in_memory());
        let dup: Vec<bool> = facts.iter().map(|f| f.duplicate).collect();
        let cred: Vec<bool> = facts.iter().map(|f| f.creditable).collect();
        assert_eq!(dup, [false, true, false, false, false, false, false]);
        // C1 credits A; C2 finds A credited; C3 names rejected B; C4 unknown X.
        assert_eq!(cred, [true, true, true, true, false, false, false]);
    }
}
