//! Shared by the ledger tests: the behaviour every backend must show, run
//! against SQLite (tests/ledger_sqlite.rs) and PostgreSQL
//! (tests/ledger_pg.rs), the worked example of conformance/ledger/, and
//! finding a PostgreSQL to test against.

#![allow(dead_code)]

use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::OnceLock;
use zio_gateway::check::Outcome;
use zio_gateway::config::Config;
use zio_gateway::model::declaration::Prestatie;
use zio_gateway::model::verdict::Verwerking;
use zio_gateway::model::verdict::{LineVerdict, Route};
use zio_gateway::pipeline::{Arrival, Backends, Disposition, Pipeline};
use zio_gateway::sinks::ledger::agreements::apply_stored_agreements;
use zio_gateway::sinks::ledger::postgres::PgLedger;
use zio_gateway::sinks::ledger::{
    import_agreements, LedgerReport, LedgerStore, OnderwijstijdReport, RecordSummary,
    RecordedMessage,
};
use zio_gateway::types::{
    parse_datum, AgbCode, Brin, Bsn, DebetCredit, Eenheid, Period, ProductCode, Referentie,
    ZorgkantoorCode,
};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---- PostgreSQL -------------------------------------------------------------

/// The PostgreSQL to test against: `ZIO_TEST_PG_URL`, else a throwaway
/// server from scripts/pg-test-server.sh (stopped by its watchdog when this
/// test process ends); `None` when neither works.
pub fn pg_url() -> Option<String> {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(u) = std::env::var("ZIO_TEST_PG_URL") {
            if !u.is_empty() {
                return Some(u);
            }
        }
        let out = std::process::Command::new("bash")
            .arg(root().join("scripts/pg-test-server.sh"))
            .arg("start")
            .env("ZIO_PG_OWNER_PID", std::process::id().to_string())
            .stderr(std::process::Stdio::inherit())
            .output()
            .ok()?;
        let url = String::from_utf8(out.stdout).ok()?.trim().to_owned();
        (out.status.success() && !url.is_empty()).then_some(url)
    })
    .clone()
}

/// A fresh PostgreSQL ledger in its own schema; `None` (after printing
/// "SKIPPED: no PostgreSQL") when there is no PostgreSQL.
pub fn pg_ledger(test: &str) -> Option<PgLedger> {
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
    Some(PgLedger::connect_in_schema(&url, Some(&schema)).expect("pg ledger"))
}

/// A second connection to the same ledger as `pg_ledger(test)`.
pub fn pg_ledger_again(test: &str) -> PgLedger {
    let url = pg_url().expect("pg_ledger first");
    PgLedger::connect_in_schema(&url, Some(&pg_schema(test))).expect("pg ledger")
}

fn pg_schema(test: &str) -> String {
    format!("t_{}_{}", test, std::process::id())
}

// ---- lines made by hand -----------------------------------------------------

pub fn agb(s: &str) -> AgbCode {
    AgbCode::parse(s).unwrap()
}
pub fn zk(s: &str) -> ZorgkantoorCode {
    ZorgkantoorCode::parse(s).unwrap()
}
pub fn code(s: &str) -> ProductCode {
    ProductCode::parse(s).unwrap()
}
pub fn rf(s: &str) -> Referentie {
    Referentie::parse(s).unwrap()
}
pub fn day(s: &str) -> zio_gateway::types::Datum {
    parse_datum(s).unwrap()
}

pub fn message(provider: &str, id: &str) -> RecordedMessage {
    RecordedMessage {
        agb: agb(provider),
        zorgkantoor: zk("5509"),
        identificatie: rf(id),
        dagtekening: day("2024-04-01"),
        received: day("2024-04-02"),
        receipt: Default::default(),
    }
}

/// An accepted H307 line of `hours` hours (76.50 an hour) on `date`, or a
/// credit of `credit_of` with the same volume and amount.
pub fn zio_line(r: &str, date: &str, hours: u64, credit_of: Option<&str>) -> LineVerdict {
    verdict(r, "H307", date, hours, Eenheid::Uur, credit_of, Route::Zio)
}

pub fn verdict(
    r: &str,
    product: &str,
    date: &str,
    volume: u64,
    eenheid: Eenheid,
    credit_of: Option<&str>,
    route: Route,
) -> LineVerdict {
    let d = day(date);
    let tarief = if eenheid == Eenheid::Dagdeel {
        6120
    } else {
        7650
    };
    let bedrag = match eenheid {
        Eenheid::Minuut => (volume * tarief + 30) / 60,
        _ => volume * tarief,
    };
    LineVerdict {
        client_index: 1,
        bsn: Bsn::parse("123456782").unwrap(),
        geboortedatum: day("2012-05-01"),
        besluitnummer: 4100001,
        prestatie: Prestatie {
            referentie: rf(r),
            vorig_referentie: credit_of.map(rf),
            product: code(product),
            periode: Period::new(d, d),
            volume,
            eenheid,
            tarief,
            bedrag,
            debet_credit: if credit_of.is_some() {
                DebetCredit::Credit
            } else {
                DebetCredit::Debet
            },
            onderwijstijd: Some(true),
            brin: Some(Brin::parse("12AB").unwrap()),
        },
        route,
        product_code: code(product),
        oorspronkelijke_product_code: None,
        codes: Vec::new(),
    }
}

pub fn record(
    store: &dyn LedgerStore,
    msg: &RecordedMessage,
    lines: &[LineVerdict],
) -> RecordSummary {
    let mut it = lines.iter().cloned().map(Ok);
    store.record_message(msg, &mut it).expect("record")
}

// ---- behaviour every backend shows -----------------------------------------

