//! The PostgreSQL database several gateways share: connecting and bringing
//! its schema up to date ([`PG_MIGRATIONS`]). The ledger and the registry
//! both connect through here, so whichever opens the database first migrates
//! it for both.

use super::schema::PG_MIGRATIONS;
use super::StoreError;
use postgres::{Client, NoTls};

/// Key of the advisory lock taken while migrating.
const MIGRATION_LOCK: i64 = 0x7a69_6f4c_6467; // "zioLdg"

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError(format!("PostgreSQL: {e}"))
    }
}

/// Applies the migrations this database lacks, under an advisory lock so
/// gateways starting together migrate once.
pub fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS ledger_schema_migrations (
             version INTEGER PRIMARY KEY,
             name TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )?;
    let applied: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM ledger_schema_migrations",
            &[],
        )?
        .get(0);
    let known = PG_MIGRATIONS.last().map_or(0, |m| m.version as i32);
    if applied > known {
        return Err(StoreError(format!(
            "the PostgreSQL database has schema version {applied}, newer than this gateway \
             knows ({known}): use a newer zio-gateway"
        )));
    }
    for m in PG_MIGRATIONS.iter().filter(|m| m.version as i32 > applied) {
        tx.batch_execute(m.sql)
            .map_err(|e| StoreError(format!("migration {} ({}) failed: {e}", m.version, m.name)))?;
        tx.execute(
            "INSERT INTO ledger_schema_migrations (version, name) VALUES ($1, $2)",
            &[&(m.version as i32), &m.name],
        )?;
    }
    tx.commit()?;
    Ok(())
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
    if let Some(s) = schema {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(s)))?;
        tx.commit()?;
        client.batch_execute(&format!("SET search_path TO {}", quote_ident(s)))?;
    }
    migrate(&mut client)?;
    Ok(client)
}
