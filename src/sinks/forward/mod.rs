//! Forwarding accepted lines to the zorgkantoor: one Declaratiebericht per
//! route (ZIO and REGULIER) per incoming message (`messages.md`
//! "Forwarding"), through a durable outbox in the ledger store.
//!
//! - [`Forwarder::record`] records the message in the ledger and, in the same
//!   transaction, one outbox row per route that got newly recorded lines and
//!   has an upstream (held by the recording request for a lease);
//! - [`Forwarder::forward`] then tries that message's rows at once, bounded
//!   by the upstream timeout; what is not delivered stays pending and the
//!   answer carries 0901;
//! - a [`Worker`] delivers pending rows with retries, exponential backoff and
//!   full jitter; a row is marked delivered only on the upstream's 2xx (or a
//!   spool file renamed into place and synced).
//!
//! Delivery is at least once: a crash between the upstream's 2xx and the
//! mark sends the message again; its derived Identificatie (`ledger::forward_id`)
//! lets the receiver recognise it. The XML is never stored: it is rendered
//! from the recorded lines ([`render`]) into a temporary file per attempt.

pub mod render;

use crate::config::{Upstream, Upstreams};
use crate::model::declaration::Header;
use crate::model::verdict::Route;
use crate::sinks::ledger::{ClaimScope, ForwardPlan, LedgerError, LedgerStore, OutboxRow};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use rand::Rng;
use std::io::{self, Seek, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Takes the accepted lines of a checked message further. Runs on a blocking
/// thread, after the check and before the answer is written.
pub trait Forwarder: Send + Sync {
    /// The outbox rows to queue with a message's lines, in the same
    /// transaction; `None` when nothing is forwarded.
    fn plan(&self) -> Option<ForwardPlan> {
        None
    }

    /// Tries to deliver what was queued for this message now. Returns the
    /// forward ids still pending (the worker delivers them later).
    fn deliver_now(&self, _header: &Header) -> Vec<String> {
        Vec::new()
    }
}

/// Forwards nothing: the gateway runs without an upstream.
pub struct NoUpstream;

impl Forwarder for NoUpstream {}

/// Counters for the server's metrics (`zio_gateway_outbox_pending`,
/// `zio_gateway_upstream_attempts_total{outcome}`).
#[derive(Debug, Default)]
pub struct Stats {
    pending: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl Stats {
    /// Outbox rows not yet delivered, as of the last worker poll or the last
    /// [`OutboxForwarder::refresh_pending`].
    pub fn pending_count(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Attempts that delivered (outcome `delivered`).
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Attempts that failed and will be retried (outcome `failed`).
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

/// A tokio runtime that may be dropped anywhere (also inside another
/// runtime's async context).
struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The request body: a rendered message streamed from its temporary file.
struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
    buf: Box<[u8]>,
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        use tokio::io::AsyncRead;
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let mut rb = tokio::io::ReadBuf::new(&mut this.buf);
        match Pin::new(&mut this.file).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    return Poll::Ready(Some(Err(io::ErrorKind::UnexpectedEof.into())));
                }
                let n = n.min(this.remaining as usize);
                this.remaining -= n as u64;
                Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(
                    &rb.filled()[..n],
                )))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// Renders, sends and concludes outbox rows; shared by the forwarder and the
/// worker.
struct Delivery {
    store: Arc<dyn LedgerStore>,
    upstreams: Upstreams,
    stats: Arc<Stats>,
    client: Client<HttpConnector, FileBody>,
    // Dropped last: the client's connections live on it.
    rt: Runtime,
}

impl Delivery {
    fn new(store: Arc<dyn LedgerStore>, upstreams: Upstreams) -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("zio-forward")
            .enable_all()
            .build()?;
        let client = {
            let _guard = rt.enter();
            let mut http = HttpConnector::new();
            http.set_connect_timeout(Some(Duration::from_millis(upstreams.timeout_ms.max(1))));
            Client::builder(TokioExecutor::new()).build(http)
        };
        Ok(Self {
            store,
            upstreams,
            stats: Arc::new(Stats::default()),
            client,
            rt: Runtime(Some(rt)),
        })
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.upstreams.timeout_ms.max(1))
    }

    /// How long a claimed row stays ours: a send and its rendering take at
    /// most about the timeout.
    fn lease_ms(&self) -> i64 {
        (self.upstreams.timeout_ms.max(1) as i64).saturating_mul(2) + 30_000
    }

    fn upstream(&self, route: Route) -> &Upstream {
        match route {
            Route::Zio => &self.upstreams.zio,
            _ => &self.upstreams.regulier,
        }
    }

    fn plan(&self) -> ForwardPlan {
        let now = now_ms();
        ForwardPlan {
            periode: crate::types::Period::new(Default::default(), Default::default()),
            zio: self.upstreams.zio != Upstream::None,
            regulier: self.upstreams.regulier != Upstream::None,
            now_ms: now,
            held_until_ms: now + self.lease_ms(),
        }
    }

    /// Full jitter: uniform in [0, min(max, initial * 2^attempts)].
    fn backoff_ms(&self, attempts: u32) -> i64 {
        let cap = self
            .upstreams
            .retry_initial_ms
            .saturating_mul(1u64 << attempts.min(40))
            .min(self.upstreams.retry_max_ms);
        rand::rng().random_range(0..=cap) as i64
    }

    /// One attempt; `Err` says why it failed.
    fn attempt(&self, row: &OutboxRow, timeout: Duration) -> Result<(), String> {
        match self.upstream(row.route) {
            Upstream::Http(url) => {
                let mut file = tempfile::tempfile().map_err(|e| format!("temporary file: {e}"))?;
                render::render(&*self.store, row, io::BufWriter::new(&mut file))
                    .map_err(|e| format!("render: {e}"))?;
                let len = file
                    .stream_position()
                    .map_err(|e| format!("temporary file: {e}"))?;
                file.rewind().map_err(|e| format!("temporary file: {e}"))?;
                self.post(url, file, len, timeout)
            }
            Upstream::Spool(dir) => self.spool(dir, row).map_err(|e| e.to_string()),
            Upstream::None => Err(format!(
                "no upstream is configured for route {}",
                row.route.as_str()
            )),
        }
    }

    fn post(
        &self,
        url: &str,
        file: std::fs::File,
        len: u64,
        timeout: Duration,
    ) -> Result<(), String> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| format!("upstream URL {url}: {e}"))?;
        let req = hyper::Request::post(uri)
            .header(hyper::header::CONTENT_TYPE, "application/xml")
            .header(hyper::header::CONTENT_LENGTH, len)
            .body(FileBody {
                file: tokio::fs::File::from_std(file),
                remaining: len,
                buf: vec![0; 64 * 1024].into_boxed_slice(),
            })
            .map_err(|e| format!("request: {e}"))?;
        let rt = self.rt.0.as_ref().expect("runtime");
        rt.block_on(async {
            let send = async {
                let resp = self
                    .client
                    .request(req)
                    .await
                    .map_err(|e| format!("upstream {url}: {e}"))?;
                let status = resp.status();
                // Read the (small) answer so the connection can be reused.
                let _ = resp.into_body().collect().await;
                if status.is_success() {
                    Ok(())
                } else {
                    Err(format!("upstream {url} answered {status}"))
                }
            };
            match tokio::time::timeout(timeout, send).await {
                Ok(r) => r,
                Err(_) => Err(format!(
                    "upstream {url}: no answer within {} ms",
                    timeout.as_millis()
                )),
            }
        })
    }

    /// `DIR/<afzender>-<identificatie>.xml`: written as `.xml.tmp`, synced,
    /// renamed, and the directory synced.
    fn spool(&self, dir: &Path, row: &OutboxRow) -> Result<(), LedgerError> {
        std::fs::create_dir_all(dir)?;
        let name = format!("{}-{}.xml", row.agb.as_str(), row.forward_id);
        let tmp = dir.join(format!("{name}.tmp"));
        let mut file = std::fs::File::create(&tmp)?;
        {
            let mut w = io::BufWriter::new(&mut file);
            render::render(&*self.store, row, &mut w)?;
            w.flush()?;
        }
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, dir.join(&name))?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    }

    /// Records the attempt's result; `true` when delivered.
    fn conclude(&self, row: &OutboxRow, result: Result<(), String>) -> bool {
        match result {
            Ok(()) => {
                self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = self.store.outbox_delivered(row.id, now_ms()) {
                    // Sent, not marked: the row is sent again after its lease
                    // (at least once; the receiver deduplicates).
                    tracing::error!(error = %e, id = row.id, "outbox: cannot mark delivered");
                }
                tracing::info!(
                    forward_id = %row.forward_id, route = row.route.as_str(), lines = row.lines,
                    "forwarded"
                );
                true
            }
            Err(why) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                let next = now_ms() + self.backoff_ms(row.attempts);
                tracing::warn!(
                    forward_id = %row.forward_id, attempts = row.attempts + 1, error = %why,
                    "forwarding failed, will retry"
                );
                if let Err(e) = self.store.outbox_retry(row.id, next, &why) {
                    tracing::error!(error = %e, id = row.id, "outbox: cannot schedule retry");
                }
                false
            }
        }
    }

    fn refresh_pending(&self) {
        match self.store.outbox_pending() {
            Ok(n) => self.stats.pending.store(n, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "outbox: cannot count pending rows"),
        }
    }

    /// One worker round: claims up to `limit` due rows and tries each.
    fn round(&self, limit: u32) -> Result<usize, LedgerError> {
        let rows = self
            .store
            .outbox_claim(ClaimScope::Due { limit }, now_ms(), self.lease_ms())?;
        for row in &rows {
            let r = self.attempt(row, self.timeout());
            self.conclude(row, r);
        }
        Ok(rows.len())
    }
}

