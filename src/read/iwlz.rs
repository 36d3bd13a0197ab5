//! A streaming reader for iWlz 2.2 IO31, AW33, AW35 and AW39 messages.
//!
//! It reads the Header, then hands out one Client at a time, keeping only
//! what the 04xx checks need: the rest of each message (names, addresses,
//! grondslagen, stoornissen, classes, ...) is skipped as it streams past,
//! never built in memory. Elements are matched on namespace plus local name,
//! so any prefix spelling (or a default namespace) reads the same.
//!
//! The reader accepts every schema-valid message: it does not insist on the
//! order of the elements it reads and ignores elements it does not know. It
//! refuses what it cannot use: a message that is not one of the four, a
//! missing or mistyped value that a check depends on, and (through
//! [`XmlPull`]) anything that is not well-formed XML. Each error carries
//! line:column and the element path.

use crate::model::iwlz::{
    Aanvang, BerichtSoort, Geindiceerd, Geldigheid, Indicatie, IwlzClient, IwlzHeader, Mutatie,
    ToegewezenFunctie, ToegewezenZzp,
};
use crate::read::xml::{Attributes, Fault, Node, Pos, XmlError, XmlPull, MAX_VALUE_BYTES};
use crate::types::{parse_besluitnummer, parse_datum, parse_digits, AgbCode, Bsn, Datum};
use std::io::BufRead;

/// Namespace of the children of the shared composite types.
pub const NS_BASIS: &str = "http://www.istandaarden.nl/iwlz/2_2/basisschema/schema";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ns {
    /// The message's own namespace.
    Msg,
    /// The basisschema namespace.
    Basis,
    Other,
}

/// An element start just read.
struct Child {
    local: String,
    ns: Ns,
    pos: Pos,
}

impl Child {
    fn is(&self, ns: Ns, local: &str) -> bool {
        self.ns == ns && self.local == local
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Header,
    Clients,
    Done,
}

pub struct IwlzReader<R: BufRead> {
    xml: XmlPull<R>,
    soort: Option<BerichtSoort>,
    ns: &'static str,
    path: Vec<String>,
    clients: u64,
    stage: Stage,
}

fn set_once<T>(slot: &mut Option<T>, v: T) -> bool {
    if slot.is_some() {
        return false;
    }
    *slot = Some(v);
    true
}

fn code3(s: &str) -> Option<u16> {
    parse_digits(s, 3).map(|n| n as u16)
}

fn digit(s: &str) -> Option<u8> {
    parse_digits(s, 1).map(|n| n as u8)
}

fn time(s: &str) -> Option<String> {
    chrono::NaiveTime::parse_from_str(s, "%H:%M:%S%.f")
        .ok()
        .map(|_| s.to_owned())
}

fn short_token(s: &str) -> Option<String> {
    (!s.is_empty() && s.len() <= 35).then(|| s.to_owned())
}

impl<R: BufRead> IwlzReader<R> {
    /// `max_bytes`: refuse inputs larger than this (`None`: no limit).
    pub fn new(input: R, max_bytes: Option<u64>) -> Self {
        Self {
            xml: XmlPull::new(input, max_bytes, Attributes::Ignore),
            soort: None,
            ns: "",
            path: Vec::with_capacity(8),
            clients: 0,
            stage: Stage::Header,
        }
    }

    pub fn bytes_read(&self) -> u64 {
        self.xml.bytes_read()
    }

    /// Clients read so far.
    pub fn clients(&self) -> u64 {
        self.clients
    }

    // ---- low-level helpers -------------------------------------------------

    fn path_str(&self, extra: Option<&str>) -> String {
        let mut s = String::new();
        for p in self.path.iter().map(String::as_str).chain(extra) {
            s.push('/');
            s.push_str(p);
        }
        s
    }

    fn err(&self, pos: Pos, extra: Option<&str>, message: String) -> XmlError {
        XmlError::Input {
            fault: Fault::Schema,
            message,
            pos,
            path: self.path_str(extra),
        }
    }

