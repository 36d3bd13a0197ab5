//! The registry in PostgreSQL: the same tables, stamp rule, per-client
//! snapshot and dump as [`super::sqlite`], so every gateway on one database
//! answers 04xx from one registry.
//!
//! Concurrency: each message's transaction first takes a transaction-level
//! advisory lock, so ingests (from any gateway) apply one after the other.
//! Every record is read, compared by stamp and written, and the client's
//! snapshot is read, merged and written: without the lock two messages for
//! one BSN could each merge into the snapshot as it was before the other,
//! and one's records would be lost from it. Ingest is rare (the iWlz
//! messages of a day) and checks never take the lock: they read the last
//! committed state. The isolation level stays READ COMMITTED, so the
//! statements after the lock see what the previous holder committed.
//!
//! Uses the synchronous `postgres` client: call it from a plain thread (the
//! server: `spawn_blocking`), never from inside an async task.

use super::sqlite::{
    bsn_key, changed, decode_client, decode_geindiceerd, encode_client, encode_geindiceerd,
    key_aanvang, key_functie, key_mutatie, key_zzp, merge, Table, AANVANG, FUNCTIE, INDICATIE,
    MUTATIE, TABLES, ZZP,
};
use super::{BerichtRecord, Change, RegistryStore, RegistryTx, Stamp};
use crate::model::iwlz::{
    Aanvang, ClientRegistry, Geldigheid, Indicatie, Mutatie, ToegewezenFunctie, ToegewezenZzp,
    STATUS_VERWIJDEREN,
};
use crate::sinks::store::StoreError;
use crate::types::{AgbCode, Bsn, Datum};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{ToSql, Type};
use postgres::{Client, GenericClient, Row, Statement, Transaction};
use std::collections::HashMap;
use std::io;
use std::sync::{Mutex, MutexGuard};

/// Key of the advisory lock every ingest transaction holds ("zioReg").
const INGEST_LOCK: i64 = 0x7a69_6f52_6567;

/// One column's value, typed as its column is (BIGINT, INTEGER, DATE, TEXT).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Val {
    Big(Option<i64>),
    Int(Option<i32>),
    Date(Option<Datum>),
    Text(Option<String>),
}

impl Val {
    fn sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Val::Big(v) => v,
            Val::Int(v) => v,
            Val::Date(v) => v,
            Val::Text(v) => v,
        }
    }

    fn read(row: &Row, i: usize) -> Result<Val, StoreError> {
        let ty = row.columns()[i].type_();
        Ok(if *ty == Type::INT8 {
            Val::Big(row.try_get(i)?)
        } else if *ty == Type::INT4 {
            Val::Int(row.try_get(i)?)
        } else if *ty == Type::DATE {
            Val::Date(row.try_get(i)?)
        } else if *ty == Type::TEXT {
            Val::Text(row.try_get(i)?)
        } else {
            return Err(StoreError(format!(
                "registry: column {} has the unexpected type {ty}",
                row.columns()[i].name()
            )));
        })
    }

    /// As the SQLite dump writes it: NULL as `-`, dates `YYYY-MM-DD`.
    fn dump(&self, out: &mut String) {
        fn opt<T: ToString>(v: &Option<T>, out: &mut String) {
            match v {
                None => out.push('-'),
                Some(v) => out.push_str(&v.to_string()),
            }
        }
        match self {
            Val::Big(v) => opt(v, out),
            Val::Int(v) => opt(v, out),
            Val::Date(v) => opt(v, out),
            Val::Text(v) => opt(v, out),
        }
    }
}

fn big(n: u64) -> Val {
    Val::Big(Some(n as i64))
}
fn int(n: impl Into<i32>) -> Val {
    Val::Int(Some(n.into()))
}
fn date(d: Datum) -> Val {
    Val::Date(Some(d))
}
fn opt_date(d: Option<Datum>) -> Val {
    Val::Date(d)
}
fn text(s: impl ToString) -> Val {
    Val::Text(Some(s.to_string()))
}
fn opt_text(s: Option<impl ToString>) -> Val {
    Val::Text(s.map(|s| s.to_string()))
}

struct TableSql {
    select: String,
    upsert: String,
}

