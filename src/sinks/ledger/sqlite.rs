//! The embedded ledger: tables in the gateway's SQLite store
//! (`DATA_DIR/gateway.db`, WAL), created by the store's migration list
//! (`sinks::store::schema`).

mod snapshot;

use super::record::{self, RecordTx};
use super::rows::{self, Columns};
use super::{
    agreement_code_rows, assemble_agreements, herschikking, sql, sqlite_sql, unit_str,
    BatchResults, CheckReads, ClaimScope, ForwardLine, ForwardPlan, Lease, LedgerError, LedgerLine,
    LedgerStore, OutboxRow, Outcomes, RecordSummary, RecordedMessage, Result, VolumeFilter,
    VolumeGrouping, VolumeRow,
};
use crate::model::regime::Agreement;
use crate::model::verdict::{LineVerdict, Route};
use crate::rules::history::PriorLine;
use crate::sinks::store::checkpoint::{self, Checkpointer};
use crate::sinks::store::Store;
use crate::types::{
    iso_date, parse_datum, AgbCode, Datum, ProductCode, Referentie, ZorgkantoorCode,
};
use rusqlite::{
    params, CachedStatement, Connection, OpenFlags, OptionalExtension, Transaction,
    TransactionBehavior,
};
use std::borrow::Cow;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// `$n` placeholders as SQLite's `?n`.
fn q(s: &str) -> Cow<'_, str> {
    if s.contains('$') {
        Cow::Owned(s.replace('$', "?"))
    } else {
        Cow::Borrowed(s)
    }
}

pub struct SqliteLedger {
    store: Mutex<Store>,
    /// The database file, for read connections (none for a ledger in memory).
    path: Option<PathBuf>,
    /// Read connections kept between lookups: in WAL mode a reader never
    /// waits for the writer's commit, so the rules' lookups do not queue
    /// behind the recording of other messages.
    readers: Mutex<Vec<Connection>>,
    /// The outbox's leases: one process writes a SQLite ledger (the data
    /// directory's lock), so a claim needs no write, only this map of row
    /// id to (lease end in Unix ms, claim token).
    leases: Mutex<HashMap<i64, (i64, i64)>>,
    /// The writer's connection may be at `synchronous = NORMAL` (set and
    /// cleared under the store's lock by [`SqliteLedger::bookkeeping`]).
    relaxed: AtomicBool,
    /// Checkpoints the WAL off the writer's path (none in memory). Declared
    /// last: dropped after the connections, for a last checkpoint.
    _checkpointer: Option<Checkpointer>,
}

/// Rows given back per transaction ([`LedgerStore::outbox_unlease`]).
const UNLEASE_CHUNK: usize = 2048;

/// Read connections kept open between lookups.
const IDLE_READERS: usize = 16;

/// The writer's page cache in KiB, as a negative `cache_size`. A miss is a
/// read from the OS's file cache; `cargo bench --bench ledger_record`
/// recorded as fast with it as with 64 MiB (0.30 and 0.27 of a bare INSERT
/// loop, 2026-12-01, on a loaded machine).
const LEDGER_CACHE_KIB: i64 = -1024;

/// A read connection's page cache in KiB (negative `cache_size`).
const READER_CACHE_KIB: i64 = -256;

