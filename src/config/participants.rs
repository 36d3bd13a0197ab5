//! `[[participants]]`, `[[agreements]]` and `[[tariffs]]`: what was agreed,
//! with whom. Each is checked against the regime already built, so the rules
//! of the regime (start days, window, known products) hold for every entry.

use super::{agb, date, zk, ConfigError};
use crate::model::regime::{Agreement, Participant, Product, Regime};
use crate::types::{Cents, Datum, Period, ProductCode};
use chrono::Datelike;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParticipant {
    agb: String,
    zorgkantoor: String,
    from: String,
    to: String,
}

/// One `[[agreements]]` table as written (also the shape `ledger import`
/// takes in TOML).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAgreement {
    agb: String,
    zorgkantoor: String,
    year: i32,
    herschikking_cents: Cents,
    #[serde(default)]
    volumes: BTreeMap<String, u64>,
    #[serde(default)]
    prices_cents: BTreeMap<String, Cents>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTariff {
    code: String,
    year: i32,
    max_cents: Cents,
}

/// The first day of participation the experiment allows: nobody started
/// before 1 September 2022.
pub const FIRST_START: Datum = match Datum::from_ymd_opt(2022, 9, 1) {
    Some(d) => d,
    None => panic!("2022-09-01"),
};

/// The number of providers the experiment admits; more is not refused (an
/// operator may know better) but warned about at start-up.
pub const MAX_PARTICIPANTS: usize = 20;

/// Start-up warnings about the participants: more distinct providers (AGB)
/// than the experiment admits.
pub fn participant_warnings(participants: &[Participant]) -> Vec<String> {
    let providers: std::collections::BTreeSet<_> = participants.iter().map(|p| &p.agb).collect();
    if providers.len() > MAX_PARTICIPANTS {
        vec![format!(
            "[[participants]]: {} providers, more than the {MAX_PARTICIPANTS} the experiment admits",
            providers.len()
        )]
    } else {
        Vec::new()
    }
}

/// `start_days` as the operator wrote them, to quote in a fault.
pub(super) fn participants(
    raw: &[RawParticipant],
    regime: &Regime,
    start_days: &[String],
) -> Result<Vec<Participant>, ConfigError> {
    raw.iter()
        .enumerate()
        .map(|(i, p)| p.build(&format!("[[participants]] #{}", i + 1), regime, start_days))
        .collect()
}

impl RawParticipant {
    fn build(
        &self,
        t: &str,
        regime: &Regime,
        start_days: &[String],
    ) -> Result<Participant, ConfigError> {
        let from = date(t, "from", &self.from)?;
        let to = date(t, "to", &self.to)?;
        if !regime.start_days.contains(&(from.month(), from.day())) {
            return Err(ConfigError::at(
                t,
                "from",
                format!(
                    "{from} is not a start day of the regime ({})",
                    start_days.join(", ")
                ),
            ));
        }
        if from < FIRST_START {
            return Err(ConfigError::at(
                t,
                "from",
                format!(
                    "{from} is before {FIRST_START}, the first day a provider could take part \
                     (beleidsregel, article 4)"
                ),
            ));
        }
        if from > regime.last_start {
            return Err(ConfigError::at(
                t,
                "from",
                format!(
                    "{from} is after the regime's last start {}",
                    regime.last_start
                ),
            ));
        }
        if to > regime.window.to {
            return Err(ConfigError::at(
                t,
                "to",
                format!("{to} is after the regime's window_to {}", regime.window.to),
            ));
        }
        if to < from {
            return Err(ConfigError::at(
                t,
                "to",
                format!("{to} is before `from` {from}"),
            ));
        }
        Ok(Participant {
            agb: agb(t, &self.agb)?,
            zorgkantoor: zk(t, "zorgkantoor", &self.zorgkantoor)?,
            period: Period::new(from, to),
        })
    }
}

