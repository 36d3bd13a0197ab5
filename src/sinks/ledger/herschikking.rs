//! The life of a herschikking (Bedrag A) per (agb, zorgkantoor, year):
//! `voorlopig` (a placeholder, e.g. €1 for a January starter) until the
//! zorgkantoor makes it `definitief` with an explicit act; a definitive
//! figure is refused when an import changes it, unless the change is an
//! explicit override (with a reason); and the ZiO row of the year's
//! nacalculatie can be marked agreed by each side (provider and
//! zorgkantoor), which a later change of A undoes.
//!
//! Everything is kept as append-only events (`ledger_herschikking_event`):
//! who, when, what, the old and the new figure. The state is derived from
//! them here, once for both backends.

use super::agreements::effective_agreements;
use super::{LedgerError, LedgerStore, Result};
use crate::model::regime::{Agreement, Regime};
use crate::types::{AgbCode, ZorgkantoorCode};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// What happened to a herschikking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A was imported (replaced) while voorlopig, or unchanged.
    Import,
    /// The zorgkantoor made A definitive.
    Definitief,
    /// A definitive A was changed by an explicit override.
    Override,
    /// The provider marked the year's ZiO row agreed.
    AkkoordAanbieder,
    /// The zorgkantoor marked the year's ZiO row agreed.
    AkkoordZorgkantoor,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Import => "import",
            Action::Definitief => "definitief",
            Action::Override => "override",
            Action::AkkoordAanbieder => "akkoord_aanbieder",
            Action::AkkoordZorgkantoor => "akkoord_zorgkantoor",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Action::Import,
            Action::Definitief,
            Action::Override,
            Action::AkkoordAanbieder,
            Action::AkkoordZorgkantoor,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// One kept event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    #[serde(serialize_with = "as_str")]
    pub agb: AgbCode,
    #[serde(serialize_with = "as_str")]
    pub zorgkantoor: ZorgkantoorCode,
    pub year: i32,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// Who did it (the operator's name, or the caller's token).
    pub actor: String,
    pub action: Action,
    /// A before the event (None when there was no agreement).
    pub old_cents: Option<i64>,
    /// A after the event.
    pub new_cents: Option<i64>,
    /// Why (required for an override).
    pub reason: Option<String>,
}

fn as_str<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Which side marks the ZiO row agreed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Aanbieder,
    Zorgkantoor,
}

/// The state of one herschikking, from its events.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct State {
    /// `voorlopig` or `definitief`.
    pub status: &'static str,
    pub akkoord_aanbieder: bool,
    pub akkoord_zorgkantoor: bool,
}

impl State {
    pub fn definitief(&self) -> bool {
        self.status == "definitief"
    }
    /// Both sides agreed the ZiO row.
    pub fn akkoord(&self) -> bool {
        self.akkoord_aanbieder && self.akkoord_zorgkantoor
    }
}

pub type Key = (AgbCode, ZorgkantoorCode, i32);

/// The state of every herschikking with events (one year or all). A change
/// of A (import or override that changed the figure) undoes both marks.
pub fn states(store: &dyn LedgerStore, year: Option<i32>) -> Result<BTreeMap<Key, State>> {
    let mut out: BTreeMap<Key, State> = BTreeMap::new();
    for e in store.herschikking_events(year)? {
        let s = out
            .entry((e.agb.clone(), e.zorgkantoor.clone(), e.year))
            .or_insert(State {
                status: "voorlopig",
                ..State::default()
            });
        match e.action {
            Action::Definitief => s.status = "definitief",
            Action::Import | Action::Override => {
                if e.old_cents != e.new_cents {
                    s.akkoord_aanbieder = false;
                    s.akkoord_zorgkantoor = false;
                }
            }
            Action::AkkoordAanbieder => s.akkoord_aanbieder = true,
            Action::AkkoordZorgkantoor => s.akkoord_zorgkantoor = true,
        }
    }
    Ok(out)
}

fn state_of(
    store: &dyn LedgerStore,
    agb: &AgbCode,
    zk: &ZorgkantoorCode,
    year: i32,
) -> Result<State> {
    Ok(states(store, Some(year))?
        .remove(&(agb.clone(), zk.clone(), year))
        .unwrap_or(State {
            status: "voorlopig",
            ..State::default()
        }))
}

/// The A in effect (configured, or imported over it).
fn current(
    store: &dyn LedgerStore,
    regime: &Regime,
    agb: &AgbCode,
    zk: &ZorgkantoorCode,
    year: i32,
) -> Result<Option<i64>> {
    Ok(effective_agreements(&regime.agreements, store, Some(year))?
        .into_iter()
        .find(|a| &a.agb == agb && &a.zorgkantoor == zk)
        .map(|a| a.herschikking_cents as i64))
}

/// Why a change was refused: the figure is definitive.
pub fn refused(agb: &AgbCode, zk: &ZorgkantoorCode, year: i32, old: i64, new: i64) -> LedgerError {
    LedgerError::Invalid(format!(
        "herschikking {agb}/{zk}/{year} is definitief ({old} cents): refused to change it to \
         {new} cents without an override"
    ))
}