/// The [`Forwarder`] with upstreams: records into the outbox, tries the
/// first delivery at once, leaves the rest to a [`Worker`].
pub struct OutboxForwarder {
    delivery: Arc<Delivery>,
}

impl OutboxForwarder {
    /// `store` must be the ledger the server records into.
    pub fn new(store: Arc<dyn LedgerStore>, upstreams: Upstreams) -> io::Result<Self> {
        Ok(Self {
            delivery: Arc::new(Delivery::new(store, upstreams)?),
        })
    }

    /// The counters for the metrics.
    pub fn stats(&self) -> Arc<Stats> {
        self.delivery.stats.clone()
    }

    /// Counts the pending rows now (the worker does so every poll).
    pub fn refresh_pending(&self) {
        self.delivery.refresh_pending();
    }

    /// Starts the background worker (a thread). Stop it with
    /// [`Worker::stop`] (or drop it).
    pub fn start_worker(&self, options: WorkerOptions) -> io::Result<Worker> {
        Worker::start(self.delivery.clone(), options)
    }
}

impl Forwarder for OutboxForwarder {
    fn plan(&self) -> Option<ForwardPlan> {
        Some(self.delivery.plan())
    }

    fn deliver_now(&self, header: &Header) -> Vec<String> {
        let d = &self.delivery;
        let scope = ClaimScope::Message {
            agb: &header.afzender,
            message_id: &header.bericht.identificatie,
        };
        let mut pending = Vec::new();
        match d.store.outbox_claim(scope, now_ms(), d.lease_ms()) {
            Err(e) => {
                // The rows (if any) are stored; the worker takes them after
                // the lease.
                tracing::error!(error = %e, "outbox: cannot claim the message's rows");
                pending.push(format!("outbox: {e}"));
            }
            Ok(rows) => {
                let deadline = Instant::now() + d.timeout();
                for row in rows {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let result = if left.is_zero() {
                        Err(format!("no time left within {} ms", d.upstreams.timeout_ms))
                    } else {
                        d.attempt(&row, left)
                    };
                    if !d.conclude(&row, result) {
                        pending.push(row.forward_id.clone());
                    }
                }
            }
        }
        pending
    }
}