/// Typed, validated agreements: each pair a participant, each code a known
/// product, one agreement per pair and year. Errors name the table and key.
pub(crate) fn agreements_from_raw(
    raw: &[RawAgreement],
    products: &BTreeMap<ProductCode, Product>,
    participants: &[Participant],
) -> Result<Vec<Agreement>, ConfigError> {
    let mut agreements: Vec<Agreement> = Vec::new();
    for (i, a) in raw.iter().enumerate() {
        let t = format!("[[agreements]] #{}", i + 1);
        let new = a.build(&t, products, participants)?;
        if agreements
            .iter()
            .any(|x| x.agb == new.agb && x.zorgkantoor == new.zorgkantoor && x.year == new.year)
        {
            return Err(ConfigError::at(
                &t,
                "year",
                format!(
                    "a second agreement for {}/{} in {}",
                    new.agb, new.zorgkantoor, new.year
                ),
            ));
        }
        agreements.push(new);
    }
    Ok(agreements)
}

impl RawAgreement {
    fn build(
        &self,
        t: &str,
        products: &BTreeMap<ProductCode, Product>,
        participants: &[Participant],
    ) -> Result<Agreement, ConfigError> {
        let agb = agb(t, &self.agb)?;
        let zorgkantoor = zk(t, "zorgkantoor", &self.zorgkantoor)?;
        if !participants
            .iter()
            .any(|p| p.agb == agb && p.zorgkantoor == zorgkantoor)
        {
            return Err(ConfigError::at(
                t,
                "agb",
                format!("{agb} with zorgkantoor {zorgkantoor} is not a participant"),
            ));
        }
        Ok(Agreement {
            volumes: known_codes(t, "volumes", &self.volumes, products)?,
            prices_cents: known_codes(t, "prices_cents", &self.prices_cents, products)?,
            agb,
            zorgkantoor,
            year: self.year,
            herschikking_cents: self.herschikking_cents,
        })
    }
}

/// A per-code table (`volumes`, `prices_cents`) whose every code is a product.
fn known_codes(
    t: &str,
    key: &str,
    written: &BTreeMap<String, u64>,
    products: &BTreeMap<ProductCode, Product>,
) -> Result<BTreeMap<ProductCode, u64>, ConfigError> {
    written
        .iter()
        .map(|(k, v)| {
            ProductCode::parse(k)
                .filter(|c| products.contains_key(c))
                .map(|c| (c, *v))
                .ok_or_else(|| {
                    ConfigError::at(t, &format!("{key}.{k}"), "not a product in [products]")
                })
        })
        .collect()
}