impl SqliteLedger {
    /// [`LedgerStore::check_reads`] with a snapshot renewed after `age`
    /// rather than the default `SNAPSHOT_AGE` (20 ms): what the tests use, so that
    /// whether a renewal falls between two lookups depends on no fsync's
    /// speed. `None` in memory.
    pub fn check_reads_renewed_after(&self, age: Duration) -> Option<Box<dyn CheckReads + '_>> {
        self.path.as_ref()?;
        Some(Box::new(snapshot::Snapshot::renewed_after(self, age)))
    }

    /// The ledger in an opened (and so migrated) store.
    pub fn new(store: Store) -> Result<Self> {
        // The store's 64 MiB page cache is for the registry's lookups. Here
        // it only filled with the pages of lines just recorded (appended, not
        // read again by this connection), and stayed filled: the server's
        // resident set grew by ~50 MB with the first large message (issue 11).
        // Appends and key lookups need few pages, and a larger transaction
        // spills to the WAL.
        if let Err(e) = store
            .conn()
            .pragma_update(None, "cache_size", LEDGER_CACHE_KIB)
        {
            tracing::warn!(error = %e, "ledger: cannot limit the page cache");
        }
        let checkpointer = match store.path() {
            Some(path) => {
                checkpoint::leave_to_checkpointer(store.conn())?;
                Some(Checkpointer::start(path)?)
            }
            None => None,
        };
        Ok(Self {
            path: store.path().map(Path::to_owned),
            store: Mutex::new(store),
            readers: Mutex::new(Vec::new()),
            leases: Mutex::new(HashMap::new()),
            relaxed: AtomicBool::new(false),
            _checkpointer: checkpointer,
        })
    }

    /// Runs outbox bookkeeping (delivered marks, retries) on the writer's
    /// connection, committed with `synchronous = NORMAL`: such a commit
    /// survives a crashed process and reaches the disk with the next
    /// recording's sync; one lost to a power cut only means a message is
    /// sent again (delivery is at least once). On the one connection, never
    /// a wait for SQLite's write lock behind the group commit, or before it.
    fn bookkeeping<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let store = self.lock();
        let c = store.conn();
        self.relaxed.store(true, Ordering::Relaxed);
        c.pragma_update(None, "synchronous", "NORMAL")?;
        let r = f(c);
        c.pragma_update(None, "synchronous", "FULL")?;
        self.relaxed.store(false, Ordering::Relaxed);
        r
    }

    /// Opens a recording's transaction on the writer's connection, whose
    /// lock `store` is.
    fn begin<'c>(&self, store: &'c Store) -> Result<SqliteRecord<'c>> {
        // Lines are answered as recorded: FULL again where bookkeeping
        // could not set it back (a pragma per transaction cost 1.6% of the
        // server's CPU under load).
        if self.relaxed.load(Ordering::Relaxed) {
            store.conn().pragma_update(None, "synchronous", "FULL")?;
            self.relaxed.store(false, Ordering::Relaxed);
        }
        SqliteRecord::begin(store.conn())
    }

    /// The outcomes of `o` whose rows no later claim took over.
    fn ours(&self, o: &Outcomes) -> Outcomes {
        let all: Vec<Lease> = o
            .delivered
            .iter()
            .chain(o.retries.iter().map(|r| &r.lease))
            .copied()
            .collect();
        let kept: std::collections::HashSet<i64> = self.still_ours(&all).into_iter().collect();
        Outcomes {
            delivered: o
                .delivered
                .iter()
                .filter(|l| kept.contains(&l.id))
                .copied()
                .collect(),
            retries: o
                .retries
                .iter()
                .filter(|r| kept.contains(&r.lease.id))
                .cloned()
                .collect(),
            at_ms: o.at_ms,
        }
    }

    /// Ends the in-memory leases of `ids`.
    fn release(&self, ids: &[i64]) {
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            leases.remove(id);
        }
    }

    /// The ids of `leases` that no later claim took over: the lease is the
    /// one in memory, or it ran out and nobody claimed the row since. (A
    /// row claimed again and concluded since is no longer pending, or is
    /// retried once more: the SQL's `state = 'pending'` and at least once.)
    fn still_ours(&self, leases: &[Lease]) -> Vec<i64> {
        let held = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        leases
            .iter()
            .filter(|l| held.get(&l.id).is_none_or(|(_, token)| *token == l.token))
            .map(|l| l.id)
            .collect()
    }

    /// Runs a lookup on a read connection of its own (on the one connection
    /// of a ledger in memory).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if self.path.is_none() {
            let store = self.lock();
            return f(store.conn());
        }
        let conn = self.lease_reader()?;
        let r = f(&conn);
        if r.is_ok() {
            self.return_reader(conn);
        }
        r
    }

    /// An idle read connection, or a new one (a file's ledger only).
    fn lease_reader(&self) -> Result<Connection> {
        let Some(path) = &self.path else {
            return Err(LedgerError::Invalid(
                "a ledger in memory has no read connections".into(),
            ));
        };
        let idle = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        if let Some(c) = idle {
            return Ok(c);
        }
        let c = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        crate::sinks::store::patient(&c)?;
        c.set_prepared_statement_cache_capacity(32);
        // Up to IDLE_READERS of these stay open, each cache full of
        // pages of an outbox scan that is never read again (issue 11);
        // a lookup's miss is a read from the OS's file cache.
        c.pragma_update(None, "cache_size", READER_CACHE_KIB)?;
        Ok(c)
    }

    /// Keeps a read connection that did its work for the next lookup (one
    /// whose statement failed is dropped instead).
    fn return_reader(&self, conn: Connection) {
        let mut idle = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
    }

    /// Opens (creating when needed) `DATA_DIR/gateway.db`.
    pub fn open_data_dir(data_dir: &Path) -> Result<Self> {
        let store = Store::open(data_dir).map_err(|e| LedgerError::Invalid(e.to_string()))?;
        Self::new(store)
    }

    /// A private in-memory ledger (tests, tools).
    pub fn open_in_memory() -> Result<Self> {
        let store = Store::open_in_memory().map_err(|e| LedgerError::Invalid(e.to_string()))?;
        Self::new(store)
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves the connection usable: any
        // open transaction was rolled back when it was dropped.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Columns for rusqlite::Row<'_> {
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.get(i)?)
    }
    fn opt_i64(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.get(i)?)
    }
    fn opt_i32(&self, i: usize) -> Result<Option<i32>> {
        Ok(self.get(i)?)
    }
    fn opt_bool(&self, i: usize) -> Result<Option<bool>> {
        Ok(self.get::<_, Option<i64>>(i)?.map(|b| b != 0))
    }
    /// Dates are stored as `YYYY-MM-DD` text.
    fn opt_date(&self, i: usize) -> Result<Option<Datum>> {
        match self.get::<_, Option<String>>(i)? {
            None => Ok(None),
            Some(v) => parse_datum(&v)
                .map(Some)
                .ok_or_else(|| rows::bad("date", &v)),
        }
    }
}

