//! `zio-gateway ledger report --year Y`: the nacalculatie ZiO section (A, B
//! and the budget guarantee, to the cent), agreed versus declared volume
//! with the absence figure, and regular codes declared in school time by
//! participants (0505). JSON (the form of `messages.md`, more sections after
//! `nacalculatie`) and CSV (one section per file, the same columns).
//!
//! Every figure is exact: cents and base units (minutes, dagdelen) are
//! integers; hours are shown with two decimals, percentages too.

use super::{
    agreements::effective_agreements, base_to_unit, unit_str, LedgerStore, Result, VolumeFilter,
    VolumeGrouping, VolumeRow, MINUTES_PER_HOUR,
};
use crate::model::regime::{Regime, Unit};
use crate::types::{AgbCode, ProductCode, ZorgkantoorCode};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// One participant with an agreement for the year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NacalculatieRow {
    pub agb: String,
    pub zorgkantoor: String,
    /// Bedrag A: the agreement's herschikking.
    pub herschikking_cents: i64,
    /// Bedrag B: debet minus credit of accepted ZiO lines of the year.
    pub realisatie_cents: i64,
    /// max(0, A - B).
    pub budgetgarantie_cents: i64,
}

/// Agreed versus declared volume of one ZiO code of a pair over the year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VolumeYearRow {
    pub agb: String,
    pub zorgkantoor: String,
    pub code: String,
    /// `uur` or `dagdeel`.
    pub unit: String,
    /// Agreed volume; `None` when the agreement has none for this code.
    pub agreed: Option<String>,
    /// Net declared volume (debet minus credit).
    pub declared: String,
    /// agreed - declared (negative when more was declared than agreed).
    pub absence: Option<String>,
    /// absence as a percentage of agreed; `None` without an agreed volume.
    pub absence_percent: Option<String>,
    /// Distinct pupils (BSN) behind the lines that stand (debet, not credited).
    pub pupils: u64,
    pub lines: u64,
    pub amount_cents: i64,
}

/// Declared volume of one code of a pair at one school in one month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VolumeCellRow {
    pub agb: String,
    pub zorgkantoor: String,
    pub code: String,
    pub unit: String,
    pub brin: Option<String>,
    /// `YYYY-MM`.
    pub month: String,
    pub declared: String,
    pub pupils: u64,
    pub lines: u64,
    pub amount_cents: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LedgerReport {
    pub year: i32,
    pub nacalculatie: Vec<NacalculatieRow>,
    /// Per pair and ZiO code over the year: agreed, declared, absence.
    pub volumes: Vec<VolumeYearRow>,
    /// Per pair, ZiO code, school and month: declared and pupils.
    pub volumes_by_school_month: Vec<VolumeCellRow>,
    /// Regular codes declared in school time by participants (lines that
    /// carried 0505), per pair, code, school and month.
    pub regular_in_school_time: Vec<VolumeCellRow>,
}

/// One table of the report, for CSV.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportSection {
    Nacalculatie,
    Volumes,
    VolumesBySchoolMonth,
    RegularInSchoolTime,
}

impl ReportSection {
    pub const ALL: [ReportSection; 4] = [
        ReportSection::Nacalculatie,
        ReportSection::Volumes,
        ReportSection::VolumesBySchoolMonth,
        ReportSection::RegularInSchoolTime,
    ];

    /// The JSON key of the section, also its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ReportSection::Nacalculatie => "nacalculatie",
            ReportSection::Volumes => "volumes",
            ReportSection::VolumesBySchoolMonth => "volumes_by_school_month",
            ReportSection::RegularInSchoolTime => "regular_in_school_time",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.name() == s)
    }
}

/// A volume in base units, shown in its unit: hours with two decimals
/// (rounded half away from zero), dagdelen whole.
pub fn show_volume(base: i64, unit: Unit) -> String {
    match unit {
        Unit::Uur => fixed2(base_to_unit(base, unit)),
        Unit::Dagdeel => base.to_string(),
    }
}

fn fixed2(d: Decimal) -> String {
    let mut r = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(2);
    r.to_string()
}

fn per_unit(unit: Unit) -> i64 {
    match unit {
        Unit::Uur => MINUTES_PER_HOUR,
        Unit::Dagdeel => 1,
    }
}

fn cell(r: VolumeRow, year: i32) -> VolumeCellRow {
    VolumeCellRow {
        agb: r.agb.to_string(),
        zorgkantoor: r.zorgkantoor.to_string(),
        code: r.code.to_string(),
        unit: unit_str(r.unit).into(),
        brin: r.brin,
        month: format!("{year:04}-{:02}", r.month.unwrap_or(0)),
        declared: show_volume(r.base_volume, r.unit),
        pupils: r.pupils,
        lines: r.lines,
        amount_cents: r.amount_cents,
    }
}

