//! One delivery attempt of one outbox row: render the forwarded message from
//! the ledger, send it (HTTP POST or spool file), and conclude: mark it
//! delivered or schedule the next attempt with backoff and full jitter.
//!
//! Everything here runs on the server's runtime. Rendering and the spool
//! write are file work and go to the blocking pool; the POST is async on one
//! keep-alive connection pool, so a hanging upstream costs a timeout per
//! attempt, never a thread.

use super::conn::{Pool, Target};
use super::render;
use super::telemetry::Telemetry;
use crate::config::{Upstream, Upstreams};
use crate::model::verdict::Route;
use crate::sinks::ledger::{
    GroupCommit, Lease, LedgerError, LedgerStore, OutboxRow, Outcomes, Retry,
};
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use rand::Rng;
use std::io::{self, Seek, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A route's lane: its gate, its send slots, its parsed URL (ZIO 0, the
/// rest, REGULIER, 1).
pub(crate) fn lane_of(route: Route) -> usize {
    usize::from(route != Route::Zio)
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A rendered message kept in memory up to this size; a larger one goes to
/// a temporary file, so memory stays flat in the message's size while the
/// common small message costs no file at all.
const IN_MEMORY: usize = 1024 * 1024;

/// A message of at most this many lines is rendered on the runtime itself
/// when the store's reads are local: a WAL read of a few rows costs less
/// than handing the work to a blocking thread and back.
const RENDER_INLINE_LINES: u64 = 64;

/// Where a rendered message is while it is sent.
pub(crate) enum Held {
    Memory(Bytes),
    File(std::fs::File, u64),
}

/// Collects a rendering in memory until it passes [`IN_MEMORY`], then in a
/// temporary file.
struct Spill {
    mem: Vec<u8>,
    file: Option<io::BufWriter<std::fs::File>>,
}

impl Spill {
    fn new() -> Self {
        Self {
            mem: Vec::with_capacity(8 * 1024),
            file: None,
        }
    }

    fn finish(self) -> io::Result<Held> {
        match self.file {
            None => Ok(Held::Memory(Bytes::from(self.mem))),
            Some(w) => {
                let mut file = w.into_inner().map_err(|e| e.into_error())?;
                let len = file.stream_position()?;
                file.rewind()?;
                Ok(Held::File(file, len))
            }
        }
    }
}

impl Write for Spill {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(f) = &mut self.file {
            return f.write(buf);
        }
        if self.mem.len() + buf.len() <= IN_MEMORY {
            self.mem.extend_from_slice(buf);
            return Ok(buf.len());
        }
        let mut f = io::BufWriter::with_capacity(64 * 1024, tempfile::tempfile()?);
        f.write_all(&self.mem)?;
        self.mem = Vec::new();
        let n = f.write(buf)?;
        self.file = Some(f);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), |f| f.flush())
    }
}

/// The request body: a rendered message, from memory or streamed from its
/// temporary file.
pub(crate) enum RenderedBody {
    Memory(Option<Bytes>),
    File {
        file: tokio::fs::File,
        remaining: u64,
        buf: Box<[u8]>,
    },
}

impl From<Held> for RenderedBody {
    fn from(r: Held) -> Self {
        match r {
            Held::Memory(b) => Self::Memory(Some(b)),
            Held::File(file, len) => Self::File {
                file: tokio::fs::File::from_std(file),
                remaining: len,
                buf: vec![0; 64 * 1024].into_boxed_slice(),
            },
        }
    }
}

impl RenderedBody {
    fn len(&self) -> u64 {
        match self {
            Self::Memory(b) => b.as_ref().map_or(0, |b| b.len() as u64),
            Self::File { remaining, .. } => *remaining,
        }
    }
}

impl Body for RenderedBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        use tokio::io::AsyncRead;
        let (file, remaining, buf) = match self.get_mut() {
            Self::Memory(b) => return Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Self::File {
                file,
                remaining,
                buf,
            } => (file, remaining, buf),
        };
        if *remaining == 0 {
            return Poll::Ready(None);
        }
        let mut rb = tokio::io::ReadBuf::new(buf);
        match Pin::new(file).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    return Poll::Ready(Some(Err(io::ErrorKind::UnexpectedEof.into())));
                }
                let n = n.min(*remaining as usize);
                *remaining -= n as u64;
                Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(
                    &rb.filled()[..n],
                )))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Memory(b) => b.is_none(),
            Self::File { remaining, .. } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len())
    }
}

