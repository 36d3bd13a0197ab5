//! Absence registration (`docs/absence.md`): volume a provider planned but
//! did not deliver, per client, school, ZiO code and month, planned
//! (`gepland`) or unplanned (`ongepland`). An upload (CSV or JSON) is read
//! whole and every row validated before anything is stored; one bad row
//! refuses the upload with its row number and the reason, and then nothing
//! of it is recorded. The valid upload is stored in one transaction.
//!
//! Volumes are exact: hours with at most two decimals become whole minutes
//! (a value that is not a whole number of minutes is refused rather than
//! rounded), dagdelen are whole. No float is ever involved.

use super::{LedgerStore, Result, MINUTES_PER_HOUR};
use crate::model::regime::{Regime, Unit};
use crate::types::{AgbCode, Brin, Bsn, ProductCode, ZorgkantoorCode};
use chrono::NaiveDate;
use std::collections::HashMap;

/// Planned or unplanned absence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Soort {
    Gepland,
    Ongepland,
}

impl Soort {
    pub fn as_str(self) -> &'static str {
        match self {
            Soort::Gepland => "gepland",
            Soort::Ongepland => "ongepland",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "gepland" => Some(Soort::Gepland),
            "ongepland" => Some(Soort::Ongepland),
            _ => None,
        }
    }
}

/// One registered absence, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbsenceRow {
    pub agb: AgbCode,
    pub zorgkantoor: ZorgkantoorCode,
    pub bsn: String,
    pub brin: String,
    pub product_code: ProductCode,
    pub year: i32,
    /// 1-12.
    pub month: u32,
    pub soort: Soort,
    /// The code's unit: `base_volume` is minutes (uur) or dagdelen.
    pub unit: Unit,
    /// 0 removes the registration of this key.
    pub base_volume: i64,
}

/// A row as it came in, every field still text (the columns of the CSV, the
/// keys of a JSON object).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawRow {
    pub agb: String,
    pub zorgkantoor: String,
    pub bsn: String,
    pub brin: String,
    pub product_code: String,
    pub maand: String,
    pub soort: String,
    pub volume: String,
}

/// Why an upload was refused: the row (1 = the first data row; 0 = the
/// upload as a whole, e.g. its header) and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRow {
    pub rij: usize,
    pub reason: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.rij == 0 {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "row {}: {}", self.rij, self.reason)
        }
    }
}

fn bad(rij: usize, reason: impl Into<String>) -> BadRow {
    BadRow {
        rij,
        reason: reason.into(),
    }
}

/// How an upload is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadFormat {
    Csv,
    Json,
}

/// The header a CSV upload must start with, columns in this order.
pub const CSV_HEADER: &str = "agb,zorgkantoor,bsn,brin,product_code,maand,soort,volume";

const FIELDS: [&str; 8] = [
    "agb",
    "zorgkantoor",
    "bsn",
    "brin",
    "product_code",
    "maand",
    "soort",
    "volume",
];

