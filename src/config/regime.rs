//! `[regime]` and `[regime.codes]`: the ZiO regime. Every key defaults to the
//! NZa 2022-2025 experiment, so a gateway for that experiment writes none.

use super::{date, ConfigError};
use crate::model::regime::{OutOfWindow, Product, Regime};
use crate::types::{Period, ProductCode};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// The NZa experiment's mapping: ZiO code -> the regular code it stands for.
pub const DEFAULT_CODES: [(&str, &str); 5] = [
    ("H307", "H300"),
    ("H308", "H814"),
    ("H309", "H834"),
    ("H310", "H854"),
    ("H311", "H874"),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRegime {
    #[serde(default = "default_name")]
    name: String,
    #[serde(default = "default_window_from")]
    window_from: String,
    #[serde(default = "default_window_to")]
    window_to: String,
    #[serde(default = "default_out_of_window")]
    out_of_window: String,
    /// As written: a participant's fault quotes them back to the operator.
    #[serde(default = "default_start_days")]
    pub(super) start_days: Vec<String>,
    #[serde(default = "default_last_start")]
    last_start: String,
    codes: Option<BTreeMap<String, String>>,
}

fn default_name() -> String {
    "Experiment Wlz-zorg in onderwijstijd".into()
}
fn default_window_from() -> String {
    "2022-07-25".into()
}
fn default_window_to() -> String {
    "2025-08-31".into()
}
fn default_out_of_window() -> String {
    "reject".into()
}
fn default_start_days() -> Vec<String> {
    vec!["09-01".into(), "01-01".into()]
}
fn default_last_start() -> String {
    "2024-09-01".into()
}

impl Default for RawRegime {
    fn default() -> Self {
        Self {
            name: default_name(),
            window_from: default_window_from(),
            window_to: default_window_to(),
            out_of_window: default_out_of_window(),
            start_days: default_start_days(),
            last_start: default_last_start(),
            codes: None,
        }
    }
}

impl RawRegime {
    /// The regime over `products`, its participants, agreements and tariffs
    /// still empty: those tables are checked against this result.
    pub(super) fn build(
        &self,
        products: BTreeMap<ProductCode, Product>,
    ) -> Result<Regime, ConfigError> {
        let window = Period::new(
            date("[regime]", "window_from", &self.window_from)?,
            date("[regime]", "window_to", &self.window_to)?,
        );
        if window.to < window.from {
            return Err(ConfigError::at(
                "[regime]",
                "window_to",
                "lies before `window_from`",
            ));
        }
        let out_of_window = match self.out_of_window.as_str() {
            "reject" => OutOfWindow::Reject,
            "remap" => OutOfWindow::Remap,
            other => {
                return Err(ConfigError::at(
                    "[regime]",
                    "out_of_window",
                    format!("`{other}` is not \"reject\" or \"remap\""),
                ))
            }
        };
        let start_days = self
            .start_days
            .iter()
            .map(|s| {
                parse_month_day(s).ok_or_else(|| {
                    ConfigError::at(
                        "[regime]",
                        "start_days",
                        format!("`{s}` is not a month-day MM-DD"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let last_start = date("[regime]", "last_start", &self.last_start)?;
        let codes = codes(self.codes.as_ref(), &products)?;
        Ok(Regime {
            name: self.name.clone(),
            window,
            out_of_window,
            start_days,
            last_start,
            codes,
            products,
            participants: Vec::new(),
            agreements: Vec::new(),
            tariffs: HashMap::new(),
        })
    }
}

/// `[regime.codes]` as written, else the experiment's; both ends of every
/// pair must be products, or a ZiO line could be remapped to nothing.
fn codes(
    written: Option<&BTreeMap<String, String>>,
    products: &BTreeMap<ProductCode, Product>,
) -> Result<BTreeMap<ProductCode, ProductCode>, ConfigError> {
    let pairs: Vec<(String, String)> = match written {
        Some(c) => c.iter().map(|(a, b)| (a.clone(), b.clone())).collect(),
        None => DEFAULT_CODES
            .iter()
            .map(|&(a, b)| (a.to_owned(), b.to_owned()))
            .collect(),
    };
    let known = |c: &str| ProductCode::parse(c).filter(|c| products.contains_key(c));
    let mut codes = BTreeMap::new();
    for (zio, regular) in pairs {
        let z = known(&zio).ok_or_else(|| {
            ConfigError::at("[regime.codes]", &zio, "not a product in [products]")
        })?;
        let reg = known(&regular).ok_or_else(|| {
            ConfigError::at(
                "[regime.codes]",
                &zio,
                format!("maps to `{regular}`, which is not a product in [products]"),
            )
        })?;
        codes.insert(z, reg);
    }
    Ok(codes)
}

fn parse_month_day(s: &str) -> Option<(u32, u32)> {
    let (m, d) = s.split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    // 2024 is a leap year, so 02-29 is accepted as a month-day.
    chrono::NaiveDate::from_ymd_opt(2024, m, d).map(|_| (m, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regime(text: &str) -> Result<Regime, ConfigError> {
        let products = super::super::products::build(None).unwrap();
        toml::from_str::<RawRegime>(text).unwrap().build(products)
    }

    #[test]
    fn the_defaults_are_the_experiment() {
        let r = regime("").unwrap();
        assert_eq!(r.window.from.to_string(), "2022-07-25");
        assert_eq!(r.start_days, [(9, 1), (1, 1)]);
        assert_eq!(r.codes.len(), 5);
        assert_eq!(r.out_of_window, OutOfWindow::Reject);
    }

    #[test]
    fn zio_code_must_map_to_a_known_product() {
        let e = regime("[codes]\nH307 = \"H999\"\n").unwrap_err();
        assert!(e.to_string().contains("[regime.codes] key `H307`"), "{e}");
        let e = regime("[codes]\nH399 = \"H300\"\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "[regime.codes] key `H399`: not a product in [products]"
        );
    }

    #[test]
    fn window_and_days_are_checked() {
        let e = regime("window_from = \"2025-01-01\"\nwindow_to = \"2024-01-01\"").unwrap_err();
        assert_eq!(
            e.to_string(),
            "[regime] key `window_to`: lies before `window_from`"
        );
        let e = regime("last_start = \"1-9-2024\"").unwrap_err();
        assert_eq!(
            e.to_string(),
            "[regime] key `last_start`: `1-9-2024` is not a date YYYY-MM-DD"
        );
        let e = regime("out_of_window = \"drop\"").unwrap_err();
        assert!(
            e.to_string().starts_with("[regime] key `out_of_window`"),
            "{e}"
        );
        assert!(regime("start_days = [\"02-29\"]").is_ok());
        let e = regime("start_days = [\"02-30\"]").unwrap_err();
        assert_eq!(
            e.to_string(),
            "[regime] key `start_days`: `02-30` is not a month-day MM-DD"
        );
    }
}
