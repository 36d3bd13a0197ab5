//! Shared by the integration tests: running one conformance case through the
//! library exactly as `zio-gateway check` does.

#![allow(dead_code)]

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zio_gateway::config::Config;
use zio_gateway::pipeline::{Arrival, Backends, Disposition, Pipeline};
use zio_gateway::sinks::answer::Format;
use zio_gateway::sinks::registry::{ingest, RegistryLocation, RegistryStores};
use zio_gateway::types::parse_datum;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseToml {
    pub description: String,
    pub today: String,
    #[serde(default = "default_config")]
    pub config: String,
    pub registry: Option<String>,
}

fn default_config() -> String {
    "config".into()
}

pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub meta: CaseToml,
}

/// Every case directory under conformance/cases, in name order.
pub fn cases() -> Vec<Case> {
    let mut dirs: Vec<_> = std::fs::read_dir(root().join("conformance/cases"))
        .expect("conformance/cases exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let text = std::fs::read_to_string(dir.join("case.toml"))
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let meta: CaseToml =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            Case {
                name: dir.file_name().unwrap().to_string_lossy().into_owned(),
                dir,
                meta,
            }
        })
        .collect()
}

pub fn load_config(name: &str) -> Config {
    Config::load_dir(&root().join("conformance").join(name)).expect("conformance config loads")
}

/// The gateway's answer to a case, in the given format.
pub fn answer(case: &Case, format: Format) -> Vec<u8> {
    let config = load_config(&case.meta.config);
    answer_with(case, &config, format)
}

pub fn answer_with(case: &Case, config: &Config, format: Format) -> Vec<u8> {
    answer_at(case, config, format, None)
}

/// The answer with the case's registry (if it has one) at `at`: SQLite in a
/// fresh data directory when `None`. The registry's messages are ingested
/// there first (a registry ingested before recognises them and changes
/// nothing).
pub fn answer_at(
    case: &Case,
    config: &Config,
    format: Format,
    at: Option<RegistryLocation>,
) -> Vec<u8> {
    let today = parse_datum(&case.meta.today).expect("case today is a date");
    let input = std::fs::read(case.dir.join("request.xml")).expect("request.xml");
    // `registry = "DIR"`: the iWlz messages in conformance/DIR, ingested in
    // name order into the store (as `zio-gateway ingest` does).
    let data = tempfile::tempdir().expect("temp data dir");
    let registry = case.meta.registry.as_ref().map(|dir| {
        let at = at.unwrap_or_else(|| RegistryLocation::Sqlite(data.path().to_owned()));
        let stores = RegistryStores::open_at(at).expect("store opens");
        let refused = stores
            .with_writer(|store| {
                ingest::ingest_paths(
                    store,
                    &[root().join("conformance").join(dir)],
                    ingest::Options::default(),
                    |path, r| {
                        if let Err(e) = r {
                            panic!("{}: {}: {e}", case.name, path.display())
                        }
                    },
                )
            })
            .expect("registry ingests");
        assert_eq!(refused, 0);
        stores
    });
    let backends = Backends {
        ledger: None,
        registry,
    };
    let pipeline = Pipeline::new(Arc::new(config.clone()), backends);
    let arrival = Arrival {
        today,
        authenticated: None,
        disposition: Disposition::AnswerOnly,
    };
    let mut processed = pipeline
        .process(input.as_slice(), &arrival)
        .expect("reading from memory");
    let mut out = Vec::new();
    pipeline
        .answer(&mut processed, format, &mut out)
        .expect("writing to memory");
    out
}

pub fn has_xmllint() -> bool {
    std::process::Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok()
}

/// `xmllint --schema`: Ok when valid, Err with xmllint's words when not.
pub fn xmllint(schema: &Path, file: &Path) -> Result<(), String> {
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(schema)
        .arg(file)
        .output()
        .expect("xmllint runs");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
