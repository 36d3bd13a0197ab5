//! The server streams: the peak of live heap bytes while a batch ten times
//! larger goes through `POST /declaraties` (request in, answer out) is no
//! larger than for the small batch, give or take a fixed allowance. Counted
//! with a global allocator, so this is its own test binary; the client side
//! streams too (a synthetic body generated as it is sent, the answer read
//! frame by frame and dropped).

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    debug_assertions,
    ignore = "about 70 s in a debug build: run with --release"
)]
async fn peak_memory_does_not_grow_with_the_batch() {
    let config =
        Config::load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config")).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(State::new(config));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::run(listener, state, async {
        let _ = stopped.await;
    }));

    // Warm up (thread pools, lazily built tables), then measure.
    let _ = through_the_server(addr, 1_000).await;
    let (small, small_bytes, tail) = through_the_server(addr, 60_000).await;
    assert!(
        tail.contains("<AantalGeaccepteerd>60000</AantalGeaccepteerd>"),
        "{tail}"
    );
    let (large, large_bytes, tail) = through_the_server(addr, 600_000).await;
    assert!(
        tail.contains("<AantalGeaccepteerd>600000</AantalGeaccepteerd>"),
        "{tail}"
    );
    eprintln!(
        "peak heap: 60,000 lines {small} bytes ({small_bytes} answer bytes); \
         600,000 lines {large} bytes ({large_bytes} answer bytes)"
    );
    assert!(
        large <= small + small / 4 + 4 * 1024 * 1024,
        "peak grew from {small} to {large} bytes for 10x the lines"
    );
    assert!(large < 96 * 1024 * 1024, "peak {large} bytes");

    let _ = stop.send(());
    task.await.unwrap().unwrap();
}
