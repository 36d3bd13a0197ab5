//! Issue 14: several gateways, one PostgreSQL, without losing or doubling a
//! line. Real processes throughout: three `zio-gateway serve` on one
//! PostgreSQL ledger (each its own data directory and port) behind a
//! loopback nginx (Debian's package, started unprivileged-style from its own
//! temp directory), forwarding both routes over http to a recording
//! upstream. A bounded load of unique 2-line messages goes through nginx
//! from a few concurrent clients; mid-load one instance is killed with
//! SIGKILL and restarted on its data directory, and the iWlz registry of
//! conformance/registry is ingested through another one.
//!
//! Then: every line answered as accepted is in the ledger exactly once (and
//! nothing else is); every forwarded message reached the upstream, twice
//! only for the sends the kill interrupted; the nacalculatie equals that of
//! a single SQLite instance fed the same messages; and every instance,
//! asked directly, answers a message that needs the registry alike.
//!
//! Without PostgreSQL or nginx the test prints SKIPPED and passes (CI
//! installs both, `.ci/run`). Nothing here asserts a duration: waits are
//! polls with generous deadlines.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

mod ledger_support;

const BIN: &str = env!("CARGO_BIN_EXE_zio-gateway");
/// The provider of the conformance configuration whose client K01 the
/// conformance registry knows (indication, allocation, start of delivery).
const AGB: &str = "11110001";
const PROVIDER_TOKEN: &str = "multi-token-11110001";
const ZK_TOKEN: &str = "multi-token-zorgkantoor";
const MESSAGES: usize = 2400;
const CLIENTS: usize = 6;
/// `[upstreams] concurrency` of every instance: the worker's window of sent
/// and not yet marked rows is 4 x this, the most a kill can send twice.
const CONCURRENCY: usize = 4;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn skipped(why: &str) {
    // Straight to the process's stderr: the harness captures eprintln!.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}: multi_instance");
}

fn nginx_bin() -> Option<PathBuf> {
    let fixed = PathBuf::from("/usr/sbin/nginx");
    if fixed.exists() {
        return Some(fixed);
    }
    let out = Command::new("sh")
        .args(["-c", "command -v nginx"])
        .output()
        .ok()?;
    let p = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !p.is_empty()).then(|| PathBuf::from(p))
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---- the messages -------------------------------------------------------------

/// Message `id`: client K01 of the conformance registry, an H307 line in
/// school time (ZIO) and an H300 line (REGULIER), both accepted with no
/// registry and with the whole registry, so where the registry is seen
/// cannot change a verdict of the load. Only while it is being ingested,
/// message by message, may K01 lack its allocation (0403) or start of
/// delivery (0406). References unique to `id`.
fn declaration(id: &str) -> Bytes {
    Bytes::from(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Declaratiebericht xmlns="urn:zio-gateway:declaratie:1">
  <Header>
    <BerichtIdentificatie><Identificatie>{id}</Identificatie><Dagtekening>2024-04-02</Dagtekening></BerichtIdentificatie>
    <Afzender>{AGB}</Afzender>
    <Ontvanger>5509</Ontvanger>
    <Declaratieperiode><Begindatum>2024-03-01</Begindatum><Einddatum>2024-03-31</Einddatum></Declaratieperiode>
  </Header>
  <Clienten>
    <Client>
      <Bsn>240300002</Bsn><Geboortedatum>2014-06-12</Geboortedatum><Besluitnummer>4200101</Besluitnummer>
      <Prestaties>
        <Prestatie><ReferentieNummer>{id}-1</ReferentieNummer><ProductCode>H307</ProductCode><Begindatum>2024-03-04</Begindatum><Einddatum>2024-03-08</Einddatum><GeleverdVolume>2</GeleverdVolume><Eenheid>04</Eenheid><ProductTarief>7650</ProductTarief><Bedrag>15300</Bedrag><DebetCredit>D</DebetCredit><Onderwijstijd>true</Onderwijstijd><Brin>12AB</Brin></Prestatie>
        <Prestatie><ReferentieNummer>{id}-2</ReferentieNummer><ProductCode>H300</ProductCode><Begindatum>2024-03-11</Begindatum><Einddatum>2024-03-15</Einddatum><GeleverdVolume>2</GeleverdVolume><Eenheid>04</Eenheid><ProductTarief>7650</ProductTarief><Bedrag>15300</Bedrag><DebetCredit>D</DebetCredit></Prestatie>
      </Prestaties>
    </Client>
  </Clienten>
  <Totalen><AantalPrestaties>2</AantalPrestaties><TotaalDebet>30600</TotaalDebet><TotaalCredit>0</TotaalCredit></Totalen>
</Declaratiebericht>
"#
    ))
}

