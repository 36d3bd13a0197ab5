//! Shared by the registry tests: a registry in PostgreSQL to run the same
//! checks against as in SQLite.

#![allow(dead_code)]

#[path = "../ledger_support/mod.rs"]
mod ledger_support;

pub use ledger_support::pg_url;
use zio_gateway::sinks::registry::RegistryLocation;

/// The schema of one test in this process.
pub fn pg_schema(test: &str) -> String {
    format!("r_{}_{}", test, std::process::id())
}

/// A fresh, empty schema for `test` on the test PostgreSQL; `None` (after
/// printing "SKIPPED: no PostgreSQL") when there is no PostgreSQL.
pub fn pg_location(test: &str) -> Option<RegistryLocation> {
    let Some(url) = pg_url() else {
        // Straight to the process's stderr: the test harness captures
        // print!/eprint!, and this must be seen.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: no PostgreSQL (set ZIO_TEST_PG_URL or install postgresql): {test}"
        );
        return None;
    };
    let schema = pg_schema(test);
    let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .expect("drop schema");
    Some(RegistryLocation::Postgres {
        url,
        schema: Some(schema),
    })
}

/// A fresh, empty database for `test` on the test PostgreSQL, as a URL for
/// the binary (which keeps its tables in the default schema); `None` (after
/// printing "SKIPPED: no PostgreSQL") when there is no PostgreSQL.
pub fn pg_database(test: &str) -> Option<String> {
    let Some(url) = pg_url() else {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: no PostgreSQL (set ZIO_TEST_PG_URL or install postgresql): {test}"
        );
        return None;
    };
    let name = pg_schema(test);
    let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .expect("drop database");
    c.batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create database");
    let (server, _db) = url.rsplit_once('/').expect("a URL ending in /DATABASE");
    Some(format!("{server}/{name}"))
}
