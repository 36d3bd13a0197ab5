//! The ledger on SQLite: the shared behaviour, the worked example of
//! conformance/ledger, the report forms, agreement import, and two
//! connections recording the same messages at once.

mod ledger_support;

use std::sync::Arc;

use ledger_support::*;
use zio_gateway::sinks::ledger::sqlite::SqliteLedger;
use zio_gateway::sinks::ledger::{
    CheckReads, LedgerReport, LedgerStore, OnderwijstijdReport, ReportSection,
};

fn ledger() -> SqliteLedger {
    SqliteLedger::open_in_memory().unwrap()
}

#[test]
fn replay_records_nothing_twice_sqlite() {
    replay_records_nothing_twice(&ledger());
}

#[test]
fn rejected_lines_are_not_recorded_sqlite() {
    rejected_lines_are_not_recorded(&ledger());
}

#[test]
fn credits_cancel_once_sqlite() {
    credits_cancel_once(&ledger());
}

#[test]
fn agreements_round_trip_sqlite() {
    agreements_round_trip(&ledger());
}

#[test]
fn worked_example_to_the_cent_sqlite() {
    let store: Arc<dyn LedgerStore> = Arc::new(ledger());
    let config = run_example(&store);
    assert_example_report(&*store, &config);
}

#[test]
fn herschikking_status_refusal_override_history_sqlite() {
    let store: Arc<dyn LedgerStore> = Arc::new(ledger());
    herschikking_life(&store);
}

#[test]
fn evidence_scenario_to_the_cent_sqlite() {
    let store: Arc<dyn LedgerStore> = Arc::new(ledger());
    evidence_scenario(&store);
}

#[test]
fn absence_scenario_to_the_unit_sqlite() {
    let store: Arc<dyn LedgerStore> = Arc::new(ledger());
    absence_scenario(&store);
}

#[test]
fn report_csv_has_the_json_columns() {
    let store: Arc<dyn LedgerStore> = Arc::new(ledger());
    let config = run_example(&store);
    let r = LedgerReport::build(&*store, &config.regime, 2024).unwrap();
    let mut csv = Vec::new();
    r.write_csv(ReportSection::Nacalculatie, &mut csv).unwrap();
    assert_eq!(
        String::from_utf8(csv).unwrap(),
        "agb,zorgkantoor,herschikking_cents,realisatie_cents,budgetgarantie_cents,\
         realisatie_regulier_cents,realisatie_totaal_cents,clienten,herschikking_status,\
         akkoord_aanbieder,akkoord_zorgkantoor,akkoord\n\
         11110001,5509,1009800,585225,424575,15300,600525,3,voorlopig,false,false,false\n\
         11110002,5509,153000,206550,0,0,206550,3,voorlopig,false,false,false\n\
         11110003,5509,500000,0,500000,0,0,0,voorlopig,false,false,false\n"
    );
    for s in ReportSection::ALL {
        let mut out = Vec::new();
        r.write_csv(s, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        let width = lines.next().unwrap().split(',').count();
        assert!(lines.all(|l| l.split(',').count() == width), "{}", s.name());
        assert_eq!(ReportSection::parse(s.name()), Some(s));
    }
    let mut csv = Vec::new();
    r.write_csv(ReportSection::Prijzen, &mut csv).unwrap();
    assert_eq!(
        String::from_utf8(csv).unwrap(),
        "agb,zorgkantoor,product_code,afgesproken_cents,gemiddeld_gedeclareerd_cents,max_cents\n\
         11110001,5509,H307,7650,7650,8000\n\
         11110001,5509,H308,6120,6120,6500\n\
         11110002,5509,H307,7650,7650,8000\n\
         11110003,5509,H309,10000,,\n"
    );
    let o = OnderwijstijdReport::build(&*store, &config.regime, 2023).unwrap();
    let mut csv = Vec::new();
    o.write_csv(&mut csv).unwrap();
    assert_eq!(
        String::from_utf8(csv).unwrap(),
        "brin,zorgkantoor,agb,product_code,zio,eenheid,volume,bedrag_cents,clienten\n\
         12AB,5509,11110001,H307,true,uur,53,405450,2\n\
         12AB,5509,11110001,H308,true,dagdeel,10,61200,1\n\
         34CD,5509,11110001,H300,false,uur,2,15300,1\n\
         34CD,5509,11110001,H307,true,uur,11.5,87975,1\n\
         56EF,5509,11110002,H307,true,uur,27,206550,3\n"
    );
    let mut json = Vec::new();
    r.write_json(&mut json).unwrap();
    let text = String::from_utf8(json).unwrap();
    assert!(
        text.starts_with("{\"year\":2024,\"nacalculatie\":[{\"agb\":\"11110001\""),
        "{text}"
    );
}

#[test]
fn ledger_lives_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteLedger::open_data_dir(dir.path()).unwrap();
        record(
            &store,
            &message("11110001", "M1"),
            &[zio_line("A1", "2024-03-04", 2, None)],
        );
    }
    assert!(dir.path().join("gateway.db").is_file());
    let store = zio_gateway::sinks::ledger::open(dir.path(), None).unwrap();
    assert_eq!(store.backend(), "sqlite");
    assert!(store
        .message_processed(&agb("11110001"), &rf("M1"))
        .unwrap());
    assert_eq!(store.lines_of(&agb("11110001")).unwrap().len(), 1);
}

