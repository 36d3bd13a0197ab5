//! The registry filled from the iWlz netwerkmodel registers (issue 15),
//! against a local register (tests/netwerkmodel/register.py): the official
//! schema files served with graphql-core over TLS that requires a client
//! certificate, behind an OAuth2 token endpoint. No real register can be
//! reached from a test machine.
//!
//! - Every registry conformance case through the register path alone, and
//!   through mixes of the register and the messages: the same verdicts,
//!   except where a case turns on a fact the official register schemas
//!   cannot hold (listed with the reason).
//! - Notifications through `serve`: stored once, a replay recognised, an
//!   expired token renewed, a refused client certificate and a register that
//!   times out answered 503 while declarations are still checked from what
//!   is stored, the age of the data in the metrics.
//! - `registry sync` recovers a missed notification.
//!
//! Needs Python 3 with graphql-core (`ZIO_TEST_PYTHON`, else `python3`);
//! `.ci/run` installs it. Without it the tests say SKIPPED, except in CI.

mod common;
mod registry_support;

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zio_gateway::config::{Config, Netwerkmodel};
use zio_gateway::pipeline::{Arrival, Backends, Disposition, Pipeline};
use zio_gateway::sinks::answer::Format;
use zio_gateway::sinks::netwerkmodel::{apply, telemetry::Telemetry, Service};
use zio_gateway::sinks::registry::{ingest, RegistryStores};
use zio_gateway::types::{parse_datum, ZorgkantoorCode};

fn root() -> PathBuf {
    common::root()
}

fn has_graphql(py: &str) -> bool {
    Command::new(py)
        .args(["-c", "import graphql"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Python with graphql-core: `ZIO_TEST_PYTHON`, else `python3` when it has
/// it, else a venv under target/ with graphql-core from PyPI (made once).
/// `None` (SKIPPED) when none can be had, outside CI.
fn python() -> Option<String> {
    static PYTHON: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if let Ok(py) = std::env::var("ZIO_TEST_PYTHON") {
                return has_graphql(&py).then_some(py);
            }
            if has_graphql("python3") {
                return Some("python3".into());
            }
            let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("netwerkmodel-venv");
            let py = venv.join("bin/python").to_string_lossy().into_owned();
            if !has_graphql(&py) {
                let made = Command::new("python3")
                    .args(["-m", "venv"])
                    .arg(&venv)
                    .status()
                    .is_ok_and(|s| s.success())
                    && Command::new(venv.join("bin/pip"))
                        .args(["install", "-q", "graphql-core==3.2.8"])
                        .status()
                        .is_ok_and(|s| s.success());
                if !made {
                    return None;
                }
            }
            has_graphql(&py).then_some(py)
        })
        .clone()
        .or_else(|| {
            assert!(
                std::env::var_os("CI").is_none(),
                "no Python with graphql-core: .ci/run must install it (ZIO_TEST_PYTHON)"
            );
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: no Python with graphql-core (set ZIO_TEST_PYTHON)"
            );
            None
        })
}

/// A running local register; stopped when dropped (and when the test
/// process dies: it exits when its stdin closes).
struct Register {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
    dir: PathBuf,
}