/// Maximum tariff per (code, year); a code/year without one is not checked.
pub(super) fn tariffs(
    raw: &[RawTariff],
    products: &BTreeMap<ProductCode, Product>,
) -> Result<HashMap<(ProductCode, i32), Cents>, ConfigError> {
    let mut tariffs = HashMap::new();
    for (i, t) in raw.iter().enumerate() {
        let table = format!("[[tariffs]] #{}", i + 1);
        let code = ProductCode::parse(&t.code)
            .filter(|c| products.contains_key(c))
            .ok_or_else(|| {
                ConfigError::at(
                    &table,
                    "code",
                    format!("`{}` is not a product in [products]", t.code),
                )
            })?;
        if tariffs.insert((code, t.year), t.max_cents).is_some() {
            return Err(ConfigError::at(
                &table,
                "year",
                format!("a second maximum for {} in {}", t.code, t.year),
            ));
        }
    }
    Ok(tariffs)
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test/gateway.toml"))
    }

    const MINIMAL: &str = "[gateway]\nzorgkantoren = [\"5509\"]\n";

    fn with_participant(from: &str, to: &str) -> String {
        format!("{MINIMAL}[[participants]]\nagb = \"12345678\"\nzorgkantoor = \"5509\"\nfrom = \"{from}\"\nto = \"{to}\"\n")
    }

    #[test]
    fn participant_rules_are_enforced() {
        assert!(parse(&with_participant("2023-01-01", "2025-08-31")).is_ok());
        assert!(parse(&with_participant("2024-09-01", "2025-08-31")).is_ok());
        let e = parse(&with_participant("2023-02-01", "2025-08-31")).unwrap_err();
        assert!(
            e.to_string().contains("[[participants]] #1 key `from`"),
            "{e}"
        );
        assert!(
            e.to_string()
                .ends_with("2023-02-01 is not a start day of the regime (09-01, 01-01)"),
            "{e}"
        );
        // 2022-09-01 is the first possible start; 2022-01-01 is a start day
        // inside no experiment.
        assert!(parse(&with_participant("2022-09-01", "2025-08-31")).is_ok());
        let e = parse(&with_participant("2022-01-01", "2025-08-31")).unwrap_err();
        assert!(e.to_string().contains("before 2022-09-01"), "{e}");
        let e = parse(&with_participant("2025-01-01", "2025-08-31")).unwrap_err();
        assert!(e.to_string().contains("last start"), "{e}");
        let e = parse(&with_participant("2023-01-01", "2025-09-01")).unwrap_err();
        assert!(e.to_string().contains("key `to`"), "{e}");
        let e = parse(&with_participant("2024-01-01", "2023-12-31")).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("2023-12-31 is before `from` 2024-01-01"),
            "{e}"
        );
    }

    #[test]
    fn more_than_twenty_providers_is_a_warning() {
        let mut text = MINIMAL.to_owned();
        for i in 0..21 {
            text.push_str(&format!(
                "[[participants]]\nagb = \"{:08}\"\nzorgkantoor = \"5509\"\nfrom = \"2023-01-01\"\nto = \"2025-08-31\"\n",
                12345600 + i
            ));
        }
        let c = parse(&text).unwrap();
        assert_eq!(c.warnings().len(), 1, "{:?}", c.warnings());
        assert!(c.warnings()[0].contains("21 providers"));
        // A provider with two zorgkantoren is one provider.
        let c = parse(&with_participant("2023-01-01", "2025-08-31")).unwrap();
        assert!(c.warnings().is_empty());
    }

    #[test]
    fn agreement_needs_a_participant() {
        let text = format!("{MINIMAL}[[agreements]]\nagb = \"12345678\"\nzorgkantoor = \"5509\"\nyear = 2024\nherschikking_cents = 1\n");
        let e = parse(&text).unwrap_err();
        assert!(e.to_string().contains("[[agreements]] #1"), "{e}");
    }

    #[test]
    fn agreement_codes_are_products_and_a_year_is_agreed_once() {
        let agreement = "[[agreements]]\nagb = \"12345678\"\nzorgkantoor = \"5509\"\nyear = 2024\nherschikking_cents = 1\n";
        let base = with_participant("2023-01-01", "2025-08-31");
        let e = parse(&format!("{base}{agreement}volumes = {{ H999 = 1 }}\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "test/gateway.toml: [[agreements]] #1 key `volumes.H999`: not a product in [products]"
        );
        let e = parse(&format!("{base}{agreement}{agreement}")).unwrap_err();
        assert!(
            e.to_string().ends_with(
                "[[agreements]] #2 key `year`: a second agreement for 12345678/5509 in 2024"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_tariff_is_for_a_product_once_a_year() {
        let tariff = "[[tariffs]]\ncode = \"H300\"\nyear = 2024\nmax_cents = 1\n";
        assert_eq!(
            parse(&format!("{MINIMAL}{tariff}"))
                .unwrap()
                .regime
                .tariffs
                .len(),
            1
        );
        let e = parse(&format!("{MINIMAL}{tariff}{tariff}")).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("[[tariffs]] #2 key `year`: a second maximum for H300 in 2024"),
            "{e}"
        );
        let e = parse(&format!(
            "{MINIMAL}[[tariffs]]\ncode = \"H999\"\nyear = 2024\nmax_cents = 1\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("[[tariffs]] #1 key `code`"), "{e}");
    }
}
