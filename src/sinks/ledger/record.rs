//! Recording one message, for both backends. What makes the ledger exact
//! under replays and concurrent processes lives here once: the message id
//! first (its unique key decides who records), each line once per (agb,
//! referentie), a credit that cancels nothing taken out again, the outbox
//! rows counted from the lines that stayed. A backend only opens the
//! transaction and runs each statement in its own SQL dialect
//! ([`RecordTx`]).

use super::{
    forward_id, BatchResults, ForwardLine, ForwardPlan, FreshRow, LedgerError, LedgerLine,
    Outcomes, RecordJob, RecordSummary, RecordedMessage, Result, HELD_LINES,
};
use crate::model::verdict::{LineVerdict, Route};
use crate::types::{AgbCode, Datum, DebetCredit, Referentie};
use std::io;

/// The statements of [`record`], inside one open transaction. Dropping it
/// without [`RecordTx::commit`] rolls back.
pub(crate) trait RecordTx {
    /// `false` when (agb, message id) is recorded already.
    fn insert_message(&mut self, msg: &RecordedMessage) -> Result<bool>;

    /// `false` when (agb, referentie) is recorded already. Geboortedatum and
    /// besluitnummer are not ledger fields: they are kept for forwarding.
    fn insert_line(
        &mut self,
        line: &LedgerLine,
        geboortedatum: Datum,
        besluitnummer: u64,
    ) -> Result<bool>;

    /// Marks `vorig` cancelled by `credit`; `false` when it is cancelled
    /// already or not there.
    fn credit_line(
        &mut self,
        agb: &AgbCode,
        credit: &Referentie,
        vorig: &Referentie,
    ) -> Result<bool>;

    fn delete_line(&mut self, agb: &AgbCode, referentie: &Referentie) -> Result<()>;

    /// `false` when the row for (agb, message id, route) exists already.
    fn insert_outbox(
        &mut self,
        msg: &RecordedMessage,
        plan: &ForwardPlan,
        route: Route,
        forward_id: &str,
        lines: u64,
    ) -> Result<bool>;

    /// The id of the outbox row [`RecordTx::insert_outbox`] just inserted,
    /// where the backend knows it without another statement (SQLite).
    fn outbox_id(&mut self) -> Option<i64> {
        None
    }

    /// Ends the message's recording: its line count (SQLite also keeps
    /// the rowids of the lines, outbox rows and answer it inserted).
    fn count_message_lines(&mut self, msg: &RecordedMessage, lines: u64) -> Result<()>;

    /// Keeps the answer given to the message.
    fn insert_answer(&mut self, msg: &RecordedMessage, answer: &[u8]) -> Result<()>;

    /// Marks the delivered rows of `o` delivered and schedules its retries
    /// (rows still pending, and under their lease where the backend checks
    /// that in SQL); how many rows.
    fn conclude(&mut self, o: &Outcomes) -> Result<u64>;

    /// Runs a savepoint statement (`SAVEPOINT`, `RELEASE`, `ROLLBACK TO`).
    fn savepoint(&mut self, statement: &str) -> Result<()>;

    fn commit(self) -> Result<()>;
}

/// [`super::LedgerStore::record_message_forwarding`] in `tx`.
pub(crate) fn record(
    mut tx: impl RecordTx,
    msg: &RecordedMessage,
    plan: Option<&ForwardPlan>,
    lines: &mut dyn Iterator<Item = io::Result<LineVerdict>>,
) -> Result<RecordSummary> {
    let sum = record_in(&mut tx, msg, plan, lines)?;
    if !sum.already_processed {
        tx.commit()?;
    }
    // A replay is rolled back on drop: it leaves no trace.
    Ok(sum)
}