/// A replayed message records nothing; a line already recorded under another
/// message id is not recorded twice; 0106 knows the message.
pub fn replay_records_nothing_twice(store: &dyn LedgerStore) {
    let p = "11110001";
    let lines = vec![
        zio_line("A1", "2024-03-04", 2, None),
        zio_line("A2", "2024-03-05", 3, None),
    ];
    let m1 = message(p, "M1");
    assert!(!store.message_processed(&agb(p), &rf("M1")).unwrap());
    let s = record(store, &m1, &lines);
    assert_eq!(
        (s.inserted, s.duplicates, s.already_processed),
        (2, 0, false)
    );
    assert!(store.message_processed(&agb(p), &rf("M1")).unwrap());
    // The same message again: nothing.
    let s = record(store, &m1, &lines);
    assert!(s.already_processed);
    assert_eq!(s.inserted, 0);
    // The same lines under a new id: the id is recorded, the lines are not.
    let mut more = lines.clone();
    more.push(zio_line("A3", "2024-03-06", 1, None));
    let s = record(store, &message(p, "M2"), &more);
    assert_eq!(
        (s.inserted, s.duplicates, s.already_processed),
        (1, 2, false)
    );
    assert!(store.message_processed(&agb(p), &rf("M2")).unwrap());
    assert_eq!(store.lines_of(&agb(p)).unwrap().len(), 3);
    // References are per provider.
    let s = record(store, &message("11110002", "M1"), &lines);
    assert_eq!(s.inserted, 2);
    assert_eq!(
        store
            .declared_base_volume(&agb(p), &zk("5509"), 2024, &code("H307"))
            .unwrap(),
        6 * 60
    );
}

/// Rejected verdicts are not recorded, but the message id is.
pub fn rejected_lines_are_not_recorded(store: &dyn LedgerStore) {
    let p = "11110001";
    let mut bad = zio_line("B1", "2024-03-04", 2, None);
    bad.route = Route::Afgewezen;
    let s = record(store, &message(p, "ALL-REJECTED"), &[bad]);
    assert_eq!(s.inserted, 0);
    assert!(store
        .message_processed(&agb(p), &rf("ALL-REJECTED"))
        .unwrap());
    assert_eq!(store.prior_line(&agb(p), &rf("B1")).unwrap(), None);
}

/// A credit cancels the line it names, once; credits and minutes count
/// exactly in the declared volume.
pub fn credits_cancel_once(store: &dyn LedgerStore) {
    use zio_gateway::rules::history::PriorLine;
    let p = "11110001";
    let s = record(
        store,
        &message(p, "D1"),
        &[
            zio_line("L1", "2024-03-04", 4, None),
            verdict(
                "L2",
                "H307",
                "2024-03-05",
                50,
                Eenheid::Minuut,
                None,
                Route::Zio,
            ),
            verdict(
                "L3",
                "H308",
                "2024-03-05",
                3,
                Eenheid::Dagdeel,
                None,
                Route::Zio,
            ),
        ],
    );
    assert_eq!(s.inserted, 3);
    assert_eq!(
        store.prior_line(&agb(p), &rf("L1")).unwrap(),
        Some(PriorLine::Open)
    );
    // Two credits of L1 in one message: the second finds it cancelled.
    let s = record(
        store,
        &message(p, "C1"),
        &[
            zio_line("K1", "2024-03-04", 4, Some("L1")),
            zio_line("K2", "2024-03-04", 4, Some("L1")),
        ],
    );
    assert_eq!((s.inserted, s.credits_applied, s.credits_void), (1, 1, 1));
    assert_eq!(
        store.prior_line(&agb(p), &rf("L1")).unwrap(),
        Some(PriorLine::Credited)
    );
    assert_eq!(store.prior_line(&agb(p), &rf("K2")).unwrap(), None);
    // A credit of a line that is not in the ledger is not recorded either.
    let s = record(
        store,
        &message(p, "C2"),
        &[zio_line("K3", "2024-03-04", 4, Some("NOPE"))],
    );
    assert_eq!((s.inserted, s.credits_void), (0, 1));
    // 4 h + 50 min - 4 h = 50 minutes; dagdelen apart.
    let h307 = store
        .declared_base_volume(&agb(p), &zk("5509"), 2024, &code("H307"))
        .unwrap();
    assert_eq!(h307, 50);
    let h308 = store
        .declared_base_volume(&agb(p), &zk("5509"), 2024, &code("H308"))
        .unwrap();
    assert_eq!(h308, 3);
    let lines = store.lines_of(&agb(p)).unwrap();
    let l1 = lines
        .iter()
        .find(|l| l.referentie.as_str() == "L1")
        .unwrap();
    assert_eq!(l1.credited_by.as_ref().map(|r| r.as_str()), Some("K1"));
    let k1 = lines
        .iter()
        .find(|l| l.referentie.as_str() == "K1")
        .unwrap();
    assert_eq!((k1.bedrag_signed, k1.base_volume), (-30600, -240));
    // Realisatie: 30600 + 6375 (50 min x 76.50) + 18360 - 30600.
    let b = store.realisatie(2024).unwrap();
    assert_eq!(b, vec![(agb(p), zk("5509"), 6375 + 18360)]);
}

/// Agreements: stored ones replace configured ones for the same key, whole.
pub fn agreements_round_trip(store: &dyn LedgerStore) {
    use zio_gateway::model::regime::Agreement;
    let a = Agreement {
        agb: agb("11110001"),
        zorgkantoor: zk("5509"),
        year: 2024,
        herschikking_cents: 123456,
        volumes: [(code("H307"), 10), (code("H308"), 5)]
            .into_iter()
            .collect(),
        prices_cents: [(code("H307"), 7650)].into_iter().collect(),
    };
    store.put_agreement(&a, "test").unwrap();
    let mut b = a.clone();
    b.year = 2025;
    store.put_agreement(&b, "test").unwrap();
    let dbg = |v: Vec<Agreement>| format!("{v:?}");
    assert_eq!(
        dbg(store.stored_agreements(Some(2024)).unwrap()),
        dbg(vec![a.clone()])
    );
    assert_eq!(store.stored_agreements(None).unwrap().len(), 2);
    // Replacing drops codes that are no longer there.
    let mut c = a.clone();
    c.volumes.remove(&code("H308"));
    c.herschikking_cents = 1;
    store.put_agreement(&c, "test").unwrap();
    assert_eq!(
        dbg(store.stored_agreements(Some(2024)).unwrap()),
        dbg(vec![c])
    );
}