/// A message that needs the registry: K17 of conformance case 221, whom
/// no iWlz message names. Once the registry holds anything its line gets
/// 0401 and 0403; before, no 04xx check runs and it is accepted.
fn needs_registry(id: &str) -> Bytes {
    let t = std::fs::read_to_string(
        root().join("conformance/cases/221-0401-0403-client-unknown-to-registry/request.xml"),
    )
    .unwrap();
    assert!(t.contains("<Identificatie>REG-221<"), "case 221 changed");
    Bytes::from(
        t.replace("<Identificatie>REG-221<", &format!("<Identificatie>{id}<"))
            .replace(
                "<ReferentieNummer>R1<",
                &format!("<ReferentieNummer>{id}-1<"),
            ),
    )
}

// ---- a small HTTP client --------------------------------------------------------

struct Answer {
    status: StatusCode,
    herhaling: bool,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Begins the error of an answer whose head arrived and whose body did not
/// end: with `proxy_buffering off`, nginx has passed a streamed answer's
/// head on when the instance writing it is killed, and can only close.
const CUT: &str = "answer cut after its head";

/// One request on a fresh connection; `Err` for a connection that failed
/// (refused, reset), which the callers here retry, or an answer cut short
/// ([`CUT`]).
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Answer, String> {
    let go = async {
        let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = sender
            .send_request(req.body(Full::new(body)).unwrap())
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let herhaling = resp
            .headers()
            .get("x-zio-herhaling")
            .is_some_and(|v| v == "true");
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{CUT} ({status}): {e}"))?
            .to_bytes();
        Ok(Answer {
            status,
            herhaling,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    };
    tokio::time::timeout(Duration::from_secs(60), go)
        .await
        .map_err(|_| "no answer within 60 s".to_owned())?
}

fn provider_auth() -> (&'static str, String) {
    ("authorization", format!("Bearer {PROVIDER_TOKEN}"))
}

fn zk_auth() -> (&'static str, String) {
    ("authorization", format!("Bearer {ZK_TOKEN}"))
}

async fn declare(addr: SocketAddr, body: Bytes) -> Result<Answer, String> {
    let (k, v) = provider_auth();
    send(
        addr,
        "POST",
        "/declaraties",
        &[(k, &v), ("accept", "application/json")],
        body,
    )
    .await
}

async fn zk_get(addr: SocketAddr, path: &str) -> Answer {
    let (k, v) = zk_auth();
    let a = send(addr, "GET", path, &[(k, &v)], Bytes::new())
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(a.status, StatusCode::OK, "GET {path}: {}", a.body);
    a
}

/// Every file of conformance/registry, in name order, through `POST /registry`.
async fn ingest_registry(addr: SocketAddr) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("conformance/registry"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "conformance/registry has its messages");
    let (k, v) = zk_auth();
    for f in files {
        let a = send(
            addr,
            "POST",
            "/registry",
            &[(k, &v)],
            Bytes::from(std::fs::read(&f).unwrap()),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(a.status, StatusCode::OK, "{}: {}", f.display(), a.body);
    }
}

// ---- the processes ----------------------------------------------------------------

/// The conformance configuration (participant 11110001, agreements 2024),
/// with tokens, limits lifted, both routes over http to `upstream`, and the
/// PostgreSQL ledger when `pg` is given. The upstream timeout is far above
/// what the recorder takes even on a loaded machine, so only the kill can
/// make a message arrive twice; it also sets the lease (2 x timeout +
/// 30 s) the killed instance's claimed rows wait out before another
/// instance sends them.
fn write_config(dir: &Path, upstream: SocketAddr, pg: Option<&str>) -> PathBuf {
    let mut text = std::fs::read_to_string(root().join("conformance/config/gateway.toml")).unwrap();
    assert!(
        !text.contains("[upstreams]") && !text.contains("[[tokens]]") && !text.contains("[store]"),
        "conformance/config/gateway.toml gained a table this test also writes"
    );
    text.push_str(&format!(
        r#"
[upstreams]
zio = "http://{upstream}/zio"
regulier = "http://{upstream}/regulier"
timeout_ms = 5000
retry_initial_ms = 100
retry_max_ms = 1000
concurrency = {CONCURRENCY}

[[tokens]]
role = "aanbieder"
agb = "{AGB}"
sha256 = "{}"

[[tokens]]
role = "zorgkantoor"
sha256 = "{}"

[rate_limits]
requests_per_second = 1000000
burst = 1000000
lines_per_minute = 1000000000
"#,
        sha256_hex(PROVIDER_TOKEN),
        sha256_hex(ZK_TOKEN),
    ));
    if let Some(url) = pg {
        text.push_str(&format!("\n[store]\npostgres_url = \"{url}\"\n"));
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("gateway.toml"), text).unwrap();
    dir.to_owned()
}

struct Gateway {
    child: Child,
    addr: SocketAddr,
    config: PathBuf,
    data: PathBuf,
    log: PathBuf,
}

impl Gateway {
    /// `serve` on `config` and `data`, listening on `listen`; waits until it
    /// printed its address and says it is ready. `None` when it exited
    /// first (a port not yet free again after a kill).
    fn try_start(config: &Path, data: &Path, listen: &str, log: &Path) -> Option<Gateway> {
        let mut child = Command::new(BIN)
            .arg("serve")
            .arg("--config")
            .arg(config)
            .arg("--data")
            .arg(data)
            .args(["--listen", listen])
            // The configuration says which ledger; the environment must not.
            .env_remove("ZIO_GATEWAY_LEDGER_URL")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .unwrap(),
            )
            .spawn()
            .expect("start zio-gateway serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let Ok(addr) = line.trim().parse::<SocketAddr>() else {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        };
        let g = Gateway {
            child,
            addr,
            config: config.to_owned(),
            data: data.to_owned(),
            log: log.to_owned(),
        };
        g.wait_ready();
        Some(g)
    }

    fn start(config: &Path, data: &Path, listen: &str, log: &Path) -> Gateway {
        for _ in 0..20 {
            if let Some(g) = Self::try_start(config, data, listen, log) {
                return g;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!(
            "serve on {listen} did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }

    fn wait_ready(&self) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let r = rt.block_on(send(self.addr, "GET", "/readyz", &[], Bytes::new()));
            if matches!(r, Ok(ref a) if a.status == StatusCode::OK) {
                return;
            }
            assert!(Instant::now() < end, "{} never ready", self.addr);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, then the same data directory and port again.
    fn kill_and_restart(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
        let listen = self.addr.to_string();
        *self = Gateway::start(&self.config, &self.data, &listen, &self.log);
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx runs as one process (`master_process off`), so killing it leaves
/// no orphaned worker behind.
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// nginx in the foreground from its own directory, balancing over
/// `backends`. A connection error (a killed instance refusing) moves a
/// request to the next instance; a request already sent is never resent by
/// nginx (POST is not idempotent): its client sees 502 and resends.
fn start_nginx(bin: &Path, dir: &Path, backends: &[SocketAddr]) -> (Nginx, SocketAddr) {
    std::fs::create_dir_all(dir).unwrap();
    let servers: String = backends
        .iter()
        .map(|a| format!("    server {a} max_fails=0;\n"))
        .collect();
    let d = dir.display();
    for _ in 0..10 {
        let port = free_port();
        let conf = format!(
            r#"master_process off;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  upstream gateways {{
{servers}    keepalive 16;
  }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 16m;
    client_body_buffer_size 1m;
    location / {{
      proxy_pass http://gateways;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 3;
      proxy_connect_timeout 2s;
      proxy_read_timeout 60s;
    }}
  }}
}}
"#
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let mut child = Command::new(bin)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if std::net::TcpStream::connect(addr).is_ok() {
                return (Nginx(child), addr);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!(
        "nginx did not start: {}",
        std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
    );
}

/// A recording upstream (like examples/upstream.rs): every POST's
/// Identificatie is written down, with when, before the 200, so whatever
/// a gateway may count as delivered is in the record.
struct Upstream {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<(String, Instant)>>>,
}

fn start_upstream() -> Upstream {
    let received: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let rec = received.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            while let Ok((sock, _)) = listener.accept().await {
                let rec = rec.clone();
                tokio::spawn(async move {
                    let svc =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let rec = rec.clone();
                            async move {
                                let body = req.into_body().collect().await?.to_bytes();
                                let text = String::from_utf8_lossy(&body);
                                let id = text
                                    .split_once("<Identificatie>")
                                    .and_then(|(_, r)| r.split_once("</Identificatie>"))
                                    .map_or("-", |(id, _)| id)
                                    .to_owned();
                                rec.lock().unwrap().push((id, Instant::now()));
                                Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from_static(
                                    b"ok\n",
                                ))))
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(sock), svc)
                        .await;
                });
            }
        });
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    Upstream { addr, received }
}

// ---- the load ---------------------------------------------------------------------

/// What the gateway finally answered to one message, after any resends.
struct Final {
    accepted: Vec<String>,
    /// The retourcodes of the lines not accepted.
    refused: BTreeSet<String>,
    herhaling: bool,
    /// The first send and the final answer.
    sent: Instant,
    answered: Instant,
}

#[derive(Default)]
struct Counts {
    answered: AtomicUsize,
    /// 502/503/504 from nginx or a gateway, resent.
    bad_gateway: AtomicUsize,
    /// Connections that failed before any answer, resent.
    connection_errors: AtomicUsize,
    /// Answers cut after their head (the instance that wrote them was
    /// killed), resent.
    cut: AtomicUsize,
}

/// Sends every message (`ids[i]`) from `clients` concurrent clients to
/// `addr`, each resent until a 200 (a provider resends what got no answer;
/// a byte-identical resend gets the kept answer).
async fn drive(
    addr: SocketAddr,
    ids: Arc<Vec<String>>,
    clients: usize,
    counts: Arc<Counts>,
) -> BTreeMap<String, Final> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (ids, next, counts) = (ids.clone(), next.clone(), counts.clone());
        tasks.spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = ids.get(i) else { break };
                let body = declaration(id);
                let sent = Instant::now();
                let mut tries = 0;
                let a = loop {
                    tries += 1;
                    assert!(tries <= 200, "{id}: no 200 after {tries} sends");
                    match declare(addr, body.clone()).await {
                        Ok(a) if a.status == StatusCode::OK => break a,
                        Ok(a) if a.status.as_u16() >= 502 && a.status.as_u16() <= 504 => {
                            counts.bad_gateway.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(a) => panic!("{id}: {} {}", a.status, a.body),
                        Err(e) if e.starts_with(CUT) => {
                            counts.cut.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            counts.connection_errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                };
                let answered = Instant::now();
                let v = a.json();
                let lines = v["prestaties"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{id}: {}", a.body));
                assert_eq!(lines.len(), 2, "{id}: {}", a.body);
                let (accepted, refused) = split_lines(lines);
                out.push((
                    id.clone(),
                    Final {
                        accepted,
                        refused,
                        herhaling: a.herhaling,
                        sent,
                        answered,
                    },
                ));
                counts.answered.fetch_add(1, Ordering::Relaxed);
            }
            out
        });
    }
    let mut all = BTreeMap::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(r.expect("a client panicked"));
    }
    all
}

