//! `zio-gateway ingest` and `check` with a store, run as the binary.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn gateway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zio-gateway"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn config() -> PathBuf {
    root().join("conformance/config")
}

fn ingest(data: &Path, files: &[&Path]) -> Output {
    let config = config();
    let mut args = vec!["ingest", "--config", s(&config), "--data", s(data)];
    args.extend(files.iter().map(|f| s(f)));
    gateway(&args)
}

/// The line codes of a JSON answer, per ReferentieNummer in order.
fn check(case: &str, config: &Path, data: &Path) -> Vec<(String, Vec<String>)> {
    let dir = root().join("conformance/cases").join(case);
    let toml = std::fs::read_to_string(dir.join("case.toml")).unwrap();
    let today = toml
        .lines()
        .find_map(|l| l.strip_prefix("today = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned();
    let out = gateway(&[
        "check",
        "--config",
        s(config),
        "--data",
        s(data),
        "--today",
        &today,
        "--format",
        "json",
        s(&dir.join("request.xml")),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["prestaties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let codes = p["retourcodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["code"].as_str().unwrap().to_owned())
                .collect();
            (p["referentie_nummer"].as_str().unwrap().to_owned(), codes)
        })
        .collect()
}

fn codes(v: &[(String, Vec<String>)]) -> Vec<Vec<&str>> {
    v.iter()
        .map(|(_, c)| c.iter().map(String::as_str).collect())
        .collect()
}

#[test]
fn ingest_reports_per_message_and_check_uses_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let fixtures = root().join("conformance/registry");

    // Before anything is ingested (no store at all): no 04xx, and no data dir is created.
    let before = check("216-0406-aw39-ending-mid-month", &config(), &data);
    assert!(codes(&before).iter().all(|c| c.is_empty()), "{before:?}");
    assert!(!data.exists());

    let out = ingest(&data, &[&fixtures]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 10, "{stdout}");
    assert!(stdout.contains("01-io31-2023-12-20-ciz.xml: IO31 CIZ231220001 of 2023-12-20, 19 clients: indications 19 new"), "{stdout}");
    assert!(
        stdout.contains("05-aw33-2024-03-08-11110001.xml: AW33"),
        "{stdout}"
    );
    assert!(stdout.contains("updated"), "{stdout}");

    let after = check("216-0406-aw39-ending-mid-month", &config(), &data);
    assert_eq!(
        codes(&after),
        vec![vec![], vec![], vec!["0406"], vec!["0406"]]
    );

    // Ingesting the same files again: every message recognised, exit 0.
    let again = ingest(&data, &[&fixtures]);
    assert_eq!(again.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert_eq!(
        stdout.matches("already ingested, nothing changed").count(),
        10,
        "{stdout}"
    );
}

#[test]
fn an_empty_store_is_not_a_loaded_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // Only a malformed message: the store is created, but holds no message.
    let bad = tmp.path().join("bad.xml");
    std::fs::write(
        &bad,
        "<Bericht xmlns=\"http://www.istandaarden.nl/iwlz/2_2/io31/schema\">",
    )
    .unwrap();
    let out = ingest(&data, &[&bad]);
    assert_eq!(out.status.code(), Some(1));
    assert!(data.join("gateway.db").exists());
    let v = check("221-0401-0403-client-unknown-to-registry", &config(), &data);
    assert_eq!(codes(&v), vec![Vec::<&str>::new()]);
}

#[test]
fn a_refused_message_is_named_with_its_location_and_the_rest_goes_in() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let bad = tmp.path().join("00-bad.xml");
    let text = std::fs::read_to_string(root().join("tests/registry_samples/aw35-example.xml"))
        .unwrap()
        .replace(
            "<aw35:Begindatum>2023-01-09</aw35:Begindatum>",
            "<aw35:Begindatum>9 januari</aw35:Begindatum>",
        );
    std::fs::write(&bad, text).unwrap();
    let good = root().join("conformance/registry/01-io31-2023-12-20-ciz.xml");
    let out = ingest(&data, &[&bad, &good]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("00-bad.xml"), "{stderr}");
    assert!(stderr.contains("9 januari"), "{stderr}");
    assert!(stderr.contains("at 2:"), "{stderr}");
    assert!(
        stderr.contains("/GeleverdeFunctie[1]/Begindatum"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("01-io31-2023-12-20-ciz.xml: IO31"));
}

#[test]
fn usage_and_configuration_errors_exit_2_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let missing = tmp.path().join("nope.xml");
    let out = ingest(&data, &[&missing]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.xml"));
    assert!(!data.exists(), "nothing is created for a usage error");

    let out = gateway(&[
        "ingest",
        "--config",
        s(tmp.path()),
        "--data",
        s(&data),
        s(&missing),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("gateway.toml"));

    let conf = config();
    let out = gateway(&["ingest", "--config", s(&conf)]);
    assert_eq!(out.status.code(), Some(2), "no files is a usage error");

    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = ingest(&data, &[&empty]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn start_of_delivery_check_can_be_switched_off() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = ingest(&data, &[&root().join("conformance/registry")]);
    assert_eq!(out.status.code(), Some(0));
    let off = tmp.path().join("config-off");
    std::fs::create_dir(&off).unwrap();
    let toml = std::fs::read_to_string(config().join("gateway.toml")).unwrap();
    std::fs::write(
        off.join("gateway.toml"),
        format!("{toml}\n[indications]\nrequire_start_of_delivery = false\n"),
    )
    .unwrap();
    // No AW35 at all, and an AW39 end: 0406 with the switch on, nothing with it off.
    let on = check("217-0406-no-start-of-delivery", &config(), &data);
    assert_eq!(codes(&on), vec![vec!["0406"]]);
    let v = check("217-0406-no-start-of-delivery", &off, &data);
    assert_eq!(codes(&v), vec![Vec::<&str>::new()]);
    let v = check("216-0406-aw39-ending-mid-month", &off, &data);
    assert!(codes(&v).iter().all(|c| c.is_empty()), "{v:?}");
    // Other 04xx codes stay on.
    let v = check("213-0403-allocated-to-another-provider", &off, &data);
    assert_eq!(codes(&v), vec![vec!["0403"]]);
}
