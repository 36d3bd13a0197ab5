//! The honest absence figure (`docs/absence.md`, "The report"): per
//! participant and ZiO code over a year, agreed and declared volume beside
//! the registered absence, planned and unplanned, and what nobody explained
//! (`onverklaard`); and per participant and month the pupils behind the
//! declared volume, with those starting and leaving, so new pupils are seen
//! beside the volume they add instead of hiding absence.
//!
//! Every figure is computed in base units (minutes, dagdelen) and shown in
//! the code's unit like the volume report (`report::show_volume`).

use super::agreements::effective_agreements;
use super::report::show_volume;
use super::{absence::Soort, unit_str, LedgerStore, Result, VolumeFilter, VolumeGrouping};
use crate::model::regime::{Regime, Unit};
use crate::types::{AgbCode, ProductCode, ZorgkantoorCode};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

/// One participant and ZiO code over the year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AbsenceYearRow {
    pub agb: String,
    pub zorgkantoor: String,
    pub code: String,
    /// `uur` or `dagdeel`.
    pub unit: String,
    /// Agreed volume; `None` when the agreement has none for this code.
    pub agreed: Option<String>,
    /// Net declared volume (debet minus credit) of accepted ZiO lines.
    pub declared: String,
    /// Registered planned absence.
    pub afwezig_gepland: String,
    /// Registered unplanned absence.
    pub afwezig_ongepland: String,
    /// agreed - declared - gepland - ongepland; `None` without an agreed
    /// volume. Negative when more was declared and registered than agreed.
    pub onverklaard: Option<String>,
}

/// One participant in one month: its pupils, and those starting and leaving.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PupilsMonthRow {
    pub agb: String,
    pub zorgkantoor: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Distinct pupils with a standing ZiO debit line in the month.
    pub pupils: u64,
    /// Pupils whose first month with such a line (in the whole ledger) is
    /// this one.
    pub pupils_starting: u64,
    /// Pupils with such a line in this month and none in the next.
    pub pupils_leaving: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AbsenceReport {
    pub year: i32,
    pub absence: Vec<AbsenceYearRow>,
    pub pupils_by_month: Vec<PupilsMonthRow>,
}

/// The two tables of the report, for CSV (`--section`, `section=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbsenceSection {
    Absence,
    PupilsByMonth,
}

impl AbsenceSection {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "absence" => Some(AbsenceSection::Absence),
            "pupils_by_month" => Some(AbsenceSection::PupilsByMonth),
            _ => None,
        }
    }
}

type Key = (AgbCode, ZorgkantoorCode, ProductCode);

/// Base units of one code of a pair: agreed (if any), declared, gepland,
/// ongepland.
#[derive(Default)]
struct Sums {
    unit: Option<Unit>,
    agreed: Option<i64>,
    declared: i64,
    gepland: i64,
    ongepland: i64,
}

fn per_unit(unit: Unit) -> i64 {
    match unit {
        Unit::Uur => super::MINUTES_PER_HOUR,
        Unit::Dagdeel => 1,
    }
}

/// The month after (year, month).
fn next(year: i32, month: u32) -> (i32, u32) {
    if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    }
}

impl AbsenceReport {
    /// The report of `year` from the ledger, the agreements in effect and
    /// the registered absence.
    pub fn build(store: &dyn LedgerStore, regime: &Regime, year: i32) -> Result<Self> {
        let mut sums: BTreeMap<Key, Sums> = BTreeMap::new();
        for a in effective_agreements(&regime.agreements, store, Some(year))? {
            for (code, &v) in a.volumes.iter().filter(|(c, _)| regime.is_zio(c)) {
                let unit = regime.product(code).map_or(Unit::Uur, |p| p.unit);
                let s = sums
                    .entry((a.agb.clone(), a.zorgkantoor.clone(), code.clone()))
                    .or_default();
                s.unit = Some(unit);
                s.agreed = Some(v as i64 * per_unit(unit));
            }
        }
        for r in store.volumes(year, VolumeFilter::Zio, VolumeGrouping::Year)? {
            let s = sums.entry((r.agb, r.zorgkantoor, r.code)).or_default();
            s.unit = Some(r.unit);
            s.declared += r.base_volume;
        }
        for r in store.absence(year)? {
            let s = sums
                .entry((r.agb, r.zorgkantoor, r.product_code))
                .or_default();
            s.unit = Some(r.unit);
            match r.soort {
                Soort::Gepland => s.gepland += r.base_volume,
                Soort::Ongepland => s.ongepland += r.base_volume,
            }
        }
        let absence = sums
            .into_iter()
            .map(|((agb, zk, code), s)| {
                let unit = s.unit.unwrap_or(Unit::Uur);
                let show = |b: i64| show_volume(b, unit);
                AbsenceYearRow {
                    agb: agb.to_string(),
                    zorgkantoor: zk.to_string(),
                    code: code.to_string(),
                    unit: unit_str(unit).into(),
                    agreed: s.agreed.map(show),
                    declared: show(s.declared),
                    afwezig_gepland: show(s.gepland),
                    afwezig_ongepland: show(s.ongepland),
                    onverklaard: s
                        .agreed
                        .map(|a| show(a - s.declared - s.gepland - s.ongepland)),
                }
            })
            .collect();
        Ok(AbsenceReport {
            year,
            absence,
            pupils_by_month: pupils_by_month(store, year)?,
        })
    }

