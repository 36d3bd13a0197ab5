//! The embedded ledger: tables in the gateway's SQLite store
//! (`DATA_DIR/gateway.db`, WAL), created by the store's migration list
//! (`sinks::store::schema`).

use super::{
    agreement_code_rows, assemble_agreements, route_parse, sql, unit_parse, unit_str, ClaimScope,
    ForwardLine, ForwardPlan, LedgerError, LedgerLine, LedgerStore, OutboxRow, RecordSummary,
    RecordedMessage, Result, RouteCounts, VolumeFilter, VolumeGrouping, VolumeRow,
};
use crate::model::regime::Agreement;
use crate::model::verdict::LineVerdict;
use crate::rules::history::PriorLine;
use crate::sinks::store::Store;
use crate::types::Period;
use crate::types::{
    parse_datum, AgbCode, DebetCredit, Eenheid, ProductCode, Referentie, ZorgkantoorCode,
};
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use std::borrow::Cow;
use std::io;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

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
}

impl SqliteLedger {
    /// The ledger in an opened (and so migrated) store.
    pub fn new(store: Store) -> Self {
        Self {
            store: Mutex::new(store),
        }
    }

    /// Opens (creating when needed) `DATA_DIR/gateway.db`.
    pub fn open_data_dir(data_dir: &Path) -> Result<Self> {
        let store = Store::open(data_dir).map_err(|e| LedgerError::Invalid(e.to_string()))?;
        Ok(Self::new(store))
    }