impl Register {
    fn start(py: &str, dir: &Path, fixtures: &Path, token_ttl: u64) -> Register {
        let mut child = Command::new(py)
            .arg(root().join("tests/netwerkmodel/register.py"))
            .args(["--dir", dir.to_str().unwrap()])
            .args(["--fixtures", fixtures.to_str().unwrap()])
            .args([
                "--schemas",
                root().join("schemas/netwerkmodel").to_str().unwrap(),
            ])
            .args(["--port", "0", "--token-ttl", &token_ttl.to_string()])
            .arg("--exit-on-stdin-eof")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the register starts");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening 127.0.0.1:")
            .unwrap_or_else(|| panic!("register said {line:?}"))
            .parse()
            .unwrap();
        Register {
            child,
            _stdin: stdin,
            port,
            dir: dir.to_owned(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    /// The gateway's view of this register, as `[registry.netwerkmodel]`.
    fn config(&self) -> Netwerkmodel {
        Netwerkmodel {
            indicatieregister: self.url("/indicatieregister/graphql"),
            bemiddelingsregister: self.url("/bemiddelingsregister/graphql"),
            token_url: self.url("/oauth2/token"),
            client_id: "gateway".into(),
            client_secret_file: self.dir.join("secret"),
            client_cert: self.dir.join("client.pem"),
            client_key: self.dir.join("client.key"),
            ca: self.dir.join("ca.pem"),
            scope: Some("registers".into()),
            audience: None,
            zorgkantoor: ZorgkantoorCode::parse("5509").unwrap(),
            timeout_ms: 5_000,
            attempts: 2,
            retry_initial_ms: 50,
        }
    }

    /// The register's test controls, over the same two-way TLS.
    fn control(&self, path: &str, body: Option<&Value>) -> Value {
        let rt = runtime();
        let client = https_client(&self.dir);
        rt.block_on(async {
            let req = match body {
                Some(b) => client.post(self.url(path)).json(b),
                None => client.get(self.url(path)),
            };
            let r = req.send().await.expect("control request");
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.json::<Value>().await.unwrap_or(Value::Null)
        })
    }
}

impl Drop for Register {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn https_client(dir: &Path) -> reqwest::Client {
    let mut pem = std::fs::read(dir.join("client.pem")).unwrap();
    pem.extend(std::fs::read(dir.join("client.key")).unwrap());
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(dir.join("ca.pem")).unwrap()).unwrap(),
        )
        .identity(reqwest::Identity::from_pem(&pem).unwrap())
        .build()
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Register fixtures for a registry directory (`only`: one register's part).
fn fixtures(py: &str, registry_dir: &str, only: Option<&str>, out: &Path) {
    let mut c = Command::new(py);
    c.arg(root().join("tests/netwerkmodel/fixtures_from_messages.py"))
        .arg(root().join("conformance").join(registry_dir));
    if let Some(o) = only {
        c.args(["--only", o]);
    }
    let o = c.output().expect("the translation runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(out, o.stdout).unwrap();
}

/// The registry's message files of one kind (`io31`, `aw33`, ...).
fn messages(registry_dir: &str, kinds: &[&str]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("conformance").join(registry_dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.ends_with(".xml") && kinds.iter().any(|k| n.contains(&format!("-{k}-")))
        })
        .collect();
    v.sort();
    v
}

fn ingest_files(stores: &RegistryStores, files: &[PathBuf]) {
    if files.is_empty() {
        return;
    }
    let refused = stores
        .with_writer(|s| {
            ingest::ingest_paths(s, files, ingest::Options::default(), |p, r| {
                if let Err(e) = r {
                    panic!("{}: {e}", p.display())
                }
            })
        })
        .unwrap();
    assert_eq!(refused, 0);
}

/// Everything of zorgkantoor 5509 from the register into the store.
/// Returns how many facts the register gave and what storing them did.
fn sync(
    register: &Register,
    stores: &RegistryStores,
) -> (usize, zio_gateway::sinks::netwerkmodel::Applied) {
    let service = Service::new(&register.config(), Arc::new(Telemetry::new())).unwrap();
    let fetched = runtime().block_on(service.fetch_sync(None)).unwrap();
    assert!(fetched.refused.is_empty(), "{:?}", fetched.refused);
    let n = fetched.indicaties.len() + fetched.specificaties.len();
    (n, stores.with_writer(|s| apply(s, &fetched)).unwrap())
}

/// One case's answer with the store in `data` (the registry as prepared).
fn answer(case: &common::Case, data: &Path) -> Value {
    let config = common::load_config(&case.meta.config);
    let stores = RegistryStores::open(data).unwrap();
    let pipeline = Pipeline::new(
        Arc::new(config),
        Backends {
            ledger: None,
            registry: Some(stores),
        },
    );
    let arrival = Arrival {
        today: parse_datum(&case.meta.today).unwrap(),
        authenticated: None,
        disposition: Disposition::AnswerOnly,
    };
    let input = std::fs::read(case.dir.join("request.xml")).unwrap();
    let mut processed = pipeline.process(input.as_slice(), &arrival).unwrap();
    let mut out = Vec::new();
    pipeline
        .answer(&mut processed, Format::Json, &mut out)
        .unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// Per line: reference and sorted codes.
fn verdicts(v: &Value, from_gateway: bool) -> Vec<(String, Vec<String>)> {
    v["prestaties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let mut codes: Vec<String> = p["retourcodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    if from_gateway {
                        c["code"].as_str().unwrap().to_owned()
                    } else {
                        c.as_str().unwrap().to_owned()
                    }
                })
                .collect();
            codes.sort();
            (p["referentie_nummer"].as_str().unwrap().to_owned(), codes)
        })
        .collect()
}

/// How the registry is filled for a run of the cases.
#[derive(Clone, Copy, Debug)]
enum Fill {
    /// Indications and allocations from the registers only; AW35/AW39 (no
    /// register holds them) as messages.
    RegisterOnly,
    /// Indications from the Indicatieregister, allocations from AW33.
    IndicationsFromRegister,
    /// Indications from IO31, allocations from the Bemiddelingsregister.
    AllocationsFromRegister,
    /// Every message and the whole register: each fact by both paths.
    Both,
}

/// The registry cases whose verdicts differ from expected.json under `fill`,
/// with the lines that differ.
fn differing(py: &str, fill: Fill) -> BTreeMap<String, Vec<String>> {
    let cases: Vec<common::Case> = common::cases()
        .into_iter()
        .filter(|c| c.meta.registry.is_some())
        .collect();
    assert!(cases.len() >= 57, "only {} registry cases", cases.len());
    let dirs: BTreeSet<String> = cases
        .iter()
        .map(|c| c.meta.registry.clone().unwrap())
        .collect();
    let mut data_of = BTreeMap::new();
    let tmp = tempfile::tempdir().unwrap();
    let certs = tmp.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    for dir in &dirs {
        let data = tmp.path().join(format!("data-{dir}"));
        let stores = RegistryStores::open(&data).unwrap();
        let only = match fill {
            Fill::RegisterOnly | Fill::Both => None,
            Fill::IndicationsFromRegister => Some("indicaties"),
            Fill::AllocationsFromRegister => Some("toewijzingen"),
        };
        let fx = tmp.path().join(format!("fixtures-{dir}.json"));
        fixtures(py, dir, only, &fx);
        let register = Register::start(py, &certs, &fx, 3600);
        let kinds: &[&str] = match fill {
            Fill::RegisterOnly => &["aw35", "aw39"],
            Fill::IndicationsFromRegister => &["aw33", "aw35", "aw39"],
            Fill::AllocationsFromRegister => &["io31", "aw35", "aw39"],
            Fill::Both => &["io31", "aw33", "aw35", "aw39"],
        };
        ingest_files(&stores, &messages(dir, kinds));
        let (facts, applied) = sync(&register, &stores);
        assert!(facts > 0, "{dir}: the register brought nothing");
        match fill {
            Fill::RegisterOnly => assert!(applied.counts.changed(), "{dir}: nothing stored"),
            // Every indication came by IO31 before: the register's version
            // of each is the same record (older by its afgiftedatum than
            // the message's Dagtekening), never a second one.
            Fill::Both => {
                let i = applied.counts.indicaties;
                assert_eq!(i.added, 0, "{dir}: {i:?}");
                assert!(i.total() > 0, "{dir}: {i:?}");
            }
            _ => {}
        }
        data_of.insert(dir.clone(), data);
    }
    let mut out = BTreeMap::new();
    for case in &cases {
        let expected: Value =
            serde_json::from_slice(&std::fs::read(case.dir.join("expected.json")).unwrap())
                .unwrap();
        let got = answer(case, &data_of[case.meta.registry.as_ref().unwrap()]);
        let (want, got) = (verdicts(&expected, false), verdicts(&got, true));
        assert_eq!(want.len(), got.len(), "{}", case.name);
        let lines: Vec<String> = want
            .iter()
            .zip(&got)
            .filter(|(w, g)| w != g)
            .map(|(w, g)| format!("{}: want {:?} got {:?}", w.0, w.1, g.1))
            .collect();
        if !lines.is_empty() {
            out.insert(case.name.clone(), lines);
        }
    }
    out
}

/// Cases whose verdict turns on one function rather than another: the
/// official register schemas hold ZZPs, not functions (an indicated ZZP
/// covers every function, an mpt allocation allocates both mpt functions),
/// so through the registers these lines are accepted where the messages
/// name the missing function. Everything else must agree.
fn function_level(cases: &[&str]) -> BTreeSet<String> {
    cases.iter().map(|s| s.to_string()).collect()
}

fn assert_only(fill: Fill, got: &BTreeMap<String, Vec<String>>, allowed: &BTreeSet<String>) {
    let unexpected: Vec<String> = got
        .iter()
        .filter(|(k, _)| !allowed.contains(*k))
        .map(|(k, v)| format!("{k}: {}", v.join("; ")))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{fill:?}: verdicts differ from expected.json in\n{}",
        unexpected.join("\n")
    );
    // The listed ones must really differ, or the list is stale.
    let stale: Vec<&String> = allowed.iter().filter(|k| !got.contains_key(*k)).collect();
    assert!(stale.is_empty(), "{fill:?}: these now agree: {stale:?}");
}

