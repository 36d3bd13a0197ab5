//! Forwarding accepted lines to the zorgkantoor: one Declaratiebericht per
//! route (ZIO and REGULIER) per incoming message (`messages.md`
//! "Forwarding"), through a durable outbox in the ledger store.
//!
//! - The pipeline records a message's lines and, in the same transaction,
//!   one outbox row per route that got newly recorded lines and has an
//!   upstream ([`Forwarder::plan`]); the answer goes out once that commit is
//!   durable. Then it wakes the worker ([`Forwarder::queued`]).
//! - The [`Worker`] (a task on the server's runtime) delivers due rows,
//!   many at once, with retries, exponential backoff and full jitter; a row
//!   is marked delivered only on the upstream's 2xx (or a spool file renamed
//!   into place and synced).
//! - Only a deployment that asks for it (`[upstreams] answer_wait_ms`) has
//!   the request wait, bounded, for its own message's delivery
//!   ([`Forwarder::deliver_now`]); what is still pending then is said on
//!   the answer as 0901.
//!
//! Delivery is at least once: a crash between the upstream's 2xx and the
//! mark sends the message again; its derived Identificatie (`ledger::forward_id`)
//! lets the receiver recognise it. The XML is never stored: it is rendered
//! from the recorded lines ([`render`]) into a temporary file per attempt.

mod conn;
mod deliver;
mod gate;
pub mod render;
pub mod telemetry;
mod worker;

pub use telemetry::Telemetry;
pub use worker::{Worker, WorkerOptions};

use crate::config::{Upstream, Upstreams};
use crate::model::declaration::Header;
use crate::sinks::ledger::{ClaimScope, ForwardPlan, GroupCommit, LedgerStore, OutboxRow};
use deliver::{now_ms, Delivery};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

/// Takes the accepted lines of a checked message further. Called on a
/// blocking thread, after the check.
pub trait Forwarder: Send + Sync {
    /// The outbox rows to queue with a message's lines, in the same
    /// transaction; `None` when nothing is forwarded.
    fn plan(&self) -> Option<ForwardPlan> {
        None
    }

    /// Rows were committed: deliver them soon.
    fn queued(&self) {}

    /// A plan whose new rows are claimed in the recording transaction,
    /// under a token of their own, for [`Forwarder::hand_over`] once it
    /// committed; `None` when they cannot be taken in memory now (then
    /// [`Forwarder::plan`] and [`Forwarder::queued`]).
    fn plan_handed(&self) -> Option<ForwardPlan> {
        None
    }

    /// The rows of a committed [`Forwarder::plan_handed`] recording
    /// ([`crate::sinks::ledger::handed_rows`]): sent without a claim query.
    fn hand_over(&self, _rows: Vec<OutboxRow>) {
        self.queued();
    }

    /// Tries to deliver this message's rows now, for at most `within`.
    /// Returns the forward ids still pending (the worker delivers them
    /// later).
    fn deliver_now(&self, _header: &Header, _within: Duration) -> Vec<String> {
        Vec::new()
    }
}

/// Forwards nothing: the gateway runs without an upstream.
pub struct NoUpstream;

impl Forwarder for NoUpstream {}

/// The [`Forwarder`] with upstreams: rows into the outbox with the lines,
/// delivered by a [`Worker`] on `runtime`.
pub struct OutboxForwarder {
    delivery: Arc<Delivery>,
    wake: Arc<Notify>,
    runtime: tokio::runtime::Handle,
    /// Hold new rows for the request (it tries them itself) instead of
    /// handing them to the worker at once.
    hold_for_request: bool,
    /// This instance's token for the rows its requests hold: another
    /// instance's request for the same message leaves them alone.
    holder: i64,
    /// Rows claimed in their recording transaction, to the worker in
    /// memory. Bounded: when it is nearly full, new rows are recorded
    /// unclaimed and the worker claims them from the store. A row that is
    /// in it when the process stops is the store's again once its lease
    /// ends (SQLite: at the next start).
    handed: mpsc::Sender<OutboxRow>,
    handed_rx: Mutex<Option<mpsc::Receiver<OutboxRow>>>,
    /// Set once a worker takes `handed_rx`.
    worker_started: AtomicBool,
}

/// Rows waiting in memory for the worker, at most.
const HANDED_ROWS: usize = 4096;

impl OutboxForwarder {
    /// `store` must be the ledger the pipeline records into; `runtime` runs
    /// the sends (the server's). `concurrency`: sends at once per route.
    pub fn new(
        store: Arc<dyn LedgerStore>,
        upstreams: Upstreams,
        runtime: tokio::runtime::Handle,
        concurrency: usize,
    ) -> Self {
        let delivery = Delivery::new(store, upstreams, Arc::new(Telemetry::new()), concurrency);
        let (handed, handed_rx) = mpsc::channel(HANDED_ROWS);
        Self {
            delivery: Arc::new(delivery),
            wake: Arc::new(Notify::new()),
            runtime,
            hold_for_request: false,
            holder: crate::sinks::ledger::claim_token(),
            handed,
            handed_rx: Mutex::new(Some(handed_rx)),
            worker_started: AtomicBool::new(false),
        }
    }