fn record_batch_in(
    tx: Result<SqliteRecord<'_>>,
    jobs: &mut [super::RecordJob],
    marks: &[Outcomes],
) -> BatchResults {
    match tx {
        Ok(tx) => record::record_batch(tx, jobs, marks),
        Err(e) => record::batch_not_begun(jobs, marks, e),
    }
}

fn message_processed_on(c: &Connection, agb: &AgbCode, id: &Referentie) -> Result<bool> {
    let found = c
        .prepare_cached(&q(sql::MESSAGE_PROCESSED))?
        .query_row(params![agb.as_str(), id.as_str()], |_| Ok(()))
        .optional()?;
    Ok(found.is_some())
}

fn prior_line_on(
    c: &Connection,
    agb: &AgbCode,
    referentie: &Referentie,
) -> Result<Option<PriorLine>> {
    let credited: Option<bool> = c
        .prepare_cached(&q(sql::PRIOR_LINE))?
        .query_row(params![agb.as_str(), referentie.as_str()], |r| r.get(0))
        .optional()?;
    Ok(credited.map(|c| {
        if c {
            PriorLine::Credited
        } else {
            PriorLine::Open
        }
    }))
}

fn declared_base_volume_on(
    c: &Connection,
    agb: &AgbCode,
    zk: &ZorgkantoorCode,
    year: i32,
    code: &ProductCode,
) -> Result<i64> {
    Ok(c.prepare_cached(&q(sql::DECLARED_BASE_VOLUME))?.query_row(
        params![agb.as_str(), zk.as_str(), year, code.as_str()],
        |r| r.get(0),
    )?)
}

/// One recording's transaction. The statements borrow the connection, not
/// the transaction, so the transaction can still be moved into `commit`.
struct SqliteRecord<'c> {
    insert_message: CachedStatement<'c>,
    insert_line: CachedStatement<'c>,
    credit: CachedStatement<'c>,
    delete: CachedStatement<'c>,
    /// Keeps ledger_volume with each line recorded (migration 11).
    volume_add: CachedStatement<'c>,
    insert_outbox: CachedStatement<'c>,
    count_message_lines: CachedStatement<'c>,
    /// The rowids the message being recorded got so far, kept on its
    /// message row (see [`sqlite_sql`]).
    rowids: Inserted,
    tx: Transaction<'c>,
}

/// First and last rowids of one message's lines and outbox rows, and its
/// answer's.
#[derive(Default)]
struct Inserted {
    lines: Option<(i64, i64)>,
    outbox: Option<(i64, i64)>,
    answer: Option<i64>,
}

fn widen(range: &mut Option<(i64, i64)>, id: i64) {
    *range = Some(match *range {
        Some((first, _)) => (first, id),
        None => (id, id),
    });
}

