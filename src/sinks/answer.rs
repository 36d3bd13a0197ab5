//! The Retourbericht, written as a stream: the header and message codes
//! first, then the line verdicts straight from the spool, then the totals.
//! XML valid against `schemas/retour.xsd`, or the spec's JSON form.

use crate::check::Outcome;
use crate::config::Config;
use crate::model::declaration::{BerichtId, NS_RETOUR};
use crate::model::verdict::{AnswerTotals, LineVerdict, MessageCode, Verwerking};
use crate::types::{AgbCode, Datum, ZorgkantoorCode};
use quick_xml::escape::escape;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::io::{self, Write};

/// The parts of the answer that precede the lines.
pub struct AnswerHead<'a> {
    pub identificatie: &'a str,
    pub dagtekening: Datum,
    pub heenbericht: Option<&'a BerichtId>,
    pub afzender: &'a ZorgkantoorCode,
    pub ontvanger: Option<&'a AgbCode>,
    pub verwerking: Verwerking,
    pub message_codes: &'a [MessageCode],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

/// Writes a whole answer. `lines` is consumed lazily; it must yield nothing
/// when message codes apply.
pub fn write_answer<W: Write>(
    format: Format,
    out: W,
    head: &AnswerHead<'_>,
    lines: impl Iterator<Item = io::Result<LineVerdict>>,
    totals: &AnswerTotals,
) -> io::Result<()> {
    match format {
        Format::Xml => write_xml(out, head, lines, totals),
        Format::Json => write_json(out, head, lines, totals),
    }
}

/// Writes the Retourbericht for a checked message. `test`: the test-batch
/// endpoint's answer (Verwerking `Test`).
pub fn write_outcome<W: Write>(
    outcome: &mut Outcome,
    config: &Config,
    format: Format,
    test: bool,
    out: W,
) -> io::Result<()> {
    let id = outcome.answer_id();
    let afzender = outcome.answer_afzender(config).clone();
    let verwerking = if test {
        Verwerking::Test
    } else {
        outcome.verwerking()
    };
    let whole = outcome.rejected_whole();
    let header = outcome.header.clone();
    let mut codes = outcome.message_codes.clone();
    codes.extend(outcome.notices.iter().cloned());
    let head = AnswerHead {
        identificatie: &id,
        dagtekening: outcome.today,
        heenbericht: header.as_ref().map(|h| &h.bericht),
        afzender: &afzender,
        ontvanger: header.as_ref().map(|h| &h.afzender),
        verwerking,
        message_codes: &codes,
    };
    let totals = outcome.totals;
    let lines = outcome.lines.iter()?.filter(move |_| !whole);
    write_answer(format, out, &head, lines, &totals)
}

fn el<W: Write>(w: &mut W, indent: usize, name: &str, value: &str) -> io::Result<()> {
    writeln!(w, "{:indent$}<{name}>{}</{name}>", "", escape(value))
}