/// [`super::LedgerStore::record_batch`] in `tx`: the marks, then the jobs,
/// one commit for all.
///
/// No savepoints, unless a job is marked `alone`. A savepoint per job made
/// SQLite copy every page a job touched that an earlier one of the batch had
/// touched too (the index and table pages they all append to) into its
/// statement journal: with the savepoint statements, 4.5% of the server's
/// CPU under load. So when anything of the batch fails, the whole is rolled
/// back: a failing job gets its error, the others [`LedgerError::Retry`], and
/// their requesters send them again marked `alone`. A batch with such a job
/// records each job and mark in a savepoint of its own, so that a message
/// that keeps failing takes no other down with it twice.
pub(crate) fn record_batch(
    mut tx: impl RecordTx,
    jobs: &mut [RecordJob],
    marks: &[Outcomes],
) -> BatchResults {
    if jobs.iter().any(|j| j.alone) {
        return record_each_alone(tx, jobs, marks);
    }
    let mut marked = Vec::with_capacity(marks.len());
    for m in marks {
        match tx.conclude(m) {
            Ok(n) => marked.push(Ok(n)),
            Err(e) => return rolled_back(jobs.len(), marks.len(), None, e),
        }
    }
    let mut recorded = Vec::with_capacity(jobs.len());
    for (i, job) in jobs.iter_mut().enumerate() {
        match record_in(&mut tx, &job.msg, job.plan.as_ref(), &mut job.lines) {
            Ok(s) => recorded.push(Ok(s)),
            Err(e) => return rolled_back(jobs.len(), marks.len(), Some(i), e),
        }
    }
    // A replay wrote nothing (found at its first statement): it needs no
    // rolling back.
    match tx.commit() {
        Ok(()) => BatchResults { recorded, marked },
        Err(e) => all_failed(
            recorded.len(),
            marked.len(),
            &format!("group commit failed: {e}"),
        ),
    }
}

/// What a batch rolled back whole gets: the job that failed (if a job did)
/// its error, every other job and mark [`LedgerError::Retry`].
fn rolled_back(jobs: usize, marks: usize, failed: Option<usize>, e: LedgerError) -> BatchResults {
    let why = match failed {
        Some(_) => "another message of its batch failed: to be recorded again alone".to_string(),
        None => format!("the batch's delivery marks failed: {e}"),
    };
    let mut out = all_failed(jobs, marks, &why);
    if let Some(i) = failed {
        out.recorded[i] = Err(e);
    }
    out
}

/// [`record_batch`] with every mark and job in a savepoint of its own.
fn record_each_alone(
    mut tx: impl RecordTx,
    jobs: &mut [RecordJob],
    marks: &[Outcomes],
) -> BatchResults {
    let mut broken = None;
    let mut marked = Vec::with_capacity(marks.len());
    for m in marks {
        let r = in_savepoint(&mut tx, &mut broken, |tx| tx.conclude(m), |_| true);
        marked.push(r);
    }
    let mut recorded = Vec::with_capacity(jobs.len());
    for job in jobs.iter_mut() {
        let r = in_savepoint(
            &mut tx,
            &mut broken,
            |tx| record_in(tx, &job.msg, job.plan.as_ref(), &mut job.lines),
            |s| !s.already_processed,
        );
        recorded.push(r);
    }
    let committed = match broken {
        Some(e) => Err(e),
        None => tx.commit().map_err(|e| e.to_string()),
    };
    match committed {
        Ok(()) => BatchResults { recorded, marked },
        Err(e) => all_failed(
            recorded.len(),
            marked.len(),
            &format!("group commit failed: {e}"),
        ),
    }
}

/// Runs `f` in a savepoint, kept when it succeeds and `keep` says so,
/// rolled back otherwise. Once a savepoint statement failed (`broken`), the
/// transaction is not used again.
fn in_savepoint<T, Tx: RecordTx>(
    tx: &mut Tx,
    broken: &mut Option<String>,
    f: impl FnOnce(&mut Tx) -> Result<T>,
    keep: impl FnOnce(&T) -> bool,
) -> Result<T> {
    if let Some(e) = broken {
        return Err(LedgerError::Retry(format!("batch aborted: {e}")));
    }
    let r = tx.savepoint("SAVEPOINT job").and_then(|()| f(tx));
    let end = match &r {
        Ok(v) if keep(v) => "RELEASE job",
        _ => "ROLLBACK TO job; RELEASE job",
    };
    if let Err(e) = tx.savepoint(end) {
        *broken = Some(e.to_string());
    }
    r
}

