//! The test-batch page in a real browser: headless Chromium driven through
//! chromedriver (WebDriver, via `fantoccini`) against the real `serve`
//! binary on the example configuration. It uploads the example batch and
//! one with rejected lines, reads what the page shows, and keeps a
//! screenshot of each under `target/page-test/`.
//!
//! Needs the Debian packages `chromium` and `chromium-driver` (`.ci/run`
//! installs them); without them the test prints `SKIPPED` and passes.

use fantoccini::{Client, ClientBuilder, Locator};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_zio-gateway");
/// The example provider's token (README, `config/gateway.toml`).
const TOKEN: &str = "voorbeeld-token-12345678";
const SAMPLE: &str = "samples/declaratie-maart-2024.xml";

/// Kills and reaps a child process when dropped (also on a failed assert).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn gateway(dir: &Path) -> (Reaped, SocketAddr) {
    let mut child = Command::new(BIN)
        .args(["serve", "--config", "config", "--listen", "127.0.0.1:0"])
        .arg("--data")
        .arg(dir.join("data"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("serve.log")).unwrap())
        .spawn()
        .expect("start the gateway");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let child = Reaped(child);
    let addr = line.trim().parse().unwrap_or_else(|_| {
        panic!(
            "no address from serve: {}",
            std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
        )
    });
    (child, addr)
}