    /// The next child element of the element we are in, or `None` at its end.
    fn child(&mut self) -> Result<Option<Child>, XmlError> {
        loop {
            match self.xml.next_node()? {
                Node::Start { local, ns } => {
                    let ns = if ns == self.ns {
                        Ns::Msg
                    } else if ns == NS_BASIS {
                        Ns::Basis
                    } else {
                        Ns::Other
                    };
                    return Ok(Some(Child {
                        local,
                        ns,
                        pos: self.xml.node_pos(),
                    }));
                }
                Node::End => return Ok(None),
                // Whitespace between elements (the schema has no mixed content).
                Node::Text(_) => {}
                Node::Eof => {
                    return Err(self.err(
                        self.xml.node_pos(),
                        None,
                        "unexpected end of the message".into(),
                    ))
                }
            }
        }
    }

    /// Skips the rest of the element just started, whatever it holds.
    fn skip(&mut self) -> Result<(), XmlError> {
        let mut depth = 1usize;
        while depth > 0 {
            match self.xml.next_node()? {
                Node::Start { .. } => depth += 1,
                Node::End => depth -= 1,
                Node::Text(_) => {}
                Node::Eof => {
                    return Err(self.err(
                        self.xml.node_pos(),
                        None,
                        "unexpected end of the message".into(),
                    ))
                }
            }
        }
        Ok(())
    }

