//! Group commit: concurrent recordings share one transaction and one sync to
//! disk. A single writer thread takes whatever is queued, records each in
//! its own savepoint ([`LedgerStore::record_batch`]), commits once, and only
//! then releases every waiting request. Durability is unchanged (no answer
//! before its commit); what changes is that N answers wait for one fsync
//! instead of N.

use super::{LedgerError, LedgerStore, RecordJob, RecordSummary, Result};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Reply = mpsc::SyncSender<Result<RecordSummary>>;

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

    /// Records `job` in the next batch and waits for its commit.
    pub fn record(&self, job: RecordJob) -> Result<RecordSummary> {
        let (reply, answer) = mpsc::sync_channel(1);
        let queued = match &*self.queue.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(q) => q.send((job, reply)).is_ok(),
            None => false,
        };
        if !queued {
            return Err(LedgerError::Invalid("the ledger writer has stopped".into()));
        }
        answer
            .recv()
            .unwrap_or_else(|_| Err(LedgerError::Invalid("the ledger writer has stopped".into())))
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
            let _ = reply.send(r);
        }
    }
}
