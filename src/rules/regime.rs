//! 05xx: the ZiO regime. Decides whether a line is ZiO care, remaps a ZiO code
//! outside the window when the policy says so, and checks participation.

use crate::message::{Header, Prestatie};
use crate::regime::{OutOfWindow, Regime};
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
