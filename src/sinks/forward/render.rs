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

/// The rendering goes to its writer in chunks of about this size: each
/// element is appended to a buffer, not written through `Write` (a call per
/// tag cost more than the bytes: 24,000 instructions for a 2-line message,
/// under callgrind).
const CHUNK: usize = 8 * 1024;

/// `<name>value</name>` on a line of its own, `value` escaped.
fn el(b: &mut Vec<u8>, indent: usize, name: &str, value: &str) {
    b.extend_from_slice(&INDENT[..indent]);
    b.push(b'<');
    b.extend_from_slice(name.as_bytes());
    b.push(b'>');
    if value
        .bytes()
        .any(|c| matches!(c, b'<' | b'>' | b'&' | b'\'' | b'"'))
    {
        b.extend_from_slice(escape(value).as_bytes());
    } else {
        b.extend_from_slice(value.as_bytes());
    }
    b.extend_from_slice(b"</");
    b.extend_from_slice(name.as_bytes());
    b.extend_from_slice(b">\n");
}

/// [`el`] for a number.
fn el_int(b: &mut Vec<u8>, indent: usize, name: &str, value: impl itoa::Integer) {
    el(b, indent, name, itoa::Buffer::new().format(value));
}

/// Writes the forwarded message of `row` to `out`. Holds one line in memory
/// (and at most a chunk of the rendering).
pub fn render<W: Write>(
    store: &dyn LedgerStore,
    row: &OutboxRow,
    mut out: W,
) -> Result<Rendered, LedgerError> {
    let mut b: Vec<u8> = Vec::with_capacity(CHUNK + 1024);
    b.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Declaratiebericht xmlns=\"");
    b.extend_from_slice(NS_DECLARATIE.as_bytes());
    b.extend_from_slice(b"\">\n  <Header>\n    <BerichtIdentificatie>\n");
    el(&mut b, 6, "Identificatie", &row.forward_id);
    el(&mut b, 6, "Dagtekening", &iso_date(row.dagtekening));
    b.extend_from_slice(b"    </BerichtIdentificatie>\n");
    el(&mut b, 4, "Afzender", row.agb.as_str());
    el(&mut b, 4, "Ontvanger", row.zorgkantoor.as_str());
    b.extend_from_slice(b"    <Declaratieperiode>\n");
    el(&mut b, 6, "Begindatum", &iso_date(row.periode.from));
    el(&mut b, 6, "Einddatum", &iso_date(row.periode.to));
    b.extend_from_slice(b"    </Declaratieperiode>\n  </Header>\n  <Clienten>\n");
    let mut sum = Rendered::default();
    let mut client: Option<(String, chrono::NaiveDate, u64)> = None;
    let w = &mut out;
    let mut each = |l: &ForwardLine| -> io::Result<()> {
        let same = client.as_ref().is_some_and(|(bsn, g, n)| {
            *bsn == l.bsn && *g == l.geboortedatum && *n == l.besluitnummer
        });
        if !same {
            if client.is_some() {
                b.extend_from_slice(b"      </Prestaties>\n    </Client>\n");
            }
            b.extend_from_slice(b"    <Client>\n");
            el(&mut b, 6, "Bsn", &l.bsn);
            el(&mut b, 6, "Geboortedatum", &iso_date(l.geboortedatum));
            el_int(&mut b, 6, "Besluitnummer", l.besluitnummer);
            b.extend_from_slice(b"      <Prestaties>\n");
            client = Some((l.bsn.clone(), l.geboortedatum, l.besluitnummer));
        }
        write_line(&mut b, l);
        sum.lines += 1;
        if l.debet_credit == "C" {
            sum.credit += l.bedrag;
        } else {
            sum.debet += l.bedrag;
        }
        if b.len() >= CHUNK {
            w.write_all(&b)?;
            b.clear();
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
    b.extend_from_slice(b"      </Prestaties>\n    </Client>\n  </Clienten>\n  <Totalen>\n");
    el_int(&mut b, 4, "AantalPrestaties", sum.lines);
    el_int(&mut b, 4, "TotaalDebet", sum.debet);
    el_int(&mut b, 4, "TotaalCredit", sum.credit);
    b.extend_from_slice(b"  </Totalen>\n</Declaratiebericht>\n");
    out.write_all(&b)?;
    out.flush()?;
    Ok(sum)
}

fn write_line(b: &mut Vec<u8>, l: &ForwardLine) {
    b.extend_from_slice(b"        <Prestatie>\n");
    el(b, 10, "ReferentieNummer", &l.referentie);
    if let Some(v) = &l.vorig_referentie {
        el(b, 10, "VorigReferentieNummer", v);
    }
    el(b, 10, "ProductCode", &l.product_code);
    el(b, 10, "Begindatum", &iso_date(l.period_from));
    el(b, 10, "Einddatum", &iso_date(l.period_to));
    el_int(b, 10, "GeleverdVolume", l.volume);
    el(b, 10, "Eenheid", &l.eenheid);
    el_int(b, 10, "ProductTarief", l.tarief);
    el_int(b, 10, "Bedrag", l.bedrag);
    el(b, 10, "DebetCredit", &l.debet_credit);
    if let Some(o) = l.onderwijstijd {
        el(b, 10, "Onderwijstijd", if o { "true" } else { "false" });
    }
    if let Some(brin) = &l.brin {
        el(b, 10, "Brin", brin);
    }
    b.extend_from_slice(b"        </Prestatie>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::verdict::Route;
    use crate::sinks::ledger::sqlite::SqliteLedger;
    use crate::types::Period;
    use chrono::NaiveDate;
    use std::sync::Arc;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn line(bsn: &str, referentie: &str, dc: &str, bedrag: i64) -> ForwardLine {
        ForwardLine {
            bsn: bsn.into(),
            geboortedatum: d(2014, 6, 12),
            besluitnummer: 4100001,
            referentie: referentie.into(),
            vorig_referentie: (dc == "C").then(|| "R<1>&'\"".to_owned()),
            product_code: "H307".into(),
            period_from: d(2024, 3, 4),
            period_to: d(2024, 3, 8),
            volume: 10,
            eenheid: "04".into(),
            tarief: 7650,
            bedrag,
            debet_credit: dc.into(),
            onderwijstijd: (bsn == "1").then_some(true),
            brin: (bsn == "1").then(|| "12AB".to_owned()),
        }
    }

    fn row(lines: Vec<ForwardLine>) -> OutboxRow {
        OutboxRow {
            id: 7,
            agb: crate::types::AgbCode::parse("12345678").unwrap(),
            message_id: crate::types::Referentie::parse("M-1").unwrap(),
            route: Route::Zio,
            forward_id: "M-1-Z".into(),
            zorgkantoor: crate::types::ZorgkantoorCode::parse("5509").unwrap(),
            dagtekening: d(2024, 4, 2),
            periode: Period::new(d(2024, 3, 1), d(2024, 3, 31)),
            lines: lines.len() as u64,
            state: "pending".into(),
            attempts: 0,
            next_attempt_at: 0,
            delivered_at: None,
            last_error: None,
            created_at: 0,
            claim: None,
            held_lines: Some(Arc::new(lines)),
        }
    }

    fn prestatie(
        referentie: &str,
        vorig: Option<&str>,
        dc: &str,
        bedrag: i64,
        zio: bool,
    ) -> String {
        let mut s = format!(
            "        <Prestatie>\n          <ReferentieNummer>{referentie}</ReferentieNummer>\n"
        );
        if let Some(v) = vorig {
            s += &format!("          <VorigReferentieNummer>{v}</VorigReferentieNummer>\n");
        }
        s += "          <ProductCode>H307</ProductCode>\n          <Begindatum>2024-03-04</Begindatum>\n          <Einddatum>2024-03-08</Einddatum>\n          <GeleverdVolume>10</GeleverdVolume>\n          <Eenheid>04</Eenheid>\n          <ProductTarief>7650</ProductTarief>\n";
        s += &format!(
            "          <Bedrag>{bedrag}</Bedrag>\n          <DebetCredit>{dc}</DebetCredit>\n"
        );
        if zio {
            s += "          <Onderwijstijd>true</Onderwijstijd>\n          <Brin>12AB</Brin>\n";
        }
        s + "        </Prestatie>\n"
    }

    #[test]
    fn a_rendering_groups_clients_escapes_and_totals_what_it_wrote() {
        let store = SqliteLedger::open_in_memory().unwrap();
        let r = row(vec![
            line("1", "A-1", "D", 76500),
            line("1", "A-2", "C", 300),
            line("2", "B-1", "D", 11475),
        ]);
        let mut out = Vec::new();
        let sum = render(&store, &r, &mut out).unwrap();
        assert_eq!(
            sum,
            Rendered {
                lines: 3,
                debet: 87975,
                credit: 300
            }
        );
        let client = |bsn: &str| {
            format!("    <Client>\n      <Bsn>{bsn}</Bsn>\n      <Geboortedatum>2014-06-12</Geboortedatum>\n      <Besluitnummer>4100001</Besluitnummer>\n      <Prestaties>\n")
        };
        let want = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Declaratiebericht xmlns=\"{NS_DECLARATIE}\">\n  <Header>\n    <BerichtIdentificatie>\n      <Identificatie>M-1-Z</Identificatie>\n      <Dagtekening>2024-04-02</Dagtekening>\n    </BerichtIdentificatie>\n    <Afzender>12345678</Afzender>\n    <Ontvanger>5509</Ontvanger>\n    <Declaratieperiode>\n      <Begindatum>2024-03-01</Begindatum>\n      <Einddatum>2024-03-31</Einddatum>\n    </Declaratieperiode>\n  </Header>\n  <Clienten>\n{}{}{}      </Prestaties>\n    </Client>\n{}{}      </Prestaties>\n    </Client>\n  </Clienten>\n  <Totalen>\n    <AantalPrestaties>3</AantalPrestaties>\n    <TotaalDebet>87975</TotaalDebet>\n    <TotaalCredit>300</TotaalCredit>\n  </Totalen>\n</Declaratiebericht>\n",
            client("1"),
            prestatie("A-1", None, "D", 76500, true),
            prestatie("A-2", Some("R&lt;1&gt;&amp;&apos;&quot;"), "C", 300, true),
            client("2"),
            prestatie("B-1", None, "D", 11475, false),
        );
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn a_long_rendering_reaches_its_writer_in_chunks_and_whole() {
        let store = SqliteLedger::open_in_memory().unwrap();
        let lines: Vec<_> = (0..500)
            .map(|i| line("1", &format!("L-{i}"), "D", 1))
            .collect();
        let r = row(lines);
        /// Counts the writes it gets.
        struct Counting(Vec<u8>, usize);
        impl Write for Counting {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.1 += 1;
                self.0.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = Counting(Vec::new(), 0);
        let sum = render(&store, &r, &mut w).unwrap();
        assert_eq!(sum.lines, 500);
        let text = String::from_utf8(w.0).unwrap();
        assert_eq!(text.matches("<Prestatie>").count(), 500);
        assert!(text.ends_with("</Declaratiebericht>\n"));
        // Each chunk about CHUNK bytes: more than one, far fewer than tags.
        assert!(
            w.1 > 1 && w.1 <= text.len() / (CHUNK / 2) + 1,
            "{} writes",
            w.1
        );
    }

    #[test]
    fn a_row_without_lines_is_refused() {
        let store = SqliteLedger::open_in_memory().unwrap();
        assert!(render(&store, &row(Vec::new()), Vec::new()).is_err());
    }
}
