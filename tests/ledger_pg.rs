//! The ledger on PostgreSQL: the shared behaviour, the worked example, and
//! two connections (two gateway instances) recording the same messages at
//! the same time. Needs a PostgreSQL: ZIO_TEST_PG_URL, else one started by
//! scripts/pg-test-server.sh; without either each test prints
//! "SKIPPED: no PostgreSQL" and returns.

mod ledger_support;

use ledger_support::*;
use zio_gateway::model::verdict::LineVerdict;
use zio_gateway::sinks::ledger::{LedgerStore, RecordSummary, RecordedMessage};

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