/// Reads an upload into raw rows; nothing is validated beyond its shape.
pub fn parse_upload(
    bytes: &[u8],
    format: UploadFormat,
) -> std::result::Result<Vec<RawRow>, BadRow> {
    let text = std::str::from_utf8(bytes).map_err(|_| bad(0, "the upload is not UTF-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        UploadFormat::Csv => parse_csv(text),
        UploadFormat::Json => parse_json(text),
    }
}

fn from_fields(f: &[String]) -> RawRow {
    RawRow {
        agb: f[0].clone(),
        zorgkantoor: f[1].clone(),
        bsn: f[2].clone(),
        brin: f[3].clone(),
        product_code: f[4].clone(),
        maand: f[5].clone(),
        soort: f[6].clone(),
        volume: f[7].clone(),
    }
}

fn parse_csv(text: &str) -> std::result::Result<Vec<RawRow>, BadRow> {
    // Blank lines are not rows: row numbers count the data rows only.
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let header = lines
        .next()
        .ok_or_else(|| bad(0, "empty upload: no header"))?;
    let names: Vec<String> = split(header);
    if names != FIELDS {
        return Err(bad(0, format!("the header must be `{CSV_HEADER}`")));
    }
    lines
        .enumerate()
        .map(|(i, l)| {
            let f = split(l);
            if f.len() != FIELDS.len() {
                return Err(bad(
                    i + 1,
                    format!("{} columns, expected {}", f.len(), FIELDS.len()),
                ));
            }
            Ok(from_fields(&f))
        })
        .collect()
}

/// One CSV line's fields; a field may be wrapped in double quotes (none of
/// the values can contain a comma).
fn split(line: &str) -> Vec<String> {
    line.split(',')
        .map(|f| f.trim().trim_matches('"').trim().to_owned())
        .collect()
}

fn parse_json(text: &str) -> std::result::Result<Vec<RawRow>, BadRow> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(0, format!("the upload is not JSON: {e}")))?;
    let items = v
        .as_array()
        .ok_or_else(|| bad(0, "the upload must be a JSON array of objects"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let rij = i + 1;
            let obj = item
                .as_object()
                .ok_or_else(|| bad(rij, "not a JSON object"))?;
            if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
                return Err(bad(rij, format!("unknown field `{k}`")));
            }
            let mut f = Vec::with_capacity(FIELDS.len());
            for name in FIELDS {
                // Strings only: a JSON number would be a float, and volumes
                // are exact.
                let s = match obj.get(name) {
                    None => return Err(bad(rij, format!("field `{name}` is missing"))),
                    Some(serde_json::Value::String(s)) => s.trim().to_owned(),
                    Some(_) => return Err(bad(rij, format!("field `{name}` must be a string"))),
                };
                f.push(s);
            }
            Ok(from_fields(&f))
        })
        .collect()
}

/// `YYYY-MM` as (year, month).
fn parse_maand(s: &str) -> Option<(i32, u32)> {
    let (y, m) = s.split_once('-')?;
    if y.len() != 4 || m.len() != 2 || !y.bytes().chain(m.bytes()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (y, m) = (y.parse().ok()?, m.parse().ok()?);
    (1..=12).contains(&m).then_some((y, m))
}

/// First and last day of a month.
fn month_days(year: i32, month: u32) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    Some((first, next.pred_opt()?))
}

/// A volume in base units: hours `H[.hh]` as whole minutes, dagdelen whole.
fn parse_volume(s: &str, unit: Unit) -> std::result::Result<i64, String> {
    // Six integer digits are far beyond any month and keep i64 exact.
    let digits = |d: &str| !d.is_empty() && d.len() <= 6 && d.bytes().all(|c| c.is_ascii_digit());
    match unit {
        Unit::Dagdeel => {
            if !digits(s) {
                return Err(format!("volume `{s}` is not a whole number of dagdelen"));
            }
            Ok(s.parse::<i64>().unwrap_or(0))
        }
        Unit::Uur => {
            let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
            if !digits(int)
                || !(1..=2).contains(&frac.len())
                || !frac.bytes().all(|c| c.is_ascii_digit())
            {
                return Err(format!(
                    "volume `{s}` is not hours with at most two decimals"
                ));
            }
            let hundredths = int.parse::<i64>().unwrap_or(0) * 100
                + format!("{frac:0<2}").parse::<i64>().unwrap_or(0);
            let minutes_x100 = hundredths * MINUTES_PER_HOUR;
            if minutes_x100 % 100 != 0 {
                return Err(format!(
                    "volume `{s}` hours is not a whole number of minutes"
                ));
            }
            Ok(minutes_x100 / 100)
        }
    }
}

