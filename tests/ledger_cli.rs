//! The ledger through the command line: `check` records nothing without
//! `--record`, records once with it (a replay is 0106), and `ledger report`
//! shows the recorded ZiO amount as realisatie.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zio-gateway"))
}

fn check(data: &std::path::Path, record: bool) -> serde_json::Value {
    check_file(data, record, "samples/declaratie-maart-2024.xml")
}

fn check_file(data: &std::path::Path, record: bool, file: &str) -> serde_json::Value {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut c = bin();
    c.args(["check", file, "--today", "2024-04-10", "--format", "json"])
        .arg("--data")
        .arg(data)
        .current_dir(root)
        .env_remove("ZIO_GATEWAY_LEDGER_URL");
    if record {
        c.arg("--record");
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn realisatie(data: &std::path::Path) -> i64 {
    let out = bin()
        .args(["ledger", "report", "--year", "2024", "--data"])
        .arg(data)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("ZIO_GATEWAY_LEDGER_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = &v["nacalculatie"][0];
    assert_eq!(row["agb"], "12345678");
    assert_eq!(
        row["budgetgarantie_cents"].as_i64().unwrap(),
        (row["herschikking_cents"].as_i64().unwrap() - row["realisatie_cents"].as_i64().unwrap())
            .max(0)
    );
    row["realisatie_cents"].as_i64().unwrap()
}

#[test]
fn check_records_only_when_asked_and_only_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let plain = check(&data, false);
    assert_eq!(plain["verwerking"], "Geaccepteerd");
    assert!(!data.exists(), "check without --record created the store");

    let first = check(&data, true);
    assert_eq!(first["verwerking"], "Geaccepteerd");
    // The sample's only ZiO line: 10 hours H307 at 7650.
    assert_eq!(realisatie(&data), 76_500);

    // The same bytes again (an answer that got lost): the first answer.
    let replay = check(&data, true);
    assert_eq!(replay, first);
    assert_eq!(realisatie(&data), 76_500, "a replay counted twice");

    // Another message under the same Identificatie: 0106.
    let other = dir.path().join("other.xml");
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/declaratie-maart-2024.xml"),
    )
    .unwrap()
    .replace("<ReferentieNummer>R2<", "<ReferentieNummer>R3<");
    std::fs::write(&other, text).unwrap();
    let reused = check_file(&data, true, other.to_str().unwrap());
    assert_eq!(reused["verwerking"], "Afgewezen");
    assert_eq!(reused["retourcodes"][0]["code"], "0106");
    assert_eq!(realisatie(&data), 76_500, "a reused id counted twice");

    // The school-time report of 2023/2024 from the same ledger.
    let out = bin()
        .args([
            "ledger",
            "report",
            "--schooljaar",
            "2023",
            "--section",
            "onderwijstijd",
        ])
        .args(["--format", "csv", "--data"])
        .arg(&data)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("ZIO_GATEWAY_LEDGER_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "brin,zorgkantoor,agb,product_code,zio,eenheid,volume,bedrag_cents,clienten\n\
         12AB,5509,12345678,H307,true,uur,10,76500,1\n"
    );
}

/// The herschikking from the command line: import, definitief, a refused
/// change, the override, both sides agreeing, and the history.
#[test]
fn herschikking_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        bin()
            .args(args)
            .arg("--data")
            .arg(&data)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("ZIO_GATEWAY_LEDGER_URL")
            .output()
            .unwrap()
    };
    let csv = |a: u64| {
        let p = dir.path().join(format!("a-{a}.csv"));
        std::fs::write(
            &p,
            format!("agb,zorgkantoor,year,herschikking_cents,code,volume,price_cents\n12345678,5509,2024,{a},H307,100,7650\n"),
        )
        .unwrap();
        p.to_str().unwrap().to_owned()
    };
    let key = [
        "--agb",
        "12345678",
        "--zorgkantoor",
        "5509",
        "--year",
        "2024",
    ];
    let ok = |o: std::process::Output| {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    ok(run(&["ledger", "import", &csv(100), "--actor", "kantoor"]));
    let mut args = vec![
        "ledger",
        "herschikking",
        "definitief",
        "--actor",
        "teamleider",
    ];
    args.extend(key);
    ok(run(&args));
    let refused = run(&["ledger", "import", &csv(200)]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("definitief"));
    ok(run(&["ledger", "import", &csv(200), "--override", "NZa"]));
    for side in ["aanbieder", "zorgkantoor"] {
        let mut args = vec!["ledger", "herschikking", "akkoord", "--side", side];
        args.extend(key);
        ok(run(&args));
    }
    let report: serde_json::Value =
        serde_json::from_str(&ok(run(&["ledger", "report", "--year", "2024"]))).unwrap();
    let row = &report["nacalculatie"][0];
    assert_eq!(row["herschikking_cents"], 200);
    assert_eq!(row["herschikking_status"], "definitief");
    assert_eq!(row["akkoord"], true);
    let history = ok(run(&[
        "ledger",
        "herschikking",
        "history",
        "--year",
        "2024",
    ]));
    let actions: Vec<String> = history
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "{} {} {} {}",
                v["actor"], v["action"], v["old_cents"], v["new_cents"]
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            "\"kantoor\" \"import\" 9180000 100",
            "\"teamleider\" \"definitief\" 100 100",
            "\"cli\" \"override\" 100 200",
            "\"cli\" \"akkoord_aanbieder\" 200 200",
            "\"cli\" \"akkoord_zorgkantoor\" 200 200",
        ]
    );
}

