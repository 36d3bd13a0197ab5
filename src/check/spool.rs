//! Line verdicts wait here until the message has been read to its end: only
//! then is the Verwerking known, and a message-level code may still void them
//! all. The first [`IN_MEMORY`] bytes stay in memory (a small message, the
//! common case on the request path, never touches the file system); past
//! that the records move to an anonymous temporary file, so memory stays flat
//! whatever the batch size.
//!
//! Each verdict is one compact binary record, written field by field (no
//! serde): a valid line costs about 70 bytes and no allocation. The answer
//! reads the records back as borrowed [`LineView`]s; the ledger and the
//! forwarder as whole [`LineVerdict`]s.
//!
//! A record: `u16` length of the rest, then the fields in this order:
//!
//! | field | encoding |
//! |---|---|
//! | route | `u8` (0 ZIO, 1 REGULIER, 2 AFGEWEZEN) |
//! | codes | `u8` count, then one `u8` per code (its index in [`Retourcode::ALL`]) |
//! | referentie, bsn, product_code | `u8` length + bytes each |
//! | oorspronkelijke_product_code | `u8` length + bytes, length 255 for none |
//! | client_index, besluitnummer, volume, tarief, bedrag | `u64` LE each |
//! | geboortedatum, begin, eind | `i32` LE days from the common era each |
//! | eenheid, debet_credit, onderwijstijd | `u8` each (onderwijstijd: 0 false, 1 true, 2 none) |
//! | product, vorig_referentie, brin | as oorspronkelijke_product_code |

use crate::model::declaration::Prestatie;
use crate::model::verdict::{LineVerdict, LineView, Route};
use crate::retourcode::Retourcode;
use crate::types::{Brin, Bsn, Datum, DebetCredit, Eenheid, Period, ProductCode, Referentie};
use chrono::Datelike;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

const NONE: u8 = 255;

/// Records kept in memory before the spool moves to a file.
pub const IN_MEMORY: usize = 256 * 1024;

pub struct Spool {
    store: Store,
    record: Vec<u8>,
    len: u64,
}

enum Store {
    Memory(Vec<u8>),
    File(BufWriter<File>),
}

/// Where a reader reads the records from.
enum Source {
    Memory(io::Cursor<Vec<u8>>),
    File(BufReader<File>),
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Memory(c) => c.read(buf),
            Source::File(f) => f.read(buf),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        match self {
            Source::Memory(c) => c.read_exact(buf),
            Source::File(f) => f.read_exact(buf),
        }
    }
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    assert!(s.len() < NONE as usize, "spool field too long");
    b.push(s.len() as u8);
    b.extend_from_slice(s.as_bytes());
}

fn put_opt(b: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put_str(b, s),
        None => b.push(NONE),
    }
}

fn put_date(b: &mut Vec<u8>, d: Datum) {
    b.extend_from_slice(&d.num_days_from_ce().to_le_bytes());
}

fn route_byte(r: Route) -> u8 {
    match r {
        Route::Zio => 0,
        Route::Regulier => 1,
        Route::Afgewezen => 2,
    }
}

/// Encodes `v` as one record (length prefix included) into `b`.
pub fn encode(b: &mut Vec<u8>, v: &LineVerdict) {
    b.clear();
    b.extend_from_slice(&[0, 0]);
    b.push(route_byte(v.route));
    b.push(v.codes.len() as u8);
    b.extend(v.codes.iter().map(|&c| c as u8));
    let p = &v.prestatie;
    put_str(b, p.referentie.as_str());
    put_str(b, v.bsn.as_str());
    put_str(b, v.product_code.as_str());
    put_opt(
        b,
        v.oorspronkelijke_product_code.as_ref().map(|c| c.as_str()),
    );
    for n in [
        v.client_index,
        v.besluitnummer,
        p.volume,
        p.tarief,
        p.bedrag,
    ] {
        b.extend_from_slice(&n.to_le_bytes());
    }
    put_date(b, v.geboortedatum);
    put_date(b, p.periode.from);
    put_date(b, p.periode.to);
    b.push(match p.eenheid {
        Eenheid::Minuut => 0,
        Eenheid::Uur => 1,
        Eenheid::Dagdeel => 2,
    });
    b.push(match p.debet_credit {
        DebetCredit::Debet => 0,
        DebetCredit::Credit => 1,
    });
    b.push(match p.onderwijstijd {
        Some(false) => 0,
        Some(true) => 1,
        None => 2,
    });
    put_str(b, p.product.as_str());
    put_opt(b, p.vorig_referentie.as_ref().map(|r| r.as_str()));
    put_opt(b, p.brin.as_ref().map(|r| r.as_str()));
    let n = (b.len() - 2) as u16;
    b[..2].copy_from_slice(&n.to_le_bytes());
}

impl Spool {
    /// An empty spool (in memory until it grows past [`IN_MEMORY`]; its
    /// file, if any, is gone when dropped).
    pub fn new() -> io::Result<Self> {
        Ok(Self {
            store: Store::Memory(Vec::new()),
            record: Vec::with_capacity(256),
            len: 0,
        })
    }

