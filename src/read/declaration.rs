//! The streaming Declaratiebericht reader: the Header, then one Client at a
//! time, then the Totalen. It holds at most one client in memory and checks
//! the schema as it goes, so every structural error names its element path and
//! line:column.

use super::xml::{Attributes, Fault, NodeRef, Pos, XmlError, XmlPull, MAX_VALUE_BYTES};
use crate::model::declaration::{BerichtId, Client, Header, Prestatie, Totalen, NS_DECLARATIE};
use crate::types::{
    parse_besluitnummer, parse_boolean, parse_datum, parse_digits, AgbCode, Brin, Bsn, DebetCredit,
    Eenheid, Period, ProductCode, Referentie, ZorgkantoorCode,
};
use std::io::BufRead;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stage {
    Header,
    Clients,
    Totalen,
    Done,
}

/// One step of the element path: the name and, for repeated elements, the
/// 1-based index (`Client[3]`). Formatted only when an error names it.
#[derive(Clone, Copy, Debug)]
struct Segment {
    name: &'static str,
    index: Option<u64>,
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(n) => write!(f, "{}[{n}]", self.name),
            None => f.write_str(self.name),
        }
    }
}

pub struct DeclaratieReader<R: BufRead> {
    xml: XmlPull<R>,
    path: Vec<Segment>,
    clients: u64,
    stage: Stage,
    /// A value's text pieces and its collapsed form, reused for every value.
    raw: String,
    value: String,
    /// Take simple elements straight from the bytes ([`XmlPull::simple`]);
    /// off only in the test that holds both paths to the same answers.
    fast: bool,
}

impl<R: BufRead> DeclaratieReader<R> {
    /// `max_bytes`: the 0104 limit, `None` for none.
    pub fn new(input: R, max_bytes: Option<u64>) -> Self {
        Self {
            xml: XmlPull::new(input, max_bytes, Attributes::Refuse),
            path: Vec::with_capacity(8),
            clients: 0,
            stage: Stage::Header,
            raw: String::new(),
            value: String::new(),
            fast: true,
        }
    }

    pub fn bytes_read(&self) -> u64 {
        self.xml.bytes_read()
    }

    /// Reads up to and including `<Clienten>`.
    pub fn read_header(&mut self) -> Result<Header, XmlError> {
        assert_eq!(self.stage, Stage::Header, "read_header called twice");
        self.open("Declaratiebericht")?;
        self.open("Header")?;
        self.open("BerichtIdentificatie")?;
        let identificatie = self.typed("Identificatie", "Referentie", Referentie::parse)?;
        let dagtekening = self.typed("Dagtekening", "Datum", declared_datum)?;
        self.close()?;
        let afzender = self.typed("Afzender", "AgbCode", AgbCode::parse)?;
        let ontvanger = self.typed("Ontvanger", "ZorgkantoorCode", ZorgkantoorCode::parse)?;
        self.open("Declaratieperiode")?;
        let begin = self.typed("Begindatum", "Datum", declared_datum)?;
        let eind = self.typed("Einddatum", "Datum", declared_datum)?;
        self.close()?;
        self.close()?;
        self.open("Clienten")?;
        self.stage = Stage::Clients;
        Ok(Header {
            bericht: BerichtId {
                identificatie,
                dagtekening,
            },
            afzender,
            ontvanger,
            periode: Period::new(begin, eind),
        })
    }

    /// The next client, or `None` after the last one (then call `read_totalen`).
    pub fn next_client(&mut self) -> Result<Option<Client>, XmlError> {
        assert_eq!(self.stage, Stage::Clients, "next_client out of order");
        if !self.next_is("Client")? {
            if self.clients == 0 {
                return Err(self.schema_error("Clienten needs at least one Client", "Client"));
            }
            self.close()?;
            self.stage = Stage::Totalen;
            return Ok(None);
        }
        self.clients += 1;
        let index = self.clients;
        self.open_indexed("Client", index)?;
        let bsn = self.typed("Bsn", "Bsn (9 digits)", Bsn::parse)?;
        let geboortedatum = self.wrapped_date("Geboortedatum")?;
        let besluitnummer = self.typed("Besluitnummer", "Besluitnummer", parse_besluitnummer)?;
        self.open("Prestaties")?;
        let mut prestaties = Vec::new();
        while self.next_is("Prestatie")? {
            prestaties.push(self.prestatie(prestaties.len() as u64 + 1)?);
        }
        if prestaties.is_empty() {
            return Err(self.schema_error("Prestaties needs at least one Prestatie", "Prestatie"));
        }
        self.close()?;
        self.close()?;
        Ok(Some(Client {
            index,
            bsn,
            geboortedatum,
            besluitnummer,
            prestaties,
        }))
    }

