//! The ledger on PostgreSQL: the shared behaviour, the worked example, and
//! two connections (two gateway instances) recording the same messages at
//! the same time. Needs a PostgreSQL: ZIO_TEST_PG_URL, else one started by
//! scripts/pg-test-server.sh; without either each test prints
//! "SKIPPED: no PostgreSQL" and returns.

mod ledger_support;

use ledger_support::*;
use zio_gateway::model::verdict::LineVerdict;
use zio_gateway::sinks::ledger::postgres::PgLedger;
use zio_gateway::sinks::ledger::{CheckReads, LedgerStore, RecordSummary, RecordedMessage};
use zio_gateway::sinks::store::schema;

type Batch = Vec<(RecordedMessage, Vec<LineVerdict>)>;

#[test]
fn replay_records_nothing_twice_pg() {
    let Some(store) = pg_ledger("replay") else {
        return;
    };
    replay_records_nothing_twice(&store);
}

#[test]
fn rejected_lines_are_not_recorded_pg() {
    let Some(store) = pg_ledger("rejected") else {
        return;
    };
    rejected_lines_are_not_recorded(&store);
}

#[test]
fn credits_cancel_once_pg() {
    let Some(store) = pg_ledger("credits") else {
        return;
    };
    credits_cancel_once(&store);
}

#[test]
fn agreements_round_trip_pg() {
    let Some(store) = pg_ledger("agreements") else {
        return;
    };
    agreements_round_trip(&store);
}

#[test]
fn worked_example_to_the_cent_pg() {
    let Some(store) = pg_ledger("example") else {
        return;
    };
    assert_eq!(store.backend(), "postgres");
    let store: std::sync::Arc<dyn LedgerStore> = std::sync::Arc::new(store);
    let config = run_example(&store);
    assert_example_report(&*store, &config);
}

#[test]
fn herschikking_status_refusal_override_history_pg() {
    let Some(store) = pg_ledger("herschikking") else {
        return;
    };
    let store: std::sync::Arc<dyn LedgerStore> = std::sync::Arc::new(store);
    herschikking_life(&store);
}

#[test]
fn evidence_scenario_to_the_cent_pg() {
    let Some(store) = pg_ledger("evidence") else {
        return;
    };
    let store: std::sync::Arc<dyn LedgerStore> = std::sync::Arc::new(store);
    evidence_scenario(&store);
}

#[test]
fn absence_scenario_to_the_unit_pg() {
    let Some(store) = pg_ledger("absence") else {
        return;
    };
    let store: std::sync::Arc<dyn LedgerStore> = std::sync::Arc::new(store);
    absence_scenario(&store);
}

#[test]
fn migrations_run_once() {
    let Some(_store) = pg_ledger("migrate") else {
        return;
    };
    // A second and third gateway on the same ledger find it migrated.
    let again = pg_ledger_again("migrate");
    let _third = pg_ledger_again("migrate");
    assert!(again.stored_agreements(None).unwrap().is_empty());
}

/// A fresh schema name for a migration test, dropped first.
fn fresh_schema(url: &str, test: &str) -> String {
    let schema = format!("t_{}_{}", test, std::process::id());
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .unwrap();
    schema
}

fn history(url: &str, schema: &str) -> Vec<i32> {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.query(
        &format!("SELECT version FROM {schema}.refinery_schema_history ORDER BY version"),
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn pg_versions() -> Vec<i32> {
    schema::known_versions(&schema::postgres::migrations::runner())
}

/// Gateways starting together on a fresh database: each connects, the
/// migrations run once (each version recorded once, no "already exists").
#[test]
fn gateways_starting_together_migrate_once_pg() {
    let Some(url) = pg_url() else {
        return;
    };
    let schema = fresh_schema(&url, "together");
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| PgLedger::connect_in_schema(&url, Some(&schema)).map(|_| ())))
            .collect();
        for h in hs {
            h.join().unwrap().expect("every gateway starts");
        }
    });
    assert_eq!(history(&url, &schema), pg_versions());
}

