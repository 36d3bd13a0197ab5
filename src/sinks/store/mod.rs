//! The gateway's store: one SQLite database, `DATA_DIR/gateway.db`, in WAL
//! mode, with its schema built by numbered migrations.
//!
//! [`MIGRATIONS`] (in [`schema`], which owns every table's SQL) is one
//! ordered list for the whole gateway: append a new entry with the next
//! number, never edit an applied one. Each migration runs in its own transaction and is recorded in
//! `schema_migrations`, so opening a store brings it up to date exactly once.
//! A store written by a newer gateway (a version this binary does not know)
//! is refused rather than guessed at.

pub mod checkpoint;
pub mod pg;
pub mod private;
pub mod schema;

use rusqlite::{Connection, OpenFlags};
use std::fmt;
use std::path::{Path, PathBuf};

/// The database file inside the data directory.
pub const DB_FILE: &str = "gateway.db";

pub use schema::{Migration, MIGRATIONS};

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

    /// Applies every migration not yet recorded, in order.
    fn migrate(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY,
                 name TEXT NOT NULL
             )",
        )?;
        let applied: u32 = self.conn.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?;
        let known = MIGRATIONS.last().map_or(0, |m| m.version);
        if applied > known {
            return Err(StoreError(format!(
                "the store has schema version {applied}, newer than this gateway knows ({known}): \
                 use a newer zio-gateway"
            )));
        }
        for (i, m) in MIGRATIONS.iter().enumerate() {
            debug_assert_eq!(
                m.version as usize,
                i + 1,
                "migrations are numbered 1, 2, 3, ..."
            );
            if m.version <= applied {
                continue;
            }
            let tx = self.conn.transaction()?;
            tx.execute_batch(m.sql).map_err(|e| {
                StoreError(format!("migration {} ({}) failed: {e}", m.version, m.name))
            })?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)",
                rusqlite::params![m.version, m.name],
            )?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The versions recorded in `schema_migrations`, ascending.
    pub fn schema_versions(&self) -> Result<Vec<u32>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT version FROM schema_migrations ORDER BY version")?;
        let v = st
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<u32>, _>>()?;
        Ok(v)
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

    #[test]
    fn migrations_run_once_and_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let all: Vec<u32> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(s.schema_versions().unwrap(), all);
        drop(s);
        let s = Store::open(dir.path()).unwrap();
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
                "INSERT INTO schema_migrations (version, name) VALUES (999, 'future')",
                [],
            )
            .unwrap();
        drop(s);
        let e = Store::open(dir.path()).err().unwrap();
        assert!(e.0.contains("newer"), "{e}");
    }
}
