//! The shared ledger: the same tables and SQL in PostgreSQL, so several
//! gateway instances record into one ledger. Two processes recording the
//! same message at the same time end with each line once: the unique keys
//! (agb, message_id) and (agb, referentie) make the second insert wait for
//! the first transaction and then do nothing, and the conditional credit
//! UPDATE re-reads the row once the first transaction committed.
//!
//! Uses the synchronous `postgres` client: call it from a plain thread (the
//! server: `spawn_blocking`), never from inside an async task.

use super::pg_readers::Readers;
use super::record::{self, RecordTx};
use super::rows::{self, Columns};
use super::{
    agreement_code_rows, assemble_agreements, herschikking, sql, unit_str, BatchResults,
    CheckReads, ClaimScope, ForwardLine, ForwardPlan, Lease, LedgerError, LedgerLine, LedgerStore,
    OutboxRow, Outcomes, RecordSummary, RecordedMessage, Result, VolumeFilter, VolumeGrouping,
    VolumeRow,
};
use crate::model::regime::Agreement;
use crate::model::verdict::{LineVerdict, Route};
use crate::rules::history::PriorLine;
use crate::types::{AgbCode, Datum, ProductCode, Referentie, ZorgkantoorCode};
use postgres::{Client, Statement, Transaction};
use std::io;
use std::sync::{Mutex, MutexGuard};

struct Statements {
    insert_message: Statement,
    count_message_lines: Statement,
    insert_line: Statement,
    credit: Statement,
    delete: Statement,
    insert_outbox: Statement,
}

struct Conn {
    client: Client,
    st: Statements,
}

pub struct PgLedger {
    /// The writer: recordings, outbox claims and marks, imports. `None`
    /// only while dropping (`Drop`).
    conn: Mutex<Option<Conn>>,
    /// The checks' questions and the status pages (`pg_readers`).
    readers: Readers,
}

impl PgLedger {
    /// Connects (`postgres://user@host:port/db`), migrates, prepares.
    pub fn connect(url: &str) -> Result<Self> {
        Self::connect_in_schema(url, None)
    }

    /// Like [`PgLedger::connect`], with the ledger's tables in `schema`
    /// (created when missing): several ledgers in one database (tests).
    pub fn connect_in_schema(url: &str, schema: Option<&str>) -> Result<Self> {
        let mut client =
            crate::sinks::store::pg::connect(url, schema).map_err(|e| LedgerError::Invalid(e.0))?;
        let st = Statements {
            insert_message: client.prepare(sql::INSERT_MESSAGE)?,
            count_message_lines: client.prepare(sql::COUNT_MESSAGE_LINES)?,
            insert_line: client.prepare(sql::INSERT_LINE)?,
            credit: client.prepare(sql::CREDIT_LINE)?,
            delete: client.prepare(sql::DELETE_LINE)?,
            insert_outbox: client.prepare(sql::INSERT_OUTBOX)?,
        };
        Ok(Self {
            conn: Mutex::new(Some(Conn { client, st })),
            readers: Readers::new(url, schema),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<Conn>> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for PgLedger {
    /// The sync client closes its connection with a blocking call, which
    /// panics on a tokio worker; the last owner of a ledger can be a task
    /// (a server's state dropped at the end of an async test or shutdown).
    /// There, the connections are closed on a thread of their own.
    fn drop(&mut self) {
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let conn = self
            .conn
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let readers = self.readers.take_idle();
        std::thread::spawn(move || drop((conn, readers)));
    }
}

impl Columns for postgres::Row {
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.try_get(i)?)
    }
    fn opt_i64(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.try_get(i)?)
    }
    fn opt_i32(&self, i: usize) -> Result<Option<i32>> {
        Ok(self.try_get(i)?)
    }
    fn opt_bool(&self, i: usize) -> Result<Option<bool>> {
        Ok(self.try_get(i)?)
    }
    fn opt_date(&self, i: usize) -> Result<Option<Datum>> {
        Ok(self.try_get(i)?)
    }
}

/// One recording's transaction, with the statements prepared at connect.
struct PgRecord<'a> {
    tx: Transaction<'a>,
    st: &'a Statements,
}

