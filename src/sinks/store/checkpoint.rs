//! WAL checkpoints off the writer's path. By default SQLite checkpoints on
//! the commit that pushes the WAL past 1,000 pages, inside that commit: the
//! group-commit writer then copies pages into the database and syncs it
//! while every answer in its batch (and the batch queued behind it) waits.
//! The ledger's writing connections turn that off
//! (`wal_autocheckpoint = 0`) and this thread checkpoints instead, PASSIVE,
//! so it never waits for or blocks a writer or a reader.

use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the WAL is checkpointed. At the gateway's commit rate a WAL
/// grows by a few MiB in this time; the checkpoint copies that back.
const EVERY: Duration = Duration::from_millis(200);

/// The thread; stopped (after a last checkpoint) when dropped.
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`.
    pub fn start(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        super::patient(&conn)?;
        // Once all of the WAL is copied back and a writer starts over at its
        // beginning, cut the file back to this size.
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("zio-checkpoint".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    std::thread::park_timeout(EVERY);
                    if let Err(e) = passive(&conn) {
                        tracing::warn!(error = %e, "WAL checkpoint failed; retried");
                    }
                }
            })
            .map_err(|e| {
                rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                    Some(format!("checkpoint thread: {e}")),
                )
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

/// Copies what no reader still needs from the WAL into the database.
fn passive(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// Stops `conn` from checkpointing on its own commits (see the module).
pub fn leave_to_checkpointer(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "wal_autocheckpoint", 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wal_is_copied_back_without_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let w = Connection::open(&path).unwrap();
        w.pragma_update(None, "journal_mode", "WAL").unwrap();
        leave_to_checkpointer(&w).unwrap();
        w.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        for _ in 0..200 {
            w.execute("INSERT INTO t VALUES (zeroblob(8000))", [])
                .unwrap();
        }
        let (log, done): (i64, i64) = w
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })
            .unwrap();
        // The writer's own commits left every frame in the WAL: the first
        // checkpoint (ours, here) had all of them to copy.
        assert!(log > 400, "{log} frames in the WAL");
        assert_eq!(log, done);
        let before = std::fs::metadata(&path).unwrap().len();
        for _ in 0..200 {
            w.execute("INSERT INTO t VALUES (zeroblob(8000))", [])
                .unwrap();
        }
        // Nothing of these 200 rows reached the database file yet.
        assert_eq!(std::fs::metadata(&path).unwrap().len(), before);
        let _c = Checkpointer::start(&path).unwrap();
        // The thread copies them back: the file grows by their pages. (A
        // wait for a condition, not a timing: the bound is only a hang guard.)
        let grown = (0..600).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            std::fs::metadata(&path).unwrap().len() >= before + 200 * 8000
        });
        assert!(grown, "the checkpointer never copied the WAL back");
    }
}
