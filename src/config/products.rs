//! `[products]`: every product code the gateway knows (else 0301).

use super::ConfigError;
use crate::model::regime::{Product, Unit};
use crate::types::ProductCode;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The products of the experiment: (code, unit, iWlz function, child product).
pub const DEFAULT_PRODUCTS: [(&str, Unit, u8, bool); 10] = [
    ("H300", Unit::Uur, 81, false),
    ("H307", Unit::Uur, 81, false),
    ("H814", Unit::Dagdeel, 82, true),
    ("H834", Unit::Dagdeel, 82, true),
    ("H854", Unit::Dagdeel, 82, true),
    ("H874", Unit::Dagdeel, 82, true),
    ("H308", Unit::Dagdeel, 82, true),
    ("H309", Unit::Dagdeel, 82, true),
    ("H310", Unit::Dagdeel, 82, true),
    ("H311", Unit::Dagdeel, 82, true),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProduct {
    unit: String,
    function: u8,
    #[serde(default)]
    child: bool,
}

/// The table as written; without one, the experiment's products. A written
/// table replaces the defaults whole, so an operator can drop a code.
pub(super) fn build(
    table: Option<BTreeMap<String, RawProduct>>,
) -> Result<BTreeMap<ProductCode, Product>, ConfigError> {
    match table {
        Some(table) => table.into_iter().map(|(k, p)| p.build(&k)).collect(),
        None => Ok(DEFAULT_PRODUCTS
            .iter()
            .map(|&(c, unit, function, child)| {
                (
                    ProductCode::parse(c).expect("valid literal"),
                    Product {
                        unit,
                        function,
                        child,
                    },
                )
            })
            .collect()),
    }
}

impl RawProduct {
    fn build(self, key: &str) -> Result<(ProductCode, Product), ConfigError> {
        let code = ProductCode::parse(key).ok_or_else(|| {
            ConfigError::at(
                "[products]",
                key,
                "not a product code (a capital letter and three digits)",
            )
        })?;
        let unit = match self.unit.as_str() {
            "uur" => Unit::Uur,
            "dagdeel" => Unit::Dagdeel,
            other => {
                return Err(ConfigError::at(
                    "[products]",
                    &format!("{key}.unit"),
                    format!("`{other}` is not \"uur\" or \"dagdeel\""),
                ))
            }
        };
        let product = Product {
            unit,
            function: self.function,
            child: self.child,
        };
        Ok((code, product))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn products(text: &str) -> Result<BTreeMap<ProductCode, Product>, ConfigError> {
        build(Some(toml::from_str(text).unwrap()))
    }

    #[test]
    fn absent_table_means_the_experiment_products() {
        let p = build(None).unwrap();
        assert_eq!(p.len(), 10);
        let h307 = &p[&ProductCode::parse("H307").unwrap()];
        assert_eq!(
            (h307.unit, h307.function, h307.child),
            (Unit::Uur, 81, false)
        );
    }

    #[test]
    fn a_written_table_replaces_the_defaults() {
        let p = products("H300 = { unit = \"uur\", function = 81 }").unwrap();
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn code_and_unit_are_checked() {
        let e = products("h300 = { unit = \"uur\", function = 81 }").unwrap_err();
        assert_eq!(
            e.to_string(),
            "[products] key `h300`: not a product code (a capital letter and three digits)"
        );
        let e = products("H300 = { unit = \"week\", function = 81 }").unwrap_err();
        assert_eq!(
            e.to_string(),
            "[products] key `H300.unit`: `week` is not \"uur\" or \"dagdeel\""
        );
    }
}
