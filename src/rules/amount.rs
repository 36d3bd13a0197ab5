//! The amount rule: Bedrag = GeleverdVolume x ProductTarief in the product's
//! own unit; minutes are priced at a sixtieth of the hour tariff, rounded half
//! away from zero to a whole cent. All integer cents: exact by construction.

use crate::model::regime::Unit;
use crate::types::{Cents, Eenheid};

/// Whether `eenheid` may be declared for a product of `unit` (0302).
pub fn unit_allowed(unit: Unit, eenheid: Eenheid) -> bool {
    matches!(
        (unit, eenheid),
        (Unit::Uur, Eenheid::Uur)
            | (Unit::Uur, Eenheid::Minuut)
            | (Unit::Dagdeel, Eenheid::Dagdeel)
    )
}

/// The Bedrag a line must carry, or `None` when the unit is not allowed.
pub fn expected_bedrag(unit: Unit, eenheid: Eenheid, volume: u64, tarief: Cents) -> Option<Cents> {
    if !unit_allowed(unit, eenheid) {
        return None;
    }
    let gross = u128::from(volume) * u128::from(tarief);
    let cents = match eenheid {
        // Half away from zero for a non-negative quotient is half up:
        // floor((x + 30) / 60).
        Eenheid::Minuut => (gross + 30) / 60,
        Eenheid::Uur | Eenheid::Dagdeel => gross,
    };
    Some(cents as Cents)
}

/// The most a line may hold for its period (0311): 24 hours or 6 dagdelen a day.
pub fn volume_possible(eenheid: Eenheid, volume: u64, days: u64) -> bool {
    let per_day = match eenheid {
        Eenheid::Uur => 24,
        Eenheid::Minuut => 24 * 60,
        Eenheid::Dagdeel => 6,
    };
    volume <= per_day * days
}

/// A volume in the agreement's unit (hours or dagdelen) as an exact decimal:
/// minutes become hours by exact division.
pub fn volume_in_agreement_unit(eenheid: Eenheid, volume: u64) -> rust_decimal::Decimal {
    let v = rust_decimal::Decimal::from(volume);
    match eenheid {
        Eenheid::Minuut => v / rust_decimal::Decimal::from(60),
        Eenheid::Uur | Eenheid::Dagdeel => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal::prelude::*;

    #[test]
    fn spec_examples() {
        assert_eq!(
            expected_bedrag(Unit::Uur, Eenheid::Uur, 1, 7650),
            Some(7650)
        );
        // 45 minutes at 7650 per hour = 5737.5 -> 5738.
        assert_eq!(
            expected_bedrag(Unit::Uur, Eenheid::Minuut, 45, 7650),
            Some(5738)
        );
        assert_eq!(
            expected_bedrag(Unit::Dagdeel, Eenheid::Dagdeel, 3, 6120),
            Some(18360)
        );
        assert_eq!(expected_bedrag(Unit::Dagdeel, Eenheid::Uur, 3, 6120), None);
        assert_eq!(expected_bedrag(Unit::Uur, Eenheid::Dagdeel, 3, 6120), None);
    }

    #[test]
    fn volume_limits() {
        assert!(volume_possible(Eenheid::Uur, 24, 1));
        assert!(!volume_possible(Eenheid::Uur, 25, 1));
        assert!(volume_possible(Eenheid::Minuut, 1440, 1));
        assert!(!volume_possible(Eenheid::Minuut, 1441, 1));
        assert!(volume_possible(Eenheid::Dagdeel, 12, 2));
        assert!(!volume_possible(Eenheid::Dagdeel, 13, 2));
        assert!(!volume_possible(Eenheid::Dagdeel, 1, 0));
    }

    proptest! {
        // The integer formula agrees with exact decimal arithmetic and the
        // named rounding strategy over the whole domain of the wire types.
        #[test]
        fn minutes_match_decimal_half_away_from_zero(volume in 1u64..=99_999, tarief in 0u64..=99_999_999) {
            let exact = Decimal::from(volume) * Decimal::from(tarief) / Decimal::from(60);
            let rounded = exact.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
            prop_assert_eq!(
                expected_bedrag(Unit::Uur, Eenheid::Minuut, volume, tarief),
                rounded.to_u64()
            );
        }

        #[test]
        fn hours_and_dagdelen_are_plain_products(volume in 1u64..=99_999, tarief in 0u64..=99_999_999) {
            prop_assert_eq!(expected_bedrag(Unit::Uur, Eenheid::Uur, volume, tarief), Some(volume * tarief));
            prop_assert_eq!(expected_bedrag(Unit::Dagdeel, Eenheid::Dagdeel, volume, tarief), Some(volume * tarief));
        }

        // 60 minutes always cost exactly one hour.
        #[test]
        fn sixty_minutes_is_one_hour(hours in 1u64..=1_666, tarief in 0u64..=99_999_999) {
            prop_assert_eq!(
                expected_bedrag(Unit::Uur, Eenheid::Minuut, hours * 60, tarief),
                expected_bedrag(Unit::Uur, Eenheid::Uur, hours, tarief)
            );
        }
    }
}
