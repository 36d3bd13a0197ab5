//! The Retourbericht, written as a stream: the header and message codes
//! first, then the line verdicts straight from the spool, then the totals.
//! XML valid against `schemas/retour.xsd`, or the spec's JSON form.

use crate::check::spool::SpoolReader;
use crate::check::Outcome;
use crate::config::Config;
use crate::model::declaration::{BerichtId, NS_RETOUR};
use crate::model::verdict::{AnswerTotals, LineVerdict, LineView, MessageCode, Verwerking};
use crate::types::{iso_date, AgbCode, Datum, ZorgkantoorCode};
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

/// Where the answer's lines come from, one borrowed line at a time: the
/// check's spool ([`SpoolReader`]), or verdicts in memory ([`Verdicts`]).
pub trait LineSource {
    fn next_line(&mut self) -> io::Result<Option<LineView<'_>>>;
}

impl LineSource for SpoolReader {
    fn next_line(&mut self) -> io::Result<Option<LineView<'_>>> {
        self.next_view()
    }
}

/// No lines (a message rejected whole).
pub struct NoLines;

impl LineSource for NoLines {
    fn next_line(&mut self) -> io::Result<Option<LineView<'_>>> {
        Ok(None)
    }
}

/// Verdicts from an iterator, as a [`LineSource`].
pub struct Verdicts<I> {
    iter: I,
    current: Option<LineVerdict>,
}

impl<I: Iterator<Item = io::Result<LineVerdict>>> Verdicts<I> {
    pub fn new(iter: I) -> Self {
        Self {
            iter,
            current: None,
        }
    }
}

impl<I: Iterator<Item = io::Result<LineVerdict>>> LineSource for Verdicts<I> {
    fn next_line(&mut self) -> io::Result<Option<LineView<'_>>> {
        self.current = self.iter.next().transpose()?;
        Ok(self.current.as_ref().map(LineVerdict::view))
    }
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
    write_answer_from(format, out, head, &mut Verdicts::new(lines), totals)
}

/// [`write_answer`] with the lines from any [`LineSource`].
pub fn write_answer_from<W: Write>(
    format: Format,
    out: W,
    head: &AnswerHead<'_>,
    lines: &mut dyn LineSource,
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
    if whole {
        write_answer_from(format, out, &head, &mut NoLines, &totals)
    } else {
        let mut lines = outcome.lines.reader()?;
        write_answer_from(format, out, &head, &mut lines, &totals)
    }
}

const SPACES: &[u8] = b"                ";

/// `value` with every character XML 1.0 forbids replaced by U+FFFD, so no
/// input can make an answer that is not well-formed (the readers refuse
/// such characters already; this is the second lock).
fn xml_safe(value: &str) -> std::borrow::Cow<'_, str> {
    let plain = value
        .bytes()
        .all(|b| (b >= 0x20 && b != 0xEF) || matches!(b, b'\t' | b'\n' | b'\r'));
    if plain || crate::read::xml::forbidden_char(value).is_none() {
        return std::borrow::Cow::Borrowed(value);
    }
    value
        .chars()
        .map(|c| {
            if crate::read::xml::is_xml_char(c as u32) {
                c
            } else {
                '\u{FFFD}'
            }
        })
        .collect::<String>()
        .into()
}

/// `<name>value</name>` on its own line, indented, the value escaped.
fn el<W: Write>(w: &mut W, indent: usize, name: &str, value: &str) -> io::Result<()> {
    w.write_all(&SPACES[..indent])?;
    w.write_all(b"<")?;
    w.write_all(name.as_bytes())?;
    w.write_all(b">")?;
    w.write_all(escape(xml_safe(value).as_ref()).as_bytes())?;
    w.write_all(b"</")?;
    w.write_all(name.as_bytes())?;
    w.write_all(b">\n")
}