// ---- the worked example (conformance/ledger) --------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub description: String,
    pub config: String,
    #[serde(default)]
    pub import: Vec<String>,
    /// Absence uploads, registered after the messages (ledger-absence).
    #[serde(default)]
    pub absence: Vec<String>,
    pub message: Vec<ExampleMessage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExampleMessage {
    pub file: String,
    pub today: String,
    pub verwerking: String,
    #[serde(default)]
    pub message_codes: Vec<String>,
    #[serde(default)]
    pub line_codes: BTreeMap<String, Vec<String>>,
    pub recorded: u64,
}

pub fn example_dir() -> PathBuf {
    root().join("conformance/ledger")
}

fn verwerking(v: Verwerking) -> &'static str {
    v.as_str()
}

/// Checks one message against the ledger and records it, through the
/// pipeline as `check --record` does.
pub fn check_and_record(
    store: Arc<dyn LedgerStore>,
    config: &Config,
    path: &Path,
    today: &str,
) -> (Outcome, RecordSummary) {
    let backends = Backends {
        ledger: Some(store),
        registry: None,
    };
    let pipeline = Pipeline::new(Arc::new(config.clone()), backends);
    let arrival = Arrival {
        today: day(today),
        authenticated: None,
        disposition: Disposition::Process,
    };
    let file = std::fs::File::open(path).unwrap();
    let p = pipeline.process(BufReader::new(file), &arrival).unwrap();
    (p.outcome, p.recorded.unwrap_or_default())
}

/// Runs the whole worked example into `store` and returns the configuration
/// (with the imported agreements applied).
pub fn run_example(shared: &Arc<dyn LedgerStore>) -> Config {
    run_scenario(shared, &example_dir())
}

/// Runs the messages of a ledger scenario directory (`case.toml`) into
/// `store` and returns the configuration (imported agreements applied).
pub fn run_scenario(shared: &Arc<dyn LedgerStore>, dir: &Path) -> Config {
    let store = &**shared;
    let ex: Example =
        toml::from_str(&std::fs::read_to_string(dir.join("case.toml")).unwrap()).unwrap();
    let mut config = Config::load_file(&dir.join(&ex.config)).unwrap();
    for f in &ex.import {
        import_agreements(store, &dir.join(f), &config.regime).unwrap();
    }
    apply_stored_agreements(&mut config.regime, store).unwrap();
    for m in &ex.message {
        let (mut outcome, summary) =
            check_and_record(shared.clone(), &config, &dir.join(&m.file), &m.today);
        let what = &m.file;
        assert_eq!(verwerking(outcome.verwerking()), m.verwerking, "{what}");
        let mut got: Vec<String> = outcome
            .message_codes
            .iter()
            .map(|c| c.code.code().to_owned())
            .collect();
        got.sort();
        assert_eq!(got, m.message_codes, "{what}: message codes");
        let mut lines = BTreeMap::new();
        for v in outcome.lines.iter().unwrap() {
            let v = v.unwrap();
            if !v.codes.is_empty() {
                let codes: Vec<String> = v.codes.iter().map(|c| c.code().to_owned()).collect();
                lines.insert(v.prestatie.referentie.as_str().to_owned(), codes);
            }
        }
        if !outcome.rejected_whole() {
            assert_eq!(lines, m.line_codes, "{what}: line codes");
        }
        assert_eq!(summary.inserted, m.recorded, "{what}: recorded");
        assert_eq!(summary.duplicates, 0, "{what}");
    }
    config
}