    /// New rows are held for the recording request, which tries them itself
    /// ([`Forwarder::deliver_now`]) before the worker may.
    pub fn holding_for_request(mut self) -> Self {
        self.hold_for_request = true;
        self
    }

    /// Delivered rows are marked in `writer`'s commits (the pipeline's
    /// group writer on the same ledger), before the worker starts.
    pub fn marking_through(mut self, writer: Option<Arc<GroupCommit>>) -> Self {
        Arc::get_mut(&mut self.delivery)
            .expect("the delivery is shared only once the worker starts")
            .marker = writer;
        self
    }

    /// The forwarder's metrics.
    pub fn telemetry(&self) -> Arc<Telemetry> {
        self.delivery.telemetry.clone()
    }

    /// Starts the delivery worker on the forwarder's runtime. Rows another
    /// process held when it stopped are taken up at once where the store
    /// says no other process can hold them (SQLite: one process per file).
    pub fn start_worker(&self, options: WorkerOptions) -> Worker {
        if let Err(e) = self.delivery.store.outbox_release_stale_leases() {
            tracing::warn!(error = %e, "outbox: cannot release the previous run's leases");
        }
        let handed = self
            .handed_rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.worker_started
            .store(handed.is_some(), Ordering::Release);
        Worker::spawn(
            self.delivery.clone(),
            self.wake.clone(),
            handed,
            options,
            self.runtime.clone(),
        )
    }
}

impl Forwarder for OutboxForwarder {
    fn plan(&self) -> Option<ForwardPlan> {
        let d = &self.delivery;
        let now = now_ms();
        Some(ForwardPlan {
            periode: crate::types::Period::new(Default::default(), Default::default()),
            zio: d.upstreams.zio != Upstream::None,
            regulier: d.upstreams.regulier != Upstream::None,
            now_ms: now,
            held_until_ms: if self.hold_for_request {
                now + d.lease_ms()
            } else {
                now
            },
            holder: self.holder,
            hands_over: false,
        })
    }

    fn queued(&self) {
        self.wake.notify_one();
    }

    fn plan_handed(&self) -> Option<ForwardPlan> {
        // Room for a message's two rows, and a worker to take them.
        let open = self.worker_started.load(Ordering::Acquire)
            && !self.handed.is_closed()
            && self.handed.capacity() >= 2;
        if self.hold_for_request || !open {
            return None;
        }
        let mut plan = self.plan()?;
        plan.held_until_ms = plan.now_ms.saturating_add(self.delivery.lease_ms());
        plan.holder = crate::sinks::ledger::claim_token();
        plan.hands_over = true;
        Some(plan)
    }

    fn hand_over(&self, rows: Vec<OutboxRow>) {
        for row in rows {
            if let Err(e) = self.handed.try_send(row) {
                // Requests that found room at once filled it meanwhile: at
                // most the requests in flight wait for room, so this stays
                // bounded too. (A worker gone: claimed in the store, which
                // gives it out again once its lease ends.)
                let (handed, row) = (self.handed.clone(), e.into_inner());
                self.runtime.spawn(async move {
                    let _ = handed.send(row).await;
                });
            }
        }
    }

    fn deliver_now(&self, header: &Header, within: Duration) -> Vec<String> {
        let d = &self.delivery;
        let scope = ClaimScope::Message {
            agb: &header.afzender,
            message_id: &header.bericht.identificatie,
            holder: self.holder,
        };
        let rows = match d.store.outbox_claim(scope, now_ms(), d.lease_ms()) {
            Ok(rows) => rows,
            Err(e) => {
                // The rows (if any) are stored; the worker takes them after
                // the lease.
                tracing::error!(error = %e, "outbox: cannot claim the message's rows");
                return vec![format!("outbox: {e}")];
            }
        };
        let deadline = Instant::now() + within.min(d.timeout());
        let results = self.runtime.block_on(async {
            let mut sends = tokio::task::JoinSet::new();
            for row in rows {
                let d = d.clone();
                sends.spawn(async move {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let r = d.attempt(&row, left.max(Duration::from_millis(1))).await;
                    (row, r)
                });
            }
            sends.join_all().await
        });
        d.conclude(&results);
        self.wake.notify_one();
        results
            .into_iter()
            .filter(|(_, r)| r.is_err())
            .map(|(row, _)| row.forward_id)
            .collect()
    }
}