/// The references of the accepted lines, and the codes of the others.
fn split_lines(lines: &[serde_json::Value]) -> (Vec<String>, BTreeSet<String>) {
    let mut accepted = Vec::new();
    let mut refused = BTreeSet::new();
    for p in lines {
        if p["route"] == "AFGEWEZEN" {
            for c in p["retourcodes"].as_array().into_iter().flatten() {
                refused.insert(c["code"].as_str().unwrap_or_default().to_owned());
            }
        } else {
            accepted.push(p["referentie_nummer"].as_str().unwrap().to_owned());
        }
    }
    (accepted, refused)
}

fn pg_query_count(c: &mut postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).unwrap().get(0)
}

/// A fresh database on the test server for this run.
fn fresh_database(url: &str) -> Option<String> {
    let name = format!("zio_multi_{}", std::process::id());
    let mut c = postgres::Client::connect(url, postgres::NoTls).ok()?;
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .unwrap();
    c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let (base, _) = url.rsplit_once('/').expect("a URL with a database");
    Some(format!("{base}/{name}"))
}

#[test]
fn three_instances_on_one_postgresql_lose_and_double_nothing() {
    let Some(nginx) = nginx_bin() else {
        skipped("no nginx (Debian: apt-get install nginx)");
        return;
    };
    let Some(server) = ledger_support::pg_url() else {
        skipped("no PostgreSQL (set ZIO_TEST_PG_URL or install postgresql)");
        return;
    };
    let url = fresh_database(&server).expect("a database on the test server");
    let work = tempfile::Builder::new()
        .prefix("zio-multi-")
        .tempdir()
        .unwrap();
    let w = work.path();
    let upstream = start_upstream();
    let config = write_config(&w.join("config-pg"), upstream.addr, Some(&url));

    // Three instances, one after the other: the first creates the schema.
    let mut gateways: Vec<Gateway> = (0..3)
        .map(|i| {
            Gateway::start(
                &config,
                &w.join(format!("data-{i}")),
                "127.0.0.1:0",
                &w.join(format!("serve-{i}.log")),
            )
        })
        .collect();
    let addrs: Vec<SocketAddr> = gateways.iter().map(|g| g.addr).collect();
    let (_nginx, front) = start_nginx(&nginx, &w.join("nginx"), &addrs);

    let ids: Arc<Vec<String>> = Arc::new((1..=MESSAGES).map(|n| format!("MI{n}")).collect());
    let counts = Arc::new(Counts::default());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let load = rt.spawn(drive(front, ids.clone(), CLIENTS, counts.clone()));

    // Mid-load: a quarter in, instance 0 is killed and restarted; half-way,
    // the registry goes in through instance 1.
    let wait_for = |n: usize| {
        while counts.answered.load(Ordering::Relaxed) < n && !load.is_finished() {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!load.is_finished(), "the load ended before the fault");
    };
    wait_for(MESSAGES / 4);
    gateways[0].kill_and_restart();
    let restarted_at = Instant::now();
    wait_for(MESSAGES / 2);
    let ingest_began = Instant::now();
    rt.block_on(ingest_registry(addrs[1]));
    let ingest_ended = Instant::now();
    let answers = rt.block_on(load).expect("the load");
    assert_eq!(answers.len(), MESSAGES);
    // Every message accepted whole, but those that met the registry half
    // ingested (K01 indicated, not yet allocated or started): refused for
    // that only, and only if they were under way while it went in.
    let accepted_ids: Vec<String> = ids
        .iter()
        .filter(|id| answers[*id].refused.is_empty())
        .cloned()
        .collect();
    for (id, f) in answers.iter().filter(|(_, f)| !f.refused.is_empty()) {
        assert!(f.accepted.is_empty(), "{id}: K01's two lines split");
        let registry_only = f
            .refused
            .iter()
            .all(|c| ["0403", "0406"].contains(&c.as_str()));
        assert!(registry_only, "{id}: refused with {:?}", f.refused);
        assert!(
            f.sent < ingest_ended && f.answered > ingest_began,
            "{id}: refused with {:?} outside the ingest",
            f.refused
        );
    }
    let bad_gateway = counts.bad_gateway.load(Ordering::Relaxed);
    let connection_errors = counts.connection_errors.load(Ordering::Relaxed);
    let cut = counts.cut.load(Ordering::Relaxed);
    let lost = bad_gateway + cut;
    let resends = lost + connection_errors;
    let kept = answers.values().filter(|f| f.herhaling).count();
    eprintln!(
        "multi_instance: {MESSAGES} messages answered, {} refused mid-ingest; {bad_gateway} 5xx \
         and {connection_errors} connection errors and {cut} cut answers resent; {kept} answered \
         with the kept answer",
        MESSAGES - accepted_ids.len(),
    );
    // A kept answer is only ever the answer to a resend.
    assert!(kept <= resends, "{kept} kept answers for {resends} resends");
    // nginx itself never went away, so every send got at least a head; only
    // requests the killed process held (in flight, or on a kept-alive
    // connection to it) may have failed, as a 5xx or, when their answer's
    // head had gone out, cut short: a refused connection goes to the next
    // instance.
    assert_eq!(connection_errors, 0);
    assert!(
        lost <= CLIENTS + 16,
        "more 5xx and cut answers than requests the killed instance can have held"
    );

    // Byte-identical resends, answered by whichever instance nginx picks:
    // the kept answer, nothing recorded again (checked with the ledger).
    for id in accepted_ids.iter().take(30) {
        let a = rt.block_on(declare(front, declaration(id))).unwrap();
        assert_eq!(a.status, StatusCode::OK, "{id}: {}", a.body);
        assert!(
            a.herhaling,
            "{id}: a resend without the kept answer: {}",
            a.body
        );
        let v = a.json();
        let accepted: Vec<String> = v["prestaties"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["route"] != "AFGEWEZEN")
            .map(|p| p["referentie_nummer"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(accepted, answers[id].accepted, "{id}: another kept answer");
    }

    // The single-instance run (SQLite) of the same messages and registry,
    // while the outbox drains. It forwards nowhere that matters: its
    // upstream is the same recorder, which only counts the shared ledger's
    // ids below.
    let solo_upstream = start_upstream();
    let solo_config = write_config(&w.join("config-solo"), solo_upstream.addr, None);
    let solo = Gateway::start(
        &solo_config,
        &w.join("data-solo"),
        "127.0.0.1:0",
        &w.join("serve-solo.log"),
    );
    rt.block_on(ingest_registry(solo.addr));
    let solo_counts = Arc::new(Counts::default());
    let solo_answers = rt.block_on(drive(
        solo.addr,
        Arc::new(accepted_ids.clone()),
        CLIENTS,
        solo_counts,
    ));

    // 1. Every line answered as accepted is in the ledger exactly once, and
    // nothing else is: every message got an answer in the end.
    let mut pg = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut recorded: HashMap<String, i64> = HashMap::new();
    for row in pg
        .query(
            "SELECT referentie, count(*) FROM ledger_line WHERE agb = $1 GROUP BY referentie",
            &[&AGB],
        )
        .unwrap()
    {
        recorded.insert(row.get(0), row.get(1));
    }
    let answered: BTreeSet<&String> = answers.values().flat_map(|f| &f.accepted).collect();
    assert_eq!(answered.len(), 2 * accepted_ids.len());
    for r in &answered {
        assert_eq!(
            recorded.get(*r).copied(),
            Some(1),
            "line {r}: answered as accepted, recorded {:?} times",
            recorded.get(*r)
        );
    }
    let extra: Vec<_> = recorded
        .keys()
        .filter(|r| !answered.contains(r))
        .take(10)
        .collect();
    assert!(extra.is_empty(), "recorded but never answered: {extra:?}");
    assert_eq!(
        pg_query_count(&mut pg, "SELECT count(*) FROM ledger_message"),
        MESSAGES as i64
    );

    // 2. Every forwarded message reached the upstream, once the outbox has
    // drained (the killed instance's claims wait for their lease).
    let deadline = Instant::now() + Duration::from_secs(100);
    loop {
        let left = pg_query_count(
            &mut pg,
            "SELECT count(*) FROM forward_outbox WHERE state <> 'delivered'",
        );
        if left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left} outbox rows still undelivered"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let forwarded: BTreeSet<String> = pg
        .query("SELECT forward_id FROM forward_outbox", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected: BTreeSet<String> = accepted_ids
        .iter()
        .flat_map(|id| [format!("{id}-Z"), format!("{id}-R")])
        .collect();
    assert_eq!(forwarded, expected, "one -Z and one -R row per message");
    let received = upstream.received.lock().unwrap().clone();
    let mut times: BTreeMap<&str, Vec<Instant>> = BTreeMap::new();
    for (id, at) in &received {
        times.entry(id.as_str()).or_default().push(*at);
    }
    let missing: Vec<_> = expected
        .iter()
        .filter(|id| !times.contains_key(id.as_str()))
        .take(10)
        .collect();
    assert!(missing.is_empty(), "forwarded, never received: {missing:?}");
    let unknown: Vec<_> = times
        .keys()
        .filter(|id| !expected.contains(**id))
        .take(10)
        .collect();
    assert!(unknown.is_empty(), "received, never forwarded: {unknown:?}");
    // A second copy only of what the killed process had sent and not yet
    // marked: at most its window, each first received before the restart.
    let doubled: Vec<(&str, &Vec<Instant>)> = times
        .iter()
        .filter(|(_, t)| t.len() > 1)
        .map(|(id, t)| (*id, t))
        .collect();
    eprintln!(
        "multi_instance: {} forwarded messages received, {} of them twice",
        expected.len(),
        doubled.len()
    );
    assert!(
        doubled.len() <= 4 * CONCURRENCY,
        "{} duplicates, more than the killed worker's window of {}",
        doubled.len(),
        4 * CONCURRENCY
    );
    for (id, t) in &doubled {
        assert!(t.len() == 2, "{id} received {} times", t.len());
        assert!(
            t[0] < restarted_at,
            "{id}: a duplicate whose first copy was sent after the restart"
        );
    }

    // 3. The nacalculatie (and the whole year report) equals the single
    // instance's of the same messages.
    for (id, a) in &solo_answers {
        assert_eq!(a.accepted, answers[id].accepted, "{id}: another verdict");
    }
    for path in ["/ledger/nacalculatie?year=2024", "/ledger/report?year=2024"] {
        let shared = rt.block_on(zk_get(front, path)).json();
        let single = rt.block_on(zk_get(solo.addr, path)).json();
        assert_eq!(
            shared, single,
            "{path}: three on PostgreSQL vs one on SQLite"
        );
        assert!(
            !shared["nacalculatie"].as_array().unwrap().is_empty(),
            "{path}: {shared}"
        );
    }

    // Each instance took its share, the restarted one too (its counters
    // start at the restart).
    for (i, g) in gateways.iter().enumerate() {
        let m = rt
            .block_on(send(g.addr, "GET", "/metrics", &[], Bytes::new()))
            .unwrap();
        let lines: f64 = m
            .body
            .lines()
            .filter(|l| l.starts_with("zio_gateway_routed_lines_total{"))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum();
        assert!(lines > 0.0, "instance {i} routed no line: {}", m.body);
    }

    // 4. After the ingest every instance answers a message that needs the
    // registry alike, asked directly: the registry ingested through one
    // instance is seen by all. (Last: these lines may be recorded.)
    let mut verdicts = Vec::new();
    for (i, g) in gateways.iter().enumerate() {
        let a = rt
            .block_on(declare(g.addr, needs_registry(&format!("PROBE{i}"))))
            .unwrap();
        assert_eq!(a.status, StatusCode::OK, "instance {i}: {}", a.body);
        let v = a.json();
        let codes: BTreeSet<String> = v["prestaties"][0]["retourcodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"].as_str().unwrap_or_default().to_owned())
            .collect();
        verdicts.push((v["verwerking"].as_str().unwrap().to_owned(), codes));
    }
    let with_registry = (
        "Afgewezen".to_owned(),
        BTreeSet::from(["0401".to_owned(), "0403".to_owned()]),
    );
    assert_eq!(
        verdicts[1], with_registry,
        "the instance the registry was ingested through"
    );
    assert_eq!(
        verdicts,
        vec![with_registry.clone(), with_registry.clone(), with_registry],
        "instances 0, 1, 2 answer a message that needs the registry differently"
    );

    drop(gateways);
    drop(solo);
    let _ = solo_upstream;
    if let Ok(mut c) = postgres::Client::connect(&server, postgres::NoTls) {
        let name = url.rsplit_once('/').unwrap().1;
        let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}
