//! The delivery worker: a task on the server's runtime that takes due outbox
//! rows and delivers them, many at once.
//!
//! - New rows of a request recorded on the runtime are claimed in their own
//!   transaction and handed over in memory ([`super::Forwarder::hand_over`]):
//!   sent at once, without a claim query. Other rows are claimed from the
//!   store: at the start, when a request committed rows without handing
//!   them over ([`super::Forwarder::queued`]), every `poll_interval` (for
//!   retries that came due and leases that ran out), and again while claims
//!   come back full, so a backlog drains at the upstreams' speed, not at a
//!   poll rate.
//! - It claims at most as many rows as it has free send slots, each for a
//!   lease; up to `concurrency` sends run per route at once, so a hanging
//!   ZIO upstream never holds up the REGULIER one.
//! - A route whose upstream failed [`super::gate::FAILURES_TO_CLOSE`]
//!   attempts in a row is taken to be down: its rows wait (parked in memory,
//!   or in the outbox) and one probe at a time finds out when it answers
//!   again ([`super::gate`]).
//! - Results are concluded in batches: the delivered rows of a batch are
//!   marked in one transaction (the group writer's next commit, where there
//!   is one). A row holds its claim slot until then, so
//!   at most the window (`4 x concurrency`) is ever sent and not yet marked:
//!   the most a kill can make the next start send again.

use super::deliver::{lane_of, now_ms, Attempt, Delivery};
use super::gate::{Admit, Gate};
use crate::config::Upstream;
use crate::model::verdict::Route;
use crate::sinks::ledger::{self, ClaimScope, GroupCommit, Lease, LedgerError, OutboxRow};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

/// How the worker runs.
#[derive(Clone, Copy, Debug)]
pub struct WorkerOptions {
    /// Sleep when nothing is due (retries come due by the clock).
    pub poll_interval: Duration,
    /// Sends at once per route.
    pub concurrency: usize,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(500),
            concurrency: 16,
        }
    }
}

/// The running worker. [`Worker::stop`] lets the sends in progress finish
/// (each bounded by the upstream timeout) and returns.
pub struct Worker {
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    runtime: tokio::runtime::Handle,
}

impl Worker {
    pub(crate) fn spawn(
        delivery: Arc<Delivery>,
        wake: Arc<Notify>,
        handed: Option<mpsc::Receiver<OutboxRow>>,
        options: WorkerOptions,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = runtime.spawn(run(delivery, wake, handed, options, stopped));
        Self {
            stop,
            task: Some(task),
            runtime,
        }
    }

    /// Stops the worker and waits for it (from outside the runtime).
    pub fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = self.runtime.block_on(t);
        }
    }

    /// Stops the worker and waits for it (from inside the runtime).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// What woke the worker.
enum Woken {
    Handed(Option<Box<OutboxRow>>),
    Stored,
    Freed,
    Tick,
    Stop,
}