/// The hand-computed figures of conformance/ledger/README.md.
pub fn assert_example_report(store: &dyn LedgerStore, config: &Config) {
    let r = LedgerReport::build(store, &config.regime, 2024).unwrap();
    let n: Vec<(&str, i64, i64, i64)> = r
        .nacalculatie
        .iter()
        .map(|x| {
            (
                x.agb.as_str(),
                x.herschikking_cents,
                x.realisatie_cents,
                x.budgetgarantie_cents,
            )
        })
        .collect();
    // 11110001: B = debet 654075 - credit 68850 = 585225; A - B = 424575.
    // 11110002: B = debet 298350 - credit 91800 = 206550 > A = 153000: 0.
    // 11110003: A from the import (500000), nothing declared.
    assert_eq!(
        n,
        vec![
            ("11110001", 1_009_800, 585_225, 424_575),
            ("11110002", 153_000, 206_550, 0),
            ("11110003", 500_000, 0, 500_000),
        ]
    );
    // The JSON form, exactly as expected-2024.json (the nacalculatie section).
    let mut json = Vec::new();
    r.write_json(&mut json).unwrap();
    let got: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(example_dir().join("expected-2024.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(got["year"], want["year"]);
    assert_eq!(got["nacalculatie"], want["nacalculatie"]);
    assert_eq!(
        got["totaal_budgetgarantie_cents"],
        want["totaal_budgetgarantie_cents"]
    );
    assert_eq!(got["per_aanbieder"], want["per_aanbieder"]);

    // One line per row: agb code agreed declared verschil percent pupils lines amount.
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    let v: Vec<String> = r
        .volumes
        .iter()
        .map(|x| {
            format!(
                "{} {} {} {} {} {} {} {} {}",
                x.agb,
                x.code,
                opt(&x.agreed),
                x.declared,
                opt(&x.verschil),
                opt(&x.verschil_percent),
                x.pupils,
                x.lines,
                x.amount_cents
            )
        })
        .collect();
    assert_eq!(
        v,
        [
            // 10 + 10 (600 min) + 20 + 1.5 (90 min) + 15 + 5 - 5 + 12 = 68.5 h
            "11110001 H307 100 68.50 31.50 31.50 2 6 524025",
            // 5 - 5 + 10 dagdelen
            "11110001 H308 40 10 30 75.00 1 1 61200",
            // 12 + 8 + 4 - 12 + 10 + 5 (300 min) = 27 h
            "11110002 H307 20 27.00 -7.00 -35.00 3 4 206550",
            "11110003 H309 50 0 50 100.00 0 0 0",
        ]
    );
    // agb code brin month declared pupils lines amount
    let cells = |rows: &[zio_gateway::sinks::ledger::report::VolumeCellRow]| -> Vec<String> {
        rows.iter()
            .map(|x| {
                format!(
                    "{} {} {} {} {} {} {} {}",
                    x.agb,
                    x.code,
                    opt(&x.brin),
                    x.month,
                    x.declared,
                    x.pupils,
                    x.lines,
                    x.amount_cents
                )
            })
            .collect()
    };
    assert_eq!(
        cells(&r.volumes_by_school_month),
        [
            "11110001 H307 12AB 2024-01 10.00 1 1 76500",
            "11110001 H307 12AB 2024-02 20.00 1 1 153000",
            "11110001 H307 12AB 2024-03 15.00 1 1 114750",
            "11110001 H307 34CD 2024-01 10.00 1 1 76500",
            "11110001 H307 34CD 2024-02 1.50 1 1 11475",
            "11110001 H307 34CD 2024-09 12.00 1 1 91800",
            "11110001 H308 12AB 2024-01 0 0 0 0",
            "11110001 H308 12AB 2024-03 10 1 1 61200",
            "11110002 H307 56EF 2024-03 12.00 1 2 91800",
            "11110002 H307 56EF 2024-05 15.00 2 2 114750",
        ]
    );
    assert_eq!(
        cells(&r.regular_in_school_time),
        ["11110001 H300 34CD 2024-01 2.00 1 1 15300"]
    );

    // 2023: only the December line of 11110001.
    let r = LedgerReport::build(store, &config.regime, 2023).unwrap();
    let mut json = Vec::new();
    r.write_json(&mut json).unwrap();
    let got: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(example_dir().join("expected-2023.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(got["nacalculatie"], want["nacalculatie"]);
    assert_eq!(got["per_aanbieder"], want["per_aanbieder"]);

    // School year 2023/2024 (1 August 2023 to 31 July 2024): the December
    // 2023 line counts, the September 2024 one does not.
    assert_onderwijstijd(store, config, &example_dir(), 2023);
}

/// The school-time report of `schooljaar` equals the scenario's
/// `expected-onderwijstijd-<schooljaar>.json`.
pub fn assert_onderwijstijd(store: &dyn LedgerStore, config: &Config, dir: &Path, schooljaar: i32) {
    let r = OnderwijstijdReport::build(store, &config.regime, schooljaar).unwrap();
    let mut json = Vec::new();
    r.write_json(&mut json).unwrap();
    let got: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let file = dir.join(format!("expected-onderwijstijd-{schooljaar}.json"));
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(got, want, "{}", file.display());
}

pub fn evidence_dir() -> PathBuf {
    root().join("conformance/ledger-evidence")
}

/// conformance/ledger-evidence: every message, then the nacalculatie of 2025
/// and the school years 2024/2025 and 2025/2026, exactly as expected.
pub fn evidence_scenario(shared: &Arc<dyn LedgerStore>) {
    let dir = evidence_dir();
    let config = run_scenario(shared, &dir);
    let store = &**shared;
    let r = LedgerReport::build(store, &config.regime, 2025).unwrap();
    let mut json = Vec::new();
    r.write_json(&mut json).unwrap();
    let got: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected-2025.json")).unwrap())
            .unwrap();
    for key in [
        "year",
        "nacalculatie",
        "totaal_budgetgarantie_cents",
        "per_aanbieder",
    ] {
        assert_eq!(got[key], want[key], "{key}");
    }
    assert_onderwijstijd(store, &config, &dir, 2024);
    assert_onderwijstijd(store, &config, &dir, 2025);
}

/// Group commit: many threads record at once through one writer; each
/// message is recorded once, a replay inside the same batch records nothing
/// and leaves the others standing, a kept answer comes back with its hash.
pub fn group_commit_records_each_once(store: Arc<dyn LedgerStore>) {
    use zio_gateway::sinks::ledger::{GroupCommit, Receipt, RecordJob};
    let p = "11110001";
    let group = Arc::new(GroupCommit::start(store.clone(), 64).unwrap());
    let threads: Vec<_> = (0..12)
        .map(|i| {
            let group = group.clone();
            std::thread::spawn(move || {
                // Threads 10 and 11 replay message 0 and 1.
                let n = if i >= 10 { i - 10 } else { i };
                let mut msg = message(p, &format!("G{n}"));
                msg.receipt = Receipt {
                    request_sha256: Some(format!("sha-{n}")),
                    verwerking: "Geaccepteerd".into(),
                    accepted_zio: 1,
                    answer: Some(format!("answer-{n}").into_bytes()),
                    ..Receipt::default()
                };
                let lines = vec![Ok(zio_line(&format!("G{n}-1"), "2024-03-04", 2, None))];
                group
                    .record(RecordJob {
                        msg,
                        plan: None,
                        lines: Box::new(lines.into_iter()),
                        alone: false,
                    })
                    .unwrap()
            })
        })
        .collect();
    let sums: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let recorded = sums.iter().filter(|s| s.inserted == 1).count();
    let replays = sums.iter().filter(|s| s.already_processed).count();
    assert_eq!((recorded, replays), (10, 2), "{sums:?}");
    assert_eq!(store.lines_of(&agb(p)).unwrap().len(), 10);
    let (sha, answer) = store.stored_answer(&agb(p), &rf("G3")).unwrap().unwrap();
    assert_eq!(sha.as_deref(), Some("sha-3"));
    assert_eq!(answer, b"answer-3");
    let status = store.message_status(&agb(p), &rf("G3")).unwrap().unwrap();
    assert_eq!(status.receipt.verwerking, "Geaccepteerd");
    assert_eq!(status.receipt.accepted_zio, 1);
    assert_eq!(status.lines_recorded, 1);
    assert!(store.message_status(&agb(p), &rf("G99")).unwrap().is_none());
    // Answers older than a moment are forgotten; the message is not.
    assert_eq!(store.purge_answers(i64::MAX).unwrap(), 10);
    assert!(store.stored_answer(&agb(p), &rf("G3")).unwrap().is_none());
    assert!(store.message_processed(&agb(p), &rf("G3")).unwrap());
    group.stop();
}

/// A batch whose one message fails (its lines cannot be read) records none
/// of the batch: the failing job gets its own error, the others are asked to
/// come again, and come again `alone`: then every job of their batch has a
/// savepoint of its own, and the failing one no longer takes them down.
pub fn failed_job_rolls_back_its_batch(store: &dyn LedgerStore) {
    use zio_gateway::sinks::ledger::{LedgerError, RecordJob};
    let p = "11110002";
    let job = |id: &str, alone: bool, broken: bool| {
        let mut lines: Vec<std::io::Result<_>> =
            vec![Ok(zio_line(&format!("{id}-1"), "2024-03-04", 2, None))];
        if broken {
            lines.push(Err(std::io::Error::other("spool unreadable")));
        }
        RecordJob {
            msg: message(p, id),
            plan: None,
            lines: Box::new(lines.into_iter()),
            alone,
        }
    };
    let is_retry = |r: &Result<_, LedgerError>| matches!(r, Err(LedgerError::Retry(_)));
    let recorded = |store: &dyn LedgerStore| {
        let mut refs: Vec<_> = store
            .lines_of(&agb(p))
            .unwrap()
            .into_iter()
            .map(|l| l.referentie.as_str().to_owned())
            .collect();
        refs.sort();
        refs
    };
    let mut batch = [
        job("F1", false, false),
        job("F2", false, true),
        job("F3", false, false),
    ];
    let r = store.record_batch(&mut batch, &[]).recorded;
    assert!(is_retry(&r[0]) && is_retry(&r[2]), "{r:?}");
    assert!(
        matches!(&r[1], Err(e) if !matches!(e, LedgerError::Retry(_))),
        "{r:?}"
    );
    assert!(recorded(store).is_empty());
    assert!(!store.message_processed(&agb(p), &rf("F1")).unwrap());

    // Sent again alone, beside the failing one and a newcomer.
    let mut batch = [
        job("F1", true, false),
        job("F2", false, true),
        job("F4", false, false),
        job("F3", true, false),
    ];
    let r = store.record_batch(&mut batch, &[]).recorded;
    let inserted = |i: usize| r[i].as_ref().map(|s| s.inserted).ok();
    assert_eq!(
        [inserted(0), inserted(2), inserted(3)],
        [Some(1); 3],
        "{r:?}"
    );
    assert!(r[1].is_err(), "{r:?}");
    assert_eq!(recorded(store), ["F1-1", "F3-1", "F4-1"]);

    // A batch where nothing fails records every job; a replay is found and
    // leaves the others standing.
    let mut batch = [
        job("F5", false, false),
        job("F1", false, false),
        job("F6", false, false),
    ];
    let r = store.record_batch(&mut batch, &[]).recorded;
    let r: Vec<_> = r.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        r.iter()
            .map(|s| (s.inserted, s.already_processed))
            .collect::<Vec<_>>(),
        [(1, false), (0, true), (1, false)]
    );
    assert_eq!(recorded(store), ["F1-1", "F3-1", "F4-1", "F5-1", "F6-1"]);
}

/// The life of a herschikking on the worked example: voorlopig, the refusal
/// to change a definitive figure, the override, the marks of both sides and
/// the history of who, when, old and new.
pub fn herschikking_life(shared: &Arc<dyn LedgerStore>) {
    use zio_gateway::sinks::ledger::herschikking::{
        make_definitief, mark_akkoord, states, Action, Side,
    };
    use zio_gateway::sinks::ledger::import_agreements_by;
    let store = &**shared;
    let config = run_example(shared);
    let regime = &config.regime;
    let row = |agb: &str| {
        let r = LedgerReport::build(store, regime, 2024).unwrap();
        r.nacalculatie.into_iter().find(|x| x.agb == agb).unwrap()
    };
    let key = (self::agb("11110001"), zk("5509"), 2024);
    assert_eq!(row("11110001").herschikking_status, "voorlopig");

    // While voorlopig an import changes A freely, and is kept.
    let dir = tempfile::tempdir().unwrap();
    let csv = |a: u64| {
        let p = dir.path().join(format!("a-{a}.csv"));
        std::fs::write(
            &p,
            format!("agb,zorgkantoor,year,herschikking_cents,code,volume,price_cents\n11110001,5509,2024,{a},H307,100,7650\n"),
        )
        .unwrap();
        p
    };
    import_agreements_by(store, &csv(1_100_000), regime, "zk-medewerker", None).unwrap();
    assert_eq!(row("11110001").herschikking_cents, 1_100_000);

    // Both sides agree; the report says so.
    mark_akkoord(store, regime, &key, Side::Aanbieder, "aanbieder", 10).unwrap();
    assert!(row("11110001").akkoord_aanbieder);
    assert!(!row("11110001").akkoord);
    mark_akkoord(store, regime, &key, Side::Zorgkantoor, "zorgkantoor", 11).unwrap();
    assert!(row("11110001").akkoord);

    // The explicit act: definitief; a second time is refused.
    make_definitief(store, regime, &key, "zk-teamleider", 12).unwrap();
    assert_eq!(row("11110001").herschikking_status, "definitief");
    assert!(make_definitief(store, regime, &key, "zk-teamleider", 13).is_err());

    // A change is now refused and changes nothing; the same figure is fine.
    let e =
        import_agreements_by(store, &csv(1_200_000), regime, "zk-medewerker", None).unwrap_err();
    assert!(e.to_string().contains("definitief"), "{e}");
    assert_eq!(row("11110001").herschikking_cents, 1_100_000);
    import_agreements_by(store, &csv(1_100_000), regime, "zk-medewerker", None).unwrap();
    assert!(
        row("11110001").akkoord,
        "an unchanged figure keeps the marks"
    );

    // The override changes it, and undoes both marks (A is not what they agreed).
    import_agreements_by(
        store,
        &csv(1_200_000),
        regime,
        "zk-teamleider",
        Some("NZa-besluit 12"),
    )
    .unwrap();
    let r = row("11110001");
    assert_eq!(r.herschikking_cents, 1_200_000);
    assert_eq!(r.herschikking_status, "definitief");
    assert!(!r.akkoord_aanbieder && !r.akkoord_zorgkantoor && !r.akkoord);
    // Another pair is untouched.
    assert_eq!(row("11110002").herschikking_status, "voorlopig");

    // The history: who, when, what, old and new.
    let h: Vec<(String, Action, Option<i64>, Option<i64>)> = store
        .herschikking_events(Some(2024))
        .unwrap()
        .into_iter()
        .filter(|e| e.agb.as_str() == "11110001")
        .map(|e| (e.actor, e.action, e.old_cents, e.new_cents))
        .collect();
    let s = |x: &str| x.to_owned();
    assert_eq!(
        h,
        vec![
            (
                s("zk-medewerker"),
                Action::Import,
                Some(1_009_800),
                Some(1_100_000)
            ),
            (
                s("aanbieder"),
                Action::AkkoordAanbieder,
                Some(1_100_000),
                Some(1_100_000)
            ),
            (
                s("zorgkantoor"),
                Action::AkkoordZorgkantoor,
                Some(1_100_000),
                Some(1_100_000)
            ),
            (
                s("zk-teamleider"),
                Action::Definitief,
                Some(1_100_000),
                Some(1_100_000)
            ),
            (
                s("zk-medewerker"),
                Action::Import,
                Some(1_100_000),
                Some(1_100_000)
            ),
            (
                s("zk-teamleider"),
                Action::Override,
                Some(1_100_000),
                Some(1_200_000)
            ),
        ]
    );
    let events = store.herschikking_events(Some(2024)).unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.reason.as_deref(), Some("NZa-besluit 12"));
    assert!(last.at_ms > 0);
    assert!(states(store, Some(2023)).unwrap().is_empty());
}

// ---- absence registration (conformance/ledger-absence) ----------------------

pub fn absence_dir() -> PathBuf {
    root().join("conformance/ledger-absence")
}

/// Registers one upload file of the scenario (JSON by extension).
pub fn upload(
    store: &dyn LedgerStore,
    config: &Config,
    file: &Path,
) -> Result<
    zio_gateway::sinks::ledger::absence::Registered,
    zio_gateway::sinks::ledger::absence::BadRow,
> {
    use zio_gateway::sinks::ledger::absence::{register, UploadFormat};
    let format = if file.extension().is_some_and(|e| e == "json") {
        UploadFormat::Json
    } else {
        UploadFormat::Csv
    };
    let bytes = std::fs::read(file).unwrap();
    register(store, &config.regime, &bytes, format, "test", 1).unwrap()
}

/// The absence report of `year` as JSON.
pub fn absence_json(store: &dyn LedgerStore, config: &Config, year: i32) -> serde_json::Value {
    use zio_gateway::sinks::ledger::absence_report::AbsenceReport;
    let r = AbsenceReport::build(store, &config.regime, year).unwrap();
    let mut json = Vec::new();
    r.write_json(&mut json).unwrap();
    serde_json::from_slice(&json).unwrap()
}

/// conformance/ledger-absence: the declarations, the two uploads, and the
/// report of 2024 exactly as worked out by hand; then each upload again
/// changes nothing (idempotent).
pub fn absence_scenario(shared: &Arc<dyn LedgerStore>) {
    let dir = absence_dir();
    let config = run_scenario(shared, &dir);
    let store = &**shared;
    let ex: Example =
        toml::from_str(&std::fs::read_to_string(dir.join("case.toml")).unwrap()).unwrap();
    let done: Vec<(u64, u64)> = ex
        .absence
        .iter()
        .map(|f| {
            let r = upload(store, &config, &dir.join(f)).unwrap();
            (r.rijen, r.gewijzigd)
        })
        .collect();
    // The first upload adds 6 rows; the second replaces one and removes one.
    assert_eq!(done, [(6, 6), (2, 2)]);
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("expected-absence-2024.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(absence_json(store, &config, 2024), want);
    // Stored exactly: minutes and dagdelen, the removed row gone.
    let rows: Vec<(String, String, u32, &str, i64)> = store
        .absence(2024)
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.agb.to_string(),
                r.bsn,
                r.month,
                r.soort.as_str(),
                r.base_volume,
            )
        })
        .collect();
    let s = |x: &str| x.to_owned();
    assert_eq!(
        rows,
        [
            (s("33330001"), s("123456782"), 1, "gepland", 240),
            (s("33330001"), s("123456782"), 2, "ongepland", 180),
            (s("33330001"), s("345678904"), 3, "ongepland", 45),
            (s("33330001"), s("234567892"), 2, "ongepland", 3),
            (s("33330002"), s("345678904"), 3, "gepland", 60),
        ]
    );

    // The same upload again: nothing changes, the report neither.
    let again = upload(store, &config, &dir.join("absence-2.json")).unwrap();
    assert_eq!((again.rijen, again.gewijzigd), (2, 0));
    assert_eq!(absence_json(store, &config, 2024), want);
    // Nothing registered for another year; the pupils of 2023 are A alone.
    let y2023 = absence_json(store, &config, 2023);
    assert_eq!(y2023["pupils_by_month"].as_array().unwrap().len(), 1);
    assert_eq!(y2023["pupils_by_month"][0]["pupils_starting"], 1);
    // A leaves in December 2023? No: January 2024 has a line.
    assert_eq!(y2023["pupils_by_month"][0]["pupils_leaving"], 0);

    absence_bad_rows(store, &config, &want);
}