impl<'c> SqliteRecord<'c> {
    /// The caller holds the store's lock, which is what `new_unchecked`
    /// does not check for us (a nested BEGIN still fails).
    fn begin(conn: &'c Connection) -> Result<Self> {
        // IMMEDIATE: take the write lock first, so a second process waits
        // (store::patient) instead of failing halfway.
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        Ok(Self {
            insert_message: conn.prepare_cached(&q(sql::INSERT_MESSAGE))?,
            insert_line: conn.prepare_cached(&q(sql::INSERT_LINE))?,
            credit: conn.prepare_cached(&q(sql::CREDIT_LINE))?,
            delete: conn.prepare_cached(&q(sqlite_sql::DELETE_LINE))?,
            volume_add: conn.prepare_cached(&q(sqlite_sql::VOLUME_ADD))?,
            insert_outbox: conn.prepare_cached(&q(sqlite_sql::INSERT_OUTBOX))?,
            count_message_lines: conn.prepare_cached(&q(sqlite_sql::COUNT_MESSAGE_LINES))?,
            rowids: Inserted::default(),
            tx,
        })
    }
}

impl RecordTx for SqliteRecord<'_> {
    fn insert_message(&mut self, msg: &RecordedMessage) -> Result<bool> {
        // A new message of the batch: nothing of one rolled back carries over.
        self.rowids = Inserted::default();
        let r = &msg.receipt;
        let n = self.insert_message.execute(params![
            msg.agb.as_str(),
            msg.identificatie.as_str(),
            msg.zorgkantoor.as_str(),
            &*iso_date(msg.dagtekening),
            &*iso_date(msg.received),
            r.received_at_ms,
            r.request_sha256,
            r.verwerking,
            r.accepted_zio as i64,
            r.accepted_regulier as i64,
            r.rejected as i64,
        ])?;
        Ok(n != 0)
    }

    fn insert_answer(&mut self, msg: &RecordedMessage, answer: &[u8]) -> Result<()> {
        self.tx
            .prepare_cached(&q(sqlite_sql::INSERT_ANSWER))?
            .execute(params![
                msg.agb.as_str(),
                msg.identificatie.as_str(),
                msg.receipt.received_at_ms,
                answer
            ])?;
        self.rowids.answer = Some(self.tx.last_insert_rowid());
        Ok(())
    }

    fn savepoint(&mut self, statement: &str) -> Result<()> {
        // Prepared once: parsing them anew for every message of a batch
        // showed in the writer's profile.
        for part in statement
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            self.tx.prepare_cached(part)?.execute([])?;
        }
        Ok(())
    }

    /// The leases were checked in memory ([`SqliteLedger::still_ours`]).
    fn conclude(&mut self, o: &Outcomes) -> Result<u64> {
        let mut n = 0;
        let mut st = self.tx.prepare_cached(&q(sql::OUTBOX_DELIVERED))?;
        for l in &o.delivered {
            n += st.execute(params![l.id, o.at_ms])? as u64;
        }
        let mut st = self.tx.prepare_cached(&q(sql::OUTBOX_RETRY))?;
        for r in &o.retries {
            n += st.execute(params![r.lease.id, r.next_attempt_ms, r.error])? as u64;
        }
        Ok(n)
    }

    fn insert_line(
        &mut self,
        l: &LedgerLine,
        geboortedatum: Datum,
        besluitnummer: u64,
    ) -> Result<bool> {
        let n = self.insert_line.execute(params![
            l.agb.as_str(),
            l.referentie.as_str(),
            l.message_id.as_str(),
            l.zorgkantoor.as_str(),
            l.bsn,
            l.brin,
            l.onderwijstijd,
            l.route.as_str(),
            l.product_code.as_str(),
            l.declared_code.as_str(),
            &*iso_date(l.period_from),
            &*iso_date(l.period_to),
            l.year,
            l.month,
            l.volume as i64,
            l.eenheid.code(),
            unit_str(l.unit),
            l.base_volume,
            l.tarief as i64,
            l.bedrag as i64,
            l.bedrag_signed,
            l.debet_credit.code(),
            l.vorig_referentie.as_ref().map(|r| r.as_str()),
            l.codes,
            &*iso_date(geboortedatum),
            besluitnummer as i64,
        ])?;
        if n != 0 {
            widen(&mut self.rowids.lines, self.tx.last_insert_rowid());
            self.volume_add.execute(params![
                l.agb.as_str(),
                l.zorgkantoor.as_str(),
                l.year,
                l.product_code.as_str(),
                l.base_volume,
            ])?;
        }
        Ok(n != 0)
    }

    fn credit_line(
        &mut self,
        agb: &AgbCode,
        credit: &Referentie,
        vorig: &Referentie,
    ) -> Result<bool> {
        let n = self
            .credit
            .execute(params![credit.as_str(), agb.as_str(), vorig.as_str()])?;
        Ok(n == 1)
    }

    fn delete_line(&mut self, agb: &AgbCode, referentie: &Referentie) -> Result<()> {
        let gone = self
            .delete
            .query_row(params![agb.as_str(), referentie.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .optional()?;
        if let Some((zorgkantoor, year, code, base_volume)) = gone {
            self.tx
                .prepare_cached(&q(sqlite_sql::VOLUME_SUB))?
                .execute(params![agb.as_str(), zorgkantoor, year, code, base_volume])?;
        }
        Ok(())
    }

    fn insert_outbox(
        &mut self,
        msg: &RecordedMessage,
        plan: &ForwardPlan,
        route: Route,
        forward_id: &str,
        lines: u64,
    ) -> Result<bool> {
        let n = self.insert_outbox.execute(params![
            msg.agb.as_str(),
            msg.identificatie.as_str(),
            route.as_str(),
            forward_id,
            msg.zorgkantoor.as_str(),
            &*iso_date(msg.dagtekening),
            &*iso_date(plan.periode.from),
            &*iso_date(plan.periode.to),
            lines as i64,
            plan.now_ms,
            plan.held_until_ms,
            plan.holder,
        ])?;
        widen(&mut self.rowids.outbox, self.tx.last_insert_rowid());
        Ok(n != 0)
    }

    fn outbox_id(&mut self) -> Option<i64> {
        Some(self.tx.last_insert_rowid())
    }

    fn count_message_lines(&mut self, msg: &RecordedMessage, lines: u64) -> Result<()> {
        let ids = std::mem::take(&mut self.rowids);
        self.count_message_lines.execute(params![
            msg.agb.as_str(),
            msg.identificatie.as_str(),
            lines as i64,
            ids.lines.map(|r| r.0),
            ids.lines.map(|r| r.1),
            ids.outbox.map(|r| r.0),
            ids.outbox.map(|r| r.1),
            ids.answer,
        ])?;
        Ok(())
    }

    fn commit(self) -> Result<()> {
        self.tx.commit()?;
        Ok(())
    }
}

impl LedgerStore for SqliteLedger {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn record_message_forwarding(
        &self,
        msg: &RecordedMessage,
        plan: Option<&ForwardPlan>,
        lines: &mut dyn Iterator<Item = io::Result<LineVerdict>>,
    ) -> Result<RecordSummary> {
        let store = self.lock();
        // Bound before returning: the transaction borrows `store`.
        let sum = record::record(self.begin(&store)?, msg, plan, lines)?;
        Ok(sum)
    }

    fn record_batch(&self, jobs: &mut [super::RecordJob], marks: &[Outcomes]) -> BatchResults {
        let ours: Vec<Outcomes> = marks.iter().map(|m| self.ours(m)).collect();
        let results = if jobs.is_empty() {
            // Marks only: as bookkeeping, no sync of their own.
            self.bookkeeping(|c| Ok(record_batch_in(SqliteRecord::begin(c), jobs, &ours)))
                .unwrap_or_else(|e| record::batch_not_begun(jobs, &ours, e))
        } else {
            let store = self.lock();
            record_batch_in(self.begin(&store), jobs, &ours)
        };
        for (m, r) in ours.iter().zip(&results.marked) {
            if r.is_ok() {
                let ids = m.delivered.iter().chain(m.retries.iter().map(|r| &r.lease));
                self.release(&ids.map(|l| l.id).collect::<Vec<_>>());
            }
        }
        results
    }

    fn reads_are_local(&self) -> bool {
        // In memory, reads share the writer's connection (and its lock).
        self.path.is_some()
    }

    fn outbox_claim(
        &self,
        scope: ClaimScope<'_>,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<OutboxRow>> {
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        leases.retain(|_, (until, _)| *until > now_ms);
        // Rows leased in memory are skipped, so read that many more.
        let skip = leases.len() as u32;
        let limit = match scope {
            ClaimScope::Due { limit } => limit as usize,
            ClaimScope::Message { .. } => usize::MAX,
        };
        let mut rows = self.read(|c| {
            let ids = match scope {
                ClaimScope::Due { limit } => c
                    .prepare_cached(&q(sql::OUTBOX_DUE))?
                    .query_map(params![now_ms, limit.saturating_add(skip)], |r| {
                        r.get::<_, i64>(0)
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
                ClaimScope::Message {
                    agb,
                    message_id,
                    holder,
                } => c
                    .prepare_cached(&q(sqlite_sql::OUTBOX_DUE_OF_MESSAGE))?
                    .query_map(
                        params![now_ms, agb.as_str(), message_id.as_str(), holder],
                        |r| r.get::<_, i64>(0),
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
            };
            let mut one = c.prepare_cached(&q(&sql::outbox_row()))?;
            ids.into_iter()
                .filter(|id| !leases.contains_key(id))
                .take(limit)
                .map(|id| one.query_row(params![id], |r| Ok(rows::outbox_row(r))))
                .map(|r| r.map_err(LedgerError::from).and_then(|x| x))
                .collect::<Result<Vec<OutboxRow>>>()
        })?;
        let token = super::claim_token();
        for r in &mut rows {
            leases.insert(r.id, (now_ms.saturating_add(lease_ms), token));
            r.claim = Some(token);
        }
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    fn outbox_lines(
        &self,
        row: &OutboxRow,
        each: &mut dyn FnMut(ForwardLine) -> io::Result<()>,
    ) -> Result<()> {
        self.read(|c| {
            let mut st = c.prepare_cached(&q(sqlite_sql::OUTBOX_LINES))?;
            let mut rows = st.query(params![
                row.agb.as_str(),
                row.message_id.as_str(),
                row.route.as_str()
            ])?;
            while let Some(r) = rows.next()? {
                each(rows::forward_line(r)?)?;
            }
            Ok(())
        })
    }

    fn outbox_delivered(&self, lease: Lease, now_ms: i64) -> Result<bool> {
        Ok(self.outbox_delivered_many(&[lease], now_ms)? == 1)
    }

    fn outbox_retry(&self, lease: Lease, next_attempt_ms: i64, error: &str) -> Result<bool> {
        let ids = self.still_ours(&[lease]);
        let Some(&id) = ids.first() else {
            return Ok(false);
        };
        let n = self.bookkeeping(|c| {
            Ok(c.prepare_cached(&q(sql::OUTBOX_RETRY))?.execute(params![
                id,
                next_attempt_ms,
                error
            ])?)
        })?;
        self.release(&ids);
        Ok(n == 1)
    }

    fn outbox_delivered_many(&self, leases: &[Lease], now_ms: i64) -> Result<u64> {
        let ids = self.still_ours(leases);
        let ids = &ids[..];
        self.bookkeeping(|c| {
            let tx = c.unchecked_transaction()?;
            let mut n = 0;
            {
                let mut st = tx.prepare_cached(&q(sql::OUTBOX_DELIVERED))?;
                for id in ids {
                    n += st.execute(params![id, now_ms])? as u64;
                }
            }
            tx.commit()?;
            Ok(n)
        })
        .inspect(|_| self.release(ids))
    }

    fn outbox_unlease(&self, leases: &[Lease]) -> Result<u64> {
        // A claim of due rows is only this map's entry; a row a recording
        // handed over is held in the table (claim, claimed_until).
        let mut in_table = Vec::new();
        let mut n = 0;
        {
            let mut held = self.leases.lock().unwrap_or_else(|p| p.into_inner());
            for l in leases {
                match held.get(&l.id) {
                    Some((_, token)) if *token == l.token => {
                        held.remove(&l.id);
                        n += 1;
                    }
                    Some(_) => {}
                    None => in_table.push(*l),
                }
            }
        }
        // In short transactions: the group writer waits for each.
        for chunk in in_table.chunks(UNLEASE_CHUNK) {
            n += self.bookkeeping(|c| {
                let tx = c.unchecked_transaction()?;
                let mut given = 0;
                {
                    let mut st = tx.prepare_cached(&q(sql::OUTBOX_UNLEASE_ONE))?;
                    for l in chunk {
                        given += st.execute(params![l.id, l.token])? as u64;
                    }
                }
                tx.commit()?;
                Ok(given)
            })?;
        }
        Ok(n)
    }

    fn outbox_backlog(&self) -> Result<(u64, Option<i64>)> {
        let (n, oldest): (i64, Option<i64>) = self.read(|c| {
            Ok(c.prepare_cached(sql::OUTBOX_BACKLOG)?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?)
        })?;
        Ok((n as u64, oldest))
    }

    fn outbox_release_stale_leases(&self) -> Result<u64> {
        let n = self.bookkeeping(|c| Ok(c.execute(sql::OUTBOX_RELEASE, [])?))?;
        Ok(n as u64)
    }

    fn message_status(
        &self,
        agb: &AgbCode,
        identificatie: &Referentie,
    ) -> Result<Option<super::MessageStatus>> {
        let store = self.lock();
        let c = store.conn();
        let key = params![agb.as_str(), identificatie.as_str()];
        let found = c
            .prepare_cached(&q(sql::MESSAGE_STATUS))?
            .query_and_then(key, |r| rows::message_status(r))?
            .next()
            .transpose()?;
        let Some(mut status) = found else {
            return Ok(None);
        };
        status.forwarded = c
            .prepare_cached(&q(&sqlite_sql::outbox_of_message()))?
            .query_and_then(key, |r| rows::outbox_row(r))?
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(status))
    }

    fn stored_answer(
        &self,
        agb: &AgbCode,
        identificatie: &Referentie,
    ) -> Result<Option<(Option<String>, Vec<u8>)>> {
        self.read(|c| {
            Ok(c.prepare_cached(&q(sqlite_sql::STORED_ANSWER))?
                .query_row(params![agb.as_str(), identificatie.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?)
        })
    }

    fn purge_answers(&self, before_ms: i64) -> Result<u64> {
        let store = self.lock();
        let n = store
            .conn()
            .prepare_cached(&q(sql::PURGE_ANSWERS))?
            .execute(params![before_ms])?;
        Ok(n as u64)
    }

    fn outbox_pending(&self) -> Result<u64> {
        let n: i64 = self.read(|c| {
            Ok(c.prepare_cached(sql::OUTBOX_PENDING)?
                .query_row([], |r| r.get(0))?)
        })?;
        Ok(n as u64)
    }

    fn outbox_rows(&self) -> Result<Vec<OutboxRow>> {
        let store = self.lock();
        let rows = store
            .conn()
            .prepare(&sql::outbox_rows())?
            .query_and_then([], |r| rows::outbox_row(r))?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn check_reads(&self) -> Option<Box<dyn CheckReads + '_>> {
        self.check_reads_renewed_after(snapshot::SNAPSHOT_AGE)
    }

    fn put_agreement(&self, a: &Agreement, source: &str) -> Result<()> {
        let mut store = self.lock();
        let tx = store
            .conn_mut()
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let key = params![a.agb.as_str(), a.zorgkantoor.as_str(), a.year];
        tx.execute(&q(sql::DELETE_AGREEMENT_CODES), key)?;
        tx.execute(&q(sql::DELETE_AGREEMENT), key)?;
        tx.execute(
            &q(sql::INSERT_AGREEMENT),
            params![
                a.agb.as_str(),
                a.zorgkantoor.as_str(),
                a.year,
                a.herschikking_cents as i64,
                source
            ],
        )?;
        for (code, volume, price) in agreement_code_rows(a) {
            tx.execute(
                &q(sql::INSERT_AGREEMENT_CODE),
                params![
                    a.agb.as_str(),
                    a.zorgkantoor.as_str(),
                    a.year,
                    code.as_str(),
                    volume,
                    price
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn stored_agreements(&self, year: Option<i32>) -> Result<Vec<Agreement>> {
        let store = self.lock();
        let c = store.conn();
        let y = year.unwrap_or(0);
        let heads = c
            .prepare(&q(sql::SELECT_AGREEMENTS))?
            .query_and_then(params![y], |r| rows::agreement_head(r))?
            .collect::<Result<Vec<_>>>()?;
        let codes = c
            .prepare(&q(sql::SELECT_AGREEMENT_CODES))?
            .query_and_then(params![y], |r| rows::agreement_code(r))?
            .collect::<Result<Vec<_>>>()?;
        assemble_agreements(heads, codes)
    }

    fn realisatie(&self, year: i32) -> Result<Vec<(AgbCode, ZorgkantoorCode, i64)>> {
        let store = self.lock();
        let rows = store
            .conn()
            .prepare(&q(sql::REALISATIE))?
            .query_and_then(params![year], |r| rows::realisatie_row(r))?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn volumes(
        &self,
        year: i32,
        filter: VolumeFilter,
        grouping: VolumeGrouping,
    ) -> Result<Vec<VolumeRow>> {
        let store = self.lock();
        let rows = store
            .conn()
            .prepare(&q(&sql::volumes(filter, grouping)))?
            .query_and_then(params![year], |r| rows::volume_row(r))?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn lines_of(&self, agb: &AgbCode) -> Result<Vec<LedgerLine>> {
        let store = self.lock();
        let rows = store
            .conn()
            .prepare(&q(&sql::lines_of()))?
            .query_and_then(params![agb.as_str()], |r| rows::line(r))?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn lines_in_years(&self, from: i32, to: i32) -> Result<Vec<LedgerLine>> {
        let store = self.lock();
        let rows = store
            .conn()
            .prepare(&q(&sql::lines_in_years()))?
            .query_and_then(params![from, to], |r| rows::line(r))?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn add_herschikking_event(&self, e: &herschikking::Event) -> Result<()> {
        let store = self.lock();
        store.conn().execute(
            &q(sql::INSERT_HERSCHIKKING_EVENT),
            params![
                e.agb.as_str(),
                e.zorgkantoor.as_str(),
                e.year,
                e.at_ms,
                e.actor,
                e.action.as_str(),
                e.old_cents,
                e.new_cents,
                e.reason
            ],
        )?;
        Ok(())
    }

    fn herschikking_events(&self, year: Option<i32>) -> Result<Vec<herschikking::Event>> {
        let store = self.lock();
        let rows = store
            .conn()
            .prepare(&q(sql::HERSCHIKKING_EVENTS))?
            .query_and_then(params![year.unwrap_or(0)], |r| rows::herschikking_event(r))?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn put_absence(
        &self,
        rows: &[super::absence::AbsenceRow],
        actor: &str,
        at_ms: i64,
    ) -> Result<u64> {
        let mut store = self.lock();
        let tx = store
            .conn_mut()
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut changed = 0u64;
        {
            let mut upsert = tx.prepare_cached(&q(sql::UPSERT_ABSENCE))?;
            let mut delete = tx.prepare_cached(&q(sql::DELETE_ABSENCE))?;
            for r in rows {
                let key: [&dyn rusqlite::ToSql; 8] = [
                    &r.agb.as_str(),
                    &r.zorgkantoor.as_str(),
                    &r.bsn,
                    &r.brin,
                    &r.product_code.as_str(),
                    &r.year,
                    &r.month,
                    &r.soort.as_str(),
                ];
                changed += if r.base_volume == 0 {
                    delete.execute(&key[..])?
                } else {
                    let unit = unit_str(r.unit);
                    let values: [&dyn rusqlite::ToSql; 4] = [&unit, &r.base_volume, &at_ms, &actor];
                    upsert.execute(&[&key[..], &values[..]].concat()[..])?
                } as u64;
            }
        }
        tx.commit()?;
        Ok(changed)
    }

    fn absence(&self, year: i32) -> Result<Vec<super::absence::AbsenceRow>> {
        let store = self.lock();
        let rows = store
            .conn()
            .prepare(&q(sql::SELECT_ABSENCE))?
            .query_and_then(params![year], |r| rows::absence_row(r))?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn pupil_months(&self, to_year: i32) -> Result<Vec<super::PupilMonth>> {
        let store = self.lock();
        let rows = store
            .conn()
            .prepare(&q(sql::PUPIL_MONTHS))?
            .query_and_then(params![to_year], |r| rows::pupil_month(r))?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }
}

impl CheckReads for SqliteLedger {
    fn message_processed(&self, agb: &AgbCode, identificatie: &Referentie) -> Result<bool> {
        self.read(|c| message_processed_on(c, agb, identificatie))
    }

    fn prior_line(&self, agb: &AgbCode, referentie: &Referentie) -> Result<Option<PriorLine>> {
        self.read(|c| prior_line_on(c, agb, referentie))
    }

    fn declared_base_volume(
        &self,
        agb: &AgbCode,
        zk: &ZorgkantoorCode,
        year: i32,
        code: &ProductCode,
    ) -> Result<i64> {
        self.read(|c| declared_base_volume_on(c, agb, zk, year, code))
    }
}
