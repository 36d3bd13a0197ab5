//! The registry in the gateway's SQLite store.
//!
//! One table per record kind, each keyed by its natural key with the BSN
//! first (`WITHOUT ROWID`, so the primary key is the table's own B-tree):
//! the lookups by (BSN, Besluitnummer) and by (BSN, FunctieCode, Instelling,
//! date) are prefix searches on those keys, and each record's stamp decides
//! whether an incoming version replaces it. BSNs are stored as integers,
//! dates as `YYYY-MM-DD` text (which sorts like the date).
//!
//! `check` needs everything of a client at once, for every client of a
//! batch. Five range scans per client cost about three times the rest of the
//! check, so ingest also keeps `iwlz_client`: one row per BSN holding the
//! live records in a compact binary form, merged with every change a message
//! makes. A client is then one primary-key read and a decode of a few
//! hundred bytes.

use super::{BerichtRecord, Change, RegistryStore, RegistryTx, Stamp};
use crate::model::iwlz::{
    Aanvang, ClientRegistry, Geindiceerd, Geldigheid, Indicatie, Mutatie, ToegewezenFunctie,
    ToegewezenZzp, STATUS_VERWIJDEREN,
};
use crate::sinks::store::{Store, StoreError};
use crate::types::{parse_datum, AgbCode, Bsn, Datum};
use chrono::Datelike;
use rusqlite::types::{FromSql, FromSqlError, Value, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use std::io;
use std::sync::OnceLock;

/// A table as the generic upsert sees it: key columns, value columns, stamp.
pub(super) struct Table {
    pub(super) name: &'static str,
    pub(super) key: &'static [&'static str],
    pub(super) vals: &'static [&'static str],
}

pub(super) const INDICATIE: Table = Table {
    name: "iwlz_indicatie",
    key: &["bsn", "besluitnummer"],
    vals: &[
        "afgiftedatum",
        "ingangsdatum",
        "einddatum",
        "functies",
        "zzps",
    ],
};
pub(super) const FUNCTIE: Table = Table {
    name: "iwlz_toegewezen_functie",
    key: &["bsn", "functiecode", "instelling", "ingangsdatum"],
    vals: &[
        "einddatum",
        "besluitnummer",
        "toewijzingsdatum",
        "toewijzingstijd",
        "reden_intrekking",
    ],
};
pub(super) const ZZP: Table = Table {
    name: "iwlz_toegewezen_zzp",
    key: &[
        "bsn",
        "zzpcode",
        "ingangsdatum",
        "instelling",
        "leveringsvorm",
    ],
    vals: &[
        "einddatum",
        "besluitnummer",
        "toewijzingsdatum",
        "toewijzingstijd",
        "reden_intrekking",
    ],
};
pub(super) const AANVANG: Table = Table {
    name: "iwlz_aanvang",
    key: &[
        "bsn",
        "functiecode",
        "instelling",
        "toewijzing_ingangsdatum",
        "begindatum",
    ],
    vals: &["besluitnummer", "status"],
};
pub(super) const MUTATIE: Table = Table {
    name: "iwlz_mutatie",
    key: &[
        "bsn",
        "functiecode",
        "instelling",
        "toewijzing_ingangsdatum",
        "mutatiedatum",
        "mutatiecode",
    ],
    vals: &["besluitnummer", "status"],
};
pub(super) const TABLES: [&Table; 5] = [&INDICATIE, &FUNCTIE, &ZZP, &AANVANG, &MUTATIE];

struct TableSql {
    select: String,
    replace: String,
}

fn sql(i: usize) -> &'static TableSql {
    static SQL: OnceLock<Vec<TableSql>> = OnceLock::new();
    &SQL.get_or_init(|| {
        TABLES
            .iter()
            .map(|t| {
                let cond: Vec<String> = t
                    .key
                    .iter()
                    .enumerate()
                    .map(|(i, k)| format!("{k} = ?{}", i + 1))
                    .collect();
                let cols: Vec<&str> = t.key.iter().chain(t.vals).copied().collect();
                let marks: Vec<String> = (1..=cols.len() + 1).map(|i| format!("?{i}")).collect();
                TableSql {
                    select: format!(
                        "SELECT stamp, {} FROM {} WHERE {}",
                        t.vals.join(", "),
                        t.name,
                        cond.join(" AND ")
                    ),
                    replace: format!(
                        "INSERT OR REPLACE INTO {} ({}, stamp) VALUES ({})",
                        t.name,
                        cols.join(", "),
                        marks.join(", ")
                    ),
                }
            })
            .collect()
    })[i]
}