/// Validates one row against the regime (`docs/absence.md`, "Rules").
fn validate_row(
    rij: usize,
    r: &RawRow,
    regime: &Regime,
) -> std::result::Result<AbsenceRow, BadRow> {
    let e = |m: String| bad(rij, m);
    let agb = AgbCode::parse(&r.agb)
        .ok_or_else(|| e(format!("agb `{}` is not an 8-digit AGB code", r.agb)))?;
    let zk = ZorgkantoorCode::parse(&r.zorgkantoor).ok_or_else(|| {
        e(format!(
            "zorgkantoor `{}` is not a 4-digit zorgkantoor code",
            r.zorgkantoor
        ))
    })?;
    let bsn = Bsn::parse(&r.bsn)
        .filter(Bsn::passes_elfproef)
        .ok_or_else(|| e(format!("bsn `{}` fails the elfproef", r.bsn)))?;
    let brin = Brin::parse(&r.brin).ok_or_else(|| {
        e(format!(
            "brin `{}` is not two digits and two capitals",
            r.brin
        ))
    })?;
    let code = ProductCode::parse(&r.product_code)
        .filter(|c| regime.is_zio(c))
        .ok_or_else(|| {
            e(format!(
                "product_code `{}` is not a ZiO code",
                r.product_code
            ))
        })?;
    let unit = regime
        .product(&code)
        .map(|p| p.unit)
        .ok_or_else(|| e(format!("product_code `{code}` is not a known product")))?;
    let (year, month) =
        parse_maand(&r.maand).ok_or_else(|| e(format!("maand `{}` is not YYYY-MM", r.maand)))?;
    let (first, last) =
        month_days(year, month).ok_or_else(|| e(format!("maand `{}` is not YYYY-MM", r.maand)))?;
    // A month counts when one of its days lies inside: the window and a
    // participation may start or end mid-month.
    if last < regime.window.from || first > regime.window.to {
        return Err(e(format!(
            "maand {} is outside the window ({} to {})",
            r.maand, regime.window.from, regime.window.to
        )));
    }
    let participant = regime.participants.iter().any(|p| {
        p.agb == agb && p.zorgkantoor == zk && p.period.from <= last && p.period.to >= first
    });
    if !participant {
        return Err(e(format!(
            "{agb} with zorgkantoor {zk} is not a participant in {}",
            r.maand
        )));
    }
    let soort = Soort::parse(&r.soort)
        .ok_or_else(|| e(format!("soort `{}` is not gepland or ongepland", r.soort)))?;
    let base_volume = parse_volume(&r.volume, unit).map_err(e)?;
    Ok(AbsenceRow {
        agb,
        zorgkantoor: zk,
        bsn: bsn.as_str().to_owned(),
        brin: brin.as_str().to_owned(),
        product_code: code,
        year,
        month,
        soort,
        unit,
        base_volume,
    })
}

type Key = (
    AgbCode,
    ZorgkantoorCode,
    String,
    String,
    ProductCode,
    i32,
    u32,
    Soort,
);

/// Validates every row; the first bad one refuses the whole upload. A key
/// twice in one upload is refused too (which of the two would count?).
pub fn validate(rows: &[RawRow], regime: &Regime) -> std::result::Result<Vec<AbsenceRow>, BadRow> {
    let mut seen: HashMap<Key, usize> = HashMap::with_capacity(rows.len());
    let mut out = Vec::with_capacity(rows.len());
    for (i, raw) in rows.iter().enumerate() {
        let rij = i + 1;
        let r = validate_row(rij, raw, regime)?;
        let key = (
            r.agb.clone(),
            r.zorgkantoor.clone(),
            r.bsn.clone(),
            r.brin.clone(),
            r.product_code.clone(),
            r.year,
            r.month,
            r.soort,
        );
        if let Some(first) = seen.insert(key, rij) {
            return Err(bad(rij, format!("the same key as row {first}")));
        }
        out.push(r);
    }
    Ok(out)
}