impl RecordTx for PgRecord<'_> {
    fn insert_message(&mut self, msg: &RecordedMessage) -> Result<bool> {
        let r = &msg.receipt;
        let n = self.tx.execute(
            &self.st.insert_message,
            &[
                &msg.agb.as_str(),
                &msg.identificatie.as_str(),
                &msg.zorgkantoor.as_str(),
                &msg.dagtekening,
                &msg.received,
                &r.received_at_ms,
                &r.request_sha256,
                &r.verwerking,
                &(r.accepted_zio as i64),
                &(r.accepted_regulier as i64),
                &(r.rejected as i64),
            ],
        )?;
        Ok(n != 0)
    }

    fn insert_answer(&mut self, msg: &RecordedMessage, answer: &[u8]) -> Result<()> {
        self.tx.execute(
            sql::INSERT_ANSWER,
            &[
                &msg.agb.as_str(),
                &msg.identificatie.as_str(),
                &msg.receipt.received_at_ms,
                &answer,
            ],
        )?;
        Ok(())
    }

    fn savepoint(&mut self, statement: &str) -> Result<()> {
        self.tx.batch_execute(statement)?;
        Ok(())
    }

    fn conclude(&mut self, o: &Outcomes) -> Result<u64> {
        let mut n = 0;
        let st = self.tx.prepare(sql::OUTBOX_DELIVERED_LEASED)?;
        for l in &o.delivered {
            n += self.tx.execute(&st, &[&l.id, &o.at_ms, &l.token])?;
        }
        let st = self.tx.prepare(sql::OUTBOX_RETRY_LEASED)?;
        for r in &o.retries {
            let l = &r.lease;
            n += self
                .tx
                .execute(&st, &[&l.id, &r.next_attempt_ms, &r.error, &l.token])?;
        }
        Ok(n)
    }

    fn insert_line(
        &mut self,
        l: &LedgerLine,
        geboortedatum: Datum,
        besluitnummer: u64,
    ) -> Result<bool> {
        let month = l.month as i32;
        let (volume, tarief, bedrag) = (l.volume as i64, l.tarief as i64, l.bedrag as i64);
        let vorig = l.vorig_referentie.as_ref().map(|r| r.as_str());
        let n = self.tx.execute(
            &self.st.insert_line,
            &[
                &l.agb.as_str(),
                &l.referentie.as_str(),
                &l.message_id.as_str(),
                &l.zorgkantoor.as_str(),
                &l.bsn,
                &l.brin,
                &l.onderwijstijd,
                &l.route.as_str(),
                &l.product_code.as_str(),
                &l.declared_code.as_str(),
                &l.period_from,
                &l.period_to,
                &l.year,
                &month,
                &volume,
                &l.eenheid.code(),
                &unit_str(l.unit),
                &l.base_volume,
                &tarief,
                &bedrag,
                &l.bedrag_signed,
                &l.debet_credit.code(),
                &vorig,
                &l.codes,
                &geboortedatum,
                &(besluitnummer as i64),
            ],
        )?;
        Ok(n != 0)
    }

    fn credit_line(
        &mut self,
        agb: &AgbCode,
        credit: &Referentie,
        vorig: &Referentie,
    ) -> Result<bool> {
        let n = self.tx.execute(
            &self.st.credit,
            &[&credit.as_str(), &agb.as_str(), &vorig.as_str()],
        )?;
        Ok(n == 1)
    }

    fn delete_line(&mut self, agb: &AgbCode, referentie: &Referentie) -> Result<()> {
        self.tx
            .execute(&self.st.delete, &[&agb.as_str(), &referentie.as_str()])?;
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
        let n = self.tx.execute(
            &self.st.insert_outbox,
            &[
                &msg.agb.as_str(),
                &msg.identificatie.as_str(),
                &route.as_str(),
                &forward_id,
                &msg.zorgkantoor.as_str(),
                &msg.dagtekening,
                &plan.periode.from,
                &plan.periode.to,
                &(lines as i64),
                &plan.now_ms,
                &plan.held_until_ms,
                &plan.holder,
            ],
        )?;
        Ok(n != 0)
    }

    fn count_message_lines(&mut self, msg: &RecordedMessage, lines: u64) -> Result<()> {
        self.tx.execute(
            &self.st.count_message_lines,
            &[
                &msg.agb.as_str(),
                &msg.identificatie.as_str(),
                &(lines as i64),
            ],
        )?;
        Ok(())
    }

    fn commit(self) -> Result<()> {
        self.tx.commit()?;
        Ok(())
    }
}

