//! The registry as a running gateway holds it: one writer (`POST /registry`,
//! `ingest`) and a pool of read connections for checks (a check holds one
//! for its length, so checks do not wait for each other), on SQLite in the
//! data directory or on the shared PostgreSQL.

use super::postgres::PgRegistry;
use super::{RegistryStore, RegistryTx};
use crate::model::iwlz::{ClientRegistry, Indicatie, ToegewezenFunctie};
use crate::sinks::store::{Store, StoreError};
use crate::types::{AgbCode, Bsn, Datum};
use std::io;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One connection to the registry, whichever backend.
pub type RegistryConn = Box<dyn RegistryStore + Send>;

/// Where the registry lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryLocation {
    /// `DATA_DIR/gateway.db`.
    Sqlite(PathBuf),
    /// The shared PostgreSQL; `schema`: the tables in that schema (tests).
    Postgres { url: String, schema: Option<String> },
}

impl RegistryLocation {
    fn connect(&self) -> Result<RegistryConn, StoreError> {
        Ok(match self {
            RegistryLocation::Sqlite(dir) => Box::new(Store::open(dir)?),
            RegistryLocation::Postgres { url, schema } => {
                Box::new(PgRegistry::connect_in_schema(url, schema.as_deref())?)
            }
        })
    }
}

/// Read connections kept open between checks, per backend. SQLite's cost a
/// file handle; PostgreSQL's a server process each, shared by every
/// gateway on the database (its `max_connections`), so fewer.
const SQLITE_IDLE: usize = 16;
const PG_IDLE: usize = 8;
/// PostgreSQL read connections lent out at once; more lookups wait for one.
/// A lookup is one indexed read, so a few connections serve many checks.
const PG_MAX_LENT: usize = 16;

/// How long "nothing ingested yet" is believed before the database is asked
/// again: another gateway (or `zio-gateway ingest`) may have loaded it.
pub const LOADED_RECHECK: Duration = Duration::from_secs(1);

struct Pool {
    idle: Vec<RegistryConn>,
    lent: usize,
}

pub struct RegistryStores {
    at: RegistryLocation,
    pool: Mutex<Pool>,
    freed: Condvar,
    max_idle: usize,
    max_lent: usize,
    writer: Mutex<RegistryConn>,
    loaded: AtomicBool,
    /// When the database was last asked whether it is loaded (ms after `born`).
    asked_ms: AtomicU64,
    born: Instant,
}

/// A read connection lent to one check; back to the pool when dropped,
/// unless [`Lease::discard`]ed.
pub struct Lease<'a> {
    stores: &'a RegistryStores,
    conn: Option<RegistryConn>,
    keep: bool,
}

impl Lease<'_> {
    /// The connection failed: close it rather than lend it out again.
    pub fn discard(mut self) {
        self.keep = false;
    }
}

impl Deref for Lease<'_> {
    type Target = dyn RegistryStore + Send;
    fn deref(&self) -> &Self::Target {
        &**self.conn.as_ref().expect("held until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let conn = self.conn.take();
        let mut pool = self.stores.lock_pool();
        pool.lent -= 1;
        if let Some(c) = conn.filter(|c| self.keep && c.usable()) {
            if pool.idle.len() < self.stores.max_idle {
                pool.idle.push(c);
            }
        }
        drop(pool);
        self.stores.freed.notify_one();
    }
}

