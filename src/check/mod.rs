//! One pass over a Declaratiebericht: read, check every line, spool the
//! verdicts, and decide the message-level outcome. What happens to the
//! result (answer, ledger, forwarding) is up to the caller.

pub mod refs;
pub mod spool;

use crate::config::Config;
use crate::model::declaration::Header;
use crate::model::verdict::{AnswerTotals, LineVerdict, MessageCode, Verwerking};
use crate::read::declaration::DeclaratieReader;
use crate::read::xml::{Fault, XmlError};
use crate::retourcode::Retourcode;
use crate::rules::{self, message::Tally, Context};
use crate::types::{Datum, ZorgkantoorCode};
use sha2::{Digest, Sha256};
use spool::Spool;
use std::io::{self, BufRead};

/// The outcome of checking one message.
pub struct Outcome {
    /// The declaration's header, when it could be read.
    pub header: Option<Header>,
    pub message_codes: Vec<MessageCode>,
    /// Message-level warnings that reject nothing (0901: accepted lines are
    /// stored and will be delivered later). Written with the message codes.
    pub notices: Vec<MessageCode>,
    /// Line verdicts in input order; meaningless when `message_codes` is not empty.
    pub lines: Spool,
    pub totals: AnswerTotals,
    /// Lines by (route, first retourcode or `none`), counted while checking
    /// so metrics need no second pass over the spool.
    pub line_counts: std::collections::BTreeMap<(&'static str, &'static str), u64>,
    /// Retourcodes by (route, code): every code of every line counts once
    /// (`none` for a line without any), for `zio_gateway_lines_total`.
    pub code_counts: std::collections::BTreeMap<(&'static str, &'static str), u64>,
    /// The day of receipt.
    pub today: Datum,
}

impl Outcome {
    pub fn rejected_whole(&self) -> bool {
        !self.message_codes.is_empty()
    }

    /// The Verwerking per `messages.md` (the caller turns it into `Test`).
    pub fn verwerking(&self) -> Verwerking {
        if self.rejected_whole() || self.totals.aantal_geaccepteerd == 0 {
            Verwerking::Afgewezen
        } else if self.totals.aantal_afgewezen > 0 {
            Verwerking::Gedeeltelijk
        } else {
            Verwerking::Geaccepteerd
        }
    }

    /// The answer's own Identificatie: deterministic, so the same declaration
    /// on the same day gets the same answer.
    pub fn answer_id(&self) -> String {
        let mut h = Sha256::new();
        match &self.header {
            Some(hd) => {
                h.update(hd.afzender.as_str());
                h.update(b"/");
                h.update(hd.bericht.identificatie.as_str());
            }
            None => h.update(b"unread"),
        }
        h.update(b"/");
        h.update(self.today.to_string());
        let digest = h.finalize();
        format!("RET-{}", hex::encode_upper(&digest[..8]))
    }

    /// The sender of the answer: the zorgkantoor addressed, when served here.
    pub fn answer_afzender<'a>(&'a self, config: &'a Config) -> &'a ZorgkantoorCode {
        match &self.header {
            Some(h) if config.gateway.zorgkantoren.contains(&h.ontvanger) => &h.ontvanger,
            _ => &config.gateway.code,
        }
    }

    /// Accepted verdicts, for the ledger and forwarding; empty when the
    /// message was rejected whole.
    pub fn accepted_lines(&mut self) -> io::Result<impl Iterator<Item = io::Result<LineVerdict>>> {
        let whole = self.rejected_whole();
        Ok(self
            .lines
            .iter()?
            .filter(move |v| !whole && v.as_ref().map_or(true, |v| v.accepted())))
    }
}