/// Every reason a row is refused: answered with its row number (3: two
/// good rows come first, which would change the ledger) and nothing of the
/// upload is recorded.
fn absence_bad_rows(store: &dyn LedgerStore, config: &Config, want: &serde_json::Value) {
    use zio_gateway::sinks::ledger::absence::{register, UploadFormat};
    let good = "33330001,5509,123456782,12AB,H307,2024-04,gepland,1\n\
                33330001,5509,123456782,12AB,H307,2024-01,gepland,9\n";
    let cases: [(&str, &str); 16] = [
        ("3333000,5509,123456782,12AB,H307,2024-03,gepland,1", "agb"),
        (
            "33330001,55,123456782,12AB,H307,2024-03,gepland,1",
            "zorgkantoor",
        ),
        (
            "33330001,5509,123456789,12AB,H307,2024-03,gepland,1",
            "elfproef",
        ),
        (
            "33330001,5509,123456782,12ab,H307,2024-03,gepland,1",
            "brin",
        ),
        (
            "33330001,5509,123456782,12AB,H300,2024-03,gepland,1",
            "not a ZiO code",
        ),
        (
            "33330001,5509,123456782,12AB,H307,2024-3,gepland,1",
            "YYYY-MM",
        ),
        (
            "33330001,5509,123456782,12AB,H307,2025-09,gepland,1",
            "outside the window",
        ),
        (
            "33330002,5509,345678904,56EF,H307,2025-01,gepland,1",
            "not a participant",
        ),
        ("33330001,5509,123456782,12AB,H307,2024-03,ziek,1", "soort"),
        (
            "33330001,5509,123456782,12AB,H307,2024-03,gepland,-1",
            "volume",
        ),
        (
            "33330001,5509,123456782,12AB,H307,2024-03,gepland,1.234",
            "two decimals",
        ),
        (
            "33330001,5509,123456782,12AB,H307,2024-03,gepland,1.01",
            "whole number of minutes",
        ),
        (
            "33330001,5509,234567892,34CD,H308,2024-03,gepland,1.5",
            "dagdelen",
        ),
        (
            "33330001,5509,123456782,12AB,H307,2024-03,gepland",
            "columns",
        ),
        (
            "33330001,5509,123456782,12AB,H307,2024-04,gepland,2",
            "the same key as row 1",
        ),
        (
            "33330001,5509,123456782,12AB,H307,2024-03,gepland,1.0.0",
            "volume",
        ),
    ];
    for (row, reason) in cases {
        let body =
            format!("agb,zorgkantoor,bsn,brin,product_code,maand,soort,volume\n{good}{row}\n");
        let bad = register(
            store,
            &config.regime,
            body.as_bytes(),
            UploadFormat::Csv,
            "t",
            2,
        )
        .unwrap()
        .unwrap_err();
        assert_eq!(bad.rij, 3, "{row}: {bad}");
        assert!(bad.reason.contains(reason), "{row}: {bad}");
        assert_eq!(
            &absence_json(store, config, 2024),
            want,
            "{row}: half recorded"
        );
    }
    // JSON: a number instead of a string (a float would not be exact).
    let body = r#"[{"agb": "33330001", "zorgkantoor": "5509", "bsn": "123456782",
        "brin": "12AB", "product_code": "H307", "maand": "2024-04", "soort": "gepland",
        "volume": "1"},
        {"agb": "33330001", "zorgkantoor": "5509", "bsn": "123456782", "brin": "12AB",
        "product_code": "H307", "maand": "2024-05", "soort": "gepland", "volume": 1.5}]"#;
    let bad = register(
        store,
        &config.regime,
        body.as_bytes(),
        UploadFormat::Json,
        "t",
        2,
    )
    .unwrap()
    .unwrap_err();
    assert_eq!(bad.rij, 2, "{bad}");
    assert!(bad.reason.contains("must be a string"), "{bad}");
    // The whole upload: a wrong header, not JSON.
    for (body, format) in [
        ("bsn,agb\n1,2\n", UploadFormat::Csv),
        ("{\"agb\": 1}", UploadFormat::Json),
    ] {
        let bad = register(store, &config.regime, body.as_bytes(), format, "t", 2)
            .unwrap()
            .unwrap_err();
        assert_eq!(bad.rij, 0, "{bad}");
    }
    assert_eq!(&absence_json(store, config, 2024), want);
}