async fn chromedriver(driver: &Path, dir: &Path) -> (Reaped, Client) {
    let port = free_port();
    let child = Reaped(
        Command::new(driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("chromedriver.log")).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    let mut caps = serde_json::Map::new();
    let mut chrome = serde_json::json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage", "--window-size=1280,1500"]
    });
    if let Some(bin) = on_path("chromium") {
        chrome["binary"] = bin.display().to_string().into();
    }
    caps.insert("goog:chromeOptions".into(), chrome);
    let url = format!("http://127.0.0.1:{port}");
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => return (child, c),
            Err(e) if Instant::now() > end => panic!("no WebDriver session: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// What the page shows after one upload.
#[derive(Debug)]
struct Shown {
    verwerking: String,
    accepted: String,
    rejected: String,
    /// (route, lines)
    routes: Vec<(String, String)>,
    /// (code, omschrijving, lines)
    codes: Vec<(String, String, String)>,
    /// The cells of each shown line.
    lines: Vec<Vec<String>>,
}

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn cells(c: &Client, css: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for tr in c.find_all(Locator::Css(css)).await.unwrap() {
        let mut row = Vec::new();
        for td in tr.find_all(Locator::Css("td")).await.unwrap() {
            row.push(td.text().await.unwrap());
        }
        out.push(row);
    }
    out
}

async fn read(c: &Client) -> Shown {
    Shown {
        verwerking: text(c, "#verwerking").await,
        accepted: text(c, "#accepted").await,
        rejected: text(c, "#rejected").await,
        routes: cells(c, "#routes tbody tr")
            .await
            .into_iter()
            .map(|r| (r[0].clone(), r[1].clone()))
            .collect(),
        codes: cells(c, "#codes tbody tr")
            .await
            .into_iter()
            .map(|r| (r[0].clone(), r[2].clone(), r[3].clone()))
            .collect(),
        lines: cells(c, "#lines tbody tr").await,
    }
}

/// Enters the token, chooses the file, sends it and waits for the summary.
async fn upload(c: &Client, base: &str, file: &Path) -> Shown {
    c.goto(base).await.unwrap();
    c.find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(TOKEN)
        .await
        .unwrap();
    let abs = std::fs::canonicalize(file).unwrap();
    c.find(Locator::Id("file"))
        .await
        .unwrap()
        .send_keys(&abs.display().to_string())
        .await
        .unwrap();
    c.find(Locator::Id("send"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let waited = c
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#result:not([hidden])"))
        .await;
    if waited.is_err() {
        let err = text(c, "#error").await;
        panic!("no summary on the page; error shown: {err:?}");
    }
    assert_eq!(text(c, "#progress-text").await, "checked");
    read(c).await
}

async fn screenshot(c: &Client, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/page-test");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let path = dir.join(name);
    std::fs::write(&path, png).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_checks_a_batch_in_a_real_browser() {
    let (Some(driver), Some(_)) = (on_path("chromedriver"), on_path("chromium")) else {
        println!("SKIPPED: no chromium/chromedriver on PATH (Debian: apt-get install chromium chromium-driver)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_gw, addr) = gateway(dir.path());
    let (_driver, c) = chromedriver(&driver, dir.path()).await;
    let base = format!("http://{addr}/");

    // The example batch: both lines accepted, one per route.
    let shown = upload(&c, &base, Path::new(SAMPLE)).await;
    println!("example batch: {shown:?}");
    assert_eq!(shown.verwerking, "Test");
    assert_eq!(
        (shown.accepted.as_str(), shown.rejected.as_str()),
        ("2", "0")
    );
    assert_eq!(
        shown.routes,
        vec![("REGULIER".into(), "1".into()), ("ZIO".into(), "1".into())]
    );
    assert_eq!(shown.lines.len(), 2);
    assert_eq!(shown.lines[0][1], "R1");
    // The BSN 111222333 is masked but for its last three digits.
    assert_eq!(
        shown.lines[0][2],
        "\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}333"
    );
    assert!(!c.source().await.unwrap().contains("111222333"));
    let first = screenshot(&c, "example-batch.png").await;

    // A batch with rejected lines: R2's product code is unknown (0301).
    let sample = std::fs::read_to_string(SAMPLE).unwrap();
    let bad = sample
        .replace(
            "<ProductCode>H300</ProductCode>",
            "<ProductCode>H999</ProductCode>",
        )
        .replace("CONF-001", "CONF-002");
    assert_ne!(bad, sample, "the example batch changed");
    let bad_file = dir.path().join("declaratie-met-afwijzing.xml");
    std::fs::write(&bad_file, bad).unwrap();
    let shown = upload(&c, &base, &bad_file).await;
    println!("batch with a rejected line: {shown:?}");
    assert_eq!(
        (shown.accepted.as_str(), shown.rejected.as_str()),
        ("1", "1")
    );
    assert_eq!(
        shown.routes,
        vec![("AFGEWEZEN".into(), "1".into()), ("ZIO".into(), "1".into())]
    );
    assert_eq!(shown.codes.len(), 1, "{:?}", shown.codes);
    assert_eq!(shown.codes[0].0, "0301");
    assert!(!shown.codes[0].1.is_empty(), "an omschrijving");
    assert_eq!(shown.codes[0].2, "1");
    assert_eq!(shown.lines[1][3], "AFGEWEZEN");
    assert_eq!(shown.lines[1][5], "0301");

    // The filters: only the lines with 0301, then only the ZIO route.
    c.find(Locator::Id("filter-code"))
        .await
        .unwrap()
        .select_by_value("0301")
        .await
        .unwrap();
    let rows = cells(&c, "#lines tbody tr").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][1], "R2");
    let second = screenshot(&c, "batch-with-rejected-line.png").await;
    c.find(Locator::Id("filter-code"))
        .await
        .unwrap()
        .select_by_value("")
        .await
        .unwrap();
    c.find(Locator::Id("filter-route"))
        .await
        .unwrap()
        .select_by_value("ZIO")
        .await
        .unwrap();
    let rows = cells(&c, "#lines tbody tr").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][1], "R1");

    // A wrong token is shown as an error, not a summary.
    c.goto(&base).await.unwrap();
    c.find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys("wrong-token")
        .await
        .unwrap();
    c.find(Locator::Id("file"))
        .await
        .unwrap()
        .send_keys(&std::fs::canonicalize(SAMPLE).unwrap().display().to_string())
        .await
        .unwrap();
    c.find(Locator::Id("send"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let err = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#error:not([hidden])"))
        .await
        .expect("an error shown");
    assert!(err.text().await.unwrap().contains("401"));

    c.close().await.unwrap();
    println!("screenshots: {} {}", first.display(), second.display());
}