pub(super) fn bsn_key(bsn: &Bsn) -> i64 {
    bsn.as_str().parse().expect("a Bsn is 9 digits")
}

fn text(s: impl ToString) -> Value {
    Value::Text(s.to_string())
}

fn opt_text<T: ToString>(s: Option<T>) -> Value {
    s.map_or(Value::Null, |s| Value::Text(s.to_string()))
}

fn int(n: impl Into<i64>) -> Value {
    Value::Integer(n.into())
}

/// Applies one record under the stamp rule of [`Stamp`].
fn put(
    conn: &Connection,
    table: usize,
    key: Vec<Value>,
    vals: Vec<Value>,
    stamp: &Stamp,
) -> Result<Change, StoreError> {
    let sql = sql(table);
    let n = vals.len();
    let old = conn
        .prepare_cached(&sql.select)?
        .query_row(rusqlite::params_from_iter(&key), |r| {
            let s: String = r.get(0)?;
            let v = (1..=n)
                .map(|i| r.get::<_, Value>(i))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((s, v))
        })
        .optional()?;
    let change = match old {
        None => Change::Added,
        Some((s, _)) if stamp.as_str() < s.as_str() => return Ok(Change::Older),
        Some((s, v)) if v == vals => {
            if s.as_str() == stamp.as_str() {
                return Ok(Change::Unchanged);
            }
            // Same content under a newer stamp: keep the newest stamp, so the
            // store does not depend on the order of ingestion.
            Change::Unchanged
        }
        Some(_) => Change::Updated,
    };
    let mut all = key;
    all.extend(vals);
    all.push(text(stamp.as_str()));
    conn.prepare_cached(&sql.replace)?
        .execute(rusqlite::params_from_iter(&all))?;
    Ok(change)
}

pub(super) fn encode_geindiceerd(v: &[Geindiceerd]) -> String {
    let mut items: Vec<String> = v
        .iter()
        .map(|g| {
            format!(
                "{}:{}:{}",
                g.code,
                g.geldig.ingangsdatum,
                g.geldig
                    .einddatum
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            )
        })
        .collect();
    // The order of the elements in the message carries no meaning.
    items.sort();
    items.dedup();
    items.join(";")
}

pub(super) fn decode_geindiceerd(s: &str) -> Option<Vec<Geindiceerd>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    s.split(';')
        .map(|item| {
            let mut p = item.split(':');
            let code = p.next()?.parse().ok()?;
            let from = parse_datum(p.next()?)?;
            let to = match p.next()? {
                "" => None,
                d => Some(parse_datum(d)?),
            };
            Some(Geindiceerd {
                code,
                geldig: Geldigheid::new(from, to),
            })
        })
        .collect()
}

/// A `YYYY-MM-DD` column.
struct Dag(Datum);

impl FromSql for Dag {
    fn column_result(v: ValueRef<'_>) -> Result<Self, FromSqlError> {
        let s = v.as_str()?;
        parse_datum(s)
            .map(Dag)
            .ok_or_else(|| FromSqlError::Other(format!("not a date: {s}").into()))
    }
}

fn dag(r: &Row, i: usize) -> rusqlite::Result<Datum> {
    Ok(r.get::<_, Dag>(i)?.0)
}

fn opt_dag(r: &Row, i: usize) -> rusqlite::Result<Option<Datum>> {
    Ok(r.get::<_, Option<Dag>>(i)?.map(|d| d.0))
}

fn agb(r: &Row, i: usize) -> rusqlite::Result<AgbCode> {
    let s: String = r.get(i)?;
    AgbCode::parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("not an AGB code: {s}").into(),
        )
    })
}

fn bad(i: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        i,
        rusqlite::types::Type::Text,
        what.to_owned().into(),
    )
}

fn indicatie_row(r: &Row) -> rusqlite::Result<Indicatie> {
    let functies: String = r.get(4)?;
    let zzps: String = r.get(5)?;
    Ok(Indicatie {
        besluitnummer: r.get::<_, i64>(0)? as u64,
        afgiftedatum: opt_dag(r, 1)?,
        geldig: Geldigheid::new(dag(r, 2)?, opt_dag(r, 3)?),
        functies: decode_geindiceerd(&functies).ok_or_else(|| bad(4, "indicated functions"))?,
        zzps: decode_geindiceerd(&zzps).ok_or_else(|| bad(5, "indicated ZZPs"))?,
    })
}

fn functie_row(r: &Row) -> rusqlite::Result<ToegewezenFunctie> {
    Ok(ToegewezenFunctie {
        functiecode: r.get(0)?,
        instelling: agb(r, 1)?,
        geldig: Geldigheid::new(dag(r, 2)?, opt_dag(r, 3)?),
        besluitnummer: r.get::<_, i64>(4)? as u64,
        toewijzingsdatum: opt_dag(r, 5)?,
        toewijzingstijd: r.get(6)?,
        reden_intrekking: r.get(7)?,
    })
}