async fn run(
    d: Arc<Delivery>,
    wake: Arc<Notify>,
    mut handed: Option<mpsc::Receiver<OutboxRow>>,
    options: WorkerOptions,
    mut stopped: watch::Receiver<bool>,
) {
    let per_route = options.concurrency.max(1);
    let zio = Arc::new(Semaphore::new(per_route));
    let regulier = Arc::new(Semaphore::new(per_route));
    // Rows claimed and not yet concluded: sending or waiting for a slot.
    let claimed = Arc::new(Semaphore::new(per_route * 4));
    // A row's claim slot travels with its result and is given back only once
    // the result is recorded: sent-and-not-yet-marked rows (the ones a kill
    // would have sent twice) stay within the window.
    let (done_tx, done_rx) = mpsc::channel::<Done>(per_route * 8);
    let freed = Arc::new(Notify::new());
    let concluder = tokio::spawn(conclude(d.clone(), done_rx, freed.clone()));
    let first_probe = Duration::from_millis(d.upstreams.retry_initial_ms);
    let gate = |route: Route| {
        let down = d
            .telemetry
            .upstream_down
            .with_label_values(&[route.as_str()]);
        Gate::new(route.as_str(), first_probe, d.timeout()).reporting_to(down)
    };
    let gates = Arc::new([gate(Route::Zio), gate(Route::Regulier)]);
    // Rows met while their route was down, with when they were leased: sent
    // once it answers again (oldest first), or left to their leases.
    let (park_tx, mut park_rx) = mpsc::channel::<Leased>(PARKED);
    // Per route, oldest first.
    let mut parked: [VecDeque<Leased>; 2] = Default::default();
    let held_out = Arc::new(HeldOut::default());
    let mut sends = JoinSet::new();
    let mut next_count = Instant::now() + counting_pause(refresh_backlog(&d).await);
    // The store is asked for due rows at the start, on every poll tick
    // (retries come due by the clock, leases run out), when rows were
    // recorded without being handed over (wake), and again as long as its
    // claims come back full: a backlog drains at the upstreams' speed.
    // Rows handed over in memory need no claim query at all.
    let mut ask_store = true;
    let mut next_tick = Instant::now() + options.poll_interval;
    let mut next: Option<OutboxRow> = None;
    loop {
        if *stopped.borrow() {
            break;
        }
        if Instant::now() >= next_tick {
            ask_store = true;
            if Instant::now() >= next_count {
                next_count = Instant::now() + counting_pause(refresh_backlog(&d).await);
            }
            next_tick = Instant::now() + options.poll_interval;
        }
        let free = claimed.available_permits();
        let mut rows: Vec<Leased> = Vec::new();
        let mut more = false;
        while let Ok(p) = park_rx.try_recv() {
            // Past PARKED a row is left to the store.
            if parked.iter().map(VecDeque::len).sum::<usize>() < PARKED {
                parked[lane_of(p.0.route)].push_back(p);
            } else {
                held_out.keep(&p.0);
            }
        }
        // A parked row goes once its route is open again, and the oldest
        // of a closed route goes as its probe when one is due: with every
        // row of the route parked, the store has none to probe with until
        // their leases end.
        // Only the rows that go are touched: the loop runs for every row
        // handed over, and walking all the parked rows of a closed route
        // each time (a gate lock per row) took the runtime's CPU from the
        // answers during an outage.
        let now = Instant::now();
        let mut open = [false; 2];
        for (lane, queue) in parked.iter_mut().enumerate() {
            let gate = &gates[lane];
            open[lane] = !gate.is_closed();
            if !open[lane] && rows.len() < free && gate.probe_due(now) {
                rows.extend(queue.pop_front());
            }
        }
        // The open routes' rows oldest first, as they were parked.
        while rows.len() < free {
            let oldest = (0..2)
                .filter(|&lane| open[lane])
                .filter_map(|lane| parked[lane].front().map(|p| (p.1, lane)))
                .min();
            let Some((_, lane)) = oldest else { break };
            rows.extend(parked[lane].pop_front());
        }
        // The store's due rows first: they are older than the handed ones.
        // While every route is down, one row at a time (a probe): claiming
        // the whole backlog only to leave it to its leases again churned
        // through hundreds of thousands of rows.
        let down = [Route::Zio, Route::Regulier]
            .into_iter()
            .zip(gates.iter())
            .all(|(r, g)| g.is_closed() || *d.upstream(r) == Upstream::None);
        if ask_store && free > rows.len() {
            let limit = if down { 1 } else { free - rows.len() };
            let leased_at = now_ms();
            let got = claim(&d, limit).await;
            ask_store = !down && got.len() == limit;
            more = ask_store;
            rows.extend(got.into_iter().map(|r| (r, leased_at)));
        }
        // A row handed over in memory was leased when it was recorded.
        if rows.len() < free {
            if let Some(r) = next.take() {
                let at = r.created_at;
                rows.push((r, at));
            }
        }
        if let Some(h) = &mut handed {
            while rows.len() < free {
                match h.try_recv() {
                    Ok(r) => {
                        let at = r.created_at;
                        rows.push((r, at));
                    }
                    Err(_) => break,
                }
            }
            more |= !h.is_empty();
        }
        more |= next.is_some();
        for (row, leased_at) in rows {
            let Ok(slot) = claimed.clone().try_acquire_owned() else {
                // Not reached: no more rows than free slots were taken, and
                // only this loop takes slots.
                break;
            };
            let lane = match row.route {
                Route::Zio => zio.clone(),
                _ => regulier.clone(),
            };
            let (d, done) = (d.clone(), done_tx.clone());
            let (gates, freed, park) = (gates.clone(), freed.clone(), park_tx.clone());
            let (held_out, wake) = (held_out.clone(), wake.clone());
            sends.spawn(async move {
                // A row whose lease ends before a send would is the store's
                // to hand out again; one whose route is down waits parked
                // (or, the parking full, for its lease to end). Either way
                // its slot is free now. (The lease first: a probe admitted
                // must be sent, or the gate would wait for it forever.)
                if !d.lease_outlasts_a_send(leased_at) {
                    drop(slot);
                    freed.notify_one();
                    return;
                }
                let gate = &gates[lane_of(row.route)];
                let admitted = gate.admit(Instant::now());
                if admitted == Admit::Hold {
                    if let Err(full) = park.try_send((row, leased_at)) {
                        held_out.keep(&full.into_inner().0);
                    }
                    drop(slot);
                    freed.notify_one();
                    return;
                }
                let Ok(lane) = lane.acquire_owned().await else {
                    return;
                };
                let result = d.attempt(&row, d.timeout()).await;
                if gate.record(admitted, result.is_ok(), Instant::now()) {
                    // The route is back: the parked rows can go, and those
                    // held out are the store's to hand out at once.
                    freed.notify_one();
                    give_back(&d, &held_out, lane_of(row.route), &wake).await;
                }
                drop(lane);
                let _ = done.send((row, result, slot)).await;
            });
        }
        while sends.try_join_next().is_some() {}
        let room = claimed.available_permits() > 0;
        if more && room {
            continue;
        }
        let take = room && next.is_none() && handed.is_some();
        let woken = tokio::select! {
            r = async { handed.as_mut()?.recv().await }, if take => Woken::Handed(r.map(Box::new)),
            _ = wake.notified() => Woken::Stored,
            _ = freed.notified() => Woken::Freed,
            _ = tokio::time::sleep_until(next_tick.into()) => Woken::Tick,
            _ = stopped.changed() => Woken::Stop,
        };
        match woken {
            Woken::Handed(Some(r)) => next = Some(*r),
            // Every sender is gone: only the store is left.
            Woken::Handed(None) => handed = None,
            Woken::Stored => ask_store = true,
            Woken::Freed | Woken::Tick | Woken::Stop => {}
        }
    }
    while sends.join_next().await.is_some() {}
    drop(done_tx);
    let _ = concluder.await;
}