impl RegistryStores {
    /// Opens (creating and migrating) `DATA_DIR/gateway.db`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_at(RegistryLocation::Sqlite(dir.to_owned()))
    }

    /// Connects to (and migrates) the registry in PostgreSQL.
    pub fn open_postgres(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        Self::open_at(RegistryLocation::Postgres {
            url: url.to_owned(),
            schema: schema.map(str::to_owned),
        })
    }

    pub fn open_at(at: RegistryLocation) -> Result<Self, StoreError> {
        let writer = at.connect()?;
        let loaded = writer.is_loaded()?;
        let (max_idle, max_lent) = match at {
            RegistryLocation::Sqlite(_) => (SQLITE_IDLE, usize::MAX),
            RegistryLocation::Postgres { .. } => (PG_IDLE, PG_MAX_LENT),
        };
        Ok(Self {
            at,
            pool: Mutex::new(Pool {
                idle: Vec::new(),
                lent: 0,
            }),
            freed: Condvar::new(),
            max_idle,
            max_lent,
            writer: Mutex::new(writer),
            loaded: AtomicBool::new(loaded),
            asked_ms: AtomicU64::new(0),
            born: Instant::now(),
        })
    }

    pub fn location(&self) -> &RegistryLocation {
        &self.at
    }

    fn lock_pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether any iWlz message was ingested (until then no 04xx check runs),
    /// as last known: no database read.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// A read connection, waiting while `max_lent` are out.
    pub fn lease(&self) -> Result<Lease<'_>, StoreError> {
        let mut pool = self.lock_pool();
        while pool.lent >= self.max_lent {
            pool = self.freed.wait(pool).unwrap_or_else(|p| p.into_inner());
        }
        pool.lent += 1;
        let mut idle = None;
        while let Some(c) = pool.idle.pop() {
            if c.usable() {
                idle = Some(c);
                break;
            }
        }
        drop(pool);
        let mut lease = Lease {
            stores: self,
            conn: None,
            keep: true,
        };
        lease.conn = Some(match idle {
            Some(c) => c,
            // On failure the lease drops with no connection: its slot is freed.
            None => self.at.connect()?,
        });
        Ok(lease)
    }

    /// Whether the 04xx checks run: any iWlz message was ingested, here or
    /// by another instance. "Not loaded" is re-read from the database at
    /// most every [`LOADED_RECHECK`], so an instance sees another's first
    /// ingest within that time; "loaded" is final (a registry is never
    /// emptied).
    pub fn loaded_now(&self) -> Result<bool, StoreError> {
        if self.is_loaded() {
            return Ok(true);
        }
        let now = self.born.elapsed().as_millis() as u64 + 1;
        let asked = self.asked_ms.load(Ordering::Relaxed);
        if asked != 0 && now.saturating_sub(asked) < LOADED_RECHECK.as_millis() as u64 {
            return Ok(false);
        }
        self.asked_ms.store(now, Ordering::Relaxed);
        let loaded = self.with_lease(|c| c.is_loaded())?;
        if loaded {
            self.loaded.store(true, Ordering::Release);
        }
        Ok(loaded)
    }

    /// A read connection, or `None` while nothing was ingested
    /// ([`RegistryStores::loaded_now`]).
    pub fn reader(&self) -> Result<Option<Lease<'_>>, StoreError> {
        if self.loaded_now()? {
            self.lease().map(Some)
        } else {
            Ok(None)
        }
    }

    /// The registry for one check, or `None` while nothing was ingested
    /// ([`RegistryStores::loaded_now`]). Each lookup borrows a connection
    /// for its own length only: a check streaming a slow sender's body
    /// holds none in between, so a few PostgreSQL connections serve every
    /// running check.
    pub fn lookups(&self) -> Result<Option<Lookups<'_>>, StoreError> {
        Ok(self.loaded_now()?.then_some(Lookups { stores: self }))
    }

    /// Runs `f` on a read connection; one that failed is closed.
    fn with_lease<R>(
        &self,
        f: impl FnOnce(&(dyn RegistryStore + Send)) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let lease = self.lease()?;
        let r = f(&*lease);
        if r.is_err() {
            lease.discard();
        }
        r
    }

    /// Runs `f` with the writer (one ingest at a time in this process;
    /// PostgreSQL also orders ingests across processes); the registry counts
    /// as loaded from then on when `f` committed a message.
    pub fn with_writer<R, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut dyn RegistryStore) -> Result<R, E>,
    ) -> Result<R, E> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if !w.usable() {
            *w = self.at.connect()?;
        }
        let r = f(&mut **w)?;
        // Read back rather than assumed: `f` may have refused every message,
        // and "loaded" is never unlearnt.
        if !self.is_loaded() && w.is_loaded()? {
            self.loaded.store(true, Ordering::Release);
        }
        Ok(r)
    }
}

/// The registry's read side for one check ([`RegistryStores::lookups`]):
/// every lookup on a pooled connection of its own.
pub struct Lookups<'a> {
    stores: &'a RegistryStores,
}

impl RegistryStore for Lookups<'_> {
    fn is_loaded(&self) -> Result<bool, StoreError> {
        self.stores.with_lease(|c| c.is_loaded())
    }

    fn client(&self, bsn: &Bsn) -> Result<ClientRegistry, StoreError> {
        self.stores.with_lease(|c| c.client(bsn))
    }

    fn indicatie(&self, bsn: &Bsn, besluitnummer: u64) -> Result<Option<Indicatie>, StoreError> {
        self.stores.with_lease(|c| c.indicatie(bsn, besluitnummer))
    }

    fn toewijzingen(
        &self,
        bsn: &Bsn,
        functiecode: u16,
        instelling: &AgbCode,
        dag: Datum,
    ) -> Result<Vec<ToegewezenFunctie>, StoreError> {
        self.stores
            .with_lease(|c| c.toewijzingen(bsn, functiecode, instelling, dag))
    }

    fn bericht_bekend(&self, sha256: &str) -> Result<bool, StoreError> {
        self.stores.with_lease(|c| c.bericht_bekend(sha256))
    }

    /// Lookups only read: ingest goes through [`RegistryStores::with_writer`].
    fn begin(&mut self) -> Result<Box<dyn RegistryTx + '_>, StoreError> {
        Err(StoreError(
            "registry: lookups cannot ingest (use the writer)".into(),
        ))
    }

    fn dump(&self, out: &mut dyn io::Write) -> Result<(), StoreError> {
        self.stores.with_lease(|c| c.dump(out))
    }
}