    /// Reads the Totalen and checks that nothing follows the root element.
    pub fn read_totalen(&mut self) -> Result<Totalen, XmlError> {
        assert_eq!(self.stage, Stage::Totalen, "read_totalen out of order");
        self.open("Totalen")?;
        let aantal_prestaties =
            self.typed("AantalPrestaties", "integer", |s| parse_digits(s, 9))?;
        let totaal_debet = self.typed("TotaalDebet", "Bedrag", |s| parse_digits(s, 8))?;
        let totaal_credit = self.typed("TotaalCredit", "Bedrag", |s| parse_digits(s, 8))?;
        self.close()?;
        self.close()?;
        match self.xml.next_ref()? {
            NodeRef::Eof => {}
            other => unreachable!("xml layer reports content after the root: {other:?}"),
        }
        self.stage = Stage::Done;
        Ok(Totalen {
            aantal_prestaties,
            totaal_debet,
            totaal_credit,
        })
    }

    /// After a schema error: reads the rest of the input only to learn
    /// whether it is well-formed at all. A message that is not well-formed is
    /// 0101 whatever else is wrong with it, as any validating parser would
    /// report; returns that later error, if any.
    pub fn drain(&mut self) -> Option<XmlError> {
        loop {
            match self.xml.next_ref() {
                Ok(NodeRef::Eof) => return None,
                Ok(_) => {}
                Err(XmlError::Input {
                    fault: Fault::Schema,
                    ..
                }) => return None,
                Err(e) => return Some(e),
            }
        }
    }

    fn prestatie(&mut self, n: u64) -> Result<Prestatie, XmlError> {
        self.open_indexed("Prestatie", n)?;
        let referentie = self.typed("ReferentieNummer", "Referentie", Referentie::parse)?;
        let vorig_referentie = if self.next_is("VorigReferentieNummer")? {
            Some(self.typed("VorigReferentieNummer", "Referentie", Referentie::parse)?)
        } else {
            None
        };
        let product = self.typed("ProductCode", "ProductCode", ProductCode::parse)?;
        let begin = self.typed("Begindatum", "Datum", declared_datum)?;
        let eind = self.typed("Einddatum", "Datum", declared_datum)?;
        let volume = self.typed("GeleverdVolume", "Volume (1-99999)", |s| {
            parse_digits(s, 5).filter(|&v| v >= 1)
        })?;
        let eenheid = self.typed("Eenheid", "Eenheid (01, 04 or 16)", Eenheid::parse)?;
        let tarief = self.typed("ProductTarief", "Tarief", |s| parse_digits(s, 8))?;
        let bedrag = self.typed("Bedrag", "Bedrag", |s| parse_digits(s, 8))?;
        let debet_credit = self.typed("DebetCredit", "DebetCredit (D or C)", DebetCredit::parse)?;
        let onderwijstijd = if self.next_is("Onderwijstijd")? {
            Some(self.typed("Onderwijstijd", "xs:boolean", parse_boolean)?)
        } else {
            None
        };
        let brin = if self.next_is("Brin")? {
            Some(self.typed("Brin", "Brin", Brin::parse)?)
        } else {
            None
        };
        self.close()?;
        Ok(Prestatie {
            referentie,
            vorig_referentie,
            product,
            periode: Period::new(begin, eind),
            volume,
            eenheid,
            tarief,
            bedrag,
            debet_credit,
            onderwijstijd,
            brin,
        })
    }

    /// `Geboortedatum` holds its date directly (our schema), unlike iWlz.
    fn wrapped_date(&mut self, name: &'static str) -> Result<chrono::NaiveDate, XmlError> {
        self.typed(name, "Datum", declared_datum)
    }

    // ---- structure ----------------------------------------------------------