async fn claim(d: &Arc<Delivery>, limit: usize) -> Vec<OutboxRow> {
    let take = move |d: &Delivery| {
        d.store.outbox_claim(
            ClaimScope::Due {
                limit: limit as u32,
            },
            now_ms(),
            d.lease_ms(),
        )
    };
    let claimed = if d.store.reads_are_local() {
        Ok(take(d))
    } else {
        let dd = d.clone();
        tokio::task::spawn_blocking(move || take(&dd)).await
    };
    match claimed {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "outbox worker: cannot claim rows");
            Vec::new()
        }
        Err(e) => {
            tracing::error!(error = %e, "outbox worker: claim task failed");
            Vec::new()
        }
    }
}

/// Concludes finished attempts in batches: whatever has arrived is marked in
/// one go, then the worker is woken for the slots that freed up.
async fn conclude(d: Arc<Delivery>, mut done: mpsc::Receiver<Done>, freed: Arc<Notify>) {
    let mut batch = Vec::new();
    while done.recv_many(&mut batch, 256).await > 0 {
        let (results, slots): (Vec<_>, Vec<_>) = std::mem::take(&mut batch)
            .into_iter()
            .map(|(row, r, slot)| ((row, r), slot))
            .unzip();
        match d.marker.clone() {
            Some(writer) => conclude_in_group_commit(&d, &writer, results).await,
            None => {
                let dd = d.clone();
                let _ = tokio::task::spawn_blocking(move || dd.conclude(&results)).await;
            }
        }
        drop(slots);
        freed.notify_one();
    }
}