#[test]
fn registry_cases_through_the_register_alone_and_mixed_with_messages() {
    let Some(py) = python() else { return };
    let mut problems = Vec::new();
    // 206: indication 4200501 indicates 81 only; through the register it
    //      indicates a ZZP, which covers 82 too (no 0402).
    // 247, 248, 250: the provider is allocated 81 but not 82 (or the
    //      reverse); through the register the allocation is an mpt ZZP,
    //      which allocates both functions: no 0403, and then 0406 (no AW35
    //      for the function never allocated in the messages).
    const INDICATED_FUNCTION: &str = "206-0402-function-of-another-indication";
    const ALLOCATED_FUNCTION: [&str; 3] = [
        "247-0507-0403",
        "248-0401-0403-0404-0405-together",
        "250-0402-0403-checked-independently",
    ];
    let mut all = ALLOCATED_FUNCTION.to_vec();
    all.push(INDICATED_FUNCTION);
    for (fill, allowed) in [
        (Fill::RegisterOnly, function_level(&all)),
        (Fill::IndicationsFromRegister, function_level(&[])),
        (
            Fill::AllocationsFromRegister,
            function_level(&ALLOCATED_FUNCTION),
        ),
        (Fill::Both, function_level(&ALLOCATED_FUNCTION)),
    ] {
        let got = differing(&py, fill);
        if let Err(e) = std::panic::catch_unwind(|| assert_only(fill, &got, &allowed)) {
            problems.push(
                e.downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_else(|| format!("{fill:?} failed")),
            );
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---- notifications through `serve` ------------------------------------------

const ZK_TOKEN: &str = "netwerkmodel-test-zorgkantoor";

fn sha256_hex(s: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A configuration directory: the conformance configuration, a zorgkantoor
/// token and `[registry.netwerkmodel]` for `register` (with `edit` applied
/// to that table's text).
fn serve_config(register: &Register, dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let conf = dir.join("config");
    std::fs::create_dir_all(&conf).unwrap();
    let base = std::fs::read_to_string(root().join("conformance/config/gateway.toml")).unwrap();
    let c = register.config();
    let table = edit(format!(
        "[registry.netwerkmodel]\nindicatieregister = \"{}\"\nbemiddelingsregister = \"{}\"\n\
         token_url = \"{}\"\nclient_id = \"gateway\"\nclient_secret_file = \"{}\"\n\
         client_cert = \"{}\"\nclient_key = \"{}\"\nca = \"{}\"\nscope = \"registers\"\n\
         timeout_ms = 1000\nattempts = 2\nretry_initial_ms = 50\n",
        c.indicatieregister,
        c.bemiddelingsregister,
        c.token_url,
        c.client_secret_file.display(),
        c.client_cert.display(),
        c.client_key.display(),
        c.ca.display()
    ));
    let text = format!(
        "{base}\n[[tokens]]\nrole = \"zorgkantoor\"\nsha256 = \"{}\"\n\n{table}",
        sha256_hex(ZK_TOKEN)
    );
    std::fs::write(conf.join("gateway.toml"), text).unwrap();
    Config::load_dir(&conf).expect("the test configuration loads");
    conf
}

struct Gateway {
    child: Child,
    addr: String,
}

impl Gateway {
    fn start(config: &Path, data: &Path) -> Gateway {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zio-gateway"))
            .args(["serve", "--config", config.to_str().unwrap()])
            .args(["--data", data.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(!line.trim().is_empty(), "serve printed no address");
        Gateway {
            child,
            addr: line.trim().to_owned(),
        }
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value, Option<String>) {
        runtime().block_on(async {
            let r = reqwest::Client::new()
                .post(format!("http://{}{path}", self.addr))
                .bearer_auth(ZK_TOKEN)
                .json(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            (status, r.json().await.unwrap_or(Value::Null), retry)
        })
    }

    fn metrics(&self) -> String {
        runtime().block_on(async {
            reqwest::get(format!("http://{}/metrics", self.addr))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of one metric sample (`name{labels}`), 0 when absent.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

fn notification(event: &str, record: &str) -> Value {
    json!({
        "timestamp": "2024-03-08T12:00:00Z",
        "afzenderIDType": "UZOVI", "afzenderID": "5509",
        "ontvangerIDType": "UZOVI", "ontvangerID": "5509", "ontvangerKenmerk": null,
        "eventType": event,
        "subjectList": [{"subject": "Bemiddeling/00000000-0000-0000-0000-000000000000", "recordID": record}]
    })
}

/// A notification of a new Bemiddelingspecificatie, posted to the gateway.
fn notify(gw: &Gateway, id: &str) -> (u16, Value, Option<String>) {
    gw.post(
        "/netwerkmodel/notificaties",
        &notification(
            "NIEUWE_BEMIDDELINGSPECIFICATIE_ZORGKANTOOR",
            &format!("Bemiddelingspecificatie/{id}"),
        ),
    )
}

/// The fixture's Bemiddelingspecificatie of a client (mpt, to `instelling`).
fn specificatie_of(fx: &Value, bsn: &str, zzp: &str) -> String {
    let s = fx["bemiddelingspecificatie"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["bemiddeling"]["client"]["bsn"] == bsn && s["zzpCode"] == zzp)
        .unwrap_or_else(|| panic!("no specificatie {bsn} {zzp}"));
    s["bemiddelingspecificatieID"].as_str().unwrap().to_owned()
}

fn check_cli(config: &Path, data: &Path, case: &str) -> Value {
    let dir = root().join("conformance/cases").join(case);
    let meta: common::CaseToml =
        toml::from_str(&std::fs::read_to_string(dir.join("case.toml")).unwrap()).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_zio-gateway"))
        .args(["check", "--config", config.to_str().unwrap()])
        .args(["--data", data.to_str().unwrap(), "--today", &meta.today])
        .args(["--format", "json"])
        .arg(dir.join("request.xml"))
        .output()
        .unwrap();
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A register serving the conformance registry's facts (`only`: one
/// register's part), its certificates and fixtures in a fresh directory.
/// Keep `tmp` bound while the register runs: its directory holds the
/// certificates.
struct Setup {
    // Declared first: stopped before the directory goes.
    register: Register,
    fx: Value,
    certs: PathBuf,
    tmp: tempfile::TempDir,
}

fn setup(py: &str, only: Option<&str>, token_ttl: u64) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let fx_path = tmp.path().join("fixtures.json");
    fixtures(py, "registry", only, &fx_path);
    let fx: Value = serde_json::from_slice(&std::fs::read(&fx_path).unwrap()).unwrap();
    let certs = tmp.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let register = Register::start(py, &certs, &fx_path, token_ttl);
    Setup {
        register,
        fx,
        certs,
        tmp,
    }
}

#[test]
fn notifications_are_stored_once_and_survive_a_failing_register() {
    let Some(py) = python() else { return };
    let Setup {
        register, fx, tmp, ..
    } = setup(&py, None, 3600);
    let conf = serve_config(&register, tmp.path(), |t| t);
    let data = tmp.path().join("data");
    let gw = Gateway::start(&conf, &data);

    // K06 (240300063): mpt ZZP 806 to P1 from the AW33 of 2024-01-02.
    let k06 = specificatie_of(&fx, "240300063", "806");
    let n = notification(
        "NIEUWE_BEMIDDELINGSPECIFICATIE_ZORGKANTOOR",
        &format!("Bemiddelingspecificatie/{k06}"),
    );
    let (status, body, _) = gw.post("/netwerkmodel/notificaties", &n);
    assert_eq!(status, 200, "{body}");
    let r = &body["verwerkt"][0];
    assert_eq!(r["uitkomst"], "opgeslagen", "{body}");
    assert_eq!(r["zzp_toewijzingen"]["nieuw"], 1, "{body}");
    assert_eq!(r["functie_toewijzingen"]["nieuw"], 2, "{body}");
    assert_eq!(r["indicaties"]["nieuw"], 1, "{body}");

    // The same notification again: recognised, nothing counted twice.
    let (status, body, _) = gw.post("/netwerkmodel/notificaties", &n);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verwerkt"][0]["uitkomst"], "herhaald", "{body}");
    let stats = register.control("/_control/stats", None);
    assert_eq!(
        stats["token_requests"], 1,
        "one token for every query: {stats}"
    );

    // An expired token is renewed once, without failing the notification.
    register.control("/_control/expire-tokens", Some(&json!({})));
    let k07 = specificatie_of(&fx, "240300075", "806");
    let (status, body, _) = notify(&gw, &k07);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verwerkt"][0]["uitkomst"], "opgeslagen", "{body}");
    let stats = register.control("/_control/stats", None);
    assert_eq!(stats["token_requests"], 2, "{stats}");
    assert!(stats["unauthorized"].as_u64().unwrap() >= 1, "{stats}");

    // A new indication from the Indicatieregister: K04's negative decision
    // (nothing indicated) is stored as it is; an unknown one is not found.
    let k04 = fx["wlzIndicatie"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["bsn"] == "240300038")
        .unwrap()["wlzindicatieID"]
        .as_str()
        .unwrap()
        .to_owned();
    let ind = |id: &str| {
        let mut n = notification(
            "NIEUWE_INDICATIE_ZORGKANTOOR",
            &format!("WlzIndicatie/{id}"),
        );
        n["subjectList"][0]["subject"] = json!(format!("WlzIndicatie/{id}"));
        gw.post("/netwerkmodel/notificaties", &n)
    };
    let (status, body, _) = ind(&k04);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verwerkt"][0]["uitkomst"], "opgeslagen", "{body}");
    assert_eq!(body["verwerkt"][0]["indicaties"]["nieuw"], 1, "{body}");
    let (status, body, _) = ind("7d0c3f7e-0000-4000-8000-0000000000ff");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verwerkt"][0]["uitkomst"], "niet_gevonden", "{body}");

    // A notification for another zorgkantoor, and a malformed one.
    let mut other = n.clone();
    other["ontvangerID"] = json!("5510");
    assert_eq!(gw.post("/netwerkmodel/notificaties", &other).0, 422);
    let mut bad = n.clone();
    bad["subjectList"][0]["recordID"] = json!("Bemiddelingspecificatie/nope");
    assert_eq!(gw.post("/netwerkmodel/notificaties", &bad).0, 400);

    // The register times out: 503 with Retry-After, the attempts visible,
    // the last success and the newest fact still reported.
    let before = gw.metrics();
    let last_ok = sample(
        &before,
        "zio_gateway_register_last_success_timestamp_seconds{register=\"bemiddelingsregister\"}",
    );
    let newest = sample(
        &before,
        "zio_gateway_register_newest_fact_timestamp_seconds{register=\"bemiddelingsregister\"}",
    );
    assert!(last_ok > 0.0 && newest > 0.0, "{before}");
    register.control("/_control/delay", Some(&json!({"seconds": 3})));
    let k08 = specificatie_of(&fx, "240300087", "806");
    let started = Instant::now();
    let (status, body, retry) = notify(&gw, &k08);
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry.as_deref(), Some("30"));
    assert!(
        body["detail"].as_str().unwrap().contains("timed out"),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "two attempts of 1 s each, not the register's pace"
    );
    let after = gw.metrics();
    assert_eq!(
        sample(
            &after,
            "zio_gateway_register_queries_total{outcome=\"timeout\",register=\"bemiddelingsregister\"}"
        ),
        2.0,
        "{after}"
    );
    assert_eq!(
        sample(
            &after,
            "zio_gateway_register_last_success_timestamp_seconds{register=\"bemiddelingsregister\"}"
        ),
        last_ok,
        "the age of the data shows: no success since"
    );
    drop(gw);

    // What is stored still answers the 04xx checks: K06's mpt allocation
    // allocates 81 and 82 to P1 (the registry holds no AW35 here, so 0406 is
    // switched off by a copy of the configuration).
    let text = std::fs::read_to_string(conf.join("gateway.toml")).unwrap()
        + "\n[indications]\nrequire_start_of_delivery = false\n";
    let conf2 = tmp.path().join("config2");
    std::fs::create_dir_all(&conf2).unwrap();
    std::fs::write(conf2.join("gateway.toml"), text).unwrap();
    let v = check_cli(
        &conf2,
        &data,
        "208-0402-indicated-zzp-covers-every-function",
    );
    let lines = verdicts(&v, true);
    assert!(!lines.is_empty(), "{v}");
    for (r, codes) in &lines {
        assert!(
            !codes.iter().any(|c| c.starts_with("04")),
            "{r}: {codes:?} though the register's facts are stored"
        );
    }
}

#[test]
fn a_refused_client_certificate_is_an_error_not_an_empty_register() {
    let Some(py) = python() else { return };
    let Setup {
        register,
        certs,
        tmp: _tmp,
        ..
    } = setup(&py, None, 3600);
    let mut cfg = register.config();
    cfg.client_cert = certs.join("rogue-client.pem");
    cfg.client_key = certs.join("rogue-client.key");
    let service = Service::new(&cfg, Arc::new(Telemetry::new())).unwrap();
    let e = runtime()
        .block_on(service.fetch_sync(None))
        .map(|_| ())
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("register unreachable") || msg.contains("register refused"),
        "{msg}"
    );
    assert_eq!(
        register.control("/_control/stats", None)["token_requests"],
        0
    );
    // The metric says so.
    let m = service.telemetry.tokens.with_label_values(&["error"]).get();
    assert!(m >= 1, "token errors counted: {m}");
}

#[test]
fn sync_recovers_a_missed_notification_and_a_second_sync_changes_nothing() {
    let Some(py) = python() else { return };
    let Setup {
        register,
        mut fx,
        tmp,
        ..
    } = setup(&py, None, 3600);
    let conf = serve_config(&register, tmp.path(), |t| t);
    let data = tmp.path().join("data");
    let sync_cli = |since: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_zio-gateway"));
        c.args(["registry", "sync", "--config", conf.to_str().unwrap()])
            .args(["--data", data.to_str().unwrap()]);
        if let Some(s) = since {
            c.args(["--since", s]);
        }
        c.output().unwrap()
    };
    let o = sync_cli(None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.contains("22 indications, 30 allocations"), "{out}");
    assert!(out.contains("indications: 22 new"), "{out}");

    // Again: the same answers, recognised.
    let o = sync_cli(None);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.contains("nothing changed"), "{out}");

    // A new allocation in the register whose notification never came: K17
    // (in no message) gets an indication and an mpt allocation to P1.
    let mut ind = fx["wlzIndicatie"][0].clone();
    ind["wlzindicatieID"] = json!("7d0c3f7e-0000-4000-8000-000000000017");
    ind["bsn"] = json!("240300178");
    ind["besluitnummer"] = json!(4201701);
    ind["afgiftedatum"] = json!("2026-11-30");
    ind["client"]["bsn"] = json!("240300178");
    ind["geindiceerdZorgzwaartepakket"] = json!([{
        "geindiceerdZorgzwaartepakketID": "7d0c3f7e-0000-4000-8000-100000000017",
        "zzpCode": "806", "ingangsdatum": "2024-01-01", "einddatum": null,
        "voorkeurClient": null, "instellingVoorkeur": null, "financiering": "1", "commentaar": null}]);
    let mut spec = fx["bemiddelingspecificatie"][0].clone();
    spec["bemiddelingspecificatieID"] = json!("7d0c3f7e-0000-4000-8000-200000000017");
    spec["leveringsvorm"] = json!("7");
    spec["zzpCode"] = json!("806");
    spec["instelling"] = json!("11110001");
    spec["toewijzingIngangsdatum"] = json!("2024-01-01");
    spec["toewijzingEinddatum"] = Value::Null;
    spec["redenIntrekking"] = Value::Null;
    spec["vaststellingMoment"] = json!("2026-11-30T10:00:00Z");
    spec["bemiddeling"]["bemiddelingID"] = json!("7d0c3f7e-0000-4000-8000-300000000017");
    spec["bemiddeling"]["wlzIndicatieID"] = json!("7d0c3f7e-0000-4000-8000-000000000017");
    spec["bemiddeling"]["client"]["clientID"] = json!("7d0c3f7e-0000-4000-8000-400000000017");
    spec["bemiddeling"]["client"]["bsn"] = json!("240300178");
    fx["wlzIndicatie"].as_array_mut().unwrap().push(ind);
    fx["bemiddelingspecificatie"]
        .as_array_mut()
        .unwrap()
        .push(spec);
    register.control("/_control/fixtures", Some(&fx));

    let o = sync_cli(Some("2026-11-01"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.contains("1 indications, 1 allocations"), "{out}");
    assert!(out.contains("indications: 1 new"), "{out}");
    assert!(out.contains("zzp allocations: 1 new"), "{out}");
    assert!(out.contains("function allocations (mpt): 2 new"), "{out}");

    // The stamp says where the stored fact came from.
    let stores = RegistryStores::open(&data).unwrap();
    let mut text = Vec::new();
    stores.with_writer(|s| s.dump(&mut text)).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains(
            "bemiddelingsregister:Bemiddelingspecificatie/7d0c3f7e-0000-4000-8000-200000000017"
        ),
        "the allocation's origin is kept"
    );
    // The allocation carries the besluitnummer of its indication.
    assert!(
        text.contains("240300178\t81\t11110001\t2024-01-01\t-\t4201701\t2026-11-30\t10:00:00"),
        "{text}"
    );

    // Bad --since.
    let o = sync_cli(Some("gisteren"));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_short_lived_token_is_renewed_before_it_runs_out() {
    let Some(py) = python() else { return };
    // Tokens live 1 s here: the second query, 1.5 s later, needs a new one.
    let Setup {
        register,
        tmp: _tmp,
        ..
    } = setup(&py, Some("indicaties"), 1);
    let service = Service::new(&register.config(), Arc::new(Telemetry::new())).unwrap();
    let rt = runtime();
    rt.block_on(service.fetch_sync(None)).unwrap();
    let first = register.control("/_control/stats", None);
    std::thread::sleep(Duration::from_millis(1500));
    rt.block_on(service.fetch_sync(None)).unwrap();
    let second = register.control("/_control/stats", None);
    assert_eq!(first["token_requests"], 1, "{first}");
    assert_eq!(second["token_requests"], 2, "{second}");
    assert_eq!(
        second["unauthorized"], 0,
        "renewed before it was refused: {second}"
    );
}

#[test]
fn the_introspection_the_queries_are_checked_against_is_the_official_schema() {
    let Some(py) = python() else { return };
    let o = Command::new(&py)
        .arg(root().join("scripts/netwerkmodel-introspect.py"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn the_register_path_stores_the_same_in_postgresql_as_in_sqlite() {
    let Some(py) = python() else { return };
    let Some(pg) = registry_support::pg_location("netwerkmodel_sync") else {
        return;
    };
    let Setup { register, tmp, .. } = setup(&py, None, 3600);
    let dump = |stores: &RegistryStores| {
        let mut out = Vec::new();
        stores.with_writer(|s| s.dump(&mut out)).unwrap();
        String::from_utf8(out).unwrap()
    };
    let lite = RegistryStores::open(&tmp.path().join("data")).unwrap();
    let pgs = RegistryStores::open_at(pg).unwrap();
    for stores in [&lite, &pgs] {
        ingest_files(stores, &messages("registry", &["aw35", "aw39"]));
        let (_, first) = sync(&register, stores);
        assert!(first.counts.changed() && !first.replay);
        let (_, again) = sync(&register, stores);
        assert!(again.replay, "the same answer again is a replay");
    }
    let (a, b) = (dump(&lite), dump(&pgs));
    assert!(
        a.contains("bemiddelingsregister:Bemiddelingspecificatie/"),
        "{a}"
    );
    assert_eq!(a, b);
}