fn from_xml(e: XmlError) -> Result<MessageCode, io::Error> {
    match e {
        XmlError::Io(io) => Err(io),
        XmlError::Input {
            fault, ref message, ..
        } => {
            let code = match fault {
                Fault::Malformed => Retourcode::R0101,
                Fault::Schema => Retourcode::R0102,
                Fault::Doctype => Retourcode::R0103,
                Fault::TooLarge => Retourcode::R0104,
            };
            Ok(MessageCode {
                code,
                detail: Some(message.clone()),
                locatie: e.locatie(),
            })
        }
    }
}

/// Reads and checks one message. `Err` only when the bytes could not be read
/// (a broken disk or connection), never for anything the sender wrote.
pub fn check_message<R: BufRead>(
    input: R,
    config: &Config,
    ctx: &Context<'_>,
) -> io::Result<Outcome> {
    let mut out = Outcome {
        header: None,
        message_codes: Vec::new(),
        notices: Vec::new(),
        lines: Spool::new()?,
        totals: AnswerTotals::default(),
        line_counts: Default::default(),
        code_counts: Default::default(),
        today: ctx.today,
    };
    let mut reader = DeclaratieReader::new(input, config.limits.max_message_bytes);
    if let Err(mut e) = read_body(&mut reader, config, ctx, &mut out) {
        if matches!(
            e,
            XmlError::Input {
                fault: Fault::Schema,
                ..
            }
        ) {
            if let Some(worse) = reader.drain() {
                e = worse;
            }
        }
        out.message_codes.push(from_xml(e)?);
    }
    if out.rejected_whole() {
        out.totals = AnswerTotals::default();
        out.line_counts.clear();
        out.code_counts.clear();
        out.message_codes.sort_by_key(|m| m.code);
    }
    Ok(out)
}

fn read_body<R: BufRead>(
    reader: &mut DeclaratieReader<R>,
    config: &Config,
    ctx: &Context<'_>,
    out: &mut Outcome,
) -> Result<(), XmlError> {
    let header = reader.read_header()?;
    out.message_codes.extend(
        rules::message::check_header(config, &header, ctx.today)
            .into_iter()
            .map(MessageCode::plain),
    );
    if ctx
        .history
        .message_processed(&header.afzender, &header.bericht.identificatie)
    {
        out.message_codes
            .push(MessageCode::plain(Retourcode::R0106));
    }
    out.header = Some(header.clone());
    let mut refs = refs::message_refs();
    let mut tally = Tally::default();
    while let Some(client) = reader.next_client()? {
        for p in &client.prestaties {
            tally.add(p);
        }
        if out.rejected_whole() {
            // The verdicts would be thrown away: only read on, for the
            // structure and the totals.
            continue;
        }
        for v in rules::check_client(ctx, &header, &mut refs, client).map_err(XmlError::Io)? {
            let t = &mut out.totals;
            if v.accepted() {
                t.aantal_geaccepteerd += 1;
                t.bedrag_geaccepteerd += v.prestatie.bedrag;
            } else {
                t.aantal_afgewezen += 1;
                t.bedrag_afgewezen += v.prestatie.bedrag;
            }
            let code = v.codes.first().map_or("none", |c| c.code());
            *out.line_counts.entry((v.route.as_str(), code)).or_default() += 1;
            if v.codes.is_empty() {
                *out.code_counts
                    .entry((v.route.as_str(), "none"))
                    .or_default() += 1;
            }
            for c in &v.codes {
                *out.code_counts
                    .entry((v.route.as_str(), c.code()))
                    .or_default() += 1;
            }
            out.lines.push(&v).map_err(XmlError::Io)?;
        }
    }
    let totalen = reader.read_totalen()?;
    if let Some(code) = tally.check(&totalen) {
        out.message_codes.push(MessageCode {
            code,
            detail: Some(format!(
                "berekend {} prestaties, debet {}, credit {}; opgegeven {}, {}, {}",
                tally.lines,
                tally.debet,
                tally.credit,
                totalen.aantal_prestaties,
                totalen.totaal_debet,
                totalen.totaal_credit
            )),
            locatie: Some("/Declaratiebericht/Totalen".into()),
        });
    }
    Ok(())
}