    /// Keeps the rows of one provider only.
    pub fn restrict(&mut self, agb: &AgbCode) {
        self.absence.retain(|r| r.agb == agb.as_str());
        self.pupils_by_month.retain(|r| r.agb == agb.as_str());
    }

    pub fn write_json<W: Write>(&self, mut w: W) -> io::Result<()> {
        serde_json::to_writer(&mut w, self)?;
        w.write_all(b"\n")
    }

    /// One table as CSV, the JSON keys as columns (empty for null).
    pub fn write_csv<W: Write>(&self, section: AbsenceSection, mut w: W) -> io::Result<()> {
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        match section {
            AbsenceSection::Absence => {
                writeln!(
                    w,
                    "agb,zorgkantoor,code,unit,agreed,declared,afwezig_gepland,\
                     afwezig_ongepland,onverklaard"
                )?;
                for r in &self.absence {
                    writeln!(
                        w,
                        "{},{},{},{},{},{},{},{},{}",
                        r.agb,
                        r.zorgkantoor,
                        r.code,
                        r.unit,
                        opt(&r.agreed),
                        r.declared,
                        r.afwezig_gepland,
                        r.afwezig_ongepland,
                        opt(&r.onverklaard)
                    )?;
                }
            }
            AbsenceSection::PupilsByMonth => {
                writeln!(
                    w,
                    "agb,zorgkantoor,month,pupils,pupils_starting,pupils_leaving"
                )?;
                for r in &self.pupils_by_month {
                    writeln!(
                        w,
                        "{},{},{},{},{},{}",
                        r.agb,
                        r.zorgkantoor,
                        r.month,
                        r.pupils,
                        r.pupils_starting,
                        r.pupils_leaving
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// Per pupil (BSN), the (year, month)s with a standing debit line.
type MonthsOfPupil = BTreeMap<String, BTreeSet<(i32, u32)>>;

/// Pupils per pair and month of `year`. Starting looks back over the whole
/// ledger (a pupil of last December does not start in January); leaving
/// looks at the next month, so December needs January of the next year.
fn pupils_by_month(store: &dyn LedgerStore, year: i32) -> Result<Vec<PupilsMonthRow>> {
    // Per pair and pupil, the months with a standing debit line, in order.
    let mut months: BTreeMap<(AgbCode, ZorgkantoorCode), MonthsOfPupil> = BTreeMap::new();
    for p in store.pupil_months(year + 1)? {
        months
            .entry((p.agb, p.zorgkantoor))
            .or_default()
            .entry(p.bsn)
            .or_default()
            .insert((p.year, p.month));
    }
    let mut out = Vec::new();
    for ((agb, zk), pupils) in months {
        // month -> (pupils, starting, leaving)
        let mut per: BTreeMap<u32, (u64, u64, u64)> = BTreeMap::new();
        for set in pupils.values() {
            let first = set.iter().next().copied();
            for &(y, m) in set.iter().filter(|(y, _)| *y == year) {
                let e = per.entry(m).or_default();
                e.0 += 1;
                if first == Some((y, m)) {
                    e.1 += 1;
                }
                if !set.contains(&next(y, m)) {
                    e.2 += 1;
                }
            }
        }
        out.extend(
            per.into_iter()
                .map(|(m, (pupils, starting, leaving))| PupilsMonthRow {
                    agb: agb.to_string(),
                    zorgkantoor: zk.to_string(),
                    month: format!("{year:04}-{m:02}"),
                    pupils,
                    pupils_starting: starting,
                    pupils_leaving: leaving,
                }),
        );
    }
    Ok(out)
}