const SELECT_INDICATIE: &str = "SELECT besluitnummer, afgiftedatum, ingangsdatum, einddatum, \
     functies, zzps FROM iwlz_indicatie";
const SELECT_FUNCTIE: &str = "SELECT functiecode, instelling, ingangsdatum, einddatum, \
     besluitnummer, toewijzingsdatum, toewijzingstijd, reden_intrekking \
     FROM iwlz_toegewezen_functie";

/// Everything of one client read from the record tables (the slow way:
/// five range scans), live records only, in natural-key order. The snapshot
/// in `iwlz_client` must always equal this.
pub fn client_from_tables(conn: &Connection, bsn: &Bsn) -> Result<ClientRegistry, StoreError> {
    let c = conn;
    let b = bsn_key(bsn);
    let mut out = ClientRegistry::default();
    let mut st = c.prepare_cached(&format!(
        "{SELECT_INDICATIE} WHERE bsn = ?1 ORDER BY besluitnummer"
    ))?;
    for x in st.query_map([b], indicatie_row)? {
        out.indicaties.push(x?);
    }
    let mut st = c.prepare_cached(&format!(
        "{SELECT_FUNCTIE} WHERE bsn = ?1 ORDER BY functiecode, instelling, ingangsdatum"
    ))?;
    for x in st.query_map([b], functie_row)? {
        out.functies.push(x?);
    }
    let mut st = c.prepare_cached(
        "SELECT zzpcode, instelling, leveringsvorm, ingangsdatum, einddatum, besluitnummer, \
         toewijzingsdatum, toewijzingstijd, reden_intrekking \
         FROM iwlz_toegewezen_zzp WHERE bsn = ?1 \
         ORDER BY zzpcode, ingangsdatum, instelling, leveringsvorm",
    )?;
    let rows = st.query_map([b], |r| {
        let inst: String = r.get(1)?;
        Ok(ToegewezenZzp {
            zzpcode: r.get(0)?,
            instelling: if inst.is_empty() {
                None
            } else {
                Some(agb(r, 1)?)
            },
            leveringsvorm: r.get(2)?,
            geldig: Geldigheid::new(dag(r, 3)?, opt_dag(r, 4)?),
            besluitnummer: r.get::<_, i64>(5)? as u64,
            toewijzingsdatum: opt_dag(r, 6)?,
            toewijzingstijd: r.get(7)?,
            reden_intrekking: r.get(8)?,
        })
    })?;
    for x in rows {
        out.zzps.push(x?);
    }
    let mut st = c.prepare_cached(
        "SELECT functiecode, instelling, toewijzing_ingangsdatum, begindatum, besluitnummer, \
         status FROM iwlz_aanvang WHERE bsn = ?1 AND status <> ?2 \
         ORDER BY functiecode, instelling, toewijzing_ingangsdatum, begindatum",
    )?;
    let rows = st.query_map(params![b, STATUS_VERWIJDEREN], |r| {
        Ok(Aanvang {
            functiecode: r.get(0)?,
            instelling: agb(r, 1)?,
            toewijzing_ingangsdatum: dag(r, 2)?,
            begindatum: dag(r, 3)?,
            besluitnummer: r.get::<_, i64>(4)? as u64,
            status: r.get(5)?,
        })
    })?;
    for x in rows {
        out.aanvangen.push(x?);
    }
    let mut st = c.prepare_cached(
        "SELECT functiecode, instelling, toewijzing_ingangsdatum, mutatiecode, mutatiedatum, \
         besluitnummer, status FROM iwlz_mutatie WHERE bsn = ?1 AND status <> ?2 \
         ORDER BY functiecode, instelling, toewijzing_ingangsdatum, mutatiedatum, mutatiecode",
    )?;
    let rows = st.query_map(params![b, STATUS_VERWIJDEREN], |r| {
        Ok(Mutatie {
            functiecode: r.get(0)?,
            instelling: agb(r, 1)?,
            toewijzing_ingangsdatum: dag(r, 2)?,
            mutatiecode: r.get(3)?,
            mutatiedatum: dag(r, 4)?,
            besluitnummer: r.get::<_, i64>(5)? as u64,
            status: r.get(6)?,
        })
    })?;
    for x in rows {
        out.mutaties.push(x?);
    }
    Ok(out)
}

