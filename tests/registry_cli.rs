//! `zio-gateway ingest` and `check` with a store, run as the binary; with
//! the store in SQLite and, when a PostgreSQL is configured, in PostgreSQL.

mod registry_support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn gateway(args: &[&str]) -> Output {
    gateway_on(args, None)
}

/// With `pg`: the ledger and the registry in that PostgreSQL.
fn gateway_on(args: &[&str], pg: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_zio-gateway"));
    c.args(args);
    if let Some(url) = pg {
        c.env("ZIO_GATEWAY_LEDGER_URL", url);
    }
    c.output().expect("the binary runs")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn config() -> PathBuf {
    root().join("conformance/config")
}

fn ingest(data: &Path, files: &[&Path]) -> Output {
    ingest_on(data, files, None)
}

fn ingest_on(data: &Path, files: &[&Path], pg: Option<&str>) -> Output {
    let config = config();
    let mut args = vec!["ingest", "--config", s(&config), "--data", s(data)];
    args.extend(files.iter().map(|f| s(f)));
    gateway_on(&args, pg)
}

/// The line codes of a JSON answer, per ReferentieNummer in order.
fn check(case: &str, config: &Path, data: &Path) -> Vec<(String, Vec<String>)> {
    let out = check_on(case, config, data, None);
    let v: Value = serde_json::from_slice(&out).unwrap();
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

/// The JSON answer of `check` to a conformance case.
fn check_on(case: &str, config: &Path, data: &Path, pg: Option<&str>) -> Vec<u8> {
    let dir = root().join("conformance/cases").join(case);
    let toml = std::fs::read_to_string(dir.join("case.toml")).unwrap();
    let today = toml
        .lines()
        .find_map(|l| l.strip_prefix("today = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned();
    let out = gateway_on(
        &[
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
        ],
        pg,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
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

/// `ingest` and `check` with the ledger's PostgreSQL configured keep the
/// registry there (nothing in the data directory), report the same per
/// message, and answer every conformance case that uses the registry
/// exactly as with the registry in SQLite.
#[test]
fn with_postgresql_configured_the_registry_lives_there_and_answers_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cases: Vec<(String, String)> = Vec::new();
    for e in std::fs::read_dir(root().join("conformance/cases")).unwrap() {
        let dir = e.unwrap().path();
        let toml = std::fs::read_to_string(dir.join("case.toml")).unwrap();
        if let Some(r) = toml.lines().find_map(|l| l.strip_prefix("registry = \"")) {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            cases.push((name, r.trim_end_matches('"').to_owned()));
        }
    }
    cases.sort();
    assert!(cases.len() >= 57, "{}", cases.len());
    let mut places = std::collections::BTreeMap::new();
    for (_, registry) in &cases {
        if places.contains_key(registry) {
            continue;
        }
        let Some(url) =
            registry_support::pg_database(&format!("cli_{}", registry.replace('-', "_")))
        else {
            return;
        };
        let sqlite = tmp.path().join(format!("data-{registry}"));
        let pg_data = tmp.path().join(format!("data-pg-{registry}"));
        let fixtures = root().join("conformance").join(registry);
        if registry == "registry" {
            // Before anything is ingested: no 04xx, as with SQLite.
            let before = check_on(
                "216-0406-aw39-ending-mid-month",
                &config(),
                &pg_data,
                Some(&url),
            );
            assert!(!String::from_utf8_lossy(&before).contains("\"04"));
        }
        let a = ingest(&sqlite, &[&fixtures]);
        let b = ingest_on(&pg_data, &[&fixtures], Some(&url));
        assert_eq!(
            b.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&b.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&b.stdout),
            String::from_utf8_lossy(&a.stdout)
        );
        let again = ingest_on(&pg_data, &[&fixtures], Some(&url));
        let n = std::fs::read_dir(&fixtures)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "xml")
            })
            .count();
        assert_eq!(
            String::from_utf8_lossy(&again.stdout)
                .matches("already ingested, nothing changed")
                .count(),
            n
        );
        assert!(!pg_data.exists(), "the registry went to the data directory");
        places.insert(registry.clone(), (sqlite, pg_data, url));
    }
    let mut differ = Vec::new();
    for (case, registry) in &cases {
        let (sqlite, pg_data, url) = &places[registry];
        let a = check_on(case, &config(), sqlite, None);
        let b = check_on(case, &config(), pg_data, Some(url));
        if a != b {
            differ.push(format!(
                "{case}\n  SQLite     {}\n  PostgreSQL {}",
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b)
            ));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