/// What an attempt came to.
pub(crate) type Attempt = Result<(), String>;

/// Renders, sends and concludes outbox rows.
pub(crate) struct Delivery {
    pub store: Arc<dyn LedgerStore>,
    pub upstreams: Upstreams,
    pub telemetry: Arc<Telemetry>,
    /// The ledger's group writer, when there is one: delivered rows are
    /// marked in its next commit instead of a transaction of their own.
    pub marker: Option<Arc<GroupCommit>>,
    /// Each route's keep-alive connections (ZIO, REGULIER).
    pools: [Pool<RenderedBody>; 2],
    /// Each route's URL parsed once, not per send; the error kept for an
    /// attempt to report.
    targets: [Result<Target, String>; 2],
}

fn parsed(u: &Upstream) -> Result<Target, String> {
    match u {
        Upstream::Http(url) => Target::parse(url),
        _ => Err("not an http upstream".into()),
    }
}

impl Delivery {
    /// `pool` idle connections are kept per route: each route sends up to
    /// `pool` at once (the worker's `concurrency`), so every sender of a
    /// burst finds its connection again after it.
    pub fn new(
        store: Arc<dyn LedgerStore>,
        upstreams: Upstreams,
        telemetry: Arc<Telemetry>,
        pool: usize,
    ) -> Self {
        let targets = [parsed(&upstreams.zio), parsed(&upstreams.regulier)];
        Self {
            store,
            upstreams,
            telemetry,
            marker: None,
            pools: [Pool::new(pool.max(1)), Pool::new(pool.max(1))],
            targets,
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.upstreams.timeout_ms.max(1))
    }

    /// How long a claimed row stays ours: rendering and one send take at
    /// most about the timeout; the margin covers a wait for a send slot.
    pub fn lease_ms(&self) -> i64 {
        (self.upstreams.timeout_ms.max(1) as i64).saturating_mul(2) + 30_000
    }

    /// Whether a lease that began at `leased_at` (Unix ms) lasts past a
    /// send started now. A row handed over in memory was leased when it was
    /// recorded and may have waited in the worker's queue since; once its
    /// lease ended the store hands it out again, so sending it from the
    /// queue as well would send it twice (found under a hanging upstream:
    /// 4,108 duplicates, `scripts/load-faults.sh`).
    pub fn lease_outlasts_a_send(&self, leased_at: i64) -> bool {
        leased_at
            .saturating_add(self.lease_ms())
            .saturating_sub(self.upstreams.timeout_ms.max(1) as i64)
            > now_ms()
    }

