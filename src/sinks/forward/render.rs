//! The forwarded Declaratiebericht, written as a stream from the ledger: the
//! header from the outbox row, the recorded lines of one message and route in
//! the order received, grouped into clients (runs of the same BSN,
//! Geboortedatum and Besluitnummer), and Totalen recomputed over exactly
//! those lines. Valid against `schemas/declaratie.xsd`.

use crate::model::declaration::NS_DECLARATIE;
use crate::sinks::ledger::{ForwardLine, LedgerError, LedgerStore, OutboxRow};
use crate::types::iso_date;
use quick_xml::escape::escape;
use std::io::{self, Write};

/// What was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    pub lines: u64,
    pub debet: i64,
    pub credit: i64,
}

/// Deep enough for every element here.
const INDENT: &[u8] = b"            ";

/// `<name>value</name>` on a line of its own. Plain writes, not `write!`:
/// formatting was most of the rendering's cost (a twentieth of the
/// server's CPU under load).
fn el<W: Write>(w: &mut W, indent: usize, name: &str, value: &str) -> io::Result<()> {
    w.write_all(&INDENT[..indent])?;
    w.write_all(b"<")?;
    w.write_all(name.as_bytes())?;
    w.write_all(b">")?;
    w.write_all(escape(value).as_bytes())?;
    w.write_all(b"</")?;
    w.write_all(name.as_bytes())?;
    w.write_all(b">\n")
}

/// Writes the forwarded message of `row` to `out`. Holds one line in memory.
pub fn render<W: Write>(
    store: &dyn LedgerStore,
    row: &OutboxRow,
    mut out: W,
) -> Result<Rendered, LedgerError> {
    let w = &mut out;
    w.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")?;
    writeln!(w, "<Declaratiebericht xmlns=\"{NS_DECLARATIE}\">")?;
    w.write_all(b"  <Header>\n")?;
    w.write_all(b"    <BerichtIdentificatie>\n")?;
    el(w, 6, "Identificatie", &row.forward_id)?;
    el(w, 6, "Dagtekening", &iso_date(row.dagtekening))?;
    w.write_all(b"    </BerichtIdentificatie>\n")?;
    el(w, 4, "Afzender", row.agb.as_str())?;
    el(w, 4, "Ontvanger", row.zorgkantoor.as_str())?;
    w.write_all(b"    <Declaratieperiode>\n")?;
    el(w, 6, "Begindatum", &iso_date(row.periode.from))?;
    el(w, 6, "Einddatum", &iso_date(row.periode.to))?;
    w.write_all(b"    </Declaratieperiode>\n")?;
    w.write_all(b"  </Header>\n")?;
    w.write_all(b"  <Clienten>\n")?;
    let mut sum = Rendered::default();
    let mut client: Option<(String, chrono::NaiveDate, u64)> = None;
    let mut each = |l: &ForwardLine| -> io::Result<()> {
        let key = (l.bsn.clone(), l.geboortedatum, l.besluitnummer);
        if client.as_ref() != Some(&key) {
            if client.is_some() {
                w.write_all(b"      </Prestaties>\n")?;
                w.write_all(b"    </Client>\n")?;
            }
            w.write_all(b"    <Client>\n")?;
            el(w, 6, "Bsn", &l.bsn)?;
            el(w, 6, "Geboortedatum", &iso_date(l.geboortedatum))?;
            el(w, 6, "Besluitnummer", &l.besluitnummer.to_string())?;
            w.write_all(b"      <Prestaties>\n")?;
            client = Some(key);
        }
        write_line(w, l)?;
        sum.lines += 1;
        if l.debet_credit == "C" {
            sum.credit += l.bedrag;
        } else {
            sum.debet += l.bedrag;
        }
        Ok(())
    };
    match &row.held_lines {
        Some(held) => held.iter().try_for_each(&mut each)?,
        None => store.outbox_lines(row, &mut |l| each(&l))?,
    }
    if client.is_none() {
        return Err(LedgerError::Invalid(format!(
            "outbox row {}: no recorded lines for {} route {}",
            row.id,
            row.message_id.as_str(),
            row.route.as_str()
        )));
    }
    w.write_all(b"      </Prestaties>\n")?;
    w.write_all(b"    </Client>\n")?;
    w.write_all(b"  </Clienten>\n")?;
    w.write_all(b"  <Totalen>\n")?;
    el(w, 4, "AantalPrestaties", &sum.lines.to_string())?;
    el(w, 4, "TotaalDebet", &sum.debet.to_string())?;
    el(w, 4, "TotaalCredit", &sum.credit.to_string())?;
    w.write_all(b"  </Totalen>\n")?;
    w.write_all(b"</Declaratiebericht>\n")?;
    w.flush()?;
    Ok(sum)
}

fn write_line<W: Write>(w: &mut W, l: &ForwardLine) -> io::Result<()> {
    w.write_all(b"        <Prestatie>\n")?;
    el(w, 10, "ReferentieNummer", &l.referentie)?;
    if let Some(v) = &l.vorig_referentie {
        el(w, 10, "VorigReferentieNummer", v)?;
    }
    el(w, 10, "ProductCode", &l.product_code)?;
    el(w, 10, "Begindatum", &iso_date(l.period_from))?;
    el(w, 10, "Einddatum", &iso_date(l.period_to))?;
    el(w, 10, "GeleverdVolume", &l.volume.to_string())?;
    el(w, 10, "Eenheid", &l.eenheid)?;
    el(w, 10, "ProductTarief", &l.tarief.to_string())?;
    el(w, 10, "Bedrag", &l.bedrag.to_string())?;
    el(w, 10, "DebetCredit", &l.debet_credit)?;
    if let Some(o) = l.onderwijstijd {
        el(w, 10, "Onderwijstijd", if o { "true" } else { "false" })?;
    }
    if let Some(b) = &l.brin {
        el(w, 10, "Brin", b)?;
    }
    w.write_all(b"        </Prestatie>\n")
}