/// What an upload did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Registered {
    /// Rows in the upload (all valid).
    pub rijen: u64,
    /// Stored rows that were added, replaced with another volume, or
    /// removed (volume 0): 0 when the same upload comes again.
    pub gewijzigd: u64,
}

/// Parses, validates and stores an upload: all of it in one transaction,
/// or nothing. `Ok(Err(bad))` is a refused upload; `Err` a store failure.
pub fn register(
    store: &dyn LedgerStore,
    regime: &Regime,
    bytes: &[u8],
    format: UploadFormat,
    actor: &str,
    at_ms: i64,
) -> Result<std::result::Result<Registered, BadRow>> {
    let rows = match parse_upload(bytes, format).and_then(|raw| validate(&raw, regime)) {
        Ok(rows) => rows,
        Err(b) => return Ok(Err(b)),
    };
    store_rows(store, &rows, actor, at_ms).map(Ok)
}

/// Stores validated rows in one transaction.
pub fn store_rows(
    store: &dyn LedgerStore,
    rows: &[AbsenceRow],
    actor: &str,
    at_ms: i64,
) -> Result<Registered> {
    let changed = store.put_absence(rows, actor, at_ms)?;
    Ok(Registered {
        rijen: rows.len() as u64,
        gewijzigd: changed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_are_exact_minutes() {
        assert_eq!(parse_volume("4", Unit::Uur), Ok(240));
        assert_eq!(parse_volume("2.5", Unit::Uur), Ok(150));
        assert_eq!(parse_volume("0.75", Unit::Uur), Ok(45));
        assert_eq!(parse_volume("0.05", Unit::Uur), Ok(3));
        assert_eq!(parse_volume("0", Unit::Uur), Ok(0));
        // 1.01 h is 60.6 minutes: refused, never rounded.
        assert!(parse_volume("1.01", Unit::Uur).is_err());
        for s in ["", "-1", "1.", "1.234", "1e2", "1,5", " 1", "1234567"] {
            assert!(parse_volume(s, Unit::Uur).is_err(), "{s:?}");
        }
        assert_eq!(parse_volume("3", Unit::Dagdeel), Ok(3));
        assert!(parse_volume("2.5", Unit::Dagdeel).is_err());
    }

    #[test]
    fn months() {
        assert_eq!(parse_maand("2024-03"), Some((2024, 3)));
        for s in [
            "2024-13",
            "2024-00",
            "2024-3",
            "24-03",
            "2024/03",
            "2024-03-01",
        ] {
            assert_eq!(parse_maand(s), None, "{s}");
        }
        let (f, l) = month_days(2024, 2).unwrap();
        assert_eq!(
            (f.to_string(), l.to_string()),
            ("2024-02-01".into(), "2024-02-29".into())
        );
        let (_, l) = month_days(2024, 12).unwrap();
        assert_eq!(l.to_string(), "2024-12-31");
    }

    #[test]
    fn csv_and_json_read_the_same_rows() {
        let csv =
            format!("{CSV_HEADER}\n\n11110001,5509,123456782,12AB,H307,2024-03,gepland,4\r\n");
        let json = r#"[{"agb": "11110001", "zorgkantoor": "5509", "bsn": "123456782",
            "brin": "12AB", "product_code": "H307", "maand": "2024-03", "soort": "gepland",
            "volume": "4"}]"#;
        let a = parse_upload(csv.as_bytes(), UploadFormat::Csv).unwrap();
        let b = parse_upload(json.as_bytes(), UploadFormat::Json).unwrap();
        assert_eq!(a, b);
        assert_eq!(a[0].volume, "4");
        let e = parse_upload(b"agb,bsn\n", UploadFormat::Csv).unwrap_err();
        assert_eq!(e.rij, 0);
        let e = parse_upload(br#"[{"agb": 1}]"#, UploadFormat::Json).unwrap_err();
        assert_eq!(e.rij, 1);
        assert!(e.reason.contains("string"), "{e}");
    }
}