    pub fn upstream(&self, route: Route) -> &Upstream {
        match route {
            Route::Zio => &self.upstreams.zio,
            _ => &self.upstreams.regulier,
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

    /// One attempt within `timeout`.
    pub async fn attempt(self: &Arc<Self>, row: &OutboxRow, timeout: Duration) -> Attempt {
        let started = Instant::now();
        let result = match tokio::time::timeout(timeout, self.send(row)).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "upstream for {}: no answer within {} ms",
                row.route.as_str(),
                timeout.as_millis()
            )),
        };
        self.telemetry
            .attempted(row.route, started.elapsed(), result.is_ok());
        result
    }

    async fn send(self: &Arc<Self>, row: &OutboxRow) -> Attempt {
        match self.upstream(row.route) {
            Upstream::Http(url) => {
                let inline = row.held_lines.is_some()
                    || (self.store.reads_are_local() && row.lines <= RENDER_INLINE_LINES);
                let rendered = if inline {
                    self.render(row)?
                } else {
                    self.blocking(row, |d, row| d.render(row)).await?
                };
                let lane = lane_of(row.route);
                let target = self.targets[lane].as_ref().map_err(|e| e.clone())?;
                self.post(lane, url, target, rendered.into()).await
            }
            Upstream::Spool(dir) => {
                let dir = dir.clone();
                self.blocking(row, move |d, row| {
                    d.spool(&dir, row).map_err(|e| e.to_string())
                })
                .await
            }
            Upstream::None => Err(format!(
                "no upstream is configured for route {}",
                row.route.as_str()
            )),
        }
    }

    /// Runs file work for `row` on the blocking pool.
    async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        row: &OutboxRow,
        f: impl FnOnce(&Delivery, &OutboxRow) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let (d, row) = (self.clone(), row.clone());
        tokio::task::spawn_blocking(move || f(&d, &row))
            .await
            .map_err(|e| format!("delivery task: {e}"))?
    }

    fn render(&self, row: &OutboxRow) -> Result<Held, String> {
        let mut out = Spill::new();
        render::render(&*self.store, row, &mut out).map_err(|e| format!("render: {e}"))?;
        out.finish().map_err(|e| format!("temporary file: {e}"))
    }

    async fn post(&self, lane: usize, url: &str, target: &Target, body: RenderedBody) -> Attempt {
        let len = body.len();
        let status = self.pools[lane]
            .post(target, "application/xml", body, len)
            .await
            .map_err(|e| format!("upstream {url}: {e}"))?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("upstream {url} answered {status}"))
        }
    }

    /// `DIR/<afzender>-<identificatie>.xml`: written as `.xml.tmp`, synced,
    /// renamed, and the directory synced.
    fn spool(&self, dir: &Path, row: &OutboxRow) -> Result<(), LedgerError> {
        crate::sinks::store::private::dir(dir)?;
        let name = format!("{}-{}.xml", row.agb.as_str(), row.forward_id);
        let tmp = dir.join(format!("{name}.tmp"));
        let mut file = crate::sinks::store::private::create(&tmp)?;
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

    /// Records the results of attempts: the delivered rows in one
    /// transaction, each failed one with its next attempt, each only under
    /// the lease it was claimed with. Returns the leases of the rows that
    /// were delivered. Blocking (store work).
    pub fn conclude(&self, results: &[(OutboxRow, Attempt)]) -> Vec<Lease> {
        let now = now_ms();
        let o = self.outcomes(results, now);
        if !o.delivered.is_empty() {
            let marked = self.store.outbox_delivered_many(&o.delivered, now);
            self.report_concluded(o.delivered.len(), marked);
        }
        for r in &o.retries {
            let retried = self
                .store
                .outbox_retry(r.lease, r.next_attempt_ms, &r.error)
                .map(u64::from);
            self.report_concluded(1, retried);
        }
        self.count_delivered(results, now);
        o.delivered
    }

    /// What `results` come to for the store: the delivered rows, and the
    /// failed ones with their next attempt (each failure logged).
    pub fn outcomes(&self, results: &[(OutboxRow, Attempt)], now: i64) -> Outcomes {
        let mut o = Outcomes {
            at_ms: now,
            ..Outcomes::default()
        };
        for (row, r) in results {
            let Some(lease) = row.lease() else { continue };
            match r {
                Ok(()) => o.delivered.push(lease),
                Err(why) => {
                    tracing::warn!(
                        forward_id = %row.forward_id, attempts = row.attempts + 1, error = %why,
                        "forwarding failed, will retry"
                    );
                    o.retries.push(Retry {
                        lease,
                        next_attempt_ms: now + self.backoff_ms(row.attempts),
                        error: why.clone(),
                    });
                }
            }
        }
        o
    }

    /// What concluding `rows` rows came to, in the log.
    pub fn report_concluded(&self, rows: usize, concluded: crate::sinks::ledger::Result<u64>) {
        match concluded {
            Ok(n) if n < rows as u64 => {
                // Our lease ran out and another worker claimed the rows
                // (or concluded them): it concludes them; the receiver
                // deduplicates a second send by its Identificatie.
                tracing::warn!(
                    rows = rows as u64 - n,
                    "outbox: concluded after the lease ended, left to the new claimant"
                );
            }
            Ok(_) => {}
            Err(e) => {
                // Not recorded: the rows are tried again after their lease
                // (at least once; the receiver deduplicates by id).
                tracing::error!(error = %e, rows, "outbox: cannot record delivery outcomes");
            }
        }
    }

    /// The delivery metrics of the delivered rows of `results`.
    pub fn count_delivered(&self, results: &[(OutboxRow, Attempt)], now: i64) {
        for (row, _) in results.iter().filter(|(_, r)| r.is_ok()) {
            self.telemetry.delivered(row, now);
            // Two per message under load: `GET /declaraties/{id}` and the
            // delivery metrics say it; failures stay warnings.
            tracing::debug!(
                forward_id = %row.forward_id, route = row.route.as_str(), lines = row.lines,
                "forwarded"
            );
        }
    }
}