    /// A private in-memory ledger (tests, tools).
    pub fn open_in_memory() -> Result<Self> {
        let store = Store::open_in_memory().map_err(|e| LedgerError::Invalid(e.to_string()))?;
        Ok(Self::new(store))
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves the connection usable: any
        // open transaction was rolled back when it was dropped.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn bad(what: &str, v: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(0, format!("{what} `{v}`"), rusqlite::types::Type::Text)
}

fn read_line(r: &rusqlite::Row<'_>) -> rusqlite::Result<LedgerLine> {
    let s = |i: usize| r.get::<_, String>(i);
    let agb = s(0)?;
    let referentie = s(1)?;
    let message_id = s(2)?;
    let zk = s(3)?;
    let product = s(8)?;
    let declared = s(9)?;
    let from = s(10)?;
    let to = s(11)?;
    let eenheid = s(15)?;
    let unit = s(16)?;
    let dc = s(21)?;
    let vorig: Option<String> = r.get(22)?;
    let line = LedgerLine {
        agb: AgbCode::parse(&agb).ok_or_else(|| bad("agb", &agb))?,
        referentie: Referentie::parse(&referentie).ok_or_else(|| bad("referentie", &referentie))?,
        message_id: Referentie::new_unchecked(message_id),
        zorgkantoor: ZorgkantoorCode::parse(&zk).ok_or_else(|| bad("zorgkantoor", &zk))?,
        bsn: s(4)?,
        brin: r.get(5)?,
        onderwijstijd: r.get::<_, Option<i64>>(6)?.map(|b| b != 0),
        route: route_parse(&s(7)?),
        product_code: ProductCode::parse(&product).ok_or_else(|| bad("code", &product))?,
        declared_code: ProductCode::parse(&declared).ok_or_else(|| bad("code", &declared))?,
        period_from: parse_datum(&from).ok_or_else(|| bad("date", &from))?,
        period_to: parse_datum(&to).ok_or_else(|| bad("date", &to))?,
        year: r.get(12)?,
        month: r.get(13)?,
        volume: r.get::<_, i64>(14)? as u64,
        eenheid: Eenheid::parse(&eenheid).ok_or_else(|| bad("eenheid", &eenheid))?,
        unit: unit_parse(&unit).ok_or_else(|| bad("unit", &unit))?,
        base_volume: r.get(17)?,
        tarief: r.get::<_, i64>(18)? as u64,
        bedrag: r.get::<_, i64>(19)? as u64,
        bedrag_signed: r.get(20)?,
        debet_credit: DebetCredit::parse(&dc).ok_or_else(|| bad("debet_credit", &dc))?,
        vorig_referentie: vorig.map(Referentie::new_unchecked),
        codes: s(23)?,
        credited_by: r
            .get::<_, Option<String>>(24)?
            .map(Referentie::new_unchecked),
    };
    Ok(line)
}

fn read_outbox(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    let s = |i: usize| r.get::<_, String>(i);
    let date = |i: usize| -> rusqlite::Result<crate::types::Datum> {
        let v = s(i)?;
        parse_datum(&v).ok_or_else(|| bad("date", &v))
    };
    let agb = s(1)?;
    let zk = s(5)?;
    Ok(OutboxRow {
        id: r.get(0)?,
        agb: AgbCode::parse(&agb).ok_or_else(|| bad("agb", &agb))?,
        message_id: Referentie::new_unchecked(s(2)?),
        route: route_parse(&s(3)?),
        forward_id: s(4)?,
        zorgkantoor: ZorgkantoorCode::parse(&zk).ok_or_else(|| bad("zorgkantoor", &zk))?,
        dagtekening: date(6)?,
        periode: Period::new(date(7)?, date(8)?),
        lines: r.get::<_, i64>(9)? as u64,
        state: s(10)?,
        attempts: r.get::<_, i64>(11)? as u32,
        next_attempt_at: r.get(12)?,
        delivered_at: r.get(13)?,
        last_error: r.get(14)?,
    })
}

fn read_forward_line(r: &rusqlite::Row<'_>) -> rusqlite::Result<ForwardLine> {
    let s = |i: usize| r.get::<_, String>(i);
    let date = |i: usize| -> rusqlite::Result<crate::types::Datum> {
        let v: Option<String> = r.get(i)?;
        let v = v.unwrap_or_default();
        parse_datum(&v).ok_or_else(|| bad("date", &v))
    };
    Ok(ForwardLine {
        bsn: s(0)?,
        geboortedatum: date(1)?,
        besluitnummer: r
            .get::<_, Option<i64>>(2)?
            .ok_or_else(|| bad("besluitnummer", "NULL"))? as u64,
        referentie: s(3)?,
        vorig_referentie: r.get(4)?,
        product_code: s(5)?,
        period_from: date(6)?,
        period_to: date(7)?,
        volume: r.get::<_, i64>(8)? as u64,
        eenheid: s(9)?,
        tarief: r.get(10)?,
        bedrag: r.get(11)?,
        debet_credit: s(12)?,
        onderwijstijd: r.get::<_, Option<i64>>(13)?.map(|b| b != 0),
        brin: r.get(14)?,
    })
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
        let mut store = self.lock();
        // IMMEDIATE: take the write lock first, so a second process waits
        // (busy_timeout) instead of failing halfway.
        let tx = store
            .conn_mut()
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut sum = RecordSummary::default();
        let mut routes = RouteCounts::default();
        let agb = msg.agb.as_str();
        let fresh = tx
            .prepare_cached(&q(sql::INSERT_MESSAGE))?
            .execute(params![
                agb,
                msg.identificatie.as_str(),
                msg.zorgkantoor.as_str(),
                msg.dagtekening.to_string(),
                msg.received.to_string(),
            ])?;
        if fresh == 0 {
            sum.already_processed = true;
            return Ok(sum); // the transaction rolls back on drop
        }
        {
            let mut insert = tx.prepare_cached(&q(sql::INSERT_LINE))?;
            let mut credit = tx.prepare_cached(&q(sql::CREDIT_LINE))?;
            let mut delete = tx.prepare_cached(&q(sql::DELETE_LINE))?;
            for v in lines {
                let v = v?;
                if !v.accepted() {
                    continue;
                }
                let l = LedgerLine::from_verdict(msg, &v);
                let n = insert.execute(params![
                    agb,
                    l.referentie.as_str(),
                    l.message_id.as_str(),
                    l.zorgkantoor.as_str(),
                    l.bsn,
                    l.brin,
                    l.onderwijstijd,
                    l.route.as_str(),
                    l.product_code.as_str(),
                    l.declared_code.as_str(),
                    l.period_from.to_string(),
                    l.period_to.to_string(),
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
                    v.geboortedatum.to_string(),
                    v.besluitnummer as i64,
                ])?;
                if n == 0 {
                    sum.duplicates += 1;
                    continue;
                }
                sum.inserted += 1;
                routes.add(l.route, 1);
                if let (DebetCredit::Credit, Some(vorig)) = (l.debet_credit, &l.vorig_referentie) {
                    let n = credit.execute(params![l.referentie.as_str(), agb, vorig.as_str()])?;
                    if n == 1 {
                        sum.credits_applied += 1;
                    } else {
                        delete.execute(params![agb, l.referentie.as_str()])?;
                        sum.inserted -= 1;
                        routes.add(l.route, -1);
                        sum.credits_void += 1;
                    }
                }
            }
        }
        if let Some(plan) = plan {
            let mut insert = tx.prepare_cached(&q(sql::INSERT_OUTBOX))?;
            for (route, n) in routes.queued(plan) {
                sum.outbox_rows += insert.execute(params![
                    agb,
                    msg.identificatie.as_str(),
                    route.as_str(),
                    super::forward_id(msg.identificatie.as_str(), route),
                    msg.zorgkantoor.as_str(),
                    msg.dagtekening.to_string(),
                    plan.periode.from.to_string(),
                    plan.periode.to.to_string(),
                    n as i64,
                    plan.now_ms,
                    plan.held_until_ms,
                ])? as u64;
            }
        }
        tx.prepare_cached(&q(sql::COUNT_MESSAGE_LINES))?
            .execute(params![
                agb,
                msg.identificatie.as_str(),
                sum.inserted as i64
            ])?;
        tx.commit()?;
        Ok(sum)
    }

