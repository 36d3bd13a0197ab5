//! One message's check lookups on one read snapshot.
//!
//! Alone, every lookup is a read transaction of its own: it takes a read
//! mark in the WAL index and, since the writer commits all the time under
//! load, finds the database changed and empties the connection's page
//! cache, so it reads the same index pages again from the OS. A 2-line
//! message made five such lookups (0106, two for 0308/0309, two for 0506):
//! 7% of the gateway's CPU under load, more than half in beginning the
//! transaction and fetching pages. Here they share one.
//!
//! A snapshot sees nothing committed after it began. That is what a lookup
//! saw before too, only a little older: the check never relied on fresh
//! reads (the recording's unique keys decide a race between two messages).
//! It is renewed after [`SNAPSHOT_LOOKUPS`] lookups or [`SNAPSHOT_AGE`], so a
//! long batch, or one that a slow sender streams for minutes, never holds
//! back the checkpointer that lets the WAL start over.

use super::{
    declared_base_volume_on, message_processed_on, prior_line_on, CheckReads, PriorLine, Result,
    SqliteLedger,
};
use crate::types::{AgbCode, ProductCode, Referentie, ZorgkantoorCode};
use rusqlite::Connection;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lookups one read transaction serves at most.
const SNAPSHOT_LOOKUPS: u32 = 64;

/// How long one read transaction is used at most, unless the snapshot
/// was opened with another age ([`SqliteLedger::check_reads_renewed_after`]).
pub(super) const SNAPSHOT_AGE: Duration = Duration::from_millis(20);

/// The lookups of one check ([`SqliteLedger::check_reads`]).
pub(super) struct Snapshot<'a> {
    ledger: &'a SqliteLedger,
    age: Duration,
    held: Mutex<Option<Held>>,
}

/// A read connection inside its read transaction.
struct Held {
    conn: Connection,
    began: Instant,
    lookups: u32,
}

impl<'a> Snapshot<'a> {
    pub(super) fn renewed_after(ledger: &'a SqliteLedger, age: Duration) -> Self {
        Self {
            ledger,
            age,
            held: Mutex::new(None),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held
            .as_ref()
            .is_some_and(|h| h.lookups >= SNAPSHOT_LOOKUPS || h.began.elapsed() >= self.age)
        {
            self.end(held.take());
        }
        let h = match &mut *held {
            Some(h) => h,
            None => {
                let conn = self.ledger.lease_reader()?;
                // Deferred: the first SELECT takes the snapshot.
                conn.prepare_cached("BEGIN")?.execute([])?;
                held.insert(Held {
                    conn,
                    began: Instant::now(),
                    lookups: 0,
                })
            }
        };
        h.lookups += 1;
        let r = f(&h.conn);
        if r.is_err() {
            // Not kept: whatever failed may have left it unusable.
            held.take();
        }
        r
    }

    /// Ends the read transaction and gives the connection back to the pool.
    fn end(&self, held: Option<Held>) {
        if let Some(h) = held {
            if h.conn
                .prepare_cached("COMMIT")
                .and_then(|mut s| s.execute([]))
                .is_ok()
            {
                self.ledger.return_reader(h.conn);
            }
        }
    }
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        let held = self
            .held
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.end(held);
    }
}

impl CheckReads for Snapshot<'_> {
    fn message_processed(&self, agb: &AgbCode, identificatie: &Referentie) -> Result<bool> {
        self.with(|c| message_processed_on(c, agb, identificatie))
    }

    fn prior_line(&self, agb: &AgbCode, referentie: &Referentie) -> Result<Option<PriorLine>> {
        self.with(|c| prior_line_on(c, agb, referentie))
    }

    fn declared_base_volume(
        &self,
        agb: &AgbCode,
        zk: &ZorgkantoorCode,
        year: i32,
        code: &ProductCode,
    ) -> Result<i64> {
        self.with(|c| declared_base_volume_on(c, agb, zk, year, code))
    }
}
