//! Issue 11, failure 5: the server with a store and a spool upstream, so
//! every accepted line is recorded in the ledger and forwarded. The peak of
//! live heap bytes for a 150,000-line message stays near the peak for a
//! 15,000-line one (measured 2026-12-01: 17.7 MB and 26.5 MB: not flat, but
//! bounded by the allowance). This counts the Rust heap only, not SQLite's
//! page cache or what glibc keeps: the RSS figures are
//! tests/server_rss.rs. Its own test binary (a global allocator).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::net::TcpListener;
use zio_gateway::config::Config;
use zio_gateway::server::{self, State};
use zio_gateway::synth::SynthBatch;

mod counting;
mod synth_post;
use counting::{LIVE, PEAK};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

/// Sends a synthetic batch of `lines` and returns (peak heap above the start,
/// answer bytes, the answer's last bytes).
async fn through_the_server(addr: std::net::SocketAddr, lines: u64) -> (usize, u64, String) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);

    let (total, tail) = synth_post::post(addr, SynthBatch::new(lines, 4)).await;
    let peak = PEAK.load(Ordering::Relaxed) - base;
    (peak, total, tail)
}

async fn serve_recording(
    dir: &std::path::Path,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let mut config =
        Config::load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config")).unwrap();
    let data = dir.join("data");
    config.upstreams.resolve_spools(&data);
    let state = tokio::task::block_in_place(|| State::open(config, &data, None)).unwrap();
    let (state, worker) =
        server::with_upstreams(state, &tokio::runtime::Handle::current()).unwrap();
    std::mem::forget(worker);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::run(listener, Arc::new(state), async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(debug_assertions, ignore = "slow in a debug build: run with --release")]
async fn recording_and_forwarding_keep_memory_flat() {
    let small_dir = tempfile::tempdir().unwrap();
    let (addr, stop) = serve_recording(small_dir.path()).await;
    let _ = through_the_server(addr, 1_000).await;
    let _ = stop.send(());
    let dir = tempfile::tempdir().unwrap();
    let (addr, stop) = serve_recording(dir.path()).await;
    let (small, _, tail) = through_the_server(addr, 15_000).await;
    assert!(
        tail.contains("<AantalGeaccepteerd>15000</AantalGeaccepteerd>"),
        "{tail}"
    );
    let _ = stop.send(());
    let dir = tempfile::tempdir().unwrap();
    let (addr, stop) = serve_recording(dir.path()).await;
    let (large, _, tail) = through_the_server(addr, 150_000).await;
    assert!(
        tail.contains("<AantalGeaccepteerd>150000</AantalGeaccepteerd>"),
        "{tail}"
    );
    let _ = stop.send(());
    eprintln!("peak heap recording: 15,000 lines {small} bytes; 150,000 lines {large} bytes");
    assert!(
        large <= small + small / 2 + 8 * 1024 * 1024,
        "peak grew from {small} to {large} bytes for 10x the lines"
    );
}