fn table_sql(t: &Table) -> TableSql {
    let cond: Vec<String> = t
        .key
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{k} = ${}", i + 1))
        .collect();
    let cols: Vec<&str> = t.key.iter().chain(t.vals).copied().collect();
    let marks: Vec<String> = (1..=cols.len() + 1).map(|i| format!("${i}")).collect();
    let set: Vec<String> = t
        .vals
        .iter()
        .chain(&["stamp"])
        .map(|v| format!("{v} = EXCLUDED.{v}"))
        .collect();
    TableSql {
        select: format!(
            "SELECT stamp, {} FROM {} WHERE {}",
            t.vals.join(", "),
            t.name,
            cond.join(" AND ")
        ),
        upsert: format!(
            "INSERT INTO {} ({}, stamp) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
            t.name,
            cols.join(", "),
            marks.join(", "),
            t.key.join(", "),
            set.join(", ")
        ),
    }
}

fn sql(i: usize) -> &'static TableSql {
    static SQL: std::sync::OnceLock<Vec<TableSql>> = std::sync::OnceLock::new();
    &SQL.get_or_init(|| TABLES.iter().map(|t| table_sql(t)).collect())[i]
}

const SELECT_INDICATIE: &str = "SELECT besluitnummer, afgiftedatum, ingangsdatum, einddatum, \
     functies, zzps FROM iwlz_indicatie WHERE bsn = $1 AND besluitnummer = $2";
const SELECT_FUNCTIE: &str = "SELECT functiecode, instelling, ingangsdatum, einddatum, \
     besluitnummer, toewijzingsdatum, toewijzingstijd, reden_intrekking \
     FROM iwlz_toegewezen_functie WHERE bsn = $1 AND functiecode = $2 AND instelling = $3 \
     AND ingangsdatum <= $4 AND (einddatum IS NULL OR einddatum >= $4) ORDER BY ingangsdatum";
const SELECT_SNAPSHOT: &str = "SELECT registry FROM iwlz_client WHERE bsn = $1";

/// Statements prepared once per connection, on first use.
#[derive(Default)]
struct Prepared(HashMap<String, Statement>);

impl Prepared {
    fn get(&mut self, c: &mut impl GenericClient, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.0.get(sql) {
            return Ok(s.clone());
        }
        let s = c.prepare(sql)?;
        self.0.insert(sql.to_owned(), s.clone());
        Ok(s)
    }
}

struct Conn {
    client: Client,
    prepared: Prepared,
}

impl Conn {
    fn query_opt(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        let st = self.prepared.get(&mut self.client, sql)?;
        Ok(self.client.query_opt(&st, params)?)
    }
}

/// One connection to the registry in PostgreSQL.
pub struct PgRegistry {
    conn: Mutex<Conn>,
}