/// Absence from the command line: the worked example's uploads into the
/// worked example's ledger, the report as expected (JSON and CSV), the same
/// file again changes nothing, and a bad row is exit status 2 with its row
/// number and nothing registered.
#[test]
fn absence_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let case = "conformance/ledger-absence";
    let run = |args: &[&str]| {
        bin()
            .args(args)
            .args(["--config", case])
            .arg("--data")
            .arg(&data)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("ZIO_GATEWAY_LEDGER_URL")
            .output()
            .unwrap()
    };
    let ok = |o: std::process::Output| {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    for (file, today) in [
        ("01-p1-2023-12.xml", "2024-01-05"),
        ("02-p1-2024-01.xml", "2024-02-05"),
        ("03-p1-2024-02.xml", "2024-03-04"),
        ("04-p1-2024-03.xml", "2024-04-03"),
        ("05-p2-2024-03.xml", "2024-04-03"),
    ] {
        let path = format!("{case}/messages/{file}");
        ok(run(&["check", &path, "--record", "--today", today]));
    }
    let first = ok(run(&[
        "ledger",
        "absence",
        &format!("{case}/absence-1.csv"),
    ]));
    assert!(first.contains("6 rows registered, 6 changed"), "{first}");
    let second = ok(run(&[
        "ledger",
        "absence",
        &format!("{case}/absence-2.json"),
    ]));
    assert!(second.contains("2 rows registered, 2 changed"), "{second}");
    let again = ok(run(&[
        "ledger",
        "absence",
        &format!("{case}/absence-2.json"),
    ]));
    assert!(again.contains("2 rows registered, 0 changed"), "{again}");

    let report = ok(run(&[
        "ledger",
        "report",
        "--year",
        "2024",
        "--section",
        "absence",
    ]));
    let got: serde_json::Value = serde_json::from_str(&report).unwrap();
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(case)
                .join("expected-absence-2024.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(got, want);
    let csv = ok(run(&[
        "ledger",
        "report",
        "--year",
        "2024",
        "--section",
        "absence",
        "--format",
        "csv",
    ]));
    assert_eq!(
        csv,
        "agb,zorgkantoor,code,unit,agreed,declared,afwezig_gepland,afwezig_ongepland,onverklaard\n\
         33330001,5509,H307,uur,40.00,27.50,4.00,3.75,4.75\n\
         33330001,5509,H308,dagdeel,20,6,0,3,11\n\
         33330002,5509,H307,uur,10.00,3.00,1.00,0.00,6.00\n"
    );
    let pupils = ok(run(&[
        "ledger",
        "report",
        "--year",
        "2024",
        "--section",
        "pupils_by_month",
        "--format",
        "csv",
    ]));
    assert_eq!(
        pupils,
        "agb,zorgkantoor,month,pupils,pupils_starting,pupils_leaving\n\
         33330001,5509,2024-01,2,1,1\n\
         33330001,5509,2024-02,2,1,0\n\
         33330001,5509,2024-03,2,0,2\n\
         33330002,5509,2024-03,1,1,1\n"
    );

    // Row 2 is bad: exit status 2, the row and reason, row 1 not registered.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "agb,zorgkantoor,bsn,brin,product_code,maand,soort,volume\n\
         33330001,5509,123456782,12AB,H307,2024-05,gepland,8\n\
         33330001,5509,123456789,12AB,H307,2024-05,gepland,1\n",
    )
    .unwrap();
    let refused = run(&["ledger", "absence", bad.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("nothing registered: row 2: bsn"), "{err}");
    let after = ok(run(&[
        "ledger",
        "report",
        "--year",
        "2024",
        "--section",
        "absence",
    ]));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&after).unwrap(),
        want
    );
}