/// Concludes `results` in the group writer's next commit (awaited, no
/// thread held): the delivered marks and the retries ride along with the
/// recordings instead of a transaction each beside the writer.
async fn conclude_in_group_commit(
    d: &Arc<Delivery>,
    writer: &GroupCommit,
    results: Vec<(OutboxRow, Attempt)>,
) {
    let now = now_ms();
    let o = d.outcomes(&results, now);
    if !o.is_empty() {
        let rows = o.len();
        let mut concluded = writer.conclude(o.clone()).await;
        // Rolled back with a batch whose message failed: marked in the
        // next one (else the rows would be sent again after their lease).
        for attempt in 1..=ledger::RETRIES {
            if !matches!(concluded, Err(LedgerError::Retry(_))) {
                break;
            }
            tokio::time::sleep(ledger::retry_pause(attempt)).await;
            concluded = writer.conclude(o.clone()).await;
        }
        d.report_concluded(rows, concluded);
    }
    d.count_delivered(&results, now);
}

/// A row in the worker's hands, with when its lease began (Unix ms).
type Leased = (OutboxRow, i64);

/// Rows parked while their route is down, at most.
const PARKED: usize = 2048;

/// Leases kept per route of rows held while it was down with no room to
/// park them (16 bytes each), given back to the store when it answers
/// again; past this many a row waits for its lease to end.
const HELD_OUT: usize = 1 << 20;

/// The leases of rows held while their route was down and not parked, per
/// route: the store would not hand them out again before their leases end
/// (`2 x timeout + 30 s`), so without giving them back a backlog waited
/// that long after an outage (`scripts/load-faults.sh`: 50 s).
#[derive(Default)]
struct HeldOut([Mutex<Vec<Lease>>; 2]);

impl HeldOut {
    fn keep(&self, row: &OutboxRow) {
        let mut held = self.0[lane_of(row.route)]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let (Some(lease), true) = (row.lease(), held.len() < HELD_OUT) {
            held.push(lease);
        }
    }

    fn take(&self, lane: usize) -> Vec<Lease> {
        std::mem::take(&mut *self.0[lane].lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Gives the held-out rows of a route that answers again back to the store,
/// and has the worker claim them.
async fn give_back(d: &Arc<Delivery>, held_out: &HeldOut, lane: usize, wake: &Notify) {
    let leases = held_out.take(lane);
    if leases.is_empty() {
        return;
    }
    // A write (SQLite: in bookkeeping transactions beside the writer), so
    // never on the runtime's threads.
    let dd = d.clone();
    let given = tokio::task::spawn_blocking(move || dd.store.outbox_unlease(&leases))
        .await
        .unwrap_or_else(|e| Err(LedgerError::Invalid(e.to_string())));
    match given {
        Ok(n) => tracing::info!(
            rows = n,
            "outbox: rows held while the upstream was down are due"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "outbox: rows held while the upstream was down wait for their leases")
        }
    }
    wake.notify_one();
}

/// A finished attempt, with the claim slot it holds until it is recorded.
type Done = (OutboxRow, Attempt, OwnedSemaphorePermit);

/// The backlog gauges are counted at most once per poll tick, and after a
/// count that took `took`, not before `COUNT_PAUSES x took`: counting goes
/// over every pending row (60-100 ms of a core at 300,000 rows during an
/// outage), so a growing backlog must not take the answers' CPU.
fn counting_pause(took: Duration) -> Duration {
    const COUNT_PAUSES: u32 = 50;
    took * COUNT_PAUSES
}

/// Counts the pending rows for the backlog gauges; how long that took.
async fn refresh_backlog(d: &Arc<Delivery>) -> Duration {
    let started = Instant::now();
    let dd = d.clone();
    let counted = tokio::task::spawn_blocking(move || dd.store.outbox_backlog()).await;
    match counted {
        Ok(Ok((pending, oldest))) => d.telemetry.backlog(pending, oldest, now_ms()),
        Ok(Err(e)) => tracing::warn!(error = %e, "outbox: cannot count pending rows"),
        Err(_) => {}
    }
    started.elapsed()
}
