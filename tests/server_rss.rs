//! Issue 11, failure 5, measured as the issue measured it: the resident set
//! of the real `zio-gateway serve` process (not a heap count), with a store
//! and spool upstreams, so every accepted line is recorded in the ledger and
//! forwarded. Ten 150,000-line messages may not take the peak RSS (VmHWM)
//! above 1.5x the RSS after a 3-line message.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use tokio::net::TcpStream;
use zio_gateway::synth::SynthBatch;

mod synth_post;

const BIN: &str = env!("CARGO_BIN_EXE_zio-gateway");
const LARGE: u64 = 150_000;
const MESSAGES: u64 = 10;

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// (VmRSS, VmHWM) of `pid` in kB.
fn rss_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"));
        line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The anonymous and file-backed parts of the RSS, and the thread count.
fn rss_parts(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .filter(|l| {
            l.starts_with("RssAnon") || l.starts_with("RssFile") || l.starts_with("Threads")
        })
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Posts message `n` of a series of `lines`-line batches (generated while
/// it is sent) and returns the answer's last bytes.
async fn post(addr: SocketAddr, lines: u64, n: u64) -> String {
    synth_post::post(addr, SynthBatch::nth(lines, 4, n)).await.1
}

/// The metrics text (to see the server is still answering while we wait).
async fn metrics(addr: SocketAddr) -> String {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::get("/metrics")
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

/// The spooled (forwarded) messages: renamed into place when complete.
fn spooled(data: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for route in ["zio", "regulier"] {
        if let Ok(dir) = std::fs::read_dir(data.join("upstream").join(route)) {
            for e in dir {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "xml") {
                    files.push(p);
                }
            }
        }
    }
    files
}

/// Waits (polling, no deadline: the test harness's own timeout bounds it)
/// until `count` messages are forwarded, measuring RSS meanwhile.
async fn forwarded(addr: SocketAddr, data: &Path, count: usize) {
    while spooled(data).len() < count {
        assert!(metrics(addr).await.contains("zio_gateway_ready 1"));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// `<Prestatie>` elements in a file, read in pieces (the files are large).
fn prestaties(path: &Path) -> u64 {
    const TAG: &[u8] = b"<Prestatie>";
    let mut r = BufReader::with_capacity(1 << 20, std::fs::File::open(path).unwrap());
    let mut count = 0;
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let buf = r.fill_buf().unwrap();
        if buf.is_empty() {
            return count;
        }
        carry.extend_from_slice(buf);
        let n = buf.len();
        r.consume(n);
        count += carry.windows(TAG.len()).filter(|w| *w == TAG).count() as u64;
        let keep = carry.len().min(TAG.len() - 1);
        carry.drain(..carry.len() - keep);
    }
}

#[test]
#[cfg_attr(debug_assertions, ignore = "slow in a debug build: run with --release")]
fn serve_rss_stays_flat_over_ten_large_recorded_and_forwarded_messages() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let text = std::fs::read_to_string(root.join("config/gateway.toml")).unwrap();
    // The example's upstreams are spools inside --data: every accepted line
    // is recorded and then written out, as in production.
    assert!(text.contains("zio = \"spool:upstream/zio\""));
    std::fs::write(config.join("gateway.toml"), text).unwrap();
    let data = dir.path().join("data");
    let mut child = Command::new(BIN)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--data")
        .arg(&data)
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let serve = Serve(child);
    let pid = serve.0.id();
    let addr: SocketAddr = line.trim().parse().expect("the bound address");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tail = post(addr, 3, 0).await;
        assert!(
            tail.contains("<AantalGeaccepteerd>3</AantalGeaccepteerd>"),
            "{tail}"
        );
        forwarded(addr, &data, 1).await;
        let (small, small_peak) = rss_kb(pid);
        let small_parts = rss_parts(pid);
        let mut peaks = Vec::new();
        for n in 1..=MESSAGES {
            let tail = post(addr, LARGE, n).await;
            assert!(
                tail.contains(&format!("<AantalGeaccepteerd>{LARGE}</AantalGeaccepteerd>")),
                "message {n}: {tail}"
            );
            forwarded(addr, &data, 1 + n as usize).await;
            peaks.push(rss_kb(pid));
        }
        eprintln!(
            "after 3 lines: {small_parts}; at the end: {}",
            rss_parts(pid)
        );
        eprintln!(
            "RSS after 3 lines {small} kB (peak {small_peak} kB); after each of \
             {MESSAGES} x {LARGE} lines (RSS, peak) kB: {peaks:?}"
        );
        // The kernel's counters are per thread and summed lazily: take the
        // highest reading of either.
        let peak = peaks.iter().map(|&(rss, hwm)| rss.max(hwm)).max().unwrap();
        assert!(
            peak * 2 <= small * 3,
            "peak RSS {peak} kB is more than 1.5x the {small} kB after a 3-line message"
        );
    });

    // Every line was recorded and forwarded.
    let files = spooled(&data);
    assert_eq!(files.len(), 1 + MESSAGES as usize);
    let lines: u64 = files.iter().map(|f| prestaties(f)).sum();
    assert_eq!(lines, 3 + MESSAGES * LARGE);
    drop(serve);
    let ledger = zio_gateway::sinks::ledger::open(&data, None).unwrap();
    assert_eq!(ledger.outbox_pending().unwrap(), 0);
    let agb = zio_gateway::types::AgbCode::parse("12345678").unwrap();
    assert_eq!(
        ledger.lines_of(&agb).unwrap().len() as u64,
        3 + MESSAGES * LARGE
    );
}