/// A check's lookups share one read snapshot: what is committed while it is
/// held stays unseen, until the snapshot is renewed (by age, so a slowly
/// streamed batch does not hold back the checkpointer) or the check ends.
/// The ages are set here, so that no commit's fsync, however slow the
/// disk, decides whether a renewal fell between two lookups.
#[test]
fn a_checks_lookups_share_one_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteLedger::open_data_dir(dir.path()).unwrap();
    let p = agb("11110001");
    record(
        &store,
        &message("11110001", "M1"),
        &[zio_line("A1", "2024-03-04", 2, None)],
    );
    let hour = std::time::Duration::from_secs(3600);
    let reads = store
        .check_reads_renewed_after(hour)
        .expect("a snapshot on a file");
    assert!(reads.message_processed(&p, &rf("M1")).unwrap());
    assert!(!reads.message_processed(&p, &rf("M2")).unwrap());
    assert!(reads.prior_line(&p, &rf("A1")).unwrap().is_some());
    record(
        &store,
        &message("11110001", "M2"),
        &[zio_line("A2", "2024-03-05", 3, None)],
    );
    // Committed after the snapshot began: not seen by it, seen alone.
    assert!(!reads.message_processed(&p, &rf("M2")).unwrap());
    assert!(reads.prior_line(&p, &rf("A2")).unwrap().is_none());
    assert!(store.message_processed(&p, &rf("M2")).unwrap());
    drop(reads);

    // Renewed by age: a lookup after the age has passed sees what was
    // committed since the snapshot began.
    let age = std::time::Duration::from_millis(5);
    let reads = store.check_reads_renewed_after(age).unwrap();
    assert!(!reads.message_processed(&p, &rf("M3")).unwrap());
    record(
        &store,
        &message("11110001", "M3"),
        &[zio_line("A3", "2024-03-06", 1, None)],
    );
    std::thread::sleep(age * 4);
    assert!(reads.message_processed(&p, &rf("M3")).unwrap());
    assert!(reads.prior_line(&p, &rf("A3")).unwrap().is_some());
    drop(reads);

    // The connection went back to the pool out of its read transaction:
    // the next lookup, and a new check, see what was committed meanwhile.
    record(
        &store,
        &message("11110001", "M4"),
        &[zio_line("A4", "2024-03-07", 1, None)],
    );
    assert!(store.message_processed(&p, &rf("M4")).unwrap());
    let reads = store.check_reads().unwrap();
    assert!(reads.message_processed(&p, &rf("M4")).unwrap());
    // In memory every lookup shares the writer's connection: no snapshot.
    assert!(SqliteLedger::open_in_memory()
        .unwrap()
        .check_reads()
        .is_none());
}