/// What every job and mark of a batch gets when its transaction could not
/// begin.
pub(crate) fn batch_not_begun(
    jobs: &[RecordJob],
    marks: &[Outcomes],
    e: impl std::fmt::Display,
) -> BatchResults {
    all_failed(jobs.len(), marks.len(), &format!("cannot begin: {e}"))
}

fn all_failed(jobs: usize, marks: usize, why: &str) -> BatchResults {
    BatchResults {
        recorded: (0..jobs)
            .map(|_| Err(LedgerError::Retry(why.to_string())))
            .collect(),
        marked: (0..marks)
            .map(|_| Err(LedgerError::Retry(why.to_string())))
            .collect(),
    }
}

/// The algorithm, inside an open transaction; commits nothing.
fn record_in(
    tx: &mut impl RecordTx,
    msg: &RecordedMessage,
    plan: Option<&ForwardPlan>,
    lines: &mut dyn Iterator<Item = io::Result<LineVerdict>>,
) -> Result<RecordSummary> {
    let mut sum = RecordSummary::default();
    if !tx.insert_message(msg)? {
        sum.already_processed = true;
        return Ok(sum);
    }
    let mut routes = RouteCounts::default();
    let mut holding = true;
    for v in lines {
        let v = v?;
        if !v.accepted() {
            continue;
        }
        let l = LedgerLine::from_verdict(msg, &v);
        if !tx.insert_line(&l, v.geboortedatum, v.besluitnummer)? {
            sum.duplicates += 1;
            continue;
        }
        sum.inserted += 1;
        routes.add(l.route, 1);
        if holding && plan.is_some_and(|p| p.hands_over) {
            holding = sum.held_lines.len() < HELD_LINES;
            if holding {
                let f = ForwardLine::of(&l, v.geboortedatum, v.besluitnummer);
                sum.held_lines.push((l.route, f));
            } else {
                sum.held_lines = Vec::new();
            }
        }
        if let (DebetCredit::Credit, Some(vorig)) = (l.debet_credit, &l.vorig_referentie) {
            if tx.credit_line(&l.agb, &l.referentie, vorig)? {
                sum.credits_applied += 1;
            } else {
                // The line is cancelled already, or not there (a concurrent
                // process got there first): this credit must not subtract
                // a second time.
                tx.delete_line(&l.agb, &l.referentie)?;
                sum.held_lines
                    .retain(|(_, h)| h.referentie != l.referentie.as_str());
                sum.inserted -= 1;
                routes.add(l.route, -1);
                sum.credits_void += 1;
            }
        }
    }
    if let Some(plan) = plan {
        for (route, n) in routes.queued(plan) {
            let id = forward_id(msg.identificatie.as_str(), route);
            if tx.insert_outbox(msg, plan, route, &id, n)? {
                if let Some(id) = tx.outbox_id() {
                    sum.fresh[sum.outbox_rows as usize] = Some(FreshRow {
                        id,
                        route,
                        lines: n,
                    });
                }
                sum.outbox_rows += 1;
            }
        }
    }
    if let Some(answer) = &msg.receipt.answer {
        tx.insert_answer(msg, answer)?;
    }
    // Last: SQLite keeps on the message row the rowids of what it recorded.
    tx.count_message_lines(msg, sum.inserted)?;
    Ok(sum)
}

/// Counts newly recorded lines per route, for the outbox rows.
#[derive(Clone, Copy, Debug, Default)]
struct RouteCounts {
    zio: u64,
    regulier: u64,
}

impl RouteCounts {
    fn add(&mut self, route: Route, n: i64) {
        let slot = match route {
            Route::Zio => &mut self.zio,
            Route::Regulier => &mut self.regulier,
            Route::Afgewezen => return,
        };
        *slot = slot.saturating_add_signed(n);
    }

    /// (route, lines) of the routes `plan` queues that have lines.
    fn queued(&self, plan: &ForwardPlan) -> Vec<(Route, u64)> {
        let mut out = Vec::new();
        if plan.zio && self.zio > 0 {
            out.push((Route::Zio, self.zio));
        }
        if plan.regulier && self.regulier > 0 {
            out.push((Route::Regulier, self.regulier));
        }
        out
    }
}