fn write_xml<W: Write>(
    mut w: W,
    head: &AnswerHead<'_>,
    lines: &mut dyn LineSource,
    totals: &AnswerTotals,
) -> io::Result<()> {
    writeln!(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(w, "<Retourbericht xmlns=\"{NS_RETOUR}\">")?;
    writeln!(w, "  <Header>")?;
    writeln!(w, "    <BerichtIdentificatie>")?;
    el(&mut w, 6, "Identificatie", head.identificatie)?;
    el(&mut w, 6, "Dagtekening", &iso_date(head.dagtekening))?;
    writeln!(w, "    </BerichtIdentificatie>")?;
    if let Some(h) = head.heenbericht {
        writeln!(w, "    <HeenberichtIdentificatie>")?;
        el(&mut w, 6, "Identificatie", h.identificatie.as_str())?;
        el(&mut w, 6, "Dagtekening", &iso_date(h.dagtekening))?;
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
    while let Some(v) = lines.next_line()? {
        if !opened {
            w.write_all(b"  <Prestaties>\n")?;
            opened = true;
        }
        w.write_all(b"    <Prestatie>\n")?;
        el(&mut w, 6, "ReferentieNummer", v.referentie)?;
        el(&mut w, 6, "Bsn", v.bsn)?;
        el(&mut w, 6, "Route", v.route.as_str())?;
        el(&mut w, 6, "ProductCode", v.product_code)?;
        if let Some(o) = v.oorspronkelijke_product_code {
            el(&mut w, 6, "OorspronkelijkeProductCode", o)?;
        }
        if !v.codes.is_empty() {
            w.write_all(b"      <Retourcodes>\n")?;
            for c in v.codes {
                w.write_all(b"        <Retourcode>\n")?;
                el(&mut w, 10, "Code", c.code())?;
                el(&mut w, 10, "Omschrijving", c.omschrijving())?;
                el(&mut w, 10, "Ernst", c.ernst().as_str())?;
                w.write_all(b"        </Retourcode>\n")?;
            }
            w.write_all(b"      </Retourcodes>\n")?;
        }
        w.write_all(b"    </Prestatie>\n")?;
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
    lines: &mut dyn LineSource,
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
    let mut first = true;
    while let Some(v) = lines.next_line()? {
        if !first {
            w.write_all(b",")?;
        }
        first = false;
        // The keys in serde_json's order (sorted), as the object form had them.
        w.write_all(b"{\"bsn\":")?;
        json_str(&mut w, v.bsn)?;
        w.write_all(b",\"oorspronkelijke_product_code\":")?;
        match v.oorspronkelijke_product_code {
            Some(o) => json_str(&mut w, o)?,
            None => w.write_all(b"null")?,
        }
        w.write_all(b",\"product_code\":")?;
        json_str(&mut w, v.product_code)?;
        w.write_all(b",\"referentie_nummer\":")?;
        json_str(&mut w, v.referentie)?;
        w.write_all(b",\"retourcodes\":[")?;
        for (i, c) in v.codes.iter().enumerate() {
            if i > 0 {
                w.write_all(b",")?;
            }
            w.write_all(b"{\"code\":")?;
            json_str(&mut w, c.code())?;
            w.write_all(b",\"ernst\":")?;
            json_str(&mut w, c.ernst().as_str())?;
            w.write_all(b",\"omschrijving\":")?;
            json_str(&mut w, c.omschrijving())?;
            w.write_all(b"}")?;
        }
        w.write_all(b"],\"route\":")?;
        json_str(&mut w, v.route.as_str())?;
        w.write_all(b"}")?;
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
/// written from. Kept in the ledger with the message's lines, as `KEPT`
/// and postcard (answers kept before 2026-12-02 are JSON, and read as such).
#[derive(Serialize, Deserialize)]
pub struct StoredAnswer {
    pub identificatie: String,
    #[serde(with = "crate::types::iso_serde")]
    pub dagtekening: Datum,
    pub heenbericht: Option<BerichtId>,
    pub afzender: ZorgkantoorCode,
    pub ontvanger: Option<AgbCode>,
    pub verwerking: Verwerking,
    pub message_codes: Vec<MessageCode>,
    pub totals: AnswerTotals,
    pub lines: Vec<LineVerdict>,
}

/// [`StoredAnswer`] as it is written: the same fields in the same order
/// (so [`StoredAnswer::parse`] reads it), the lines streamed from the spool.
#[derive(Serialize)]
struct StoredAnswerOut<'a> {
    identificatie: &'a str,
    #[serde(with = "crate::types::iso_serde")]
    dagtekening: Datum,
    heenbericht: Option<&'a BerichtId>,
    afzender: &'a ZorgkantoorCode,
    ontvanger: Option<&'a AgbCode>,
    verwerking: Verwerking,
    message_codes: &'a [MessageCode],
    totals: &'a AnswerTotals,
    lines: SpoolLines,
}

/// The first byte of a kept answer in postcard, a compact serde format:
/// a JSON answer begins with `{`. The 2-line example's answer takes a third
/// of its JSON, and writing it took 3.6% of the server's CPU as JSON.
const KEPT: u8 = 1;

/// The spool's verdicts as a sequence, read while it is written (once:
/// `Serialize` takes `&self`, hence the cell), of the `count` lines counted
/// before (postcard writes the length first).
struct SpoolLines {
    lines: std::cell::RefCell<Option<crate::check::spool::SpoolIter>>,
    count: usize,
}

impl Serialize for SpoolLines {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = s.serialize_seq(Some(self.count))?;
        let mut n = 0;
        if let Some(lines) = self.lines.borrow_mut().as_mut() {
            for v in lines {
                seq.serialize_element(&v.map_err(S::Error::custom)?)?;
                n += 1;
            }
        }
        if n != self.count {
            return Err(S::Error::custom("the spool changed while it was kept"));
        }
        seq.end()
    }
}

/// Messages of at most this many lines are kept without first counting
/// their size: they hold a few KiB, and the buffer refuses to grow past the
/// cap all the same.
const UNCOUNTED_LINES: u64 = 16;

/// A buffer that refuses a byte past `cap` (a postcard output).
struct Capped {
    bytes: Vec<u8>,
    cap: usize,
}

impl postcard::ser_flavors::Flavor for Capped {
    type Output = Vec<u8>;

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.try_extend(&[byte])
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        let len = self.bytes.len() + data.len();
        if len > self.cap {
            return Err(postcard::Error::SerializeBufferFull);
        }
        if len > self.bytes.capacity() {
            // Doubling, but never past the cap.
            let to = (self.bytes.capacity() * 2).clamp(len, self.cap);
            self.bytes.reserve_exact(to - self.bytes.len());
        }
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Vec<u8>> {
        Ok(self.bytes)
    }
}

impl StoredAnswer {
    /// The record of `outcome`'s answer; `None` when it would take more than
    /// `cap` bytes (such a message is not kept: its resend gets 0106).
    ///
    /// Memory stays bounded by `cap`, not by the message: a first pass over
    /// the spool (of more than `UNCOUNTED_LINES` lines) only counts the
    /// lines' size, so a large message is refused
    /// before anything is allocated; the record is then written straight from
    /// the spool into a buffer that refuses to grow past `cap`. (Collecting
    /// the verdicts first took ~11 MB for every message over the cap, and
    /// glibc kept much of it: issue 11's server RSS.)
    pub fn of(outcome: &mut Outcome, config: &Config, cap: usize) -> io::Result<Option<Vec<u8>>> {
        let whole = outcome.rejected_whole();
        let (mut count, mut size) = (0, 0usize);
        if !whole && outcome.lines.len() <= UNCOUNTED_LINES {
            // Too few lines to pass the cap by much: no counting pass
            // (it was a third of keeping a 2-line answer); the buffer
            // below refuses to grow past the cap all the same.
            count = outcome.lines.len() as usize;
            size = count * 256;
        } else if !whole {
            for v in outcome.lines.iter()? {
                // What the line takes in the record, counted, not written.
                let n =
                    postcard::serialize_with_flavor(&v?, postcard::ser_flavors::Size::default());
                size += n.map_err(io::Error::other)?;
                count += 1;
                if size > cap {
                    return Ok(None);
                }
            }
        }
        let lines = if whole {
            None
        } else {
            Some(outcome.lines.iter()?)
        };
        let mut codes = outcome.message_codes.clone();
        codes.extend(outcome.notices.iter().cloned());
        let identificatie = outcome.answer_id();
        let heenbericht = outcome.header.as_ref().map(|h| &h.bericht);
        let ontvanger = outcome.header.as_ref().map(|h| &h.afzender);
        let record = StoredAnswerOut {
            identificatie: &identificatie,
            dagtekening: outcome.today,
            heenbericht,
            afzender: outcome.answer_afzender(config),
            ontvanger,
            verwerking: outcome.verwerking(),
            message_codes: &codes,
            totals: &outcome.totals,
            lines: SpoolLines {
                lines: std::cell::RefCell::new(lines),
                count,
            },
        };
        // The lines' size and some for the rest: no doubling past the cap.
        let mut bytes = Vec::with_capacity(size.saturating_add(1024).min(cap));
        bytes.push(KEPT);
        let out = Capped { bytes, cap };
        match postcard::serialize_with_flavor(&record, out) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(postcard::Error::SerializeBufferFull) => Ok(None),
            Err(e) => Err(io::Error::other(e)),
        }
    }

    /// A kept answer, as [`StoredAnswer::of`] wrote it (or as JSON, the
    /// way answers were kept before).
    pub fn parse(bytes: &[u8]) -> io::Result<Self> {
        match bytes.split_first() {
            Some((&KEPT, rest)) => postcard::from_bytes(rest).map_err(io::Error::other),
            _ => serde_json::from_slice(bytes).map_err(io::Error::other),
        }
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

/// A JSON string exactly as serde_json writes it: `"` and `\` escaped,
/// control characters as `\n`-style or `\u00XX` escapes, the rest as is.
pub fn json_str<W: Write>(w: &mut W, s: &str) -> io::Result<()> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    w.write_all(b"\"")?;
    let b = s.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(c >> 4) as usize],
                HEX[(c & 0xf) as usize],
            ],
            _ => continue,
        };
        w.write_all(&b[start..i])?;
        w.write_all(esc)?;
        start = i + 1;
    }
    w.write_all(&b[start..])?;
    w.write_all(b"\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_answer_is_the_answer_and_is_refused_past_the_cap() {
        // Counted first (more than UNCOUNTED_LINES lines), and not.
        kept_and_capped(50);
        kept_and_capped(2);
    }

    fn kept_and_capped(lines: u64) {
        use crate::rules::{Context, NoHistory};
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let config = Config::load_dir(&dir).unwrap();
        let ctx = Context {
            regime: &config.regime,
            today: crate::types::parse_datum("2024-04-10").unwrap(),
            indications: None,
            require_start_of_delivery: true,
            history: &NoHistory,
        };
        let input = io::BufReader::new(crate::synth::SynthBatch::new(lines, 4));
        let mut outcome = crate::check::check_message(input, &config, &ctx).unwrap();
        assert_eq!(outcome.totals.aantal_geaccepteerd, lines);
        let kept = StoredAnswer::of(&mut outcome, &config, usize::MAX)
            .unwrap()
            .unwrap();
        for format in [Format::Xml, Format::Json] {
            let mut first = Vec::new();
            write_outcome(&mut outcome, &config, format, false, &mut first).unwrap();
            let mut again = Vec::new();
            let record = StoredAnswer::parse(&kept).unwrap();
            record.write(format, &mut again).unwrap();
            assert_eq!(String::from_utf8(again), String::from_utf8(first.clone()));
            // An answer kept as JSON (before 2026-12-02) reads the same.
            let json = serde_json::to_vec(&record).unwrap();
            assert_eq!(json[0], b'{');
            let mut old = Vec::new();
            StoredAnswer::parse(&json)
                .unwrap()
                .write(format, &mut old)
                .unwrap();
            assert_eq!(String::from_utf8(old), String::from_utf8(first));
        }
        // Exactly at the cap it is kept, one byte less it is not.
        let at_cap = StoredAnswer::of(&mut outcome, &config, kept.len()).unwrap();
        assert_eq!(at_cap.as_deref(), Some(&kept[..]));
        let below = StoredAnswer::of(&mut outcome, &config, kept.len() - 1).unwrap();
        assert!(below.is_none());
        // The first pass refuses before writing anything when the lines
        // alone take more than the cap.
        assert!(StoredAnswer::of(&mut outcome, &config, kept.len() / 2)
            .unwrap()
            .is_none());
    }

    /// Postcard keeps an enum as its variant's position. A variant added
    /// anywhere but at the end, or two swapped, would read every answer kept
    /// before wrong: add new ones at the end.
    #[test]
    fn kept_answers_pin_the_position_of_every_variant() {
        use crate::model::verdict::Route;
        use crate::retourcode::Retourcode;
        use crate::types::{DebetCredit, Eenheid};
        fn at<T: Serialize>(v: T) -> Vec<u8> {
            postcard::to_allocvec(&v).unwrap()
        }
        let verwerking = [
            Verwerking::Geaccepteerd,
            Verwerking::Gedeeltelijk,
            Verwerking::Afgewezen,
            Verwerking::Test,
        ];
        assert_eq!(at(verwerking), [0, 1, 2, 3]);
        assert_eq!(
            at([Route::Zio, Route::Regulier, Route::Afgewezen]),
            [0, 1, 2]
        );
        assert_eq!(
            at([Eenheid::Minuut, Eenheid::Uur, Eenheid::Dagdeel]),
            [0, 1, 2]
        );
        assert_eq!(at([DebetCredit::Debet, DebetCredit::Credit]), [0, 1]);
        let codes = [
            "0101", "0102", "0103", "0104", "0105", "0106", "0107", "0108", "0109", "0110", "0201",
            "0202", "0301", "0302", "0303", "0304", "0305", "0306", "0307", "0308", "0309", "0310",
            "0311", "0312", "0401", "0402", "0403", "0404", "0405", "0406", "0407", "0501", "0502",
            "0503", "0504", "0505", "0506", "0507", "0901",
        ];
        for (i, code) in codes.iter().enumerate() {
            let r = Retourcode::from_code(code).unwrap();
            assert_eq!(at(r), [i as u8], "{code}");
        }
        assert_eq!(
            Retourcode::ALL.len(),
            codes.len(),
            "a new code goes at the end"
        );
    }

    #[test]
    fn json_strings_match_serde_json() {
        for s in [
            "",
            "plain",
            "a \"quoted\" \\ back/slash",
            "\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}",
            "één € ✓",
        ] {
            let mut out = Vec::new();
            json_str(&mut out, s).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }
}
