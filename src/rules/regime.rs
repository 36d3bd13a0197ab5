//! 05xx: the ZiO regime. Decides whether a line is ZiO care, remaps a ZiO code
//! outside the window when the policy says so, and checks participation.

use crate::model::declaration::{Header, Prestatie};
use crate::model::regime::{OutOfWindow, Regime};
use crate::retourcode::Retourcode;
use crate::types::ProductCode;
use chrono::Datelike;

/// The outcome of routing one line.
pub struct Routed {
    /// The code the line is forwarded under.
    pub code: ProductCode,
    /// The line is ZiO care (a ZiO code inside the window).
    pub is_zio: bool,
}

/// Adds the 05xx codes of a line with a known product and tells its code.
pub fn route(
    regime: &Regime,
    header: &Header,
    p: &Prestatie,
    codes: &mut Vec<Retourcode>,
) -> Routed {
    let (agb, zk) = (&header.afzender, &header.ontvanger);
    let in_window = regime.in_window(&p.periode);
    if let Some(regular) = regime.regular_for(&p.product) {
        if !in_window {
            return match regime.out_of_window {
                OutOfWindow::Reject => {
                    codes.push(Retourcode::R0501);
                    Routed {
                        code: p.product.clone(),
                        is_zio: true,
                    }
                }
                OutOfWindow::Remap => {
                    codes.push(Retourcode::R0504);
                    Routed {
                        code: regular.clone(),
                        is_zio: false,
                    }
                }
            };
        }
        if p.brin.is_none() || p.onderwijstijd != Some(true) {
            codes.push(Retourcode::R0503);
        }
        if regime.is_participant(agb, zk, &p.periode) {
            let agreed = regime
                .agreement(agb, zk, p.periode.from.year())
                .is_some_and(|a| a.volumes.contains_key(&p.product));
            if !agreed {
                codes.push(Retourcode::R0507);
            }
        } else {
            codes.push(Retourcode::R0502);
        }
        return Routed {
            code: p.product.clone(),
            is_zio: true,
        };
    }
    if regime.has_zio_counterpart(&p.product)
        && p.onderwijstijd == Some(true)
        && in_window
        && regime.is_participant(agb, zk, &p.periode)
    {
        codes.push(Retourcode::R0505);
    }
    Routed {
        code: p.product.clone(),
        is_zio: false,
    }
}

/// 0506 on an accepted ZiO line of a participant with an agreed volume for its
/// code: counts the line (a credit subtracts) and flags a debet line whose
/// volume takes the year's total for the code above the agreed volume.
/// Counted exactly in base units: minutes for hour products, dagdelen.
pub fn check_volume(
    ctx: &super::Context<'_>,
    header: &Header,
    unit: crate::model::regime::Unit,
    p: &Prestatie,
    refs: &mut super::MessageRefs,
    codes: &mut Vec<Retourcode>,
) {
    use crate::model::regime::Unit;
    use crate::types::{DebetCredit, Eenheid};
    let (agb, zk) = (&header.afzender, &header.ontvanger);
    if !ctx.regime.is_participant(agb, zk, &p.periode) {
        return;
    }
    let year = p.periode.from.year();
    let Some(agreed) = ctx
        .regime
        .agreement(agb, zk, year)
        .and_then(|a| a.volumes.get(&p.product))
    else {
        return;
    };
    let per_unit: i64 = match unit {
        Unit::Uur => 60,
        Unit::Dagdeel => 1,
    };
    let base = match p.eenheid {
        Eenheid::Uur => p.volume as i64 * 60,
        Eenheid::Minuut | Eenheid::Dagdeel => p.volume as i64,
    };
    let delta = match p.debet_credit {
        DebetCredit::Debet => base,
        DebetCredit::Credit => -base,
    };
    let total = refs.add_volume(year, &p.product, delta, || {
        let v = ctx.history.declared_volume(agb, zk, year, &p.product);
        // Exact: the ledger counts whole minutes or dagdelen.
        (v * rust_decimal::Decimal::from(per_unit))
            .round()
            .try_into()
            .unwrap_or(i64::MAX)
    });
    if p.debet_credit == DebetCredit::Debet && total > *agreed as i64 * per_unit {
        codes.push(Retourcode::R0506);
    }
}