impl PgRegistry {
    /// Connects (`postgres://user@host:port/db`) and migrates.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_in_schema(url, None)
    }

    /// Like [`PgRegistry::connect`], with the tables in `schema` (created
    /// when missing): several registries in one database (tests).
    pub fn connect_in_schema(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        let client = crate::sinks::store::pg::connect(url, schema)?;
        Ok(Self {
            conn: Mutex::new(Conn {
                client,
                prepared: Prepared::default(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Conn> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn bad(what: &str) -> StoreError {
    StoreError(format!("registry: unreadable {what} in PostgreSQL"))
}

fn agb(s: &str) -> Result<AgbCode, StoreError> {
    AgbCode::parse(s).ok_or_else(|| bad("AGB code"))
}

fn indicatie_row(r: &Row) -> Result<Indicatie, StoreError> {
    let functies: String = r.try_get(4)?;
    let zzps: String = r.try_get(5)?;
    Ok(Indicatie {
        besluitnummer: r.try_get::<_, i64>(0)? as u64,
        afgiftedatum: r.try_get(1)?,
        geldig: Geldigheid::new(r.try_get(2)?, r.try_get(3)?),
        functies: decode_geindiceerd(&functies).ok_or_else(|| bad("indicated functions"))?,
        zzps: decode_geindiceerd(&zzps).ok_or_else(|| bad("indicated ZZPs"))?,
    })
}

fn functie_row(r: &Row) -> Result<ToegewezenFunctie, StoreError> {
    Ok(ToegewezenFunctie {
        functiecode: u16::try_from(r.try_get::<_, i32>(0)?).map_err(|_| bad("function code"))?,
        instelling: agb(r.try_get(1)?)?,
        geldig: Geldigheid::new(r.try_get(2)?, r.try_get(3)?),
        besluitnummer: r.try_get::<_, i64>(4)? as u64,
        toewijzingsdatum: r.try_get(5)?,
        toewijzingstijd: r.try_get(6)?,
        reden_intrekking: r.try_get(7)?,
    })
}

fn read_snapshot(
    c: &mut impl GenericClient,
    st: &Statement,
    bsn: i64,
) -> Result<ClientRegistry, StoreError> {
    match c.query_opt(st, &[&bsn])? {
        None => Ok(ClientRegistry::default()),
        Some(row) => decode_client(row.try_get::<_, &[u8]>(0)?).ok_or_else(|| {
            StoreError(format!(
                "store: the registry snapshot of BSN {bsn:09} is unreadable"
            ))
        }),
    }
}

impl RegistryStore for PgRegistry {
    fn usable(&self) -> bool {
        !self.lock().client.is_closed()
    }

    fn is_loaded(&self) -> Result<bool, StoreError> {
        let row = self
            .lock()
            .query_opt("SELECT EXISTS (SELECT 1 FROM iwlz_bericht)", &[])?
            .ok_or_else(|| bad("EXISTS"))?;
        Ok(row.try_get(0)?)
    }

    fn client(&self, bsn: &Bsn) -> Result<ClientRegistry, StoreError> {
        let mut c = self.lock();
        let c = &mut *c;
        let st = c.prepared.get(&mut c.client, SELECT_SNAPSHOT)?;
        read_snapshot(&mut c.client, &st, bsn_key(bsn))
    }

    fn indicatie(&self, bsn: &Bsn, besluitnummer: u64) -> Result<Option<Indicatie>, StoreError> {
        self.lock()
            .query_opt(SELECT_INDICATIE, &[&bsn_key(bsn), &(besluitnummer as i64)])?
            .map(|r| indicatie_row(&r))
            .transpose()
    }

    fn toewijzingen(
        &self,
        bsn: &Bsn,
        functiecode: u16,
        instelling: &AgbCode,
        dag: Datum,
    ) -> Result<Vec<ToegewezenFunctie>, StoreError> {
        let mut c = self.lock();
        let c = &mut *c;
        let st = c.prepared.get(&mut c.client, SELECT_FUNCTIE)?;
        let rows = c.client.query(
            &st,
            &[
                &bsn_key(bsn),
                &i32::from(functiecode),
                &instelling.as_str(),
                &dag,
            ],
        )?;
        rows.iter().map(functie_row).collect()
    }

    fn bericht_bekend(&self, sha256: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .query_opt("SELECT 1 FROM iwlz_bericht WHERE sha256 = $1", &[&sha256])?
            .is_some())
    }

    fn begin(&mut self) -> Result<Box<dyn RegistryTx + '_>, StoreError> {
        let Conn { client, prepared } = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&INGEST_LOCK])?;
        Ok(Box::new(PgTx {
            tx,
            prepared,
            pending: None,
        }))
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
        let mut c = self.lock();
        // One snapshot for the whole dump, as SQLite's single read gives.
        let mut tx = c
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        for (name, key) in tables {
            let st = tx.prepare(&format!("SELECT * FROM {name} ORDER BY {}", key.join(", ")))?;
            let cols: Vec<&str> = st.columns().iter().map(|c| c.name()).collect();
            writeln!(out, "# {name}\t{}", cols.join("\t")).map_err(io_err)?;
            let mut rows = tx.query_raw(&st, std::iter::empty::<i32>())?;
            while let Some(r) = rows.next()? {
                let mut line = String::new();
                for i in 0..cols.len() {
                    if i > 0 {
                        line.push('\t');
                    }
                    Val::read(&r, i)?.dump(&mut line);
                }
                writeln!(out, "{line}").map_err(io_err)?;
            }
        }
        tx.commit()?;
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

struct PgTx<'a> {
    tx: Transaction<'a>,
    prepared: &'a mut Prepared,
    pending: Option<Pending>,
}

impl PgTx<'_> {
    fn st(&mut self, sql: &str) -> Result<Statement, StoreError> {
        self.prepared.get(&mut self.tx, sql)
    }

    /// Applies one record under the stamp rule of [`Stamp`].
    fn put(
        &mut self,
        table: usize,
        key: Vec<Val>,
        vals: Vec<Val>,
        stamp: &Stamp,
    ) -> Result<Change, StoreError> {
        let sql = sql(table);
        let select = self.st(&sql.select)?;
        let params: Vec<&(dyn ToSql + Sync)> = key.iter().map(Val::sql).collect();
        let old = match self.tx.query_opt(&select, &params)? {
            None => None,
            Some(r) => {
                let s: String = r.try_get(0)?;
                let v = (1..=vals.len())
                    .map(|i| Val::read(&r, i))
                    .collect::<Result<Vec<_>, _>>()?;
                Some((s, v))
            }
        };
        let change = match old {
            None => Change::Added,
            Some((s, _)) if stamp.as_str() < s.as_str() => return Ok(Change::Older),
            Some((s, v)) if v == vals => {
                if s.as_str() == stamp.as_str() {
                    return Ok(Change::Unchanged);
                }
                // Same content under a newer stamp: keep the newest stamp, so
                // the store does not depend on the order of ingestion.
                Change::Unchanged
            }
            Some(_) => Change::Updated,
        };
        let upsert = self.st(&sql.upsert)?;
        let stamp = Val::Text(Some(stamp.as_str().to_owned()));
        let all: Vec<&(dyn ToSql + Sync)> = key
            .iter()
            .chain(&vals)
            .chain(std::iter::once(&stamp))
            .map(Val::sql)
            .collect();
        self.tx.execute(&upsert, &all)?;
        Ok(change)
    }

    /// The snapshot of `bsn`, loading it (and writing the previous one) when
    /// the client changes.
    fn snapshot(&mut self, bsn: &Bsn) -> Result<&mut ClientRegistry, StoreError> {
        let b = bsn_key(bsn);
        if self.pending.as_ref().map(|p| p.bsn) != Some(b) {
            self.flush()?;
            let st = self.st(SELECT_SNAPSHOT)?;
            let reg = read_snapshot(&mut self.tx, &st, b)?;
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
                if p.reg.is_empty() {
                    let st = self.st("DELETE FROM iwlz_client WHERE bsn = $1")?;
                    self.tx.execute(&st, &[&p.bsn])?;
                } else {
                    let st = self.st("INSERT INTO iwlz_client (bsn, registry) VALUES ($1, $2) \
                         ON CONFLICT (bsn) DO UPDATE SET registry = EXCLUDED.registry")?;
                    self.tx.execute(&st, &[&p.bsn, &encode_client(&p.reg)])?;
                }
            }
        }
        Ok(())
    }
}

impl RegistryTx for PgTx<'_> {
    fn put_indicatie(
        &mut self,
        bsn: &Bsn,
        x: &Indicatie,
        stamp: &Stamp,
    ) -> Result<Change, StoreError> {
        let c = self.put(
            0,
            vec![Val::Big(Some(bsn_key(bsn))), big(x.besluitnummer)],
            vec![
                opt_date(x.afgiftedatum),
                date(x.geldig.ingangsdatum),
                opt_date(x.geldig.einddatum),
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
        let c = self.put(
            1,
            vec![
                Val::Big(Some(bsn_key(bsn))),
                int(x.functiecode),
                text(&x.instelling),
                date(x.geldig.ingangsdatum),
            ],
            vec![
                opt_date(x.geldig.einddatum),
                big(x.besluitnummer),
                opt_date(x.toewijzingsdatum),
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
        let c = self.put(
            2,
            vec![
                Val::Big(Some(bsn_key(bsn))),
                int(x.zzpcode),
                date(x.geldig.ingangsdatum),
                text(x.instelling.as_ref().map(AgbCode::as_str).unwrap_or("")),
                int(x.leveringsvorm),
            ],
            vec![
                opt_date(x.geldig.einddatum),
                big(x.besluitnummer),
                opt_date(x.toewijzingsdatum),
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
        let c = self.put(
            3,
            vec![
                Val::Big(Some(bsn_key(bsn))),
                int(x.functiecode),
                text(&x.instelling),
                date(x.toewijzing_ingangsdatum),
                date(x.begindatum),
            ],
            vec![big(x.besluitnummer), int(x.status)],
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
        let c = self.put(
            4,
            vec![
                Val::Big(Some(bsn_key(bsn))),
                int(x.functiecode),
                text(&x.instelling),
                date(x.toewijzing_ingangsdatum),
                date(x.mutatiedatum),
                int(x.mutatiecode),
            ],
            vec![big(x.besluitnummer), int(x.status)],
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
        let st = self.st("INSERT INTO iwlz_bericht \
             (sha256, soort, identificatie, dagtekening, afzender, ontvanger, clienten) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sha256) DO NOTHING")?;
        let n = self.tx.execute(
            &st,
            &[
                &x.sha256,
                &x.soort,
                &x.identificatie,
                &x.dagtekening,
                &x.afzender,
                &x.ontvanger,
                &(x.clienten as i64),
            ],
        )?;
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
