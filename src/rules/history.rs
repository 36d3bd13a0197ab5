//! What 0308 and 0309 know: the references of this message so far and, through
//! [`History`], the lines accepted by earlier messages (the ledger).

use crate::message::Prestatie;
use crate::types::{AgbCode, DebetCredit, Referentie};
use std::collections::{HashMap, HashSet};

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineState {
    Accepted { credited: bool },
    Rejected,
}

/// The references seen in this message, in input order.
#[derive(Default)]
pub struct MessageRefs {
    lines: HashMap<Referentie, LineState>,
    /// Lines of earlier messages credited by this message.
    credited_prior: HashSet<Referentie>,
}

impl MessageRefs {
    /// 0308: the reference was used by an earlier line of this message or by
    /// an accepted line of an earlier message.
    pub fn reference_used(&self, history: &dyn History, agb: &AgbCode, p: &Prestatie) -> bool {
        self.lines.contains_key(&p.referentie) || history.reference_used(agb, &p.referentie)
    }

    /// 0309: whether the line a credit names may be credited now.
    pub fn creditable(&self, history: &dyn History, agb: &AgbCode, vorig: &Referentie) -> bool {
        match self.lines.get(vorig) {
            Some(LineState::Accepted { credited }) => !credited,
            Some(LineState::Rejected) => false,
            None => {
                !self.credited_prior.contains(vorig)
                    && history.prior_line(agb, vorig) == Some(PriorLine::Open)
            }
        }
    }

    /// Records the verdict on `p` so later lines of the message see it.
    pub fn settle(&mut self, _agb: &AgbCode, p: &Prestatie, accepted: bool) {
        let state = if accepted {
            LineState::Accepted { credited: false }
        } else {
            LineState::Rejected
        };
        // A duplicate (0308) never displaces the first occurrence.
        self.lines.entry(p.referentie.clone()).or_insert(state);
        if accepted && p.debet_credit == DebetCredit::Credit {
            if let Some(vorig) = &p.vorig_referentie {
                match self.lines.get_mut(vorig) {
                    Some(LineState::Accepted { credited }) => *credited = true,
                    _ => {
                        self.credited_prior.insert(vorig.clone());
                    }
                }
            }
        }
    }
}
