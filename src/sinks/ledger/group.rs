//! Group commit: concurrent recordings share one transaction and one sync to
//! disk. A single writer thread takes whatever is queued, records each in
//! its own savepoint ([`LedgerStore::record_batch`]), commits once, and only
//! then releases every waiting request. Durability is unchanged (no answer
//! before its commit); what changes is that N answers wait for one fsync
//! instead of N.

use super::{LedgerError, LedgerStore, RecordJob, RecordSummary, Result};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Where a job's result goes: a blocked thread, or an awaiting task.
enum Reply {
    Thread(mpsc::SyncSender<Result<RecordSummary>>),
    Task(tokio::sync::oneshot::Sender<Result<RecordSummary>>),
}

impl Reply {
    fn send(self, r: Result<RecordSummary>) {
        match self {
            Self::Thread(tx) => {
                let _ = tx.send(r);
            }
            Self::Task(tx) => {
                let _ = tx.send(r);
            }
        }
    }
}

fn stopped() -> LedgerError {
    LedgerError::Invalid("the ledger writer has stopped".into())
}

/// The writer thread, and the queue to it.
pub struct GroupCommit {
    queue: Mutex<Option<mpsc::Sender<(RecordJob, Reply)>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl GroupCommit {
    /// Starts the writer for `store`; at most `max_batch` messages share a
    /// transaction.
    pub fn start(store: Arc<dyn LedgerStore>, max_batch: usize) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<(RecordJob, Reply)>();
        let thread = std::thread::Builder::new()
            .name("zio-ledger-writer".into())
            .spawn(move || write_loop(&*store, &rx, max_batch.max(1)))?;
        Ok(Self {
            queue: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    fn queue(&self, job: RecordJob, reply: Reply) -> Result<()> {
        match &*self.queue.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(q) if q.send((job, reply)).is_ok() => Ok(()),
            _ => Err(stopped()),
        }
    }

    /// Records `job` in the next batch and waits for its commit.
    pub fn record(&self, job: RecordJob) -> Result<RecordSummary> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.queue(job, Reply::Thread(reply))?;
        answer.recv().unwrap_or_else(|_| Err(stopped()))
    }

    /// Records `job` in the next batch; the task awaits its commit without
    /// a thread of its own (the server's small messages).
    pub async fn record_async(&self, job: RecordJob) -> Result<RecordSummary> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.queue(job, Reply::Task(reply))?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Lets the writer finish what is queued and stops it.
    pub fn stop(&self) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.stop();
    }
}

fn write_loop(store: &dyn LedgerStore, rx: &mpsc::Receiver<(RecordJob, Reply)>, max: usize) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < max {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (mut jobs, replies): (Vec<RecordJob>, Vec<Reply>) = batch.into_iter().unzip();
        let results = store.record_batch(&mut jobs);
        drop(jobs);
        for (reply, r) in replies.into_iter().zip(results) {
            reply.send(r);
        }
    }
}
