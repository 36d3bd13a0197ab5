//! 03xx: checks on one line.

use super::amount;
use super::history::RefFacts;
use super::Context;
use crate::model::declaration::{Header, Prestatie};
use crate::model::regime::Product;
use crate::retourcode::Retourcode;
use crate::types::{DebetCredit, ProductCode};

/// Adds every 03xx code that applies to `p`, declared as (or remapped to)
/// `code`, a known `product`. 0301 is decided by the caller.
pub fn check(
    ctx: &Context<'_>,
    header: &Header,
    product: &Product,
    code: &ProductCode,
    p: &Prestatie,
    refs: RefFacts,
    codes: &mut Vec<Retourcode>,
) {
    let unit_ok = amount::unit_allowed(product.unit, p.eenheid);
    if !unit_ok {
        codes.push(Retourcode::R0302);
    }
    let order_ok = p.periode.to >= p.periode.from;
    if !order_ok {
        codes.push(Retourcode::R0303);
    } else if !p.periode.in_one_month() {
        codes.push(Retourcode::R0304);
    }
    if !p.periode.within(&header.periode) {
        codes.push(Retourcode::R0305);
    }
    if unit_ok
        && amount::expected_bedrag(product.unit, p.eenheid, p.volume, p.tarief) != Some(p.bedrag)
    {
        codes.push(Retourcode::R0306);
    }
    if let Some(max) = ctx.regime.max_tariff(code, p.periode.from) {
        if p.tarief > max {
            codes.push(Retourcode::R0307);
        }
    }
    if refs.duplicate {
        codes.push(Retourcode::R0308);
    }
    let vorig_ok = match p.debet_credit {
        DebetCredit::Credit => p.vorig_referentie.is_some(),
        DebetCredit::Debet => p.vorig_referentie.is_none(),
    };
    if !vorig_ok {
        codes.push(Retourcode::R0312);
    } else if !refs.creditable {
        codes.push(Retourcode::R0309);
    }
    if p.periode.to > header.bericht.dagtekening {
        codes.push(Retourcode::R0310);
    }
    if unit_ok && order_ok && !amount::volume_possible(p.eenheid, p.volume, p.periode.days()) {
        codes.push(Retourcode::R0311);
    }
}
