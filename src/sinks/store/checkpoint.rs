//! WAL checkpoints off the writer's path. By default SQLite checkpoints on
//! the commit that pushes the WAL past 1,000 pages, inside that commit: the
//! group-commit writer then copies pages into the database and syncs it
//! while every answer in its batch (and the batch queued behind it) waits.
//! The ledger's writing connections turn that off
//! (`wal_autocheckpoint = 0`) and this thread checkpoints instead, PASSIVE,
//! so it never waits for or blocks a writer or a reader. A PASSIVE
//! checkpoint copies pages back but never lets the WAL start over while
//! readers keep taking snapshots (under load there always is one), so the
//! file would grow without end (6 GB in 70 s of load, scripts/load-faults.sh):
//! past [`RESTART_AT`] the thread runs a second PASSIVE checkpoint (the bulk
//! of the copying, without any lock) and then a RESTART one, which copies
//! the few frames committed meanwhile, waits for the readers of the moment
//! (short lookups) and makes the next commit write the WAL from its start:
//! the file stays about that size. (A TRUNCATE checkpoint after 200 ms of
//! frames held the writer ~40 ms and put the p99 of answers at 40 ms.)
//!
//! A RESTART checkpoint holds the writer off while it waits for the
//! readers, so that wait is bounded ([`RESTART_WAIT`]): a reader longer than
//! that (the outbox backlog count over 300,000 pending rows took 50-100 ms
//! during an upstream outage) makes it give up until the next tick instead
//! of stalling every commit behind it (p99 of answers 31 and 67 ms in two
//! 30 s runs with the upstream down, 10 and 11 ms without that count).

use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the WAL is checkpointed. At the gateway's commit rate a WAL
/// grows by a few MiB in this time; the checkpoint copies that back.
const EVERY: Duration = Duration::from_millis(200);

/// The WAL size past which it is started over (a RESTART checkpoint).
pub const RESTART_AT: u64 = 64 * 1024 * 1024;

/// The pause before a RESTART that gave up is tried again.
const RETRY_SOON: Duration = Duration::from_millis(10);