    fn path_with(&self, child: &str) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        for p in &self.path {
            let _ = write!(s, "/{p}");
        }
        if !child.is_empty() {
            s.push('/');
            s.push_str(child);
        }
        s
    }

    fn schema_error(&self, message: impl Into<String>, child: &str) -> XmlError {
        self.xml
            .error(Fault::Schema, message, self.path_with(child))
    }

    /// Skips whitespace; any other text in element-only content is an error.
    fn skip_whitespace(&mut self) -> Result<(), XmlError> {
        if self.fast {
            self.xml.skip_blank();
        }
        loop {
            match self.xml.peek()? {
                NodeRef::Text(t) if t.trim().is_empty() => {
                    self.xml.next_ref()?;
                }
                NodeRef::Text(_) => {
                    self.xml.next_ref()?;
                    return Err(self.schema_error("text is not allowed here", ""));
                }
                _ => return Ok(()),
            }
        }
    }

    /// Is the next node the start of our element `name`?
    fn next_is(&mut self, name: &str) -> Result<bool, XmlError> {
        if self.fast {
            self.xml.skip_blank();
            if let Some(is) = self.xml.next_start_is(name, NS_DECLARATIE) {
                return Ok(is);
            }
        }
        self.skip_whitespace()?;
        Ok(
            matches!(self.xml.peek()?, NodeRef::Start { local, ns } if local == name && ns == NS_DECLARATIE),
        )
    }

    fn open(&mut self, name: &'static str) -> Result<(), XmlError> {
        self.open_as(Segment { name, index: None })
    }

    fn open_indexed(&mut self, name: &'static str, n: u64) -> Result<(), XmlError> {
        self.open_as(Segment {
            name,
            index: Some(n),
        })
    }

    fn open_as(&mut self, segment: Segment) -> Result<(), XmlError> {
        self.skip_whitespace()?;
        let name = segment.name;
        let (local, ns) = match self.xml.next_ref()? {
            NodeRef::Start { local, ns } if local == name && ns == NS_DECLARATIE => {
                self.path.push(segment);
                return Ok(());
            }
            NodeRef::Start { local, ns } => (local.to_owned(), ns.to_owned()),
            NodeRef::End | NodeRef::Eof => {
                return Err(self.schema_error(format!("missing element {name}"), name))
            }
            NodeRef::Text(_) => unreachable!("skip_whitespace returned on text"),
        };
        if local == name {
            Err(self.schema_error(
                format!("element {local} is in namespace `{ns}`, expected `{NS_DECLARATIE}`"),
                &segment.to_string(),
            ))
        } else {
            Err(self.schema_error(
                format!("unexpected element {local}: expected {name}"),
                &local,
            ))
        }
    }

    fn close(&mut self) -> Result<(), XmlError> {
        self.skip_whitespace()?;
        let (local, ns) = match self.xml.next_ref()? {
            NodeRef::End => {
                self.path.pop();
                return Ok(());
            }
            NodeRef::Start { local, ns } => (local.to_owned(), ns.to_owned()),
            other => unreachable!("xml layer cannot give {other:?} inside an element"),
        };
        let what = if ns == NS_DECLARATIE {
            format!("unexpected element {local}")
        } else {
            format!("unexpected element {local} in namespace `{ns}`")
        };
        Err(self.schema_error(what, &local))
    }

    /// A simple element's value, whitespace collapsed, parsed by `parse`.
    fn typed<T>(
        &mut self,
        name: &'static str,
        what: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T, XmlError> {
        if self.fast {
            self.xml.skip_blank();
        }
        if let Some((text, mark)) = self
            .fast
            .then(|| self.xml.simple(name, NS_DECLARATIE))
            .flatten()
        {
            let value = if text.bytes().any(is_xml_space) {
                collapse_into(text, &mut self.value);
                &self.value
            } else {
                text
            };
            if let Some(v) = parse(value) {
                return Ok(v);
            }
            let message = format!("`{}` is not a valid {what}", shorten(value));
            return Err(XmlError::Input {
                fault: Fault::Schema,
                message,
                pos: self.xml.mark_pos(mark),
                path: self.path_with(name),
            });
        }
        self.open(name)?;
        let start: Pos = self.xml.node_pos();
        self.raw.clear();
        loop {
            match self.xml.next_ref()? {
                NodeRef::Text(t) => {
                    if self.raw.len() + t.len() > MAX_VALUE_BYTES {
                        return Err(self.schema_error(format!("value of {name} is too long"), ""));
                    }
                    self.raw.push_str(t);
                }
                NodeRef::End => break,
                NodeRef::Start { local, .. } => {
                    let local = local.to_owned();
                    return Err(self.schema_error(
                        format!("{name} holds a value, not element {local}"),
                        &local,
                    ));
                }
                NodeRef::Eof => unreachable!("xml layer reports unclosed elements"),
            }
        }
        // Most values have no whitespace to collapse: parsed as they stand.
        let value = if self.raw.bytes().any(is_xml_space) {
            collapse_into(&self.raw, &mut self.value);
            &self.value
        } else {
            &self.raw
        };
        let result = parse(value).ok_or_else(|| XmlError::Input {
            fault: Fault::Schema,
            message: format!("`{}` is not a valid {what}", shorten(value)),
            pos: start,
            path: self.path_with(""),
        });
        self.path.pop();
        result
    }
}

/// Years a declaration may name; a date outside them (`0000-01-01`) is not
/// a valid Datum (0102).
pub const DECLARED_YEARS: std::ops::RangeInclusive<i32> = 1900..=2099;

fn declared_datum(s: &str) -> Option<chrono::NaiveDate> {
    use chrono::Datelike;
    parse_datum(s).filter(|d| DECLARED_YEARS.contains(&d.year()))
}

fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// XSD `xs:token` whitespace collapse, into `out`.
fn collapse_into(s: &str, out: &mut String) {
    out.clear();
    for word in s.split([' ', '\t', '\n', '\r']).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_owned()
    } else {
        format!("{}...", s.chars().take(40).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    //! The bytes-first path ([`XmlPull::simple`], [`XmlPull::next_start_is`])
    //! must be invisible: for any input, fed in any chunks, the reader with it
    //! gives what the reader without it gives, down to every message and
    //! line:column.
    use super::*;
    use proptest::prelude::*;
    use std::io::{self, Read};

    /// Hands out the input in the given chunk sizes (cycled), as a network
    /// would, so windows end anywhere.
    struct Chunked<'a> {
        bytes: &'a [u8],
        sizes: &'a [usize],
        i: usize,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.sizes[self.i % self.sizes.len()]
                .max(1)
                .min(out.len())
                .min(self.bytes.len());
            self.i += 1;
            out[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    fn transcript(bytes: &[u8], sizes: &[usize], fast: bool, max: Option<u64>) -> Vec<String> {
        let input = io::BufReader::new(Chunked { bytes, sizes, i: 0 });
        let mut r = DeclaratieReader::new(input, max);
        r.fast = fast;
        let mut t = Vec::new();
        let err = (|| {
            t.push(format!("{:?}", r.read_header()?));
            while let Some(c) = r.next_client()? {
                t.push(format!("{c:?}"));
            }
            t.push(format!("{:?}", r.read_totalen()?));
            Ok::<(), XmlError>(())
        })();
        if let Err(e) = err {
            t.push(format!("{e:?} {:?}", e.locatie()));
            t.push(format!(
                "{:?}",
                r.drain().map(|e| (e.to_string(), e.locatie()))
            ));
        }
        t.push(r.bytes_read().to_string());
        t
    }

    /// A request as it is, without any text between elements, and with some
    /// between every two: every way quick-xml can stand before an element.
    fn variants(case: &[u8]) -> [Vec<u8>; 3] {
        let s = String::from_utf8_lossy(case);
        let tight: String = s.split('\n').map(str::trim).collect();
        let loose = tight.replace("><", ">\n  <");
        [case.to_vec(), tight.into_bytes(), loose.into_bytes()]
    }

    fn cases() -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/cases");
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path().join("request.xml"))
            .filter(|p| p.exists())
            .collect();
        paths.sort();
        paths
            .iter()
            .flat_map(|p| variants(&std::fs::read(p).unwrap()))
            .collect()
    }

    fn same(bytes: &[u8], sizes: &[usize], max: Option<u64>) {
        assert_eq!(
            transcript(bytes, sizes, true, max),
            transcript(bytes, sizes, false, max),
            "input {:?} in chunks {sizes:?}",
            String::from_utf8_lossy(bytes)
        );
    }

    #[test]
    fn every_conformance_request_reads_the_same_either_way() {
        for case in cases() {
            for sizes in [&[1 << 16][..], &[1], &[7, 3, 64], &[100, 1, 2]] {
                same(&case, sizes, None);
            }
            for max in [0, 10, 200, 500, case.len() as u64 / 2] {
                same(&case, &[1 << 16], Some(max));
            }
        }
    }

    #[test]
    fn every_truncation_reads_the_same_either_way() {
        let valid = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("conformance/cases/001-valid-basic/request.xml"),
        )
        .unwrap();
        for case in &variants(&valid) {
            for cut in 0..case.len() {
                same(&case[..cut], &[1 << 16], None);
            }
        }
    }

    const TOKENS: &[&[u8]] = &[
        b"<",
        b">",
        b"/",
        b"&",
        b"&amp;",
        b" ",
        b"\n",
        b"\t",
        b"a",
        b"1",
        b"\xff",
        b"\xc3\xa9",
        b":",
        b"\"",
        b"=",
        b"<!-- c -->",
        b"<?p?>",
        b"<![CDATA[1]]>",
        b"<a/>",
        b"</Bsn>",
        b"<Bsn>",
        b" xmlns=\"urn:other\"",
        b"x:",
        b"\x01",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn any_edit_reads_the_same_either_way(
            case in 0usize..1000,
            edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..3, 0..TOKENS.len()), 1..4),
            sizes in prop::collection::vec(1usize..200, 1..4),
        ) {
            let cases = cases();
            let mut bytes = cases[case % cases.len()].clone();
            for (at, kind, token) in edits {
                let i = at.index(bytes.len() + 1);
                match kind {
                    0 => { bytes.splice(i..i, TOKENS[token].iter().copied()); }
                    1 if i < bytes.len() => { bytes.remove(i); }
                    _ if i < bytes.len() => { bytes[i] = TOKENS[token][0]; }
                    _ => {}
                }
            }
            same(&bytes, &sizes, None);
            same(&bytes, &[1 << 16], None);
        }
    }
}