    /// The text of a simple element just started, whitespace-collapsed.
    fn text(&mut self, c: &Child) -> Result<String, XmlError> {
        let mut raw = String::new();
        loop {
            match self.xml.next_node()? {
                Node::Text(t) => {
                    if raw.len() + t.len() > MAX_VALUE_BYTES {
                        return Err(self.err(
                            c.pos,
                            Some(&c.local),
                            format!("{} is longer than {MAX_VALUE_BYTES} bytes", c.local),
                        ));
                    }
                    raw.push_str(&t);
                }
                Node::End => break,
                Node::Start { local, .. } => {
                    return Err(self.err(
                        self.xml.node_pos(),
                        Some(&c.local),
                        format!("{} holds a value, not an element `{local}`", c.local),
                    ))
                }
                Node::Eof => {
                    return Err(self.err(
                        self.xml.node_pos(),
                        None,
                        "unexpected end of the message".into(),
                    ))
                }
            }
        }
        Ok(raw.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// A typed simple value: `what` names the type in the error.
    fn value<T>(
        &mut self,
        c: &Child,
        what: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T, XmlError> {
        let s = self.text(c)?;
        parse(&s).ok_or_else(|| {
            self.err(
                c.pos,
                Some(&c.local),
                format!("{}: `{s}` is not {what}", c.local),
            )
        })
    }

    /// Stores a typed value into a slot that must not be filled yet.
    fn once<T>(
        &mut self,
        slot: &mut Option<T>,
        c: &Child,
        what: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<(), XmlError> {
        let v = self.value(c, what, parse)?;
        if set_once(slot, v) {
            Ok(())
        } else {
            Err(self.err(c.pos, Some(&c.local), format!("{} appears twice", c.local)))
        }
    }

    fn date(&mut self, slot: &mut Option<Datum>, c: &Child) -> Result<(), XmlError> {
        self.once(slot, c, "a date YYYY-MM-DD", parse_datum)
    }

    /// A required value, or an error at the end of the element that lacks it.
    fn required<T>(&self, v: Option<T>, name: &str) -> Result<T, XmlError> {
        v.ok_or_else(|| self.err(self.xml.node_pos(), None, format!("{name} is missing")))
    }

    fn enter(&mut self, name: String) {
        self.path.push(name);
    }

    fn leave(&mut self) {
        self.path.pop();
    }

    /// Reads every `item` child of a list element just started with `f`;
    /// other children are skipped.
    fn list<T>(
        &mut self,
        c: &Child,
        item: &str,
        mut f: impl FnMut(&mut Self) -> Result<T, XmlError>,
    ) -> Result<Vec<T>, XmlError> {
        self.enter(c.local.clone());
        let mut out = Vec::new();
        while let Some(ch) = self.child()? {
            if ch.is(Ns::Msg, item) {
                self.enter(format!("{item}[{}]", out.len() + 1));
                out.push(f(self)?);
                self.leave();
            } else {
                self.skip()?;
            }
        }
        self.leave();
        Ok(out)
    }

    // ---- the message ---------------------------------------------------------

    /// Reads the root element and the Header, up to the start of `Clienten`.
    pub fn read_header(&mut self) -> Result<IwlzHeader, XmlError> {
        assert_eq!(self.stage, Stage::Header, "read_header called twice");
        let (local, ns) = match self.xml.next_node()? {
            Node::Start { local, ns } => (local, ns),
            other => unreachable!("the xml layer starts with the root element, not {other:?}"),
        };
        let soort = (local == "Bericht")
            .then(|| BerichtSoort::from_namespace(&ns))
            .flatten();
        let Some(soort) = soort else {
            let ns = if ns.is_empty() {
                "no namespace".into()
            } else {
                format!("namespace {ns}")
            };
            return Err(self.err(
                self.xml.node_pos(),
                Some(&local),
                format!(
                    "not an iWlz 2.2 IO31, AW33, AW35 or AW39 message: the root element is `{local}` in {ns}"
                ),
            ));
        };
        self.soort = Some(soort);
        self.ns = soort.namespace();
        self.enter("Bericht".into());
        let mut header = None;
        loop {
            let Some(c) = self.child()? else {
                return Err(self.err(self.xml.node_pos(), None, "Clienten is missing".into()));
            };
            if c.is(Ns::Msg, "Header") {
                if header.is_some() {
                    return Err(self.err(c.pos, Some("Header"), "Header appears twice".into()));
                }
                header = Some(self.header(soort)?);
            } else if c.is(Ns::Msg, "Clienten") {
                let Some(h) = header else {
                    return Err(self.err(c.pos, Some("Header"), "Header is missing".into()));
                };
                self.enter("Clienten".into());
                self.stage = Stage::Clients;
                return Ok(h);
            } else {
                self.skip()?;
            }
        }
    }

    fn header(&mut self, soort: BerichtSoort) -> Result<IwlzHeader, XmlError> {
        self.enter("Header".into());
        let (mut code, mut afzender, mut ontvanger, mut ident, mut dag) =
            (None, None, None, None, None);
        while let Some(c) = self.child()? {
            match (c.ns, c.local.as_str()) {
                (Ns::Msg, "BerichtCode") => self.once(&mut code, &c, "a BerichtCode", code3)?,
                (Ns::Msg, "Afzender") => self.once(&mut afzender, &c, "a code", short_token)?,
                (Ns::Msg, "Ontvanger") => self.once(&mut ontvanger, &c, "a code", short_token)?,
                (Ns::Msg, "BerichtIdentificatie") => {
                    self.enter(c.local.clone());
                    while let Some(cc) = self.child()? {
                        match (cc.ns, cc.local.as_str()) {
                            (Ns::Basis, "Identificatie") => {
                                self.once(&mut ident, &cc, "1 to 12 characters", |s| {
                                    (1..=12).contains(&s.chars().count()).then(|| s.to_owned())
                                })?
                            }
                            (Ns::Basis, "Dagtekening") => self.date(&mut dag, &cc)?,
                            _ => self.skip()?,
                        }
                    }
                    let id = self.required(ident.take(), "Identificatie")?;
                    let d = self.required(dag.take(), "Dagtekening")?;
                    self.leave();
                    ident = Some(id);
                    dag = Some(d);
                }
                _ => self.skip()?,
            }
        }
        let code = self.required(code, "BerichtCode")?;
        if code != soort.code() {
            return Err(self.err(
                self.xml.node_pos(),
                Some("BerichtCode"),
                format!(
                    "BerichtCode {code} does not match the {soort} namespace (expected {})",
                    soort.code()
                ),
            ));
        }
        let identificatie = self.required(ident, "BerichtIdentificatie")?;
        let dagtekening = self.required(dag, "BerichtIdentificatie")?;
        self.leave();
        Ok(IwlzHeader {
            soort,
            identificatie,
            dagtekening,
            afzender,
            ontvanger,
        })
    }

    /// The next Client, or `None` after the last one (the rest of the
    /// message is then read to its end).
    pub fn next_client(&mut self) -> Result<Option<IwlzClient>, XmlError> {
        match self.stage {
            Stage::Header => panic!("next_client before read_header"),
            Stage::Done => return Ok(None),
            Stage::Clients => {}
        }
        loop {
            match self.child()? {
                Some(c) if c.is(Ns::Msg, "Client") => {
                    self.clients += 1;
                    self.enter(format!("Client[{}]", self.clients));
                    let client = self.client()?;
                    self.leave();
                    return Ok(Some(client));
                }
                Some(_) => self.skip()?,
                None => {
                    if self.clients == 0 {
                        return Err(self.err(
                            self.xml.node_pos(),
                            None,
                            "Clienten needs at least one Client".into(),
                        ));
                    }
                    self.leave();
                    // Anything after Clienten belongs to no check.
                    while self.child()?.is_some() {
                        self.skip()?;
                    }
                    self.leave();
                    match self.xml.next_node()? {
                        Node::Eof => {}
                        other => {
                            unreachable!("xml layer reports content after the root: {other:?}")
                        }
                    }
                    self.stage = Stage::Done;
                    return Ok(None);
                }
            }
        }
    }

    fn client(&mut self) -> Result<IwlzClient, XmlError> {
        let soort = self.soort.expect("header read");
        let mut out = IwlzClient::default();
        let (mut bsn, mut geboren) = (None, None);
        let mut indicaties = 0usize;
        while let Some(c) = self.child()? {
            match (c.ns, c.local.as_str()) {
                (Ns::Msg, "Bsn") => self.once(&mut bsn, &c, "a BSN of 9 digits", Bsn::parse)?,
                (Ns::Msg, "Geboortedatum") => {
                    self.enter(c.local.clone());
                    let mut d = None;
                    while let Some(cc) = self.child()? {
                        if cc.is(Ns::Basis, "Datum") {
                            self.date(&mut d, &cc)?;
                        } else {
                            self.skip()?;
                        }
                    }
                    self.leave();
                    geboren = d;
                }
                (Ns::Msg, "Indicatie")
                    if matches!(soort, BerichtSoort::Io31 | BerichtSoort::Aw33) =>
                {
                    indicaties += 1;
                    let name = if indicaties == 1 {
                        "Indicatie".to_owned()
                    } else {
                        format!("Indicatie[{indicaties}]")
                    };
                    self.enter(name);
                    self.indicatie(&mut out)?;
                    self.leave();
                }
                (Ns::Msg, "GeleverdeFuncties") if soort == BerichtSoort::Aw35 => {
                    let v = self.list(&c, "GeleverdeFunctie", Self::geleverde_functie)?;
                    out.aanvangen.extend(v);
                }
                (Ns::Msg, "MutatieFuncties") if soort == BerichtSoort::Aw39 => {
                    let v = self.list(&c, "MutatieFunctie", Self::mutatie_functie)?;
                    out.mutaties.extend(v);
                }
                _ => self.skip()?,
            }
        }
        out.bsn = Some(self.required(bsn, "Bsn")?);
        out.geboortedatum = geboren;
        Ok(out)
    }

    fn indicatie(&mut self, out: &mut IwlzClient) -> Result<(), XmlError> {
        let (mut besluit, mut afgifte, mut ingang, mut eind) = (None, None, None, None);
        let (mut functies, mut zzps, mut tf, mut tz) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        while let Some(c) = self.child()? {
            match (c.ns, c.local.as_str()) {
                (Ns::Msg, "Besluitnummer") => self.once(
                    &mut besluit,
                    &c,
                    "a Besluitnummer (1-999999999)",
                    parse_besluitnummer,
                )?,
                (Ns::Msg, "Afgiftedatum") => self.date(&mut afgifte, &c)?,
                (Ns::Msg, "Ingangsdatum") => self.date(&mut ingang, &c)?,
                (Ns::Msg, "Einddatum") => self.date(&mut eind, &c)?,
                (Ns::Msg, "GeindiceerdeFuncties") => {
                    functies.extend(
                        self.list(&c, "GeindiceerdeFunctie", |r| r.geindiceerd("FunctieCode"))?,
                    )
                }
                (Ns::Msg, "GeindiceerdeZorgzwaartepakketten") => {
                    zzps.extend(self.list(&c, "GeindiceerdZorgzwaartepakket", |r| {
                        r.geindiceerd("ZzpCode")
                    })?)
                }
                (Ns::Msg, "ToegewezenFuncties") => {
                    tf.extend(self.list(&c, "ToegewezenFunctie", Self::toegewezen_functie)?)
                }
                (Ns::Msg, "ToegewezenZorgzwaartepakketten") => {
                    tz.extend(self.list(&c, "ToegewezenZorgzwaartepakket", Self::toegewezen_zzp)?)
                }
                _ => self.skip()?,
            }
        }
        let besluitnummer = self.required(besluit, "Besluitnummer")?;
        let ingangsdatum = self.required(ingang, "Ingangsdatum")?;
        for mut f in tf {
            f.besluitnummer = besluitnummer;
            out.functies.push(f);
        }
        for mut z in tz {
            z.besluitnummer = besluitnummer;
            out.zzps.push(z);
        }
        out.indicaties.push(Indicatie {
            besluitnummer,
            afgiftedatum: afgifte,
            geldig: Geldigheid::new(ingangsdatum, eind),
            functies,
            zzps,
        });
        Ok(())
    }

    fn geindiceerd(&mut self, code_name: &str) -> Result<Geindiceerd, XmlError> {
        let (mut code, mut ingang, mut eind) = (None, None, None);
        while let Some(c) = self.child()? {
            match c.local.as_str() {
                _ if c.ns != Ns::Msg => self.skip()?,
                n if n == code_name => {
                    self.once(&mut code, &c, "a code of up to 3 digits", code3)?
                }
                "Ingangsdatum" => self.date(&mut ingang, &c)?,
                "Einddatum" => self.date(&mut eind, &c)?,
                _ => self.skip()?,
            }
        }
        Ok(Geindiceerd {
            code: self.required(code, code_name)?,
            geldig: Geldigheid::new(self.required(ingang, "Ingangsdatum")?, eind),
        })
    }

    fn toegewezen_functie(&mut self) -> Result<ToegewezenFunctie, XmlError> {
        let (mut code, mut inst, mut ingang, mut eind) = (None, None, None, None);
        let (mut tdatum, mut ttijd, mut reden) = (None, None, None);
        while let Some(c) = self.child()? {
            match (c.ns, c.local.as_str()) {
                (Ns::Msg, "FunctieCode") => {
                    self.once(&mut code, &c, "a FunctieCode of up to 3 digits", code3)?
                }
                (Ns::Msg, "Instelling") => {
                    self.once(&mut inst, &c, "an AGB code of 8 digits", AgbCode::parse)?
                }
                (Ns::Msg, "Ingangsdatum") => self.date(&mut ingang, &c)?,
                (Ns::Msg, "Einddatum") => self.date(&mut eind, &c)?,
                (Ns::Msg, "Toewijzingsdatum") => self.date(&mut tdatum, &c)?,
                (Ns::Msg, "Toewijzingstijd") => {
                    self.once(&mut ttijd, &c, "a time HH:MM:SS", time)?
                }
                (Ns::Msg, "RedenIntrekking") => self.once(&mut reden, &c, "a code", short_token)?,
                _ => self.skip()?,
            }
        }
        Ok(ToegewezenFunctie {
            functiecode: self.required(code, "FunctieCode")?,
            instelling: self.required(inst, "Instelling")?,
            geldig: Geldigheid::new(self.required(ingang, "Ingangsdatum")?, eind),
            besluitnummer: 0,
            toewijzingsdatum: tdatum,
            toewijzingstijd: ttijd,
            reden_intrekking: reden,
        })
    }

    fn toegewezen_zzp(&mut self) -> Result<ToegewezenZzp, XmlError> {
        let (mut code, mut inst, mut ingang, mut eind, mut vorm) = (None, None, None, None, None);
        let (mut tdatum, mut ttijd, mut reden) = (None, None, None);
        while let Some(c) = self.child()? {
            match (c.ns, c.local.as_str()) {
                (Ns::Msg, "ZzpCode") => {
                    self.once(&mut code, &c, "a ZzpCode of up to 3 digits", code3)?
                }
                (Ns::Msg, "Instelling") => {
                    self.once(&mut inst, &c, "an AGB code of 8 digits", AgbCode::parse)?
                }
                (Ns::Msg, "Ingangsdatum") => self.date(&mut ingang, &c)?,
                (Ns::Msg, "Einddatum") => self.date(&mut eind, &c)?,
                (Ns::Msg, "Leveringsvorm") => {
                    self.once(&mut vorm, &c, "a Leveringsvorm (one digit)", digit)?
                }
                (Ns::Msg, "Toewijzingsdatum") => self.date(&mut tdatum, &c)?,
                (Ns::Msg, "Toewijzingstijd") => {
                    self.once(&mut ttijd, &c, "a time HH:MM:SS", time)?
                }
                (Ns::Msg, "RedenIntrekking") => self.once(&mut reden, &c, "a code", short_token)?,
                _ => self.skip()?,
            }
        }
        Ok(ToegewezenZzp {
            zzpcode: self.required(code, "ZzpCode")?,
            instelling: inst,
            leveringsvorm: self.required(vorm, "Leveringsvorm")?,
            geldig: Geldigheid::new(self.required(ingang, "Ingangsdatum")?, eind),
            besluitnummer: 0,
            toewijzingsdatum: tdatum,
            toewijzingstijd: ttijd,
            reden_intrekking: reden,
        })
    }

    /// The fields of an AW35 GeleverdeFunctie or an AW39 MutatieFunctie.
    fn melding(&mut self) -> Result<Melding, XmlError> {
        let mut m = Melding::default();
        while let Some(c) = self.child()? {
            if c.ns != Ns::Msg {
                self.skip()?;
                continue;
            }
            match c.local.as_str() {
                "Besluitnummer" => self.once(
                    &mut m.besluit,
                    &c,
                    "a Besluitnummer (1-999999999)",
                    parse_besluitnummer,
                )?,
                "FunctieCode" => {
                    self.once(&mut m.code, &c, "a FunctieCode of up to 3 digits", code3)?
                }
                "Instelling" => {
                    self.once(&mut m.inst, &c, "an AGB code of 8 digits", AgbCode::parse)?
                }
                "ToewijzingIngangsdatum" => self.date(&mut m.tingang, &c)?,
                "StatusAanlevering" => {
                    self.once(&mut m.status, &c, "a StatusAanlevering (one digit)", digit)?
                }
                "Begindatum" => self.date(&mut m.begin, &c)?,
                "Mutatiecode" => {
                    self.once(&mut m.mcode, &c, "a Mutatiecode of up to 3 digits", code3)?
                }
                "Mutatiedatum" => self.date(&mut m.mdatum, &c)?,
                _ => self.skip()?,
            }
        }
        Ok(m)
    }

    fn geleverde_functie(&mut self) -> Result<Aanvang, XmlError> {
        let m = self.melding()?;
        Ok(Aanvang {
            functiecode: self.required(m.code, "FunctieCode")?,
            instelling: self.required(m.inst, "Instelling")?,
            toewijzing_ingangsdatum: self.required(m.tingang, "ToewijzingIngangsdatum")?,
            begindatum: self.required(m.begin, "Begindatum")?,
            besluitnummer: self.required(m.besluit, "Besluitnummer")?,
            status: m.status.unwrap_or(1),
        })
    }

    fn mutatie_functie(&mut self) -> Result<Mutatie, XmlError> {
        let m = self.melding()?;
        Ok(Mutatie {
            functiecode: self.required(m.code, "FunctieCode")?,
            instelling: self.required(m.inst, "Instelling")?,
            toewijzing_ingangsdatum: self.required(m.tingang, "ToewijzingIngangsdatum")?,
            mutatiecode: self.required(m.mcode, "Mutatiecode")?,
            mutatiedatum: self.required(m.mdatum, "Mutatiedatum")?,
            besluitnummer: self.required(m.besluit, "Besluitnummer")?,
            status: m.status.unwrap_or(1),
        })
    }
}

#[derive(Default)]
struct Melding {
    besluit: Option<u64>,
    code: Option<u16>,
    inst: Option<AgbCode>,
    tingang: Option<Datum>,
    status: Option<u8>,
    begin: Option<Datum>,
    mcode: Option<u16>,
    mdatum: Option<Datum>,
}

/// Reads a whole message into memory (tests and small tools; ingest streams).
pub fn read_all(bytes: &[u8]) -> Result<(IwlzHeader, Vec<IwlzClient>), XmlError> {
    let mut r = IwlzReader::new(bytes, None);
    let h = r.read_header()?;
    let mut v = Vec::new();
    while let Some(c) = r.next_client()? {
        v.push(c);
    }
    Ok((h, v))
}