    pub fn push(&mut self, v: &LineVerdict) -> io::Result<()> {
        encode(&mut self.record, v);
        if let Store::Memory(m) = &mut self.store {
            if m.len() + self.record.len() <= IN_MEMORY {
                m.extend_from_slice(&self.record);
                self.len += 1;
                return Ok(());
            }
            let mut w = BufWriter::with_capacity(64 * 1024, tempfile::tempfile()?);
            w.write_all(m)?;
            self.store = Store::File(w);
        }
        if let Store::File(w) = &mut self.store {
            w.write_all(&self.record)?;
        }
        self.len += 1;
        Ok(())
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads the records back in input order, borrowed one at a time (see
    /// [`SpoolReader::next_view`]); may be called more than once.
    pub fn reader(&mut self) -> io::Result<SpoolReader> {
        let source = match &mut self.store {
            Store::Memory(m) => Source::Memory(io::Cursor::new(m.clone())),
            Store::File(w) => {
                w.flush()?;
                let mut file = w.get_ref().try_clone()?;
                file.seek(SeekFrom::Start(0))?;
                Source::File(BufReader::with_capacity(64 * 1024, file))
            }
        };
        Ok(SpoolReader {
            reader: source,
            record: Vec::with_capacity(256),
            codes: Vec::with_capacity(8),
            left: self.len,
        })
    }

    /// Reads the verdicts back in input order; may be called more than once.
    pub fn iter(&mut self) -> io::Result<SpoolIter> {
        Ok(SpoolIter(self.reader()?))
    }
}

fn corrupt() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "spool record is corrupt")
}

/// Reads fields off one record.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn bytes(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(corrupt());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.bytes(1)?[0])
    }
    fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_le_bytes(self.bytes(8)?.try_into().expect("8")))
    }
    fn date(&mut self) -> io::Result<Datum> {
        let d = i32::from_le_bytes(self.bytes(4)?.try_into().expect("4"));
        Datum::from_num_days_from_ce_opt(d).ok_or_else(corrupt)
    }
    fn str_of(&mut self, n: usize) -> io::Result<&'a str> {
        std::str::from_utf8(self.bytes(n)?).map_err(|_| corrupt())
    }
    fn str(&mut self) -> io::Result<&'a str> {
        let n = self.u8()? as usize;
        self.str_of(n)
    }
    fn opt(&mut self) -> io::Result<Option<&'a str>> {
        match self.u8()? {
            NONE => Ok(None),
            n => self.str_of(n as usize).map(Some),
        }
    }
}

fn route_of(b: u8) -> io::Result<Route> {
    match b {
        0 => Ok(Route::Zio),
        1 => Ok(Route::Regulier),
        2 => Ok(Route::Afgewezen),
        _ => Err(corrupt()),
    }
}

fn parsed<T>(s: &str, parse: impl FnOnce(&str) -> Option<T>) -> io::Result<T> {
    parse(s).ok_or_else(corrupt)
}

pub struct SpoolReader {
    reader: Source,
    record: Vec<u8>,
    codes: Vec<Retourcode>,
    left: u64,
}

impl SpoolReader {
    /// Reads the next record into the reader's buffer; `false` at the end.
    fn advance(&mut self) -> io::Result<bool> {
        if self.left == 0 {
            return Ok(false);
        }
        self.left -= 1;
        let mut n = [0u8; 2];
        self.reader.read_exact(&mut n)?;
        self.record.resize(u16::from_le_bytes(n) as usize, 0);
        self.reader.read_exact(&mut self.record)?;
        Ok(true)
    }

    /// The start of the current record: route, codes and what the answer
    /// shows; the cursor is left after them.
    fn head(&mut self) -> io::Result<(LineView<'_>, Cursor<'_>)> {
        let mut c = Cursor(&self.record);
        let route = route_of(c.u8()?)?;
        let n = c.u8()? as usize;
        self.codes.clear();
        for &i in c.bytes(n)? {
            self.codes
                .push(*Retourcode::ALL.get(i as usize).ok_or_else(corrupt)?);
        }
        let referentie = c.str()?;
        let bsn = c.str()?;
        let product_code = c.str()?;
        let oorspronkelijke_product_code = c.opt()?;
        Ok((
            LineView {
                referentie,
                bsn,
                route,
                product_code,
                oorspronkelijke_product_code,
                codes: &self.codes,
            },
            c,
        ))
    }