/// The delivery worker's outcomes ride the group writer's commit: rows
/// claimed under a lease are marked delivered once (a second mark, or one
/// under a lease another claim took over, marks nothing), a failed attempt
/// leaves its row pending until its next attempt, and a recording queued
/// beside them is committed as usual.
/// Both routes forwarded, due at `now`, no hand-over.
fn forward_plan(now: i64) -> zio_gateway::sinks::ledger::ForwardPlan {
    zio_gateway::sinks::ledger::ForwardPlan {
        periode: zio_gateway::types::Period::new(day("2024-03-01"), day("2024-03-31")),
        zio: true,
        regulier: true,
        now_ms: now,
        held_until_ms: now,
        holder: 1,
        hands_over: false,
    }
}

pub fn group_commit_marks_deliveries(store: Arc<dyn LedgerStore>) {
    use zio_gateway::sinks::ledger::{ClaimScope, GroupCommit, Outcomes, RecordJob, Retry};
    let p = "11110002";
    let group = Arc::new(GroupCommit::start(store.clone(), 64).unwrap());
    let now = 1_700_000_000_000;
    let plan = forward_plan(now);
    let record = |id: &str| {
        let lines = vec![Ok(zio_line(&format!("{id}-1"), "2024-03-04", 2, None))];
        group
            .record(RecordJob {
                msg: message(p, id),
                plan: Some(plan.clone()),
                lines: Box::new(lines.into_iter()),
                alone: false,
            })
            .unwrap()
    };
    assert_eq!(record("M1").outbox_rows, 1);
    assert_eq!(record("M2").outbox_rows, 1);
    let due = ClaimScope::Due { limit: 10 };
    let rows = store.outbox_claim(due, now, 60_000).unwrap();
    assert_eq!(rows.len(), 2);
    let leases: Vec<_> = rows.iter().filter_map(|r| r.lease()).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mark = |delivered: Vec<_>| {
        rt.block_on(group.conclude(Outcomes {
            delivered,
            retries: Vec::new(),
            at_ms: now + 5,
        }))
        .unwrap()
    };
    // M1's row only; then M1's again, and M2's under a lease a later claim
    // (after this one ran out) took over.
    assert_eq!(mark(vec![leases[0]]), 1);
    assert_eq!(mark(vec![leases[0]]), 0);
    let again = store.outbox_claim(due, now + 120_000, 60_000).unwrap();
    assert_eq!(again.len(), 1, "M2's row is due once its lease ran out");
    assert_eq!(mark(vec![leases[1]]), 0);
    assert_eq!(store.outbox_pending().unwrap(), 1);
    // M2's attempt under the new lease failed: pending, not due before its
    // next attempt, then due and delivered.
    let retry = Retry {
        lease: again[0].lease().unwrap(),
        next_attempt_ms: now + 200_000,
        error: "connection refused".into(),
    };
    let failed = Outcomes {
        delivered: Vec::new(),
        retries: vec![retry],
        at_ms: now + 120_005,
    };
    assert_eq!(rt.block_on(group.conclude(failed)).unwrap(), 1);
    let status = store.message_status(&agb(p), &rf("M2")).unwrap().unwrap();
    assert_eq!(status.forwarded[0].state, "pending");
    assert_eq!(status.forwarded[0].attempts, 1);
    assert_eq!(
        status.forwarded[0].last_error.as_deref(),
        Some("connection refused")
    );
    assert!(store
        .outbox_claim(due, now + 199_999, 60_000)
        .unwrap()
        .is_empty());
    let third = store.outbox_claim(due, now + 200_000, 60_000).unwrap();
    assert_eq!(third.len(), 1);
    assert_eq!(mark(third.iter().filter_map(|r| r.lease()).collect()), 1);
    assert_eq!(store.outbox_pending().unwrap(), 0);
    let status = store.message_status(&agb(p), &rf("M1")).unwrap().unwrap();
    assert_eq!(status.forwarded.len(), 1);
    assert_eq!(status.forwarded[0].state, "delivered");
    assert_eq!(status.forwarded[0].delivered_at, Some(now + 5));
    // A recording after the marks still records.
    assert_eq!(record("M3").inserted, 1);
    group.stop();
}