/// Two connections (as two processes would have) on one file, recording the
/// same messages at the same time: every line once.
#[test]
fn two_connections_record_each_line_once_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let a = SqliteLedger::open_data_dir(dir.path()).unwrap();
    let b = SqliteLedger::open_data_dir(dir.path()).unwrap();
    let messages: Vec<_> = (0..40)
        .map(|m| {
            let lines: Vec<_> = (0..50)
                .map(|i| zio_line(&format!("M{m}L{i}"), "2024-03-04", 1, None))
                .collect();
            (message("11110001", &format!("MSG{m}")), lines)
        })
        .collect();
    let run = |store: &SqliteLedger, rename: bool| {
        let mut inserted = 0;
        for (msg, lines) in &messages {
            let mut msg = msg.clone();
            if rename {
                // Same lines under other ids: only (agb, referentie) stops them.
                msg.identificatie = rf(&format!("{}-B", msg.identificatie));
            }
            inserted += record(store, &msg, lines).inserted;
        }
        inserted
    };
    let (x, y) = std::thread::scope(|s| {
        let x = s.spawn(|| run(&a, false));
        let y = s.spawn(|| run(&b, true));
        (x.join().unwrap(), y.join().unwrap())
    });
    assert_eq!(x + y, 40 * 50);
    assert_eq!(a.lines_of(&agb("11110001")).unwrap().len(), 40 * 50);
}

#[test]
fn import_overrides_config_and_is_validated() {
    use zio_gateway::sinks::ledger::agreements::{effective_agreements, parse_agreements_file};
    let store = ledger();
    let dir = example_dir();
    let config = zio_gateway::config::Config::load_file(&dir.join("gateway.toml")).unwrap();
    let before = effective_agreements(&config.regime.agreements, &store, Some(2024)).unwrap();
    let p3 = before
        .iter()
        .find(|a| a.agb.as_str() == "11110003")
        .unwrap();
    assert_eq!(p3.herschikking_cents, 400_000);
    zio_gateway::sinks::ledger::import_agreements(
        &store,
        &dir.join("agreements-2024.csv"),
        &config.regime,
    )
    .unwrap();
    let after = effective_agreements(&config.regime.agreements, &store, Some(2024)).unwrap();
    assert_eq!(after.len(), 3);
    let p3 = after.iter().find(|a| a.agb.as_str() == "11110003").unwrap();
    assert_eq!(p3.herschikking_cents, 500_000);
    assert_eq!(p3.volumes.get(&code("H309")), Some(&50));

    // TOML, the configuration's shape.
    let tmp = tempfile::tempdir().unwrap();
    let toml_path = tmp.path().join("a.toml");
    std::fs::write(
        &toml_path,
        "[[agreements]]\nagb = \"11110002\"\nzorgkantoor = \"5509\"\nyear = 2025\n\
         herschikking_cents = 42\nvolumes = { H307 = 3 }\nprices_cents = { H307 = 14 }\n",
    )
    .unwrap();
    let a = parse_agreements_file(&toml_path, &config.regime).unwrap();
    assert_eq!(a[0].herschikking_cents, 42);
    assert_eq!(a[0].prices_cents.get(&code("H307")), Some(&14));

    // Errors name the file, the line or table and the column or key.
    let bad = |name: &str, text: &str, want: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        let e = parse_agreements_file(&p, &config.regime)
            .unwrap_err()
            .to_string();
        assert!(e.contains(name) && e.contains(want), "{e}");
    };
    bad(
        "x.csv",
        "agb,zorgkantoor,year,herschikking_cents,code,volume\n99999999,5509,2024,1,H307,1\n",
        "line 2 column `agb`",
    );
    bad(
        "y.csv",
        "agb,zorgkantoor,year,herschikking_cents,code,volume\n11110001,5509,2024,1,H999,1\n",
        "column `code`",
    );
    bad(
        "z.csv",
        "agb,zorgkantoor,year,herschikking_cents,code,volume\n11110001,5509,2024,1,H307,1\n11110001,5509,2024,2,H308,1\n",
        "line 3 column `herschikking_cents`",
    );
    bad("w.csv", "agb,zorgkantoor,jaar\n", "unknown column `jaar`");
    bad(
        "v.toml",
        "[[agreements]]\nagb = \"11110001\"\nzorgkantoor = \"5509\"\nyear = 2024\nherschikking_cents = 1\nvolume = {}\n",
        "volume",
    );
}