impl RegistryStore for Store {
    fn is_loaded(&self) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM iwlz_bericht)")?
            .query_row([], |r| r.get(0))?)
    }

    fn client(&self, bsn: &Bsn) -> Result<ClientRegistry, StoreError> {
        read_snapshot(self.conn(), bsn_key(bsn))
    }

    fn indicatie(&self, bsn: &Bsn, besluitnummer: u64) -> Result<Option<Indicatie>, StoreError> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "{SELECT_INDICATIE} WHERE bsn = ?1 AND besluitnummer = ?2"
            ))?
            .query_row(params![bsn_key(bsn), besluitnummer as i64], indicatie_row)
            .optional()?)
    }

    fn toewijzingen(
        &self,
        bsn: &Bsn,
        functiecode: u16,
        instelling: &AgbCode,
        dag: Datum,
    ) -> Result<Vec<ToegewezenFunctie>, StoreError> {
        let mut st = self.conn().prepare_cached(&format!(
            "{SELECT_FUNCTIE} WHERE bsn = ?1 AND functiecode = ?2 AND instelling = ?3 \
             AND ingangsdatum <= ?4 AND (einddatum IS NULL OR einddatum >= ?4)"
        ))?;
        let rows = st.query_map(
            params![
                bsn_key(bsn),
                functiecode,
                instelling.as_str(),
                dag.to_string()
            ],
            functie_row,
        )?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn bericht_bekend(&self, sha256: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM iwlz_bericht WHERE sha256 = ?1)")?
            .query_row([sha256], |r| r.get(0))?)
    }

    fn begin(&mut self) -> Result<Box<dyn RegistryTx + '_>, StoreError> {
        let tx = self.conn_mut().transaction()?;
        Ok(Box::new(SqliteTx { tx, pending: None }))
    }

    fn dump(&self, out: &mut dyn io::Write) -> Result<(), StoreError> {
        let io_err = |e: io::Error| StoreError(format!("dump: {e}"));
        let tables: [(&str, &[&str]); 6] = [
            ("iwlz_bericht", &["sha256"]),
            (INDICATIE.name, INDICATIE.key),
            (FUNCTIE.name, FUNCTIE.key),
            (ZZP.name, ZZP.key),
            (AANVANG.name, AANVANG.key),
            (MUTATIE.name, MUTATIE.key),
        ];
        for (name, key) in tables {
            let mut st = self
                .conn()
                .prepare(&format!("SELECT * FROM {name} ORDER BY {}", key.join(", ")))?;
            let cols: Vec<String> = st.column_names().iter().map(|s| s.to_string()).collect();
            writeln!(out, "# {name}\t{}", cols.join("\t")).map_err(io_err)?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let mut line = String::new();
                for i in 0..cols.len() {
                    if i > 0 {
                        line.push('\t');
                    }
                    match r.get::<_, Value>(i)? {
                        Value::Null => line.push('-'),
                        Value::Integer(n) => line.push_str(&n.to_string()),
                        Value::Real(f) => line.push_str(&f.to_string()),
                        Value::Text(s) => line.push_str(&s),
                        Value::Blob(b) => line.push_str(&format!("{b:02x?}")),
                    }
                }
                writeln!(out, "{line}").map_err(io_err)?;
            }
        }
        Ok(())
    }
}

/// The snapshot of the client being ingested, merged in memory and written
/// when the message moves on to another client (or commits).
struct Pending {
    bsn: i64,
    reg: ClientRegistry,
    dirty: bool,
}

struct SqliteTx<'a> {
    tx: Transaction<'a>,
    pending: Option<Pending>,
}

impl SqliteTx<'_> {
    /// The snapshot of `bsn`, loading it (and writing the previous one) when
    /// the client changes.
    fn snapshot(&mut self, bsn: &Bsn) -> Result<&mut ClientRegistry, StoreError> {
        let b = bsn_key(bsn);
        if self.pending.as_ref().map(|p| p.bsn) != Some(b) {
            self.flush()?;
            let reg = read_snapshot(&self.tx, b)?;
            self.pending = Some(Pending {
                bsn: b,
                reg,
                dirty: false,
            });
        }
        let p = self.pending.as_mut().expect("just loaded");
        p.dirty = true;
        Ok(&mut p.reg)
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        if let Some(p) = self.pending.take() {
            if p.dirty {
                write_snapshot(&self.tx, p.bsn, &p.reg)?;
            }
        }
        Ok(())
    }
}

pub(super) fn changed(c: Change) -> bool {
    matches!(c, Change::Added | Change::Updated)
}

