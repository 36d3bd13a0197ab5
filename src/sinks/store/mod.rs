//! The gateway's store: one SQLite database, `DATA_DIR/gateway.db`, in WAL
//! mode, with its schema built by numbered migrations.
//!
//! The migrations are `migrations/sqlite/V{n}__{name}.sql`, embedded and
//! applied by refinery ([`schema::migrate`]): one ordered list for the whole
//! gateway, recorded in `refinery_schema_history`, so opening a store brings
//! it up to date exactly once. A store written by a newer gateway (a version
//! this binary does not know) is refused rather than guessed at; one made
//! before refinery (`schema_migrations`) is adopted.

pub mod checkpoint;
pub mod pg;
pub mod private;
pub mod schema;

use rusqlite::{Connection, OpenFlags};
use std::fmt;
use std::path::{Path, PathBuf};

/// The database file inside the data directory.
pub const DB_FILE: &str = "gateway.db";

/// Up to which version the runner before refinery migrated this store:
/// the highest version in its `schema_migrations` table, 0 without one.
/// That table is left as it was (an older gateway reads it to refuse a store
/// it does not know, or to see its own tables there).
fn legacy_version(c: &Connection) -> rusqlite::Result<i32> {
    let has: bool = c.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
        [],
        |r| r.get(0),
    )?;
    if !has {
        return Ok(0);
    }
    c.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )
}

/// A store that cannot be opened, read or written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

/// The store is ours: its failure is a backend's, and may pass.
impl From<StoreError> for crate::error::Error {
    fn from(e: StoreError) -> Self {
        crate::error::Error::backend(e.0)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(format!("store: {e}"))
    }
}

/// How long a connection waits for another's write lock before it gives up.
pub const BUSY_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// Sets the busy handler every gateway connection uses: poll for the lock
/// every 50 µs for the first 10 ms, then every millisecond, up to
/// [`BUSY_FOR`]. SQLite's own `busy_timeout` sleeps 1, 2, 5, 10, 15, 20, 25 ms
/// between tries: one wait behind the outbox's sub-millisecond bookkeeping
/// commit would then cost an answer several milliseconds.
pub fn patient(conn: &Connection) -> rusqlite::Result<()> {
    fn wait(tries: i32) -> bool {
        const FAST: i32 = 200;
        let tries = tries.max(0) as u64;
        let waited_us = if tries < FAST as u64 {
            tries * 50
        } else {
            FAST as u64 * 50 + (tries - FAST as u64) * 1000
        };
        if waited_us >= BUSY_FOR.as_micros() as u64 {
            return false;
        }
        let step = if tries < FAST as u64 { 50 } else { 1000 };
        std::thread::sleep(std::time::Duration::from_micros(step));
        true
    }
    conn.busy_handler(Some(wait))
}

/// Holds `DATA_DIR/gateway.lock` for as long as the returned file lives:
/// one `serve` per data directory, because a SQLite ledger's outbox leases
/// live in that process's memory (a second process would deliver the same
/// rows again). `check` and `ingest` do not take it: they never deliver.
pub fn hold_data_dir(data_dir: &Path) -> Result<std::fs::File, StoreError> {
    crate::sinks::store::private::dir(data_dir).map_err(|e| {
        StoreError(format!(
            "{}: cannot create the data directory: {e}",
            data_dir.display()
        ))
    })?;
    let path = data_dir.join("gateway.lock");
    crate::sinks::store::private::file(&path)
        .map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError(format!(
            "{}: another zio-gateway serve uses this data directory \
             (several instances share a ledger through PostgreSQL)",
            data_dir.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError(format!("{}: {e}", path.display()))),
    }
}

pub struct Store {
    conn: Connection,
    path: Option<PathBuf>,
}