/// 0506 counts minutes exactly: sixty lines of one minute make exactly the
/// agreed hour (no 0506); the sixty-first minute crosses it, in this message
/// and, through the ledger, in the next one; a credit brings it back.
#[test]
fn volume_0506_counts_minutes_exactly_across_messages() {
    let config = zio_gateway::config::Config::parse(
        "[gateway]\nzorgkantoren = [\"5509\"]\n\
         [[participants]]\nagb = \"11110001\"\nzorgkantoor = \"5509\"\nfrom = \"2024-01-01\"\nto = \"2025-08-31\"\n\
         [[agreements]]\nagb = \"11110001\"\nzorgkantoor = \"5509\"\nyear = 2024\nherschikking_cents = 7650\n\
         volumes = { H307 = 1 }\n",
        std::path::Path::new("test/gateway.toml"),
    )
    .unwrap();
    let xml = |id: &str, lines: &[(&str, Option<&str>)]| -> String {
        let mut body = String::new();
        let (mut debet, mut credit) = (0, 0);
        for (r, vorig) in lines {
            let (dc, v) = match vorig {
                Some(v) => {
                    credit += 100;
                    (
                        "C",
                        format!("<VorigReferentieNummer>{v}</VorigReferentieNummer>"),
                    )
                }
                None => {
                    debet += 100;
                    ("D", String::new())
                }
            };
            body.push_str(&format!(
                "<Prestatie><ReferentieNummer>{r}</ReferentieNummer>{v}<ProductCode>H307</ProductCode>\
                 <Begindatum>2024-03-04</Begindatum><Einddatum>2024-03-04</Einddatum>\
                 <GeleverdVolume>1</GeleverdVolume><Eenheid>01</Eenheid><ProductTarief>6000</ProductTarief>\
                 <Bedrag>100</Bedrag><DebetCredit>{dc}</DebetCredit><Onderwijstijd>true</Onderwijstijd>\
                 <Brin>12AB</Brin></Prestatie>"
            ));
        }
        format!(
            "<Declaratiebericht xmlns=\"urn:zio-gateway:declaratie:1\"><Header><BerichtIdentificatie>\
             <Identificatie>{id}</Identificatie><Dagtekening>2024-04-01</Dagtekening></BerichtIdentificatie>\
             <Afzender>11110001</Afzender><Ontvanger>5509</Ontvanger><Declaratieperiode>\
             <Begindatum>2024-03-01</Begindatum><Einddatum>2024-03-31</Einddatum></Declaratieperiode></Header>\
             <Clienten><Client><Bsn>123456782</Bsn><Geboortedatum>2012-05-01</Geboortedatum>\
             <Besluitnummer>4100001</Besluitnummer><Prestaties>{body}</Prestaties></Client></Clienten>\
             <Totalen><AantalPrestaties>{}</AantalPrestaties><TotaalDebet>{debet}</TotaalDebet>\
             <TotaalCredit>{credit}</TotaalCredit></Totalen></Declaratiebericht>",
            lines.len()
        )
    };
    let store: Arc<dyn LedgerStore> = Arc::new(ledger());
    let tmp = tempfile::tempdir().unwrap();
    let run = |id: &str, lines: &[(&str, Option<&str>)]| -> Vec<String> {
        let path = tmp.path().join(format!("{id}.xml"));
        std::fs::write(&path, xml(id, lines)).unwrap();
        let (mut outcome, _) = check_and_record(store.clone(), &config, &path, "2024-04-02");
        assert!(outcome.message_codes.is_empty());
        outcome
            .lines
            .iter()
            .unwrap()
            .map(|v| {
                let v = v.unwrap();
                let codes: Vec<&str> = v.codes.iter().map(|c| c.code()).collect();
                format!("{}:{}", v.prestatie.referentie, codes.join(","))
            })
            .collect()
    };
    let refs: Vec<String> = (1..=61).map(|i| format!("M{i}")).collect();
    let first: Vec<(&str, Option<&str>)> = refs.iter().map(|r| (r.as_str(), None)).collect();
    let got = run("MSG-1", &first);
    assert!(got[..60].iter().all(|l| l.ends_with(':')), "{got:?}");
    assert_eq!(got[60], "M61:0506");
    // 61 minutes in the ledger: one more minute is over, a credit is not
    // flagged and brings the total back to 60, where the next minute is
    // over again (61).
    let got = run(
        "MSG-2",
        &[
            ("N1", None),
            ("C1", Some("N1")),
            ("C2", Some("M61")),
            ("N2", None),
        ],
    );
    assert_eq!(got, ["N1:0506", "C1:", "C2:", "N2:0506"]);
    let net = store
        .declared_base_volume(&agb("11110001"), &zk("5509"), 2024, &code("H307"))
        .unwrap();
    assert_eq!(net, 61);
}