/// Puts `x` in place of the record with the same key (dropping it when `live`
/// is false), keeping `v` in key order.
pub(super) fn merge<T, K: Ord>(v: &mut Vec<T>, x: T, live: bool, key: impl Fn(&T) -> K) {
    let k = key(&x);
    v.retain(|y| key(y) != k);
    if live {
        let at = v.partition_point(|y| key(y) < k);
        v.insert(at, x);
    }
}

pub(super) fn key_functie(f: &ToegewezenFunctie) -> (u16, AgbCode, Datum) {
    (f.functiecode, f.instelling.clone(), f.geldig.ingangsdatum)
}

pub(super) fn key_zzp(z: &ToegewezenZzp) -> (u16, Datum, Option<AgbCode>, u8) {
    (
        z.zzpcode,
        z.geldig.ingangsdatum,
        z.instelling.clone(),
        z.leveringsvorm,
    )
}

pub(super) fn key_aanvang(a: &Aanvang) -> (u16, AgbCode, Datum, Datum) {
    (
        a.functiecode,
        a.instelling.clone(),
        a.toewijzing_ingangsdatum,
        a.begindatum,
    )
}

pub(super) fn key_mutatie(m: &Mutatie) -> (u16, AgbCode, Datum, Datum, u16) {
    (
        m.functiecode,
        m.instelling.clone(),
        m.toewijzing_ingangsdatum,
        m.mutatiedatum,
        m.mutatiecode,
    )
}

// ---- the per-client snapshot: a compact binary encoding --------------------
//
// Little-endian; dates as days from the common era (i32, `NO_DATE` for
// none); AGB codes as u32; short strings as a length byte (0xFF: none) and
// UTF-8. Version byte first, so the format can change with a migration.

const SNAPSHOT_VERSION: u8 = 1;
const NO_DATE: i32 = i32::MIN;
const NO_AGB: u32 = u32::MAX;

struct Enc(Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn date(&mut self, d: Datum) {
        self.i32(d.num_days_from_ce());
    }
    fn opt_date(&mut self, d: Option<Datum>) {
        self.i32(d.map_or(NO_DATE, |d| d.num_days_from_ce()));
    }
    fn agb(&mut self, a: Option<&AgbCode>) {
        self.u32(a.map_or(NO_AGB, |a| a.as_str().parse().expect("8 digits")));
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0xFF),
            Some(s) => {
                // Values are validated short tokens (at most 35 bytes).
                let b = &s.as_bytes()[..s.len().min(254)];
                self.u8(b.len() as u8);
                self.0.extend_from_slice(b);
            }
        }
    }
    fn geldig(&mut self, g: &Geldigheid) {
        self.date(g.ingangsdatum);
        self.opt_date(g.einddatum);
    }
    fn count(&mut self, n: usize) {
        self.u32(u32::try_from(n).expect("fewer than 4 billion records per client"));
    }
}

struct Dec<'a>(&'a [u8]);

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn date(&mut self) -> Option<Datum> {
        Datum::from_num_days_from_ce_opt(self.i32()?)
    }
    fn opt_date(&mut self) -> Option<Option<Datum>> {
        match self.i32()? {
            NO_DATE => Some(None),
            n => Some(Some(Datum::from_num_days_from_ce_opt(n)?)),
        }
    }
    fn agb(&mut self) -> Option<AgbCode> {
        let n = self.u32()?;
        (n <= 99_999_999).then(|| AgbCode::parse(&format!("{n:08}")))?
    }
    fn opt_agb(&mut self) -> Option<Option<AgbCode>> {
        match self.u32()? {
            NO_AGB => Some(None),
            n => Some(Some(AgbCode::parse(&format!("{n:08}"))?)),
        }
    }
    fn opt_str(&mut self) -> Option<Option<String>> {
        match self.u8()? {
            0xFF => Some(None),
            n => Some(Some(
                String::from_utf8(self.take(n as usize)?.to_vec()).ok()?,
            )),
        }
    }
    fn geldig(&mut self) -> Option<Geldigheid> {
        Some(Geldigheid::new(self.date()?, self.opt_date()?))
    }
    fn count(&mut self) -> Option<usize> {
        let n = self.u32()? as usize;
        // Every record takes at least 10 bytes: a count beyond that is corruption.
        (n <= self.0.len() / 10 + 1).then_some(n)
    }
}