    /// The next verdict as the answer shows it, borrowed from the reader.
    pub fn next_view(&mut self) -> io::Result<Option<LineView<'_>>> {
        if !self.advance()? {
            return Ok(None);
        }
        self.head().map(|(v, _)| Some(v))
    }

    /// The next verdict, whole.
    pub fn next_verdict(&mut self) -> io::Result<Option<LineVerdict>> {
        if !self.advance()? {
            return Ok(None);
        }
        let (v, mut c) = self.head()?;
        let client_index = c.u64()?;
        let besluitnummer = c.u64()?;
        let volume = c.u64()?;
        let tarief = c.u64()?;
        let bedrag = c.u64()?;
        let geboortedatum = c.date()?;
        let from = c.date()?;
        let to = c.date()?;
        let eenheid = match c.u8()? {
            0 => Eenheid::Minuut,
            1 => Eenheid::Uur,
            2 => Eenheid::Dagdeel,
            _ => return Err(corrupt()),
        };
        let debet_credit = match c.u8()? {
            0 => DebetCredit::Debet,
            1 => DebetCredit::Credit,
            _ => return Err(corrupt()),
        };
        let onderwijstijd = match c.u8()? {
            0 => Some(false),
            1 => Some(true),
            2 => None,
            _ => return Err(corrupt()),
        };
        let product = parsed(c.str()?, ProductCode::parse)?;
        let vorig_referentie = c.opt()?.map(|s| parsed(s, Referentie::parse)).transpose()?;
        let brin = c.opt()?.map(|s| parsed(s, Brin::parse)).transpose()?;
        if !c.0.is_empty() {
            return Err(corrupt());
        }
        Ok(Some(LineVerdict {
            client_index,
            bsn: parsed(v.bsn, Bsn::parse)?,
            geboortedatum,
            besluitnummer,
            prestatie: Prestatie {
                referentie: parsed(v.referentie, Referentie::parse)?,
                vorig_referentie,
                product,
                periode: Period::new(from, to),
                volume,
                eenheid,
                tarief,
                bedrag,
                debet_credit,
                onderwijstijd,
                brin,
            },
            route: v.route,
            product_code: parsed(v.product_code, ProductCode::parse)?,
            oorspronkelijke_product_code: v
                .oorspronkelijke_product_code
                .map(|s| parsed(s, ProductCode::parse))
                .transpose()?,
            codes: v.codes.to_vec(),
        }))
    }
}

pub struct SpoolIter(SpoolReader);

impl Iterator for SpoolIter {
    type Item = io::Result<LineVerdict>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next_verdict().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Datum {
        crate::types::parse_datum(s).unwrap()
    }

    fn verdict(n: u64, full: bool) -> LineVerdict {
        LineVerdict {
            client_index: n,
            bsn: Bsn::parse("123456782").unwrap(),
            geboortedatum: date("2012-05-01"),
            besluitnummer: 999_999_999,
            prestatie: Prestatie {
                referentie: Referentie::parse(&format!("R-{n}")).unwrap(),
                vorig_referentie: full.then(|| Referentie::parse("ABCDEFGHIJ0123456789").unwrap()),
                product: ProductCode::parse("H300").unwrap(),
                periode: Period::new(date("2024-03-01"), date("2024-03-31")),
                volume: 99_999,
                eenheid: if full { Eenheid::Dagdeel } else { Eenheid::Uur },
                tarief: 99_999_999,
                bedrag: u64::MAX,
                debet_credit: if full {
                    DebetCredit::Credit
                } else {
                    DebetCredit::Debet
                },
                onderwijstijd: full.then_some(true),
                brin: full.then(|| Brin::parse("12AB").unwrap()),
            },
            route: if full { Route::Afgewezen } else { Route::Zio },
            product_code: ProductCode::parse("H301").unwrap(),
            oorspronkelijke_product_code: full.then(|| ProductCode::parse("H300").unwrap()),
            codes: if full {
                Retourcode::ALL.to_vec()
            } else {
                Vec::new()
            },
        }
    }

    #[test]
    fn verdicts_come_back_as_they_went_in() {
        let mut s = Spool::new().unwrap();
        let vs: Vec<_> = (0..100).map(|n| verdict(n, n % 3 == 0)).collect();
        for v in &vs {
            s.push(v).unwrap();
        }
        for _ in 0..2 {
            let back: Vec<_> = s.iter().unwrap().map(Result::unwrap).collect();
            assert_eq!(back, vs);
        }
        let mut r = s.reader().unwrap();
        let mut n = 0;
        while let Some(view) = r.next_view().unwrap() {
            assert_eq!(view, vs[n].view());
            n += 1;
        }
        assert_eq!(n, vs.len());
    }

    #[test]
    fn a_spool_past_its_memory_moves_to_a_file_and_keeps_every_record() {
        let mut s = Spool::new().unwrap();
        let n = IN_MEMORY / 40;
        for i in 0..n as u64 {
            s.push(&verdict(i, i % 2 == 0)).unwrap();
        }
        assert!(matches!(s.store, Store::File(_)));
        let back: Vec<_> = s.iter().unwrap().map(Result::unwrap).collect();
        assert_eq!(back.len(), n);
        assert_eq!(
            back[n - 1],
            verdict(n as u64 - 1, (n - 1).is_multiple_of(2))
        );
        let mut small = Spool::new().unwrap();
        small.push(&verdict(1, false)).unwrap();
        assert!(matches!(small.store, Store::Memory(_)));
    }
}