/// How long a RESTART checkpoint waits for the writer and the readers of the
/// moment before it gives up until the next tick. The writer waits as long
/// at most: a commit takes about a millisecond, a rules' lookup less.
pub const RESTART_WAIT: Duration = Duration::from_millis(5);

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
        brief(&conn)?;
        // Once all of the WAL is copied back and a writer starts over at its
        // beginning, cut the file back to this size.
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let wal = std::path::PathBuf::from(wal);
        let thread = std::thread::Builder::new()
            .name("zio-checkpoint".into())
            .spawn(move || {
                let mut pause = EVERY;
                while !flag.load(Ordering::Acquire) {
                    std::thread::park_timeout(pause);
                    pause = EVERY;
                    if let Err(e) = passive(&conn) {
                        tracing::warn!(error = %e, "WAL checkpoint failed; retried");
                    }
                    let big = std::fs::metadata(&wal).is_ok_and(|m| m.len() > RESTART_AT);
                    if big {
                        match passive(&conn).and_then(|_| restart(&conn)) {
                            Ok(()) => {}
                            // A reader longer than RESTART_WAIT, or the
                            // writer's next commit first: soon again (at a
                            // tick's pace the WAL would grow meanwhile).
                            Err(e) if is_busy(&e) => {
                                tracing::debug!("WAL restart waited for a reader; retried");
                                pause = RETRY_SOON;
                            }
                            Err(e) => tracing::warn!(error = %e, "WAL restart failed; retried"),
                        }
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

/// Copies everything back, waiting for readers and the writer (at most
/// [`RESTART_WAIT`]), so the next commit writes the WAL from its start.
/// The pragma reports a wait that ran out as its first column, not as an
/// error: that is turned into `SQLITE_BUSY` here.
fn restart(conn: &Connection) -> rusqlite::Result<()> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get(0))?;
    if busy == 0 {
        Ok(())
    } else {
        Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("a reader or the writer held the WAL".into()),
        ))
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
}

/// The checkpointer's busy handler: poll every 50 µs, for at most
/// [`RESTART_WAIT`] (see the module: the writer waits while it does).
fn brief(conn: &Connection) -> rusqlite::Result<()> {
    fn wait(tries: i32) -> bool {
        const STEP: Duration = Duration::from_micros(50);
        if STEP * tries.max(0) as u32 >= RESTART_WAIT {
            return false;
        }
        std::thread::sleep(STEP);
        true
    }
    conn.busy_handler(Some(wait))
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

    /// A WAL database in a fresh directory, and its writer, which leaves
    /// checkpoints to the checkpointer.
    fn wal_db() -> (tempfile::TempDir, std::path::PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let w = Connection::open(&path).unwrap();
        w.pragma_update(None, "journal_mode", "WAL").unwrap();
        leave_to_checkpointer(&w).unwrap();
        (dir, path, w)
    }

    #[test]
    fn the_wal_is_copied_back_without_the_writer() {
        let (_dir, path, w) = wal_db();
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

    /// A reader on an old snapshot makes a RESTART give up after
    /// [`RESTART_WAIT`] (the writer held off meanwhile), not wait for it up
    /// to the [`super::super::BUSY_FOR`] of every other connection; once
    /// the reader is done, the RESTART goes through.
    #[test]
    fn a_restart_does_not_wait_out_a_long_reader() {
        let (_dir, path, w) = wal_db();
        w.execute_batch("CREATE TABLE t (x BLOB); INSERT INTO t VALUES (zeroblob(8000))")
            .unwrap();
        let r = Connection::open(&path).unwrap();
        r.execute_batch("BEGIN; SELECT count(*) FROM t;").unwrap();
        // Committed after the reader's snapshot: the WAL cannot start over
        // while the reader may still need its older frames.
        w.execute("INSERT INTO t VALUES (zeroblob(8000))", [])
            .unwrap();
        let c = Connection::open(&path).unwrap();
        brief(&c).unwrap();
        let started = std::time::Instant::now();
        let e = restart(&c).expect_err("the reader holds the WAL");
        assert!(is_busy(&e), "{e}");
        // Not a timing of the wait: the bound tells a few ms from BUSY_FOR.
        assert!(
            started.elapsed() < super::super::BUSY_FOR / 4,
            "waited {:?}",
            started.elapsed()
        );
        r.execute_batch("COMMIT").unwrap();
        restart(&c).expect("no reader left");
    }

    /// Under a stream of commits and readers that keep taking snapshots, the
    /// WAL stays near the threshold (a PASSIVE checkpoint alone would let it
    /// grow with every commit: 229 MB here).
    #[test]
    fn the_wal_stays_bounded_under_readers() {
        let (dir, path, w) = wal_db();
        super::super::patient(&w).unwrap();
        w.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        let _c = Checkpointer::start(&path).unwrap();
        // A reader on its own thread that always holds a snapshot, as the
        // rules' lookups do under load.
        let done = Arc::new(AtomicBool::new(false));
        let reading = {
            let (done, path) = (done.clone(), path.clone());
            std::thread::spawn(move || {
                let r = Connection::open(&path).unwrap();
                super::super::patient(&r).unwrap();
                while !done.load(Ordering::Acquire) {
                    r.execute_batch("BEGIN; SELECT count(*) FROM t;").unwrap();
                    std::thread::sleep(Duration::from_micros(500));
                    r.execute_batch("COMMIT").unwrap();
                }
            })
        };
        let wal = dir.path().join("t.db-wal");
        let mut largest = 0;
        // About three times the threshold written.
        for _ in 0..(3 * RESTART_AT / (64 * 1024)) {
            w.execute("INSERT INTO t VALUES (zeroblob(65536))", [])
                .unwrap();
            let now = std::fs::metadata(&wal).map_or(0, |m| m.len());
            largest = largest.max(now);
        }
        done.store(true, Ordering::Release);
        reading.join().unwrap();
        assert!(largest < 2 * RESTART_AT, "largest WAL {largest} bytes");
    }
}