impl LedgerReport {
    /// Builds the report of `year` from the ledger and the agreements in
    /// effect (the regime's, replaced by imported ones).
    pub fn build(store: &dyn LedgerStore, regime: &Regime, year: i32) -> Result<Self> {
        let agreements = effective_agreements(&regime.agreements, store, Some(year))?;
        let realisatie: BTreeMap<(AgbCode, ZorgkantoorCode), i64> = store
            .realisatie(year)?
            .into_iter()
            .map(|(a, z, b)| ((a, z), b))
            .collect();
        let nacalculatie = agreements
            .iter()
            .map(|a| {
                let herschikking = a.herschikking_cents as i64;
                let b = realisatie
                    .get(&(a.agb.clone(), a.zorgkantoor.clone()))
                    .copied()
                    .unwrap_or(0);
                NacalculatieRow {
                    agb: a.agb.to_string(),
                    zorgkantoor: a.zorgkantoor.to_string(),
                    herschikking_cents: herschikking,
                    realisatie_cents: b,
                    budgetgarantie_cents: (herschikking - b).max(0),
                }
            })
            .collect();

        // Agreed volumes, then what was declared against them.
        type Key = (AgbCode, ZorgkantoorCode, ProductCode);
        let mut year_rows: BTreeMap<Key, (Unit, Option<u64>, Option<VolumeRow>)> = BTreeMap::new();
        for a in &agreements {
            for (code, &v) in &a.volumes {
                let unit = regime.product(code).map_or(Unit::Uur, |p| p.unit);
                year_rows.insert(
                    (a.agb.clone(), a.zorgkantoor.clone(), code.clone()),
                    (unit, Some(v), None),
                );
            }
        }
        for r in store.volumes(year, VolumeFilter::Zio, VolumeGrouping::Year)? {
            let key = (r.agb.clone(), r.zorgkantoor.clone(), r.code.clone());
            let e = year_rows.entry(key).or_insert((r.unit, None, None));
            e.0 = r.unit;
            e.2 = Some(r);
        }
        let volumes = year_rows
            .into_iter()
            .map(|((agb, zk, code), (unit, agreed, declared))| {
                let base = declared.as_ref().map_or(0, |r| r.base_volume);
                let k = per_unit(unit);
                let (absence, percent) = match agreed {
                    Some(v) => {
                        let absence_base = v as i64 * k - base;
                        let pct = (v > 0).then(|| {
                            fixed2(
                                Decimal::from(absence_base) * Decimal::from(100)
                                    / Decimal::from(v as i64 * k),
                            )
                        });
                        (Some(show_volume(absence_base, unit)), pct)
                    }
                    None => (None, None),
                };
                VolumeYearRow {
                    agb: agb.to_string(),
                    zorgkantoor: zk.to_string(),
                    code: code.to_string(),
                    unit: unit_str(unit).into(),
                    agreed: agreed.map(|v| v.to_string()),
                    declared: show_volume(base, unit),
                    absence,
                    absence_percent: percent,
                    pupils: declared.as_ref().map_or(0, |r| r.pupils),
                    lines: declared.as_ref().map_or(0, |r| r.lines),
                    amount_cents: declared.as_ref().map_or(0, |r| r.amount_cents),
                }
            })
            .collect();
        let volumes_by_school_month = store
            .volumes(year, VolumeFilter::Zio, VolumeGrouping::SchoolMonth)?
            .into_iter()
            .map(|r| cell(r, year))
            .collect();
        let regular_in_school_time = store
            .volumes(
                year,
                VolumeFilter::RegularInSchoolTime,
                VolumeGrouping::SchoolMonth,
            )?
            .into_iter()
            .map(|r| cell(r, year))
            .collect();
        Ok(LedgerReport {
            year,
            nacalculatie,
            volumes,
            volumes_by_school_month,
            regular_in_school_time,
        })
    }

    /// The report as one JSON object (`messages.md`, "Ledger report").
    pub fn write_json<W: Write>(&self, mut w: W) -> io::Result<()> {
        serde_json::to_writer(&mut w, self)?;
        w.write_all(b"\n")
    }

    /// One section as CSV: a header line, then one line per row.
    pub fn write_csv<W: Write>(&self, section: ReportSection, mut w: W) -> io::Result<()> {
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        match section {
            ReportSection::Nacalculatie => {
                writeln!(
                    w,
                    "agb,zorgkantoor,herschikking_cents,realisatie_cents,budgetgarantie_cents"
                )?;
                for r in &self.nacalculatie {
                    writeln!(
                        w,
                        "{},{},{},{},{}",
                        r.agb,
                        r.zorgkantoor,
                        r.herschikking_cents,
                        r.realisatie_cents,
                        r.budgetgarantie_cents
                    )?;
                }
            }
            ReportSection::Volumes => {
                writeln!(w, "agb,zorgkantoor,code,unit,agreed,declared,absence,absence_percent,pupils,lines,amount_cents")?;
                for r in &self.volumes {
                    writeln!(
                        w,
                        "{},{},{},{},{},{},{},{},{},{},{}",
                        r.agb,
                        r.zorgkantoor,
                        r.code,
                        r.unit,
                        opt(&r.agreed),
                        r.declared,
                        opt(&r.absence),
                        opt(&r.absence_percent),
                        r.pupils,
                        r.lines,
                        r.amount_cents
                    )?;
                }
            }
            ReportSection::VolumesBySchoolMonth | ReportSection::RegularInSchoolTime => {
                let rows = if section == ReportSection::VolumesBySchoolMonth {
                    &self.volumes_by_school_month
                } else {
                    &self.regular_in_school_time
                };
                writeln!(
                    w,
                    "agb,zorgkantoor,code,unit,brin,month,declared,pupils,lines,amount_cents"
                )?;
                for r in rows {
                    writeln!(
                        w,
                        "{},{},{},{},{},{},{},{},{},{}",
                        r.agb,
                        r.zorgkantoor,
                        r.code,
                        r.unit,
                        opt(&r.brin),
                        r.month,
                        r.declared,
                        r.pupils,
                        r.lines,
                        r.amount_cents
                    )?;
                }
            }
        }
        Ok(())
    }
}