fn write_xml<W: Write>(
    mut w: W,
    head: &AnswerHead<'_>,
    lines: impl Iterator<Item = io::Result<LineVerdict>>,
    totals: &AnswerTotals,
) -> io::Result<()> {
    writeln!(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(w, "<Retourbericht xmlns=\"{NS_RETOUR}\">")?;
    writeln!(w, "  <Header>")?;
    writeln!(w, "    <BerichtIdentificatie>")?;
    el(&mut w, 6, "Identificatie", head.identificatie)?;
    el(&mut w, 6, "Dagtekening", &head.dagtekening.to_string())?;
    writeln!(w, "    </BerichtIdentificatie>")?;
    if let Some(h) = head.heenbericht {
        writeln!(w, "    <HeenberichtIdentificatie>")?;
        el(&mut w, 6, "Identificatie", h.identificatie.as_str())?;
        el(&mut w, 6, "Dagtekening", &h.dagtekening.to_string())?;
        writeln!(w, "    </HeenberichtIdentificatie>")?;
    }
    el(&mut w, 4, "Afzender", head.afzender.as_str())?;
    if let Some(o) = head.ontvanger {
        el(&mut w, 4, "Ontvanger", o.as_str())?;
    }
    el(&mut w, 4, "Verwerking", head.verwerking.as_str())?;
    writeln!(w, "  </Header>")?;
    if !head.message_codes.is_empty() {
        writeln!(w, "  <Retourcodes>")?;
        for m in head.message_codes {
            writeln!(w, "    <Retourcode>")?;
            el(&mut w, 6, "Code", m.code.code())?;
            el(&mut w, 6, "Omschrijving", &m.omschrijving())?;
            if let Some(l) = &m.locatie {
                el(&mut w, 6, "Locatie", l)?;
            }
            writeln!(w, "    </Retourcode>")?;
        }
        writeln!(w, "  </Retourcodes>")?;
    }
    let mut opened = false;
    for v in lines {
        let v = v?;
        if !opened {
            writeln!(w, "  <Prestaties>")?;
            opened = true;
        }
        writeln!(w, "    <Prestatie>")?;
        el(
            &mut w,
            6,
            "ReferentieNummer",
            v.prestatie.referentie.as_str(),
        )?;
        el(&mut w, 6, "Bsn", v.bsn.as_str())?;
        el(&mut w, 6, "Route", v.route.as_str())?;
        el(&mut w, 6, "ProductCode", v.product_code.as_str())?;
        if let Some(o) = &v.oorspronkelijke_product_code {
            el(&mut w, 6, "OorspronkelijkeProductCode", o.as_str())?;
        }
        if !v.codes.is_empty() {
            writeln!(w, "      <Retourcodes>")?;
            for c in &v.codes {
                writeln!(w, "        <Retourcode>")?;
                el(&mut w, 10, "Code", c.code())?;
                el(&mut w, 10, "Omschrijving", c.omschrijving())?;
                el(&mut w, 10, "Ernst", c.ernst().as_str())?;
                writeln!(w, "        </Retourcode>")?;
            }
            writeln!(w, "      </Retourcodes>")?;
        }
        writeln!(w, "    </Prestatie>")?;
    }
    if opened {
        writeln!(w, "  </Prestaties>")?;
    }
    writeln!(w, "  <Totalen>")?;
    el(
        &mut w,
        4,
        "AantalGeaccepteerd",
        &totals.aantal_geaccepteerd.to_string(),
    )?;
    el(
        &mut w,
        4,
        "BedragGeaccepteerd",
        &totals.bedrag_geaccepteerd.to_string(),
    )?;
    el(
        &mut w,
        4,
        "AantalAfgewezen",
        &totals.aantal_afgewezen.to_string(),
    )?;
    el(
        &mut w,
        4,
        "BedragAfgewezen",
        &totals.bedrag_afgewezen.to_string(),
    )?;
    writeln!(w, "  </Totalen>")?;
    writeln!(w, "</Retourbericht>")?;
    w.flush()
}

fn write_json<W: Write>(
    mut w: W,
    head: &AnswerHead<'_>,
    lines: impl Iterator<Item = io::Result<LineVerdict>>,
    totals: &AnswerTotals,
) -> io::Result<()> {
    let codes: Vec<_> = head
        .message_codes
        .iter()
        .map(|m| json!({"code": m.code.code(), "omschrijving": m.omschrijving(), "locatie": m.locatie}))
        .collect();
    let heen = head
        .heenbericht
        .map(|h| json!({"identificatie": h.identificatie.as_str(), "dagtekening": h.dagtekening.to_string()}));
    // The object is written by hand around the lines so they stream.
    write!(
        w,
        "{{\"verwerking\":{},\"bericht\":{},\"heenbericht\":{},\"afzender\":{},\"ontvanger\":{},\"retourcodes\":{},\"prestaties\":[",
        json!(head.verwerking.as_str()),
        json!({"identificatie": head.identificatie, "dagtekening": head.dagtekening.to_string()}),
        heen.unwrap_or(serde_json::Value::Null),
        json!(head.afzender.as_str()),
        json!(head.ontvanger.map(|a| a.as_str())),
        serde_json::Value::Array(codes),
    )?;
    for (i, v) in lines.enumerate() {
        let v = v?;
        if i > 0 {
            w.write_all(b",")?;
        }
        let codes: Vec<_> = v
            .codes
            .iter()
            .map(|c| json!({"code": c.code(), "omschrijving": c.omschrijving(), "ernst": c.ernst().as_str()}))
            .collect();
        serde_json::to_writer(
            &mut w,
            &json!({
                "referentie_nummer": v.prestatie.referentie.as_str(),
                "bsn": v.bsn.as_str(),
                "route": v.route.as_str(),
                "product_code": v.product_code.as_str(),
                "oorspronkelijke_product_code": v.oorspronkelijke_product_code.as_ref().map(|c| c.as_str()),
                "retourcodes": codes,
            }),
        )?;
    }
    write!(
        w,
        "],\"totalen\":{}}}",
        json!({
            "aantal_geaccepteerd": totals.aantal_geaccepteerd,
            "bedrag_geaccepteerd": totals.bedrag_geaccepteerd,
            "aantal_afgewezen": totals.aantal_afgewezen,
            "bedrag_afgewezen": totals.bedrag_afgewezen,
        })
    )?;
    writeln!(w)?;
    w.flush()
}

/// An answer kept so that a byte-identical resend (a provider whose answer
/// was lost) gets it again, in either format: everything the answer is
/// written from, as JSON. Kept in the ledger with the message's lines.
#[derive(Serialize, Deserialize)]
pub struct StoredAnswer {
    pub identificatie: String,
    pub dagtekening: Datum,
    pub heenbericht: Option<BerichtId>,
    pub afzender: ZorgkantoorCode,
    pub ontvanger: Option<AgbCode>,
    pub verwerking: Verwerking,
    pub message_codes: Vec<MessageCode>,
    pub totals: AnswerTotals,
    pub lines: Vec<LineVerdict>,
}

impl StoredAnswer {
    /// The record of `outcome`'s answer; `None` when it would take more than
    /// `cap` bytes (such a message is not kept: its resend gets 0106).
    pub fn of(outcome: &mut Outcome, config: &Config, cap: usize) -> io::Result<Option<Vec<u8>>> {
        let whole = outcome.rejected_whole();
        let mut lines = Vec::new();
        let mut size = 0usize;
        if !whole {
            for v in outcome.lines.iter()? {
                let v = v?;
                // A line of the record takes about this much; stop early.
                size += 160 + v.codes.len() * 8;
                if size > cap {
                    return Ok(None);
                }
                lines.push(v);
            }
        }
        let mut codes = outcome.message_codes.clone();
        codes.extend(outcome.notices.iter().cloned());
        let record = StoredAnswer {
            identificatie: outcome.answer_id(),
            dagtekening: outcome.today,
            heenbericht: outcome.header.as_ref().map(|h| h.bericht.clone()),
            afzender: outcome.answer_afzender(config).clone(),
            ontvanger: outcome.header.as_ref().map(|h| h.afzender.clone()),
            verwerking: outcome.verwerking(),
            message_codes: codes,
            totals: outcome.totals,
            lines,
        };
        let bytes = serde_json::to_vec(&record).map_err(io::Error::other)?;
        Ok((bytes.len() <= cap).then_some(bytes))
    }

    pub fn parse(bytes: &[u8]) -> io::Result<Self> {
        serde_json::from_slice(bytes).map_err(io::Error::other)
    }

    /// Writes the kept answer, byte for byte as it was first written.
    pub fn write<W: Write>(&self, format: Format, out: W) -> io::Result<()> {
        let head = AnswerHead {
            identificatie: &self.identificatie,
            dagtekening: self.dagtekening,
            heenbericht: self.heenbericht.as_ref(),
            afzender: &self.afzender,
            ontvanger: self.ontvanger.as_ref(),
            verwerking: self.verwerking,
            message_codes: &self.message_codes,
        };
        let lines = self.lines.iter().cloned().map(Ok);
        write_answer(format, out, &head, lines, &self.totals)
    }
}