pub(super) fn encode_client(c: &ClientRegistry) -> Vec<u8> {
    let mut e = Enc(Vec::with_capacity(256));
    e.u8(SNAPSHOT_VERSION);
    e.count(c.indicaties.len());
    for i in &c.indicaties {
        e.u32(i.besluitnummer as u32);
        e.opt_date(i.afgiftedatum);
        e.geldig(&i.geldig);
        for list in [&i.functies, &i.zzps] {
            e.count(list.len());
            for g in list {
                e.u16(g.code);
                e.geldig(&g.geldig);
            }
        }
    }
    e.count(c.functies.len());
    for f in &c.functies {
        e.u16(f.functiecode);
        e.agb(Some(&f.instelling));
        e.geldig(&f.geldig);
        e.u32(f.besluitnummer as u32);
        e.opt_date(f.toewijzingsdatum);
        e.opt_str(f.toewijzingstijd.as_deref());
        e.opt_str(f.reden_intrekking.as_deref());
    }
    e.count(c.zzps.len());
    for z in &c.zzps {
        e.u16(z.zzpcode);
        e.agb(z.instelling.as_ref());
        e.u8(z.leveringsvorm);
        e.geldig(&z.geldig);
        e.u32(z.besluitnummer as u32);
        e.opt_date(z.toewijzingsdatum);
        e.opt_str(z.toewijzingstijd.as_deref());
        e.opt_str(z.reden_intrekking.as_deref());
    }
    e.count(c.aanvangen.len());
    for a in &c.aanvangen {
        e.u16(a.functiecode);
        e.agb(Some(&a.instelling));
        e.date(a.toewijzing_ingangsdatum);
        e.date(a.begindatum);
        e.u32(a.besluitnummer as u32);
        e.u8(a.status);
    }
    e.count(c.mutaties.len());
    for m in &c.mutaties {
        e.u16(m.functiecode);
        e.agb(Some(&m.instelling));
        e.date(m.toewijzing_ingangsdatum);
        e.u16(m.mutatiecode);
        e.date(m.mutatiedatum);
        e.u32(m.besluitnummer as u32);
        e.u8(m.status);
    }
    e.0
}

pub(super) fn decode_client(b: &[u8]) -> Option<ClientRegistry> {
    let mut d = Dec(b);
    if d.u8()? != SNAPSHOT_VERSION {
        return None;
    }
    let mut c = ClientRegistry::default();
    for _ in 0..d.count()? {
        let besluitnummer = u64::from(d.u32()?);
        let afgiftedatum = d.opt_date()?;
        let geldig = d.geldig()?;
        let mut lists = [Vec::new(), Vec::new()];
        for list in &mut lists {
            for _ in 0..d.count()? {
                list.push(Geindiceerd {
                    code: d.u16()?,
                    geldig: d.geldig()?,
                });
            }
        }
        let [functies, zzps] = lists;
        c.indicaties.push(Indicatie {
            besluitnummer,
            afgiftedatum,
            geldig,
            functies,
            zzps,
        });
    }
    for _ in 0..d.count()? {
        c.functies.push(ToegewezenFunctie {
            functiecode: d.u16()?,
            instelling: d.agb()?,
            geldig: d.geldig()?,
            besluitnummer: u64::from(d.u32()?),
            toewijzingsdatum: d.opt_date()?,
            toewijzingstijd: d.opt_str()?,
            reden_intrekking: d.opt_str()?,
        });
    }
    for _ in 0..d.count()? {
        c.zzps.push(ToegewezenZzp {
            zzpcode: d.u16()?,
            instelling: d.opt_agb()?,
            leveringsvorm: d.u8()?,
            geldig: d.geldig()?,
            besluitnummer: u64::from(d.u32()?),
            toewijzingsdatum: d.opt_date()?,
            toewijzingstijd: d.opt_str()?,
            reden_intrekking: d.opt_str()?,
        });
    }
    for _ in 0..d.count()? {
        c.aanvangen.push(Aanvang {
            functiecode: d.u16()?,
            instelling: d.agb()?,
            toewijzing_ingangsdatum: d.date()?,
            begindatum: d.date()?,
            besluitnummer: u64::from(d.u32()?),
            status: d.u8()?,
        });
    }
    for _ in 0..d.count()? {
        c.mutaties.push(Mutatie {
            functiecode: d.u16()?,
            instelling: d.agb()?,
            toewijzing_ingangsdatum: d.date()?,
            mutatiecode: d.u16()?,
            mutatiedatum: d.date()?,
            besluitnummer: u64::from(d.u32()?),
            status: d.u8()?,
        });
    }
    d.0.is_empty().then_some(c)
}

fn read_snapshot(conn: &Connection, bsn: i64) -> Result<ClientRegistry, StoreError> {
    let reg = conn
        .prepare_cached("SELECT registry FROM iwlz_client WHERE bsn = ?1")?
        .query_row([bsn], |r| Ok(decode_client(r.get_ref(0)?.as_blob()?)))
        .optional()?;
    match reg {
        None => Ok(ClientRegistry::default()),
        Some(Some(c)) => Ok(c),
        Some(None) => Err(StoreError(format!(
            "store: the registry snapshot of BSN {bsn:09} is unreadable"
        ))),
    }
}