impl LedgerStore for PgLedger {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn record_message_forwarding(
        &self,
        msg: &RecordedMessage,
        plan: Option<&ForwardPlan>,
        lines: &mut dyn Iterator<Item = io::Result<LineVerdict>>,
    ) -> Result<RecordSummary> {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        let Conn { client, st } = &mut *guard;
        let tx = client.transaction()?;
        record::record(PgRecord { tx, st }, msg, plan, lines)
    }

    fn record_batch(&self, jobs: &mut [super::RecordJob], marks: &[Outcomes]) -> BatchResults {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        let Conn { client, st } = &mut *guard;
        let results = match client.transaction() {
            Ok(tx) => record::record_batch(PgRecord { tx, st }, jobs, marks),
            Err(e) => record::batch_not_begun(jobs, marks, e),
        };
        results
    }

    fn outbox_claim(
        &self,
        scope: ClaimScope<'_>,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<OutboxRow>> {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        let c = &mut guard.client;
        let token = super::claim_token();
        let found = match scope {
            ClaimScope::Due { limit } => c.query(
                &sql::outbox_claim(false),
                &[&now_ms, &lease_ms, &token, &i64::from(limit)],
            )?,
            ClaimScope::Message {
                agb,
                message_id,
                holder,
            } => c.query(
                &sql::outbox_claim(true),
                &[
                    &now_ms,
                    &lease_ms,
                    &token,
                    &agb.as_str(),
                    &message_id.as_str(),
                    &holder,
                ],
            )?,
        };
        let mut rows = found
            .iter()
            .map(|r| {
                rows::outbox_row(r).map(|row| OutboxRow {
                    claim: Some(token),
                    ..row
                })
            })
            .collect::<Result<Vec<_>>>()?;
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    fn outbox_lines(
        &self,
        row: &OutboxRow,
        each: &mut dyn FnMut(ForwardLine) -> io::Result<()>,
    ) -> Result<()> {
        use postgres::fallible_iterator::FallibleIterator;
        let mut reader = self.readers.get()?;
        let params: [&(dyn postgres::types::ToSql + Sync); 3] = [
            &row.agb.as_str(),
            &row.message_id.as_str(),
            &row.route.as_str(),
        ];
        // Rows arrive as they are read: a large message is never held whole.
        let st = reader.statement(sql::OUTBOX_LINES)?;
        let mut it = reader.client.query_raw(&st, params)?;
        while let Some(r) = it.next()? {
            each(rows::forward_line(&r)?)?;
        }
        Ok(())
    }

    fn outbox_delivered(&self, lease: Lease, now_ms: i64) -> Result<bool> {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        let n = guard.client.execute(
            sql::OUTBOX_DELIVERED_LEASED,
            &[&lease.id, &now_ms, &lease.token],
        )?;
        Ok(n == 1)
    }

    fn outbox_unlease(&self, leases: &[Lease]) -> Result<u64> {
        let ids: Vec<i64> = leases.iter().map(|l| l.id).collect();
        let tokens: Vec<i64> = leases.iter().map(|l| l.token).collect();
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        Ok(guard
            .client
            .execute(sql::OUTBOX_UNLEASE, &[&ids, &tokens])?)
    }

    fn outbox_delivered_many(&self, leases: &[Lease], now_ms: i64) -> Result<u64> {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        let mut tx = guard.client.transaction()?;
        let st = tx.prepare(sql::OUTBOX_DELIVERED_LEASED)?;
        let mut n = 0;
        for l in leases {
            n += tx.execute(&st, &[&l.id, &now_ms, &l.token])?;
        }
        tx.commit()?;
        Ok(n)
    }

    fn outbox_backlog(&self) -> Result<(u64, Option<i64>)> {
        let mut r = self.readers.get()?;
        let row = r.client.query_one(sql::OUTBOX_BACKLOG, &[])?;
        let n: i64 = row.try_get(0)?;
        Ok((n as u64, row.try_get(1)?))
    }

    fn message_status(
        &self,
        agb: &AgbCode,
        identificatie: &Referentie,
    ) -> Result<Option<super::MessageStatus>> {
        let mut r = self.readers.get()?;
        let c = &mut r.client;
        let key: [&(dyn postgres::types::ToSql + Sync); 2] =
            [&agb.as_str(), &identificatie.as_str()];
        let Some(row) = c.query_opt(sql::MESSAGE_STATUS, &key)? else {
            return Ok(None);
        };
        let mut status = rows::message_status(&row)?;
        status.forwarded = c
            .query(&sql::outbox_of_message(), &key)?
            .iter()
            .map(rows::outbox_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(status))
    }

    fn stored_answer(
        &self,
        agb: &AgbCode,
        identificatie: &Referentie,
    ) -> Result<Option<(Option<String>, Vec<u8>)>> {
        let mut r = self.readers.get()?;
        let row = r.client.query_opt(
            sql::STORED_ANSWER,
            &[&agb.as_str(), &identificatie.as_str()],
        )?;
        Ok(match row {
            Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
            None => None,
        })
    }

    fn purge_answers(&self, before_ms: i64) -> Result<u64> {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        Ok(guard.client.execute(sql::PURGE_ANSWERS, &[&before_ms])?)
    }

    fn outbox_retry(&self, lease: Lease, next_attempt_ms: i64, error: &str) -> Result<bool> {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        let n = guard.client.execute(
            sql::OUTBOX_RETRY_LEASED,
            &[&lease.id, &next_attempt_ms, &error, &lease.token],
        )?;
        Ok(n == 1)
    }

    fn outbox_pending(&self) -> Result<u64> {
        let mut r = self.readers.get()?;
        let n: i64 = r.client.query_one(sql::OUTBOX_PENDING, &[])?.get(0);
        Ok(n as u64)
    }

    fn outbox_rows(&self) -> Result<Vec<OutboxRow>> {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        guard
            .client
            .query(&sql::outbox_rows(), &[])?
            .iter()
            .map(rows::outbox_row)
            .collect()
    }

    fn put_agreement(&self, a: &Agreement, source: &str) -> Result<()> {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        let mut tx = guard.client.transaction()?;
        let (agb, zk) = (a.agb.as_str(), a.zorgkantoor.as_str());
        tx.execute(sql::DELETE_AGREEMENT_CODES, &[&agb, &zk, &a.year])?;
        tx.execute(sql::DELETE_AGREEMENT, &[&agb, &zk, &a.year])?;
        let herschikking = a.herschikking_cents as i64;
        tx.execute(
            sql::INSERT_AGREEMENT,
            &[&agb, &zk, &a.year, &herschikking, &source],
        )?;
        for (code, volume, price) in agreement_code_rows(a) {
            tx.execute(
                sql::INSERT_AGREEMENT_CODE,
                &[&agb, &zk, &a.year, &code.as_str(), &volume, &price],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn stored_agreements(&self, year: Option<i32>) -> Result<Vec<Agreement>> {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        let c = &mut guard.client;
        let y = year.unwrap_or(0);
        let heads = c
            .query(sql::SELECT_AGREEMENTS, &[&y])?
            .iter()
            .map(rows::agreement_head)
            .collect::<Result<_>>()?;
        let codes = c
            .query(sql::SELECT_AGREEMENT_CODES, &[&y])?
            .iter()
            .map(rows::agreement_code)
            .collect::<Result<_>>()?;
        assemble_agreements(heads, codes)
    }

    fn realisatie(&self, year: i32) -> Result<Vec<(AgbCode, ZorgkantoorCode, i64)>> {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        guard
            .client
            .query(sql::REALISATIE, &[&year])?
            .iter()
            .map(rows::realisatie_row)
            .collect()
    }

    fn volumes(
        &self,
        year: i32,
        filter: VolumeFilter,
        grouping: VolumeGrouping,
    ) -> Result<Vec<VolumeRow>> {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        guard
            .client
            .query(&sql::volumes(filter, grouping), &[&year])?
            .iter()
            .map(rows::volume_row)
            .collect()
    }

    fn lines_of(&self, agb: &AgbCode) -> Result<Vec<LedgerLine>> {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        guard
            .client
            .query(&sql::lines_of(), &[&agb.as_str()])?
            .iter()
            .map(rows::line)
            .collect()
    }

    fn lines_in_years(&self, from: i32, to: i32) -> Result<Vec<LedgerLine>> {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        guard
            .client
            .query(&sql::lines_in_years(), &[&from, &to])?
            .iter()
            .map(rows::line)
            .collect()
    }

    fn add_herschikking_event(&self, e: &herschikking::Event) -> Result<()> {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        guard.client.execute(
            sql::INSERT_HERSCHIKKING_EVENT,
            &[
                &e.agb.as_str(),
                &e.zorgkantoor.as_str(),
                &e.year,
                &e.at_ms,
                &e.actor,
                &e.action.as_str(),
                &e.old_cents,
                &e.new_cents,
                &e.reason,
            ],
        )?;
        Ok(())
    }

    fn herschikking_events(&self, year: Option<i32>) -> Result<Vec<herschikking::Event>> {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        guard
            .client
            .query(sql::HERSCHIKKING_EVENTS, &[&year.unwrap_or(0)])?
            .iter()
            .map(rows::herschikking_event)
            .collect()
    }

    fn put_absence(
        &self,
        rows: &[super::absence::AbsenceRow],
        actor: &str,
        at_ms: i64,
    ) -> Result<u64> {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        let mut tx = guard.client.transaction()?;
        let upsert = tx.prepare(sql::UPSERT_ABSENCE)?;
        let delete = tx.prepare(sql::DELETE_ABSENCE)?;
        let mut changed = 0u64;
        for r in rows {
            let month = r.month as i32;
            let (agb, zk, code, soort) = (
                r.agb.as_str(),
                r.zorgkantoor.as_str(),
                r.product_code.as_str(),
                r.soort.as_str(),
            );
            let key: [&(dyn postgres::types::ToSql + Sync); 8] =
                [&agb, &zk, &r.bsn, &r.brin, &code, &r.year, &month, &soort];
            changed += if r.base_volume == 0 {
                tx.execute(&delete, &key)?
            } else {
                let unit = unit_str(r.unit);
                let values: [&(dyn postgres::types::ToSql + Sync); 4] =
                    [&unit, &r.base_volume, &at_ms, &actor];
                tx.execute(&upsert, &[&key[..], &values[..]].concat())?
            };
        }
        tx.commit()?;
        Ok(changed)
    }

    fn absence(&self, year: i32) -> Result<Vec<super::absence::AbsenceRow>> {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        guard
            .client
            .query(sql::SELECT_ABSENCE, &[&year])?
            .iter()
            .map(rows::absence_row)
            .collect()
    }

    fn pupil_months(&self, to_year: i32) -> Result<Vec<super::PupilMonth>> {
        let mut lock = self.lock();
        let guard = lock.as_mut().expect("open until dropped");
        guard
            .client
            .query(sql::PUPIL_MONTHS, &[&to_year])?
            .iter()
            .map(rows::pupil_month)
            .collect()
    }
}

impl CheckReads for PgLedger {
    fn message_processed(&self, agb: &AgbCode, identificatie: &Referentie) -> Result<bool> {
        let mut r = self.readers.get()?;
        let st = r.statement(sql::MESSAGE_PROCESSED)?;
        let rows = r
            .client
            .query(&st, &[&agb.as_str(), &identificatie.as_str()])?;
        Ok(!rows.is_empty())
    }

    fn prior_line(&self, agb: &AgbCode, referentie: &Referentie) -> Result<Option<PriorLine>> {
        let mut r = self.readers.get()?;
        let st = r.statement(sql::PRIOR_LINE)?;
        let row = r
            .client
            .query_opt(&st, &[&agb.as_str(), &referentie.as_str()])?;
        Ok(row.map(|r| {
            if r.get::<_, bool>(0) {
                PriorLine::Credited
            } else {
                PriorLine::Open
            }
        }))
    }

    fn declared_base_volume(
        &self,
        agb: &AgbCode,
        zk: &ZorgkantoorCode,
        year: i32,
        code: &ProductCode,
    ) -> Result<i64> {
        let mut r = self.readers.get()?;
        let st = r.statement(sql::DECLARED_BASE_VOLUME)?;
        let row = r
            .client
            .query_one(&st, &[&agb.as_str(), &zk.as_str(), &year, &code.as_str()])?;
        Ok(row.get(0))
    }
}