impl Store {
    /// Opens (creating the directory and the file when needed) and migrates.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        crate::sinks::store::private::dir(data_dir).map_err(|e| {
            StoreError(format!(
                "{}: cannot create the data directory: {e}",
                data_dir.display()
            ))
        })?;
        let path = data_dir.join(DB_FILE);
        crate::sinks::store::private::file(&path)
            .map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
        let store = Self::open_file(&path, true)?;
        crate::sinks::store::private::sqlite_companions(&path)
            .map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
        Ok(store)
    }

    /// Opens `DATA_DIR/gateway.db` when it exists; `None` when it does not
    /// (nothing is created: `check` must not leave a data directory behind).
    pub fn open_existing(data_dir: &Path) -> Result<Option<Store>, StoreError> {
        let path = data_dir.join(DB_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        Self::open_file(&path, false).map(Some)
    }

    fn open_file(path: &Path, create: bool) -> Result<Store, StoreError> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let named = |e: rusqlite::Error| StoreError(format!("{}: {e}", path.display()));
        let conn = Connection::open_with_flags(path, flags).map_err(named)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(named)?;
        let mut store = Store {
            conn,
            path: Some(path.to_owned()),
        };
        store
            .configure()
            .map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
        store
            .migrate()
            .map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
        Ok(store)
    }

    /// A private in-memory store (tests, tools).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let mut store = Store {
            conn: Connection::open_in_memory()?,
            path: None,
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    fn configure(&mut self) -> Result<(), StoreError> {
        let c = &self.conn;
        // FULL: a commit is on disk before the answer says "accepted", also
        // across a power loss (NORMAL in WAL mode survives a crashed process
        // but may lose the last commits on power loss).
        c.pragma_update(None, "synchronous", "FULL")?;
        c.pragma_update(None, "foreign_keys", "ON")?;
        c.pragma_update(None, "temp_store", "MEMORY")?;
        // 64 MiB of page cache: the registry's indexes of a million clients
        // stay mostly in memory during a batch check.
        c.pragma_update(None, "cache_size", -65536)?;
        patient(c)?;
        c.set_prepared_statement_cache_capacity(64);
        Ok(())
    }

    /// Applies every migration not yet recorded (`schema::migrate`).
    fn migrate(&mut self) -> Result<(), StoreError> {
        schema::migrate(&mut self.conn, schema::sqlite::migrations::runner, |c| {
            legacy_version(c).map_err(|e| format!("the old migration table: {e}"))
        })
        .map(|_| ())
        .map_err(StoreError)
    }

    /// The versions recorded in refinery's history, ascending.
    pub fn schema_versions(&mut self) -> Result<Vec<i32>, StoreError> {
        schema::applied_versions(&mut self.conn).map_err(StoreError)
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_versions() -> Vec<i32> {
        schema::known_versions(&schema::sqlite::migrations::runner())
    }

    #[test]
    fn migrations_run_once_and_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        let all = all_versions();
        assert_eq!(all, (1..=all.len() as i32).collect::<Vec<_>>());
        assert_eq!(s.schema_versions().unwrap(), all);
        drop(s);
        let mut s = Store::open(dir.path()).unwrap();
        assert_eq!(s.schema_versions().unwrap(), all);
        let mode: String = s
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn open_existing_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        assert!(Store::open_existing(&data).unwrap().is_none());
        assert!(!data.exists());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.conn()
            .execute(
                "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
                 VALUES (999, 'future', '2030-01-01T00:00:00Z', '1')",
                [],
            )
            .unwrap();
        drop(s);
        let e = Store::open(dir.path()).err().unwrap();
        assert!(e.0.contains("schema version 999, newer"), "{e}");
    }

    /// A data directory as the runner before refinery left it: the first
    /// `upto` migrations' SQL run by hand, each recorded in
    /// `schema_migrations`, and a line of data.
    fn old_style_store(dir: &Path, upto: i32) {
        let conn = Connection::open(dir.join(DB_FILE)).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        )
        .unwrap();
        let runner = schema::sqlite::migrations::runner();
        let mut ms: Vec<_> = runner.get_migrations().iter().collect();
        ms.sort_by_key(|m| m.version());
        for m in ms.into_iter().filter(|m| m.version() <= upto) {
            conn.execute_batch(m.sql().unwrap()).unwrap();
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)",
                rusqlite::params![m.version(), m.name().replace('_', " ")],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO ledger_message (agb, message_id, zorgkantoor, dagtekening, received) \
             VALUES ('12345678', 'M1', '5509', '2024-04-01', '2024-04-02')",
            [],
        )
        .unwrap();
    }

    #[test]
    fn a_store_of_the_old_runner_is_adopted_not_migrated_again() {
        let all = all_versions();
        // 7: the last migration the old runner had.
        for upto in [5, 7] {
            let dir = tempfile::tempdir().unwrap();
            old_style_store(dir.path(), upto);
            // Running migration 2 (CREATE TABLE ledger_message) again would
            // fail: opening works only if 1..=upto are taken as applied.
            let mut s = Store::open(dir.path()).unwrap();
            assert_eq!(s.schema_versions().unwrap(), all, "from {upto}");
            let kept: String = s
                .conn()
                .query_row("SELECT message_id FROM ledger_message", [], |r| r.get(0))
                .unwrap();
            assert_eq!(kept, "M1");
            // The later migrations ran: absence (7) is there.
            s.conn()
                .execute_batch("SELECT COUNT(*) FROM ledger_absence")
                .unwrap();
            drop(s);
            let mut s = Store::open(dir.path()).unwrap();
            assert_eq!(s.schema_versions().unwrap(), all);
        }
    }

    #[test]
    fn an_old_runner_store_newer_than_the_binary_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        old_style_store(dir.path(), 7);
        Connection::open(dir.path().join(DB_FILE))
            .unwrap()
            .execute(
                "INSERT INTO schema_migrations (version, name) VALUES (999, 'future')",
                [],
            )
            .unwrap();
        let e = Store::open(dir.path()).err().unwrap();
        assert!(e.0.contains("schema version 999, newer"), "{e}");
    }
}
