//! The PostgreSQL database several gateways share: connecting and bringing
//! its schema up to date (`migrations/postgres`, [`schema::migrate`]). The ledger and the registry
//! both connect through here, so whichever opens the database first migrates
//! it for both.

use super::schema;
use super::StoreError;
use postgres::{Client, NoTls};

/// Key of the advisory lock taken while migrating.
const MIGRATION_LOCK: i64 = 0x7a69_6f4c_6467; // "zioLdg"

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError(format!("PostgreSQL: {e}"))
    }
}

/// Migrates under a session advisory lock: refinery takes none, and two
/// gateways starting together on one database must migrate once (the
/// second waits, then finds every migration applied).
fn migrate(client: &mut Client, schema: Option<&str>) -> Result<(), StoreError> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let r = migrate_locked(client, schema);
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    r?;
    unlocked?;
    Ok(())
}

fn migrate_locked(client: &mut Client, schema: Option<&str>) -> Result<(), StoreError> {
    if let Some(s) = schema {
        client.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {0}; SET search_path TO {0}",
            quote_ident(s)
        ))?;
    }
    schema::migrate(client, schema::postgres::migrations::runner, legacy_version)
        .map_err(|e| StoreError(format!("PostgreSQL: {e}")))?;
    Ok(())
}

/// Up to which version the runner before refinery migrated this database:
/// the highest version in its `ledger_schema_migrations` (in the schema on
/// the search path), 0 without one. That table is left as it was.
fn legacy_version(client: &mut Client) -> Result<i32, String> {
    let old = |e: postgres::Error| format!("the old migration table: {e}");
    let has: bool = client
        .query_one(
            "SELECT to_regclass('ledger_schema_migrations') IS NOT NULL",
            &[],
        )
        .map_err(old)?
        .get(0);
    if !has {
        return Ok(0);
    }
    Ok(client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM ledger_schema_migrations",
            &[],
        )
        .map_err(old)?
        .get(0))
}

/// `"name"` with embedded quotes doubled.
fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Connects (`postgres://user@host:port/db`) and migrates; with `schema`,
/// every table lives in that schema (created when missing): several
/// independent gateways' data in one database (tests).
pub fn connect(url: &str, schema: Option<&str>) -> Result<Client, StoreError> {
    let mut client = Client::connect(url, NoTls)?;
    migrate(&mut client, schema)?;
    Ok(client)
}

/// Connects to a database [`connect`] migrated already: no lock, no
/// history read (the ledger's read connections, opened while it serves).
pub fn connect_migrated(url: &str, schema: Option<&str>) -> Result<Client, StoreError> {
    let mut client = Client::connect(url, NoTls)?;
    if let Some(s) = schema {
        client.batch_execute(&format!("SET search_path TO {}", quote_ident(s)))?;
    }
    Ok(client)
}
