//! Every table's SQL, in one place: `migrations/sqlite/V{n}__{name}.sql`
//! (the SQLite store) and `migrations/postgres/V{n}__{name}.sql` (the
//! PostgreSQL ledger), embedded in the binary and applied by `refinery`.
//! A sink reads and writes its tables; it never creates them. Append a file
//! with the next number; never edit an applied one (refinery keeps each
//! file's checksum and refuses a store whose history differs).
//! `migrations/README.md` says why each step is there.
//!
//! Both backends run through [`migrate`]: one history table, one check
//! for a store newer than the binary, one adoption of a store made by the
//! runner before refinery.

/// The SQLite store's migrations.
pub mod sqlite {
    refinery::embed_migrations!("migrations/sqlite");
}

/// The PostgreSQL ledger's migrations.
pub mod postgres {
    refinery::embed_migrations!("migrations/postgres");
}

pub use refinery::Runner;

/// Where refinery records what it applied (the same name in both backends).
pub const HISTORY: &str = "refinery_schema_history";

/// The versions a runner knows, ascending.
pub fn known_versions(runner: &Runner) -> Vec<i32> {
    let mut v: Vec<i32> = runner
        .get_migrations()
        .iter()
        .map(|m| m.version())
        .collect();
    v.sort_unstable();
    v
}

/// Brings `conn` up to date with the migrations of `runner()` (each call a
/// fresh runner: refinery's builder consumes itself) and returns the
/// versions now applied.
///
/// - A store whose history names a version this binary does not know was
///   written by a newer gateway: refused, never guessed at.
/// - A store made before refinery has no history yet but `legacy(conn)`
///   says up to which version the old runner applied (its own table); those
///   are recorded as applied without running them, then the rest run.
/// - Everything pending runs in one transaction with its history rows (the
///   DDL of both backends is transactional): a crash leaves the store at the
///   old version or the new, never between.
///
/// Two processes migrating one SQLite file at once: the second's
/// transaction fails on the tables the first created; it then finds the
/// store up to date and goes on. PostgreSQL callers hold an advisory lock.
pub fn migrate<C: refinery::Migrate>(
    conn: &mut C,
    runner: fn() -> Runner,
    legacy: impl FnOnce(&mut C) -> Result<i32, String>,
) -> Result<Vec<i32>, String> {
    let known = known_versions(&runner());
    let last = known.last().copied().unwrap_or(0);
    conn.assert_migrations_table(HISTORY)
        .map_err(|e| format!("migration history: {e}"))?;
    let applied = applied_versions(conn)?;
    if let Some(v) = applied.iter().find(|v| !known.contains(v)) {
        return Err(newer(*v, last));
    }
    if applied.is_empty() {
        let old = legacy(conn)?;
        if old > last {
            return Err(newer(old, last));
        }
        if old > 0 {
            adopt(conn, runner, old)?;
        }
    }
    if let Err(e) = runner().set_grouped(true).run(conn) {
        // Another process may have applied the same migrations meanwhile.
        if applied_versions(conn).ok().as_ref() != Some(&known) {
            return Err(format!("migration failed: {e}"));
        }
    }
    applied_versions(conn)
}

/// Records versions 1..=`old` as applied without running them: the old
/// runner did.
fn adopt<C: refinery::Migrate>(
    conn: &mut C,
    runner: fn() -> Runner,
    old: i32,
) -> Result<(), String> {
    runner()
        .set_grouped(true)
        .set_target(refinery::Target::FakeVersion(old))
        .run(conn)
        .map(|_| ())
        .map_err(|e| format!("recording the {old} migrations of the old runner: {e}"))
}

/// The versions in the history, ascending.
pub fn applied_versions<C: refinery::Migrate>(conn: &mut C) -> Result<Vec<i32>, String> {
    let mut v: Vec<i32> = conn
        .get_applied_migrations(HISTORY)
        .map_err(|e| format!("migration history: {e}"))?
        .iter()
        .map(|m| m.version())
        .collect();
    v.sort_unstable();
    Ok(v)
}

fn newer(version: i32, last: i32) -> String {
    format!(
        "the database has schema version {version}, newer than this gateway knows ({last}): \
         use a newer zio-gateway"
    )
}
