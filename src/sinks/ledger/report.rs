//! `zio-gateway ledger report --year Y`: the nacalculatie ZiO section (A, B
//! and the budget guarantee, to the cent), agreed versus declared volume
//! and their difference (`verschil`: not absence), and regular codes declared in school time by
//! participants (0505). JSON (the form of `messages.md`, more sections after
//! `nacalculatie`) and CSV (one section per file, the same columns).
//!
//! Every figure is exact: cents and base units (minutes, dagdelen) are
//! integers; hours are shown with two decimals, percentages too.

use super::{
    agreements::effective_agreements, base_to_unit, unit_str, LedgerLine, LedgerStore, Result,
    VolumeFilter, VolumeGrouping, VolumeRow, MINUTES_PER_HOUR,
};
use crate::model::regime::{Regime, Unit};
use crate::model::verdict::Route;
use crate::types::{AgbCode, DebetCredit, ProductCode, ZorgkantoorCode};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
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
    /// Net amount of accepted lines with a regular code (a value of
    /// `[regime.codes]`) of the year: the realisatie beside the ZiO part.
    pub realisatie_regulier_cents: i64,
    /// `realisatie_cents + realisatie_regulier_cents`.
    pub realisatie_totaal_cents: i64,
    /// Distinct BSNs with at least one accepted ZiO line of the year
    /// (credits do not remove a client).
    pub clienten: u64,
    /// `voorlopig` or `definitief`.
    pub herschikking_status: String,
    /// The provider marked this ZiO row agreed (at the current A).
    pub akkoord_aanbieder: bool,
    /// The zorgkantoor marked it agreed.
    pub akkoord_zorgkantoor: bool,
    /// Both sides did.
    pub akkoord: bool,
    /// Agreed versus declared price per ZiO code.
    pub prijzen: Vec<PrijsRow>,
}

/// Agreed versus declared price of one ZiO code of a pair over the year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PrijsRow {
    pub product_code: String,
    /// The agreement's price, when it has one for this code.
    pub afgesproken_cents: Option<i64>,
    /// Volume-weighted mean ProductTarief of the accepted debit lines,
    /// rounded half up; `None` when there are none.
    pub gemiddeld_gedeclareerd_cents: Option<i64>,
    /// The `[[tariffs]]` maximum of the code and year, when configured.
    pub max_cents: Option<i64>,
}

/// The budget guarantee of one provider over all its zorgkantoren.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AanbiederRow {
    pub agb: String,
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
    /// Renamed from `absence`: the gap is not absence (new pupils and extra
    /// school years push declared volume up and hide absence).
    pub verschil: Option<String>,
    /// verschil as a percentage of agreed; `None` without an agreed volume.
    pub verschil_percent: Option<String>,
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
    /// The sum of the rows' `budgetgarantie_cents`.
    pub totaal_budgetgarantie_cents: i64,
    /// Per provider, summed over its zorgkantoren.
    pub per_aanbieder: Vec<AanbiederRow>,
    /// Per pair and ZiO code over the year: agreed, declared, verschil.
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
    /// The `prijzen` of every nacalculatie row, one line per pair and code.
    Prijzen,
    PerAanbieder,
    Volumes,
    VolumesBySchoolMonth,
    RegularInSchoolTime,
}

impl ReportSection {
    pub const ALL: [ReportSection; 6] = [
        ReportSection::Nacalculatie,
        ReportSection::Prijzen,
        ReportSection::PerAanbieder,
        ReportSection::Volumes,
        ReportSection::VolumesBySchoolMonth,
        ReportSection::RegularInSchoolTime,
    ];

