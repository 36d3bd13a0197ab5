//! The checks. Each family lives in its own file and is a pure function of
//! the line, its client, the message and a context passed in: no globals, no
//! I/O of its own. This module wires them in the order the dependencies of
//! `retourcodes.md` ("Which checks depend on which") demand and decides each
//! line's route.

pub mod amount;
pub mod client;
pub mod history;
pub mod indication;
pub mod line;
pub mod message;
pub mod regime;

use crate::model::declaration::{Client, Header};
use crate::model::regime::Regime;
use crate::model::verdict::{LineVerdict, Route};
use crate::retourcode::{Ernst, Retourcode};
use crate::types::Datum;

pub use history::{History, MessageRefs, NoHistory};
pub use indication::IndicationSource;

/// Everything the rules may consult besides the message itself.
pub struct Context<'a> {
    pub regime: &'a Regime,
    /// The day of receipt (`--today` or the server's clock).
    pub today: Datum,
    /// Indications and allocations (04xx); `None` when no registry is loaded.
    pub indications: Option<&'a dyn IndicationSource>,
    /// 0406 switch from the configuration.
    pub require_start_of_delivery: bool,
    /// What earlier messages left behind (0308, 0309 and 0506 across messages).
    pub history: &'a dyn History,
}

impl<'a> Context<'a> {
    /// The context for one message under `config`, received on `today`;
    /// without a ledger the message is checked as if it were the first.
    pub fn new(
        config: &'a crate::config::Config,
        today: Datum,
        indications: Option<&'a dyn IndicationSource>,
        history: Option<&'a dyn History>,
    ) -> Self {
        Context {
            regime: &config.regime,
            today,
            indications,
            require_start_of_delivery: config.indications.require_start_of_delivery,
            history: history.unwrap_or(&NoHistory),
        }
    }
}

/// Runs every line check on one client. `refs` carries the references of
/// this message across clients.
pub fn check_client(
    ctx: &Context<'_>,
    header: &Header,
    refs: &mut MessageRefs,
    client: Client,
) -> std::io::Result<Vec<LineVerdict>> {
    let client_codes = client::check(header, &client);
    let identity_known = !client_codes.contains(&Retourcode::R0201);
    let Client {
        index,
        bsn,
        geboortedatum,
        besluitnummer,
        prestaties,
    } = client;
    // The registry is consulted once per client (04xx), never when the
    // identity cannot be looked up (0201) or no registry is loaded.
    let registry = match ctx.indications {
        Some(source) if identity_known => Some(source.client(&bsn)),
        _ => None,
    };
    prestaties
        .into_iter()
        .map(|p| {
            let mut codes = client_codes.clone();
            let mut product_code = p.product.clone();
            let mut oorspronkelijke = None;
            let mut is_zio = false;
            if let Some(product) = ctx.regime.product(&p.product) {
                let routed = regime::route(ctx.regime, header, &p, &mut codes);
                is_zio = routed.is_zio;
                if routed.code != p.product {
                    oorspronkelijke = Some(p.product.clone());
                }
                product_code = routed.code;
                // After a remap the line is the regular product it became.
                let effective = ctx.regime.product(&product_code).unwrap_or(product);
                let facts = refs.facts(ctx.history, &header.afzender, &p)?;
                line::check(ctx, header, effective, &product_code, &p, facts, &mut codes);
                // A credit takes back a line; it is not care declared anew,
                // so it is not checked against the registry (interpretation.md).
                let is_debet = p.debet_credit == crate::types::DebetCredit::Debet;
                if let (Some(reg), true) = (&registry, is_debet) {
                    indication::check(
                        reg,
                        &indication::LineFacts {
                            bsn: &bsn,
                            geboortedatum,
                            besluitnummer,
                            instelling: &header.afzender,
                            product: effective,
                            periode: p.periode,
                            require_start_of_delivery: ctx.require_start_of_delivery,
                            // 0407: only a line that still carries a ZiO code
                            // (not remapped, not 0501).
                            zio_code: ctx.regime.is_zio(&product_code)
                                && !codes.contains(&Retourcode::R0501),
                        },
                        &mut codes,
                    );
                }
            } else {
                codes.push(Retourcode::R0301);
            }
            let rejected = codes.iter().any(|c| c.ernst() == Ernst::Fout);
            if !rejected && is_zio {
                if let Some(product) = ctx.regime.product(&product_code) {
                    regime::check_volume(ctx, header, product.unit, &p, refs, &mut codes);
                }
            }
            codes.sort();
            codes.dedup();
            let route = match (rejected, is_zio) {
                (true, _) => Route::Afgewezen,
                (false, true) => Route::Zio,
                (false, false) => Route::Regulier,
            };
            refs.remember(&p, !rejected)?;
            Ok(LineVerdict {
                client_index: index,
                bsn: bsn.clone(),
                geboortedatum,
                besluitnummer,
                prestatie: p,
                route,
                product_code,
                oorspronkelijke_product_code: oorspronkelijke,
                codes,
            })
        })
        .collect()
}