/// A ledger the runner before refinery made (`ledger_schema_migrations`
/// = N) is adopted: 1..=N recorded as applied without running them again
/// (they would fail: their tables exist), the rest applied, data kept.
#[test]
fn a_ledger_of_the_old_runner_is_adopted_pg() {
    let Some(url) = pg_url() else {
        return;
    };
    // 6: the last migration the old runner had.
    for upto in [3, 6] {
        let schema = fresh_schema(&url, &format!("adopt{upto}"));
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.batch_execute(&format!(
            "CREATE SCHEMA {schema}; SET search_path TO {schema};
             CREATE TABLE ledger_schema_migrations (
                 version INTEGER PRIMARY KEY,
                 name TEXT NOT NULL,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )"
        ))
        .unwrap();
        let runner = schema::postgres::migrations::runner();
        let mut ms: Vec<_> = runner.get_migrations().iter().collect();
        ms.sort_by_key(|m| m.version());
        for m in ms.into_iter().filter(|m| m.version() <= upto) {
            c.batch_execute(m.sql().unwrap()).unwrap();
            c.execute(
                "INSERT INTO ledger_schema_migrations (version, name) VALUES ($1, $2)",
                &[&m.version(), &m.name().replace('_', " ")],
            )
            .unwrap();
        }
        c.batch_execute(
            "INSERT INTO ledger_agreement (agb, zorgkantoor, year, herschikking_cents, source) \
             VALUES ('12345678', '5509', 2024, 100, 'old')",
        )
        .unwrap();
        let ledger = PgLedger::connect_in_schema(&url, Some(&schema)).expect("adopted");
        assert_eq!(history(&url, &schema), pg_versions(), "from {upto}");
        assert_eq!(ledger.stored_agreements(None).unwrap().len(), 1);
        // The absence table (6) exists whichever runner made it.
        assert!(ledger.absence(2024).unwrap().is_empty());
        drop(ledger);
        PgLedger::connect_in_schema(&url, Some(&schema)).expect("again");
        assert_eq!(history(&url, &schema), pg_versions());
    }
}

/// A ledger migrated by a newer gateway (a version this binary lacks) is
/// refused at start with a clear error, in refinery's history or the old
/// runner's table.
#[test]
fn a_newer_ledger_is_refused_pg() {
    let Some(url) = pg_url() else {
        return;
    };
    let schema = fresh_schema(&url, "newer");
    PgLedger::connect_in_schema(&url, Some(&schema)).unwrap();
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "INSERT INTO {schema}.refinery_schema_history (version, name, applied_on, checksum) \
         VALUES (999, 'future', '2030-01-01T00:00:00Z', '1')"
    ))
    .unwrap();
    let e = PgLedger::connect_in_schema(&url, Some(&schema))
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("schema version 999, newer"), "{e}");

    let schema = fresh_schema(&url, "newer_old");
    c.batch_execute(&format!(
        "CREATE SCHEMA {schema};
         CREATE TABLE {schema}.ledger_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL);
         INSERT INTO {schema}.ledger_schema_migrations VALUES (999, 'future')"
    ))
    .unwrap();
    let e = PgLedger::connect_in_schema(&url, Some(&schema))
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("schema version 999, newer"), "{e}");
}