/// Checks agreements about to be imported: refused whole when one would
/// change a definitive A and `override_reason` is `None`. Returns the A in
/// effect before each, in order.
pub fn check_changes(
    store: &dyn LedgerStore,
    regime: &Regime,
    agreements: &[Agreement],
    override_reason: Option<&str>,
) -> Result<Vec<Option<i64>>> {
    let mut olds = Vec::with_capacity(agreements.len());
    for a in agreements {
        let old = current(store, regime, &a.agb, &a.zorgkantoor, a.year)?;
        let new = a.herschikking_cents as i64;
        let state = state_of(store, &a.agb, &a.zorgkantoor, a.year)?;
        if state.definitief() && old != Some(new) && override_reason.is_none() {
            return Err(refused(
                &a.agb,
                &a.zorgkantoor,
                a.year,
                old.unwrap_or(0),
                new,
            ));
        }
        olds.push(old);
    }
    Ok(olds)
}

/// Keeps the import event of one agreement (after it was stored).
pub fn record_change(
    store: &dyn LedgerStore,
    a: &Agreement,
    old: Option<i64>,
    actor: &str,
    at_ms: i64,
    override_reason: Option<&str>,
) -> Result<()> {
    let state = state_of(store, &a.agb, &a.zorgkantoor, a.year)?;
    let new = a.herschikking_cents as i64;
    let action = if state.definitief() && old != Some(new) {
        Action::Override
    } else {
        Action::Import
    };
    store.add_herschikking_event(&Event {
        agb: a.agb.clone(),
        zorgkantoor: a.zorgkantoor.clone(),
        year: a.year,
        at_ms,
        actor: actor.to_owned(),
        action,
        old_cents: old,
        new_cents: Some(new),
        reason: override_reason.map(str::to_owned),
    })
}

/// The zorgkantoor's explicit act: A of (agb, zk, year) becomes definitive.
/// Refused when there is no agreement in effect or it is definitive already.
pub fn make_definitief(
    store: &dyn LedgerStore,
    regime: &Regime,
    key: &Key,
    actor: &str,
    at_ms: i64,
) -> Result<Event> {
    let (agb, zk, year) = key;
    let Some(a) = current(store, regime, agb, zk, *year)? else {
        return Err(LedgerError::Invalid(format!(
            "no agreement for {agb}/{zk}/{year}: nothing to make definitief"
        )));
    };
    if state_of(store, agb, zk, *year)?.definitief() {
        return Err(LedgerError::Invalid(format!(
            "herschikking {agb}/{zk}/{year} is definitief already"
        )));
    }
    let e = Event {
        agb: agb.clone(),
        zorgkantoor: zk.clone(),
        year: *year,
        at_ms,
        actor: actor.to_owned(),
        action: Action::Definitief,
        old_cents: Some(a),
        new_cents: Some(a),
        reason: None,
    };
    store.add_herschikking_event(&e)?;
    Ok(e)
}

/// One side marks the year's ZiO row of the nacalculatie agreed (at the A
/// in effect). Refused without an agreement.
pub fn mark_akkoord(
    store: &dyn LedgerStore,
    regime: &Regime,
    key: &Key,
    side: Side,
    actor: &str,
    at_ms: i64,
) -> Result<Event> {
    let (agb, zk, year) = key;
    let Some(a) = current(store, regime, agb, zk, *year)? else {
        return Err(LedgerError::Invalid(format!(
            "no agreement for {agb}/{zk}/{year}: nothing to agree"
        )));
    };
    let e = Event {
        agb: agb.clone(),
        zorgkantoor: zk.clone(),
        year: *year,
        at_ms,
        actor: actor.to_owned(),
        action: match side {
            Side::Aanbieder => Action::AkkoordAanbieder,
            Side::Zorgkantoor => Action::AkkoordZorgkantoor,
        },
        old_cents: Some(a),
        new_cents: Some(a),
        reason: None,
    };
    store.add_herschikking_event(&e)?;
    Ok(e)
}

/// Reads an agreements file (`.csv` or `.toml`) and stores every agreement in
/// it, replacing stored ones for the same key. The file is checked whole
/// before anything is stored. Returns what was imported.
pub fn import_agreements(
    store: &dyn LedgerStore,
    path: &Path,
    regime: &Regime,
) -> Result<Vec<Agreement>> {
    import_agreements_by(store, path, regime, "import", None)
}

/// [`import_agreements`] by `actor`: refused whole when it would change a
/// definitive herschikking, unless `override_reason` is given; every
/// agreement's old and new A is kept in the herschikking history.
pub fn import_agreements_by(
    store: &dyn LedgerStore,
    path: &Path,
    regime: &Regime,
    actor: &str,
    override_reason: Option<&str>,
) -> Result<Vec<Agreement>> {
    let agreements = super::agreements::parse_agreements_file(path, regime)?;
    let olds = check_changes(store, regime, &agreements, override_reason)?;
    let source = path.display().to_string();
    let now = now_ms();
    for (a, old) in agreements.iter().zip(olds) {
        store.put_agreement(a, &source)?;
        record_change(store, a, old, actor, now, override_reason)?;
    }
    Ok(agreements)
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
