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