/// How the worker polls.
#[derive(Clone, Copy, Debug)]
pub struct WorkerOptions {
    /// Sleep between rounds that found nothing more to do.
    pub poll_interval: Duration,
    /// Rows claimed per round.
    pub batch: u32,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(500),
            batch: 16,
        }
    }
}

/// The background delivery thread. Stops (and joins) on [`Worker::stop`] or
/// drop; a send in progress finishes first (bounded by the timeout).
pub struct Worker {
    signal: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    fn start(delivery: Arc<Delivery>, options: WorkerOptions) -> io::Result<Self> {
        let signal = Arc::new((Mutex::new(false), Condvar::new()));
        let sig = signal.clone();
        let thread = std::thread::Builder::new()
            .name("zio-outbox".into())
            .spawn(move || loop {
                let busy = match delivery.round(options.batch.max(1)) {
                    Ok(n) => n >= options.batch.max(1) as usize,
                    Err(e) => {
                        tracing::error!(error = %e, "outbox worker: cannot claim rows");
                        false
                    }
                };
                delivery.refresh_pending();
                let (lock, cvar) = &*sig;
                let mut stop = lock.lock().unwrap_or_else(|p| p.into_inner());
                if *stop {
                    return;
                }
                if !busy {
                    stop = cvar
                        .wait_timeout(stop, options.poll_interval)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                    if *stop {
                        return;
                    }
                }
            })?;
        Ok(Self {
            signal,
            thread: Some(thread),
        })
    }

    /// Stops the worker and waits for it.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let (lock, cvar) = &*self.signal;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cvar.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.halt();
    }
}