    fn outbox_claim(
        &self,
        scope: ClaimScope<'_>,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<OutboxRow>> {
        let store = self.lock();
        let c = store.conn();
        let mut rows = match scope {
            ClaimScope::Due { limit } => c
                .prepare_cached(&q(&sql::outbox_claim(false, false)))?
                .query_map(params![now_ms, lease_ms, limit], read_outbox)?
                .collect::<rusqlite::Result<Vec<_>>>()?,
            ClaimScope::Message { agb, message_id } => c
                .prepare_cached(&q(&sql::outbox_claim(true, false)))?
                .query_map(
                    params![now_ms, lease_ms, agb.as_str(), message_id.as_str()],
                    read_outbox,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?,
        };
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    fn outbox_lines(
        &self,
        row: &OutboxRow,
        each: &mut dyn FnMut(ForwardLine) -> io::Result<()>,
    ) -> Result<()> {
        let store = self.lock();
        let mut st = store.conn().prepare_cached(&q(sql::OUTBOX_LINES))?;
        let mut rows = st.query(params![
            row.agb.as_str(),
            row.message_id.as_str(),
            row.route.as_str()
        ])?;
        while let Some(r) = rows.next()? {
            each(read_forward_line(r)?)?;
        }
        Ok(())
    }

    fn outbox_delivered(&self, id: i64, now_ms: i64) -> Result<bool> {
        let store = self.lock();
        let n = store
            .conn()
            .prepare_cached(&q(sql::OUTBOX_DELIVERED))?
            .execute(params![id, now_ms])?;
        Ok(n == 1)
    }

    fn outbox_retry(&self, id: i64, next_attempt_ms: i64, error: &str) -> Result<()> {
        let store = self.lock();
        store
            .conn()
            .prepare_cached(&q(sql::OUTBOX_RETRY))?
            .execute(params![id, next_attempt_ms, error])?;
        Ok(())
    }

    fn outbox_pending(&self) -> Result<u64> {
        let store = self.lock();
        let n: i64 = store
            .conn()
            .prepare_cached(sql::OUTBOX_PENDING)?
            .query_row([], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn outbox_rows(&self) -> Result<Vec<OutboxRow>> {
        let store = self.lock();
        let rows = store
            .conn()
            .prepare(&sql::outbox_rows())?
            .query_map([], read_outbox)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn message_processed(&self, agb: &AgbCode, identificatie: &Referentie) -> Result<bool> {
        let store = self.lock();
        let found = store
            .conn()
            .prepare_cached(&q(sql::MESSAGE_PROCESSED))?
            .query_row(params![agb.as_str(), identificatie.as_str()], |_| Ok(()))
            .optional()?;
        Ok(found.is_some())
    }

    fn prior_line(&self, agb: &AgbCode, referentie: &Referentie) -> Result<Option<PriorLine>> {
        let store = self.lock();
        let credited: Option<bool> = store
            .conn()
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

    fn declared_base_volume(
        &self,
        agb: &AgbCode,
        zk: &ZorgkantoorCode,
        year: i32,
        code: &ProductCode,
    ) -> Result<i64> {
        let store = self.lock();
        let v = store
            .conn()
            .prepare_cached(&q(sql::DECLARED_BASE_VOLUME))?
            .query_row(
                params![agb.as_str(), zk.as_str(), year, code.as_str()],
                |r| r.get(0),
            )?;
        Ok(v)
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
            .query_map(params![y], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let codes = c
            .prepare(&q(sql::SELECT_AGREEMENT_CODES))?
            .query_map(params![y], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        assemble_agreements(heads, codes)
    }

    fn realisatie(&self, year: i32) -> Result<Vec<(AgbCode, ZorgkantoorCode, i64)>> {
        let store = self.lock();
        let rows = store
            .conn()
            .prepare(&q(sql::REALISATIE))?
            .query_map(params![year], |r| {
                let agb: String = r.get(0)?;
                let zk: String = r.get(1)?;
                Ok((
                    AgbCode::parse(&agb).ok_or_else(|| bad("agb", &agb))?,
                    ZorgkantoorCode::parse(&zk).ok_or_else(|| bad("zorgkantoor", &zk))?,
                    r.get(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
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
            .query_map(params![year], |r| {
                let agb: String = r.get(0)?;
                let zk: String = r.get(1)?;
                let code: String = r.get(2)?;
                let unit: String = r.get(3)?;
                Ok(VolumeRow {
                    agb: AgbCode::parse(&agb).ok_or_else(|| bad("agb", &agb))?,
                    zorgkantoor: ZorgkantoorCode::parse(&zk)
                        .ok_or_else(|| bad("zorgkantoor", &zk))?,
                    code: ProductCode::parse(&code).ok_or_else(|| bad("code", &code))?,
                    unit: unit_parse(&unit).ok_or_else(|| bad("unit", &unit))?,
                    brin: r.get(4)?,
                    month: r.get(5)?,
                    lines: r.get::<_, i64>(6)? as u64,
                    base_volume: r.get(7)?,
                    amount_cents: r.get(8)?,
                    pupils: r.get::<_, i64>(9)? as u64,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn lines_of(&self, agb: &AgbCode) -> Result<Vec<LedgerLine>> {
        let store = self.lock();
        let rows = store
            .conn()
            .prepare(&q(&sql::lines_of()))?
            .query_map(params![agb.as_str()], read_line)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}