fn write_snapshot(conn: &Connection, bsn: i64, reg: &ClientRegistry) -> Result<(), StoreError> {
    if reg.is_empty() {
        conn.prepare_cached("DELETE FROM iwlz_client WHERE bsn = ?1")?
            .execute([bsn])?;
    } else {
        conn.prepare_cached("INSERT OR REPLACE INTO iwlz_client (bsn, registry) VALUES (?1, ?2)")?
            .execute(params![bsn, encode_client(reg)])?;
    }
    Ok(())
}

/// BSNs whose snapshot differs from their records (should be none): a
/// self-check for tests and for operators after manual repairs.
pub fn snapshot_mismatches(store: &Store) -> Result<Vec<Bsn>, StoreError> {
    let conn = store.conn();
    let mut bsns: Vec<i64> = Vec::new();
    for t in [
        "iwlz_client",
        INDICATIE.name,
        FUNCTIE.name,
        ZZP.name,
        AANVANG.name,
        MUTATIE.name,
    ] {
        let mut st = conn.prepare(&format!("SELECT DISTINCT bsn FROM {t}"))?;
        for b in st.query_map([], |r| r.get(0))? {
            bsns.push(b?);
        }
    }
    bsns.sort_unstable();
    bsns.dedup();
    let mut bad = Vec::new();
    for b in bsns {
        let bsn = Bsn::parse(&format!("{b:09}")).expect("9 digits");
        if read_snapshot(conn, b)? != client_from_tables(conn, &bsn)? {
            bad.push(bsn);
        }
    }
    Ok(bad)
}

