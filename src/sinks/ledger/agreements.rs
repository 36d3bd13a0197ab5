//! Agreements per participant and year: agreed volume and price per code and
//! the herschikking amount A. They come from the configuration
//! (`[[agreements]]` in gateway.toml) and from an import (a CSV or TOML file
//! stored in the ledger).
//!
//! Precedence: an imported agreement replaces the configured one for the same
//! (agb, zorgkantoor, year) as a whole (A, volumes and prices together);
//! configured agreements without an imported one stay in effect. A later
//! import for the same key replaces the earlier one.

use super::{LedgerError, LedgerStore, Result};
use crate::model::regime::{Agreement, Regime};
use crate::types::{AgbCode, ProductCode, ZorgkantoorCode};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The agreements in effect: the configuration's, each replaced by an
/// imported one for the same (agb, zorgkantoor, year); sorted by key.
pub fn effective_agreements(
    configured: &[Agreement],
    store: &dyn LedgerStore,
    year: Option<i32>,
) -> Result<Vec<Agreement>> {
    let mut by_key: BTreeMap<(AgbCode, ZorgkantoorCode, i32), Agreement> = configured
        .iter()
        .filter(|a| year.is_none_or(|y| a.year == y))
        .map(|a| ((a.agb.clone(), a.zorgkantoor.clone(), a.year), a.clone()))
        .collect();
    for a in store.stored_agreements(year)? {
        by_key.insert((a.agb.clone(), a.zorgkantoor.clone(), a.year), a);
    }
    Ok(by_key.into_values().collect())
}

/// Puts the agreements in effect into `regime`, so 0506 and 0507 see the
/// imported ones too. Call once after loading the configuration and opening
/// the ledger, before checking.
pub fn apply_stored_agreements(regime: &mut Regime, store: &dyn LedgerStore) -> Result<()> {
    regime.agreements = effective_agreements(&regime.agreements, store, None)?;
    Ok(())
}