/// Rows given back before their leases end are due again at once, with no
/// attempt counted; a lease that a later claim took over gives nothing back.
pub fn unleased_rows_are_due_again(store: &dyn LedgerStore) {
    use zio_gateway::sinks::ledger::{ClaimScope, ForwardPlan};
    let p = "11110003";
    let now = 1_700_000_000_000;
    let plan = forward_plan(now);
    for id in ["U1", "U2"] {
        let mut lines = vec![Ok(zio_line(&format!("{id}-1"), "2024-03-04", 2, None))].into_iter();
        let sum = store
            .record_message_forwarding(&message(p, id), Some(&plan), &mut lines)
            .unwrap();
        assert_eq!(sum.outbox_rows, 1);
    }
    let due = ClaimScope::Due { limit: 10 };
    let rows = store.outbox_claim(due, now, 60_000).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(store.outbox_claim(due, now + 1, 60_000).unwrap().is_empty());
    let leases: Vec<_> = rows.iter().filter_map(|r| r.lease()).collect();
    assert_eq!(store.outbox_unlease(&leases[..1]).unwrap(), 1);
    let again = store.outbox_claim(due, now + 2, 60_000).unwrap();
    assert_eq!(
        again.len(),
        1,
        "U1's row is due again before its lease ends"
    );
    assert_eq!(again[0].id, rows[0].id);
    assert_eq!(again[0].attempts, 0);
    // U1's old lease was taken over by that claim: it gives nothing back.
    assert_eq!(store.outbox_unlease(&leases[..1]).unwrap(), 0);
    assert!(store.outbox_claim(due, now + 3, 60_000).unwrap().is_empty());
    // A row a recording handed over is held until its lease ends, then
    // given back and due at once.
    let handed = ForwardPlan {
        held_until_ms: now + 60_000,
        holder: 77,
        hands_over: true,
        ..plan
    };
    let mut lines = vec![Ok(zio_line("U3-1", "2024-03-04", 2, None))].into_iter();
    store
        .record_message_forwarding(&message(p, "U3"), Some(&handed), &mut lines)
        .unwrap();
    assert!(store.outbox_claim(due, now + 4, 60_000).unwrap().is_empty());
    let status = store.message_status(&agb(p), &rf("U3")).unwrap().unwrap();
    let id = status.forwarded[0].id;
    let wrong = zio_gateway::sinks::ledger::Lease { id, token: 78 };
    assert_eq!(store.outbox_unlease(&[wrong]).unwrap(), 0);
    assert!(store.outbox_claim(due, now + 5, 60_000).unwrap().is_empty());
    let lease = zio_gateway::sinks::ledger::Lease { id, token: 77 };
    assert_eq!(store.outbox_unlease(&[lease]).unwrap(), 1);
    let due_now = store.outbox_claim(due, now + 5, 60_000).unwrap();
    assert_eq!(due_now.len(), 1, "U3's row is due once given back");
    assert_eq!((due_now[0].id, due_now[0].attempts), (id, 0));
}