impl RegistryTx for SqliteTx<'_> {
    fn put_indicatie(
        &mut self,
        bsn: &Bsn,
        x: &Indicatie,
        stamp: &Stamp,
    ) -> Result<Change, StoreError> {
        let c = put(
            &self.tx,
            0,
            vec![int(bsn_key(bsn)), int(x.besluitnummer as i64)],
            vec![
                opt_text(x.afgiftedatum),
                text(x.geldig.ingangsdatum),
                opt_text(x.geldig.einddatum),
                text(encode_geindiceerd(&x.functies)),
                text(encode_geindiceerd(&x.zzps)),
            ],
            stamp,
        )?;
        if changed(c) {
            // As the record tables hold it: indicated items in canonical order.
            let x = Indicatie {
                functies: decode_geindiceerd(&encode_geindiceerd(&x.functies)).expect("round trip"),
                zzps: decode_geindiceerd(&encode_geindiceerd(&x.zzps)).expect("round trip"),
                ..x.clone()
            };
            merge(&mut self.snapshot(bsn)?.indicaties, x, true, |i| {
                i.besluitnummer
            });
        }
        Ok(c)
    }

    fn put_functie(
        &mut self,
        bsn: &Bsn,
        x: &ToegewezenFunctie,
        stamp: &Stamp,
    ) -> Result<Change, StoreError> {
        let c = put(
            &self.tx,
            1,
            vec![
                int(bsn_key(bsn)),
                int(x.functiecode),
                text(&x.instelling),
                text(x.geldig.ingangsdatum),
            ],
            vec![
                opt_text(x.geldig.einddatum),
                int(x.besluitnummer as i64),
                opt_text(x.toewijzingsdatum),
                opt_text(x.toewijzingstijd.as_ref()),
                opt_text(x.reden_intrekking.as_ref()),
            ],
            stamp,
        )?;
        if changed(c) {
            merge(
                &mut self.snapshot(bsn)?.functies,
                x.clone(),
                true,
                key_functie,
            );
        }
        Ok(c)
    }

    fn put_zzp(
        &mut self,
        bsn: &Bsn,
        x: &ToegewezenZzp,
        stamp: &Stamp,
    ) -> Result<Change, StoreError> {
        let c = put(
            &self.tx,
            2,
            vec![
                int(bsn_key(bsn)),
                int(x.zzpcode),
                text(x.geldig.ingangsdatum),
                text(x.instelling.as_ref().map(AgbCode::as_str).unwrap_or("")),
                int(x.leveringsvorm),
            ],
            vec![
                opt_text(x.geldig.einddatum),
                int(x.besluitnummer as i64),
                opt_text(x.toewijzingsdatum),
                opt_text(x.toewijzingstijd.as_ref()),
                opt_text(x.reden_intrekking.as_ref()),
            ],
            stamp,
        )?;
        if changed(c) {
            merge(&mut self.snapshot(bsn)?.zzps, x.clone(), true, key_zzp);
        }
        Ok(c)
    }

    fn put_aanvang(&mut self, bsn: &Bsn, x: &Aanvang, stamp: &Stamp) -> Result<Change, StoreError> {
        let c = put(
            &self.tx,
            3,
            vec![
                int(bsn_key(bsn)),
                int(x.functiecode),
                text(&x.instelling),
                text(x.toewijzing_ingangsdatum),
                text(x.begindatum),
            ],
            vec![int(x.besluitnummer as i64), int(x.status)],
            stamp,
        )?;
        if changed(c) {
            let live = x.status != STATUS_VERWIJDEREN;
            merge(
                &mut self.snapshot(bsn)?.aanvangen,
                x.clone(),
                live,
                key_aanvang,
            );
        }
        Ok(c)
    }

    fn put_mutatie(&mut self, bsn: &Bsn, x: &Mutatie, stamp: &Stamp) -> Result<Change, StoreError> {
        let c = put(
            &self.tx,
            4,
            vec![
                int(bsn_key(bsn)),
                int(x.functiecode),
                text(&x.instelling),
                text(x.toewijzing_ingangsdatum),
                text(x.mutatiedatum),
                int(x.mutatiecode),
            ],
            vec![int(x.besluitnummer as i64), int(x.status)],
            stamp,
        )?;
        if changed(c) {
            let live = x.status != STATUS_VERWIJDEREN;
            merge(
                &mut self.snapshot(bsn)?.mutaties,
                x.clone(),
                live,
                key_mutatie,
            );
        }
        Ok(c)
    }

    fn put_bericht(&mut self, x: &BerichtRecord) -> Result<Change, StoreError> {
        let n = self
            .tx
            .prepare_cached(
                "INSERT OR IGNORE INTO iwlz_bericht \
             (sha256, soort, identificatie, dagtekening, afzender, ontvanger, clienten) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                x.sha256,
                x.soort,
                x.identificatie,
                x.dagtekening.to_string(),
                x.afzender,
                x.ontvanger,
                x.clienten as i64,
            ])?;
        Ok(if n == 1 {
            Change::Added
        } else {
            Change::Unchanged
        })
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.flush()?;
        self.tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Datum {
        parse_datum(s).unwrap()
    }

    #[test]
    fn snapshot_codec_round_trips() {
        let agb = AgbCode::parse("00000001").unwrap();
        let c = ClientRegistry {
            indicaties: vec![Indicatie {
                besluitnummer: 999_999_999,
                afgiftedatum: None,
                geldig: Geldigheid::new(d("0001-01-01"), Some(d("9999-12-31"))),
                functies: vec![Geindiceerd {
                    code: 81,
                    geldig: Geldigheid::new(d("2024-01-01"), None),
                }],
                zzps: vec![],
            }],
            functies: vec![ToegewezenFunctie {
                functiecode: 999,
                instelling: agb.clone(),
                geldig: Geldigheid::new(d("2024-02-29"), None),
                besluitnummer: 1,
                toewijzingsdatum: Some(d("2024-01-02")),
                toewijzingstijd: Some("10:00:00.123".into()),
                reden_intrekking: None,
            }],
            zzps: vec![ToegewezenZzp {
                zzpcode: 806,
                instelling: None,
                leveringsvorm: 2,
                geldig: Geldigheid::new(d("2024-01-01"), Some(d("2024-03-10"))),
                besluitnummer: 7,
                toewijzingsdatum: None,
                toewijzingstijd: None,
                reden_intrekking: Some("02".into()),
            }],
            aanvangen: vec![Aanvang {
                functiecode: 81,
                instelling: agb.clone(),
                toewijzing_ingangsdatum: d("2024-01-01"),
                begindatum: d("2024-01-08"),
                besluitnummer: 7,
                status: 2,
            }],
            mutaties: vec![Mutatie {
                functiecode: 81,
                instelling: AgbCode::parse("99999999").unwrap(),
                toewijzing_ingangsdatum: d("2024-01-01"),
                mutatiecode: 19,
                mutatiedatum: d("2024-03-13"),
                besluitnummer: 7,
                status: 1,
            }],
        };
        let b = encode_client(&c);
        assert_eq!(decode_client(&b), Some(c.clone()));
        assert_eq!(
            decode_client(&encode_client(&ClientRegistry::default())),
            Some(ClientRegistry::default())
        );
        // Truncated or trailing bytes are corruption, never a shorter client.
        for n in 0..b.len() {
            assert_eq!(decode_client(&b[..n]), None, "{n}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert_eq!(decode_client(&longer), None);
    }
}