    /// The JSON key of the section, also its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ReportSection::Nacalculatie => "nacalculatie",
            ReportSection::Prijzen => "prijzen",
            ReportSection::PerAanbieder => "per_aanbieder",
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

type Pair = (AgbCode, ZorgkantoorCode);

/// What the full nacalculatie takes from the lines of one year.
#[derive(Default)]
struct FullYear {
    /// Net amount of lines with a regular code, per pair.
    regulier: BTreeMap<Pair, i64>,
    /// BSNs with an accepted ZiO line, per pair.
    clients: BTreeMap<Pair, BTreeSet<String>>,
    /// Per pair and ZiO code: sum of tarief x base volume and of base volume
    /// over the accepted debit lines.
    prices: BTreeMap<Pair, BTreeMap<ProductCode, (i128, i128)>>,
}

impl FullYear {
    fn of(lines: &[LedgerLine], regime: &Regime, year: i32) -> Self {
        let regular: BTreeSet<&ProductCode> = regime.codes.values().collect();
        let mut out = FullYear::default();
        for l in lines.iter().filter(|l| l.year == year) {
            let pair = (l.agb.clone(), l.zorgkantoor.clone());
            match l.route {
                Route::Zio => {
                    out.clients
                        .entry(pair.clone())
                        .or_default()
                        .insert(l.bsn.clone());
                    if l.debet_credit == DebetCredit::Debet {
                        let e = out
                            .prices
                            .entry(pair)
                            .or_default()
                            .entry(l.product_code.clone())
                            .or_default();
                        e.0 += l.tarief as i128 * l.base_volume as i128;
                        e.1 += l.base_volume as i128;
                    }
                }
                Route::Regulier if regular.contains(&l.product_code) => {
                    *out.regulier.entry(pair).or_default() += l.bedrag_signed;
                }
                _ => {}
            }
        }
        out
    }
}

/// `weighted / weight` rounded half up; `None` when `weight` is 0.
fn mean_half_up(weighted: i128, weight: i128) -> Option<i64> {
    if weight <= 0 {
        return None;
    }
    Some(((2 * weighted + weight) / (2 * weight)) as i64)
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
        let states = super::herschikking::states(store, Some(year))?;
        let full = FullYear::of(&store.lines_in_years(year, year)?, regime, year);
        let nacalculatie: Vec<NacalculatieRow> = agreements
            .iter()
            .map(|a| {
                let herschikking = a.herschikking_cents as i64;
                let pair = (a.agb.clone(), a.zorgkantoor.clone());
                let b = realisatie.get(&pair).copied().unwrap_or(0);
                let regulier = full.regulier.get(&pair).copied().unwrap_or(0);
                let mut codes: Vec<ProductCode> = a
                    .volumes
                    .keys()
                    .chain(a.prices_cents.keys())
                    .filter(|c| regime.is_zio(c))
                    .cloned()
                    .collect();
                if let Some(declared) = full.prices.get(&pair) {
                    codes.extend(declared.keys().cloned());
                }
                codes.sort();
                codes.dedup();
                let prijzen = codes
                    .into_iter()
                    .map(|c| {
                        let mean = full
                            .prices
                            .get(&pair)
                            .and_then(|m| m.get(&c))
                            .and_then(|&(weighted, weight)| mean_half_up(weighted, weight));
                        PrijsRow {
                            product_code: c.to_string(),
                            afgesproken_cents: a.prices_cents.get(&c).map(|&p| p as i64),
                            gemiddeld_gedeclareerd_cents: mean,
                            max_cents: regime.tariffs.get(&(c.clone(), year)).map(|&m| m as i64),
                        }
                    })
                    .collect();
                let state = states
                    .get(&(a.agb.clone(), a.zorgkantoor.clone(), year))
                    .cloned()
                    .unwrap_or_default();
                let status = if state.definitief() {
                    "definitief"
                } else {
                    "voorlopig"
                }
                .to_owned();
                NacalculatieRow {
                    agb: a.agb.to_string(),
                    zorgkantoor: a.zorgkantoor.to_string(),
                    herschikking_cents: herschikking,
                    realisatie_cents: b,
                    budgetgarantie_cents: (herschikking - b).max(0),
                    realisatie_regulier_cents: regulier,
                    realisatie_totaal_cents: b + regulier,
                    clienten: full.clients.get(&pair).map_or(0, |s| s.len() as u64),
                    herschikking_status: status,
                    akkoord_aanbieder: state.akkoord_aanbieder,
                    akkoord_zorgkantoor: state.akkoord_zorgkantoor,
                    akkoord: state.akkoord(),
                    prijzen,
                }
            })
            .collect();
        let totaal_budgetgarantie_cents = nacalculatie.iter().map(|r| r.budgetgarantie_cents).sum();
        let mut per: BTreeMap<&str, i64> = BTreeMap::new();
        for r in &nacalculatie {
            *per.entry(r.agb.as_str()).or_default() += r.budgetgarantie_cents;
        }
        let per_aanbieder = per
            .into_iter()
            .map(|(agb, b)| AanbiederRow {
                agb: agb.to_owned(),
                budgetgarantie_cents: b,
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
                    verschil: absence,
                    verschil_percent: percent,
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
            totaal_budgetgarantie_cents,
            per_aanbieder,
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
                    "agb,zorgkantoor,herschikking_cents,realisatie_cents,budgetgarantie_cents,\
                     realisatie_regulier_cents,realisatie_totaal_cents,clienten,herschikking_status,\
                     akkoord_aanbieder,akkoord_zorgkantoor,akkoord"
                )?;
                for r in &self.nacalculatie {
                    writeln!(
                        w,
                        "{},{},{},{},{},{},{},{},{},{},{},{}",
                        r.agb,
                        r.zorgkantoor,
                        r.herschikking_cents,
                        r.realisatie_cents,
                        r.budgetgarantie_cents,
                        r.realisatie_regulier_cents,
                        r.realisatie_totaal_cents,
                        r.clienten,
                        r.herschikking_status,
                        r.akkoord_aanbieder,
                        r.akkoord_zorgkantoor,
                        r.akkoord
                    )?;
                }
            }
            ReportSection::Prijzen => {
                let opt = |o: Option<i64>| o.map(|v| v.to_string()).unwrap_or_default();
                writeln!(
                    w,
                    "agb,zorgkantoor,product_code,afgesproken_cents,gemiddeld_gedeclareerd_cents,max_cents"
                )?;
                for r in &self.nacalculatie {
                    for p in &r.prijzen {
                        writeln!(
                            w,
                            "{},{},{},{},{},{}",
                            r.agb,
                            r.zorgkantoor,
                            p.product_code,
                            opt(p.afgesproken_cents),
                            opt(p.gemiddeld_gedeclareerd_cents),
                            opt(p.max_cents)
                        )?;
                    }
                }
            }
            ReportSection::PerAanbieder => {
                writeln!(w, "agb,budgetgarantie_cents")?;
                for r in &self.per_aanbieder {
                    writeln!(w, "{},{}", r.agb, r.budgetgarantie_cents)?;
                }
            }
            ReportSection::Volumes => {
                writeln!(w, "agb,zorgkantoor,code,unit,agreed,declared,verschil,verschil_percent,pupils,lines,amount_cents")?;
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
                        opt(&r.verschil),
                        opt(&r.verschil_percent),
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

/// One (brin, zorgkantoor, agb, code) row of the school-time care report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OnderwijstijdRow {
    /// `None` for a line in school time without a Brin.
    pub brin: Option<String>,
    pub zorgkantoor: String,
    pub agb: String,
    /// The code as forwarded.
    pub product_code: String,
    /// Whether `product_code` is a ZiO code.
    pub zio: bool,
    /// `uur` or `dagdeel`: the unit of `volume`.
    pub eenheid: String,
    /// Net volume (debet minus credit) in `eenheid`: hours as an exact
    /// decimal (minutes / 60, two decimals at most shown), dagdelen whole.
    pub volume: serde_json::Number,
    /// Net amount (debet minus credit).
    pub bedrag_cents: i64,
    /// Distinct BSNs with a debit line in the row.
    pub clienten: u64,
}

/// Care declared in school time in one school year (1 August to 31 July),
/// for every provider, inside and outside the window (`messages.md`,
/// "School-time care report").
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OnderwijstijdReport {
    /// `2023/2024`.
    pub schooljaar: String,
    pub van: String,
    pub tot_en_met: String,
    pub onderwijstijd: Vec<OnderwijstijdRow>,
}

/// An exact volume as a JSON number: whole numbers as integers, else the
/// value rounded to two decimals (half away from zero).
fn volume_number(base: i64, unit: Unit) -> serde_json::Number {
    let d = base_to_unit(base, unit);
    if d.fract().is_zero() {
        return serde_json::Number::from(base / per_unit(unit));
    }
    let text = fixed2(d);
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .unwrap_or_else(|| serde_json::Number::from(0))
}

impl OnderwijstijdReport {
    /// Builds the report of the school year starting on 1 August of `year`.
    pub fn build(store: &dyn LedgerStore, regime: &Regime, year: i32) -> Result<Self> {
        let van = chrono::NaiveDate::from_ymd_opt(year, 8, 1)
            .ok_or_else(|| super::LedgerError::Invalid(format!("school year {year}")))?;
        let tot = chrono::NaiveDate::from_ymd_opt(year + 1, 7, 31)
            .ok_or_else(|| super::LedgerError::Invalid(format!("school year {year}")))?;
        type Key = (Option<String>, String, String, String);
        // unit, base volume, amount, BSNs of debit lines
        let mut rows: BTreeMap<Key, (Unit, i64, i64, BTreeSet<String>)> = BTreeMap::new();
        for l in store.lines_in_years(year, year + 1)? {
            if l.period_from < van || l.period_from > tot {
                continue;
            }
            let counts = l.onderwijstijd == Some(true)
                || regime.is_zio(&l.declared_code)
                || regime.is_zio(&l.product_code);
            if !counts {
                continue;
            }
            let key = (
                l.brin.clone(),
                l.zorgkantoor.to_string(),
                l.agb.to_string(),
                l.product_code.to_string(),
            );
            let e = rows
                .entry(key)
                .or_insert_with(|| (l.unit, 0, 0, BTreeSet::new()));
            e.1 += l.base_volume;
            e.2 += l.bedrag_signed;
            if l.debet_credit == DebetCredit::Debet {
                e.3.insert(l.bsn.clone());
            }
        }
        let onderwijstijd = rows
            .into_iter()
            .map(
                |((brin, zk, agb, code), (unit, base, amount, bsns))| OnderwijstijdRow {
                    zio: ProductCode::parse(&code).is_some_and(|c| regime.is_zio(&c)),
                    brin,
                    zorgkantoor: zk,
                    agb,
                    product_code: code,
                    eenheid: unit_str(unit).into(),
                    volume: volume_number(base, unit),
                    bedrag_cents: amount,
                    clienten: bsns.len() as u64,
                },
            )
            .collect();
        Ok(OnderwijstijdReport {
            schooljaar: format!("{year}/{}", year + 1),
            van: van.to_string(),
            tot_en_met: tot.to_string(),
            onderwijstijd,
        })
    }

    pub fn write_json<W: Write>(&self, mut w: W) -> io::Result<()> {
        serde_json::to_writer(&mut w, self)?;
        w.write_all(b"\n")
    }

    /// The rows as CSV, the JSON keys as columns (an empty `brin` for null).
    pub fn write_csv<W: Write>(&self, mut w: W) -> io::Result<()> {
        writeln!(
            w,
            "brin,zorgkantoor,agb,product_code,zio,eenheid,volume,bedrag_cents,clienten"
        )?;
        for r in &self.onderwijstijd {
            writeln!(
                w,
                "{},{},{},{},{},{},{},{},{}",
                r.brin.as_deref().unwrap_or(""),
                r.zorgkantoor,
                r.agb,
                r.product_code,
                r.zio,
                r.eenheid,
                r.volume,
                r.bedrag_cents,
                r.clienten
            )?;
        }
        Ok(())
    }
}