/// Parses and validates an agreements file. CSV (by extension `.csv`):
///
/// ```text
/// agb,zorgkantoor,year,herschikking_cents,code,volume,price_cents
/// 11110001,5509,2024,9180000,H307,1200,7650
/// 11110001,5509,2024,9180000,H308,150,6120
/// ```
///
/// one row per code (an empty `code` for an agreement without codes; rows of
/// one agreement repeat the same `herschikking_cents`; `volume` or
/// `price_cents` may be empty). Anything else is TOML with the configuration's
/// `[[agreements]]` tables. The pair must be a participant of `regime` and
/// every code one of its products, as in the configuration.
pub fn parse_agreements_file(path: &Path, regime: &Regime) -> Result<Vec<Agreement>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LedgerError::Invalid(format!("{}: cannot read: {e}", path.display())))?;
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let parsed = if is_csv {
        parse_csv(&text, regime)
    } else {
        parse_toml(&text, regime)
    };
    parsed.map_err(|m| LedgerError::Invalid(format!("{}: {m}", path.display())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    agreements: Vec<crate::config::RawAgreement>,
}

fn parse_toml(text: &str, regime: &Regime) -> std::result::Result<Vec<Agreement>, String> {
    let raw: RawFile = toml::from_str(text).map_err(|e| e.to_string())?;
    crate::config::agreements_from_raw(&raw.agreements, &regime.products, &regime.participants)
        .map_err(|e| e.to_string())
}

fn pair(
    t: &str,
    kw: &str,
    agb: &str,
    zk: &str,
    regime: &Regime,
) -> std::result::Result<(AgbCode, ZorgkantoorCode), String> {
    let a = AgbCode::parse(agb)
        .ok_or_else(|| format!("{t} {kw} `agb`: `{agb}` is not an 8-digit AGB code"))?;
    let z = ZorgkantoorCode::parse(zk).ok_or_else(|| {
        format!("{t} {kw} `zorgkantoor`: `{zk}` is not a 4-digit zorgkantoor code")
    })?;
    if !regime
        .participants
        .iter()
        .any(|p| p.agb == a && p.zorgkantoor == z)
    {
        return Err(format!(
            "{t} {kw} `agb`: {a} with zorgkantoor {z} is not a participant"
        ));
    }
    Ok((a, z))
}

fn product(
    t: &str,
    key: &str,
    code: &str,
    regime: &Regime,
) -> std::result::Result<ProductCode, String> {
    ProductCode::parse(code)
        .filter(|c| regime.products.contains_key(c))
        .ok_or_else(|| format!("{t} key `{key}`: `{code}` is not a known product"))
}

const CSV_COLUMNS: [&str; 7] = [
    "agb",
    "zorgkantoor",
    "year",
    "herschikking_cents",
    "code",
    "volume",
    "price_cents",
];

fn parse_csv(text: &str, regime: &Regime) -> std::result::Result<Vec<Agreement>, String> {
    let mut rows = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let (_, header) = rows.next().ok_or("empty file: no header line")?;
    let names: Vec<String> = split_csv(header);
    let mut col = HashMap::new();
    for (i, n) in names.iter().enumerate() {
        if !CSV_COLUMNS.contains(&n.as_str()) {
            return Err(format!(
                "line 1: unknown column `{n}` (known: {})",
                CSV_COLUMNS.join(", ")
            ));
        }
        col.insert(n.clone(), i);
    }
    for required in ["agb", "zorgkantoor", "year", "herschikking_cents"] {
        if !col.contains_key(required) {
            return Err(format!("line 1: column `{required}` is missing"));
        }
    }
    let mut out: Vec<Agreement> = Vec::new();
    let mut index: HashMap<(AgbCode, ZorgkantoorCode, i32), usize> = HashMap::new();
    for (n, line) in rows {
        let t = format!("line {n}");
        let fields = split_csv(line);
        let get = |name: &str| -> &str {
            col.get(name)
                .and_then(|&i| fields.get(i))
                .map_or("", |s| s.as_str())
        };
        let num = |name: &str| -> std::result::Result<Option<u64>, String> {
            let v = get(name);
            if v.is_empty() {
                return Ok(None);
            }
            v.parse::<u64>()
                .map(Some)
                .map_err(|_| format!("{t} column `{name}`: `{v}` is not a whole number"))
        };
        let (agb, zk) = pair(&t, "column", get("agb"), get("zorgkantoor"), regime)?;
        let year: i32 = get("year")
            .parse()
            .map_err(|_| format!("{t} column `year`: `{}` is not a year", get("year")))?;
        let a_cents = num("herschikking_cents")?
            .ok_or_else(|| format!("{t} column `herschikking_cents`: empty"))?;
        let key = (agb.clone(), zk.clone(), year);
        let i = match index.get(&key) {
            Some(&i) => {
                if out[i].herschikking_cents != a_cents {
                    return Err(format!(
                        "{t} column `herschikking_cents`: {a_cents} differs from {} on an earlier \
                         row of {agb}/{zk} {year}",
                        out[i].herschikking_cents
                    ));
                }
                i
            }
            None => {
                out.push(Agreement {
                    agb,
                    zorgkantoor: zk,
                    year,
                    herschikking_cents: a_cents,
                    volumes: BTreeMap::new(),
                    prices_cents: BTreeMap::new(),
                });
                index.insert(key, out.len() - 1);
                out.len() - 1
            }
        };
        let code = get("code");
        if code.is_empty() {
            continue;
        }
        let c = product(&t, "column `code`", code, regime)?;
        if out[i].volumes.contains_key(&c) || out[i].prices_cents.contains_key(&c) {
            return Err(format!(
                "{t} column `code`: {c} appears twice in one agreement"
            ));
        }
        if let Some(v) = num("volume")? {
            out[i].volumes.insert(c.clone(), v);
        }
        if let Some(p) = num("price_cents")? {
            out[i].prices_cents.insert(c, p);
        }
    }
    Ok(out)
}

/// Splits one CSV line on commas; fields may be wrapped in double quotes.
fn split_csv(line: &str) -> Vec<String> {
    line.split(',')
        .map(|f| f.trim().trim_matches('"').trim().to_owned())
        .collect()
}