/// Two gateway instances, each with its own connection, record the same
/// messages at the same time: the same ids, the same lines under other ids,
/// and two different credits of the same lines. Each line ends up once and
/// each credited line is cancelled once.
#[test]
fn two_instances_record_each_line_once_pg() {
    let Some(a) = pg_ledger("concurrent") else {
        return;
    };
    let b = pg_ledger_again("concurrent");
    const MESSAGES: usize = 20;
    const LINES: usize = 25;
    let debets: Batch = (0..MESSAGES)
        .map(|m| {
            let lines: Vec<_> = (0..LINES)
                .map(|i| zio_line(&format!("M{m}L{i}"), "2024-03-04", 1, None))
                .collect();
            (message("11110001", &format!("MSG{m}")), lines)
        })
        .collect();
    // Each instance credits every line of the first 5 messages, under its
    // own credit references: only one credit per line may win.
    let credits = |tag: &str| -> Batch {
        (0..5)
            .map(|m| {
                let lines: Vec<_> = (0..LINES)
                    .map(|i| {
                        zio_line(
                            &format!("C{tag}{m}L{i}"),
                            "2024-03-04",
                            1,
                            Some(&format!("M{m}L{i}")),
                        )
                    })
                    .collect();
                (message("11110001", &format!("CR{tag}{m}")), lines)
            })
            .collect()
    };
    let (credits_a, credits_b) = (credits("A"), credits("B"));
    let run = |store: &dyn LedgerStore, rename: bool, credits: &Batch| -> RecordSummary {
        let mut total = RecordSummary::default();
        let mut add = |s: RecordSummary| {
            total.inserted += s.inserted;
            total.duplicates += s.duplicates;
            total.credits_applied += s.credits_applied;
            total.credits_void += s.credits_void;
        };
        for (msg, lines) in &debets {
            let mut msg = msg.clone();
            if rename {
                msg.identificatie = rf(&format!("{}-B", msg.identificatie));
            }
            add(record_retrying(store, &msg, lines));
        }
        for (msg, lines) in credits {
            add(record_retrying(store, msg, lines));
        }
        total
    };
    // The same message ids from both first, then other ids.
    let (x, y) = std::thread::scope(|s| {
        let x = s.spawn(|| run(&a, false, &credits_a));
        let y = s.spawn(|| run(&b, false, &credits_b));
        (x.join().unwrap(), y.join().unwrap())
    });
    let (x2, y2) = std::thread::scope(|s| {
        let x = s.spawn(|| run(&a, true, &Vec::new()));
        let y = s.spawn(|| run(&b, true, &Vec::new()));
        (x.join().unwrap(), y.join().unwrap())
    });
    let debet_lines = (MESSAGES * LINES) as u64;
    let credited = (5 * LINES) as u64;
    assert_eq!(x.credits_applied + y.credits_applied, credited);
    assert_eq!(x.credits_void + y.credits_void, credited);
    assert_eq!(x.inserted + y.inserted, debet_lines + credited);
    assert_eq!(x2.inserted + y2.inserted, 0);
    let lines = a.lines_of(&agb("11110001")).unwrap();
    assert_eq!(lines.len() as u64, debet_lines + credited);
    let mut refs: Vec<_> = lines.iter().map(|l| l.referentie.as_str()).collect();
    refs.sort();
    refs.dedup();
    assert_eq!(refs.len(), lines.len());
    assert_eq!(
        lines.iter().filter(|l| l.credited_by.is_some()).count() as u64,
        credited
    );
    // Net volume: every debet line an hour, the credited ones cancelled once.
    let net = a
        .declared_base_volume(&agb("11110001"), &zk("5509"), 2024, &code("H307"))
        .unwrap();
    assert_eq!(net, ((debet_lines - credited) * 60) as i64);
}

/// What `record_outcome` does for a deadlock between two instances: try
/// again (the lines come from a slice here, not a spool).
fn record_retrying(
    store: &dyn LedgerStore,
    msg: &RecordedMessage,
    lines: &[LineVerdict],
) -> RecordSummary {
    for _ in 0..10 {
        let mut it = lines.iter().cloned().map(Ok);
        match store.record_message(msg, &mut it) {
            Err(zio_gateway::sinks::ledger::LedgerError::Retry(_)) => continue,
            other => return other.unwrap(),
        }
    }
    panic!("still conflicting after 10 tries");
}

#[test]
fn group_commit_records_each_once_pg() {
    let Some(store) = pg_ledger("group") else {
        return;
    };
    group_commit_records_each_once(std::sync::Arc::new(store));
}

#[test]
fn group_commit_marks_deliveries_pg() {
    let Some(store) = pg_ledger("marks") else {
        return;
    };
    group_commit_marks_deliveries(std::sync::Arc::new(store));
}

#[test]
fn unleased_rows_are_due_again_pg() {
    let Some(store) = pg_ledger("unlease") else {
        return;
    };
    unleased_rows_are_due_again(&store);
}

#[test]
fn failed_job_rolls_back_its_batch_pg() {
    let Some(store) = pg_ledger("batchfail") else {
        return;
    };
    failed_job_rolls_back_its_batch(&store);
}