#[test]
fn group_commit_records_each_once_sqlite() {
    group_commit_records_each_once(Arc::new(ledger()));
}

#[test]
fn group_commit_marks_deliveries_sqlite() {
    group_commit_marks_deliveries(Arc::new(ledger()));
}

#[test]
fn unleased_rows_are_due_again_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    unleased_rows_are_due_again(&SqliteLedger::open_data_dir(dir.path()).unwrap());
}

#[test]
fn failed_job_rolls_back_its_batch_sqlite() {
    failed_job_rolls_back_its_batch(&ledger());
}

/// The running declared volume (kept by the recording since migration 11,
/// no longer by triggers) is the sum of the recorded lines' base volume
/// after inserts, credits, a credit taken out again (a line deleted), a
/// replay, and a batch rolled back.
#[test]
fn running_volume_is_the_sum_of_the_recorded_lines() {
    type Scenario = fn(&SqliteLedger);
    let scenarios: [(&str, Scenario); 3] = [
        ("credits", |s| credits_cancel_once(s)),
        ("replay", |s| replay_records_nothing_twice(s)),
        ("rollback", |s| failed_job_rolls_back_its_batch(s)),
    ];
    for (name, scenario) in scenarios {
        let dir = tempfile::tempdir().unwrap();
        scenario(&SqliteLedger::open_data_dir(dir.path()).unwrap());
        let c = rusqlite::Connection::open(dir.path().join("gateway.db")).unwrap();
        let rows = |sql: &str| -> Vec<(String, String, i64, String, i64)> {
            c.prepare(sql)
                .unwrap()
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let kept = rows(
            "SELECT agb, zorgkantoor, year, product_code, base_volume FROM ledger_volume \
             WHERE base_volume != 0 ORDER BY 1, 2, 3, 4",
        );
        let summed = rows(
            "SELECT agb, zorgkantoor, year, product_code, SUM(base_volume) FROM ledger_line \
             GROUP BY 1, 2, 3, 4 HAVING SUM(base_volume) != 0 ORDER BY 1, 2, 3, 4",
        );
        assert!(!kept.is_empty(), "{name}");
        assert_eq!(kept, summed, "{name}");
        let triggers: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(triggers, 0, "{name}");
    }
}
