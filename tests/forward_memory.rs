//! Forwarding a large message holds one line in memory, not the message: the
//! forwarded Declaratiebericht is rendered from the ledger as a stream.
//! Also prints what record and forward cost per line (SQLite, spool).

use std::io::BufReader;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zio_gateway::check::check_message;
use zio_gateway::config::{Config, Upstream, Upstreams};
use zio_gateway::rules::Context;
use zio_gateway::sinks::forward::{Forwarder, OutboxForwarder};
use zio_gateway::sinks::ledger::sqlite::SqliteLedger;
use zio_gateway::sinks::ledger::{record_outcome_forwarding, LedgerStore, LedgerView};
use zio_gateway::synth::SynthBatch;

mod counting;
use counting::{LIVE, PEAK};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

fn forward_peak(lines: u64) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let config =
        Config::load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config")).unwrap();
    let store: Arc<dyn LedgerStore> =
        Arc::new(SqliteLedger::open_data_dir(&dir.path().join("data")).unwrap());
    let spool = dir.path().join("zio");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fwd = OutboxForwarder::new(
        store.clone(),
        Upstreams {
            zio: Upstream::Spool(spool.clone()),
            regulier: Upstream::Spool(spool.clone()),
            timeout_ms: 5_000,
            retry_initial_ms: 10,
            retry_max_ms: 50,
            concurrency: 4,
            answer_wait_ms: 5_000,
        },
        rt.handle().clone(),
        4,
    )
    .holding_for_request();
    let view = LedgerView::new(&*store, &config.regime);
    let ctx = Context {
        regime: &config.regime,
        today: zio_gateway::types::parse_datum("2024-04-10").unwrap(),
        indications: None,
        require_start_of_delivery: true,
        history: &view,
    };
    let input = BufReader::with_capacity(64 * 1024, SynthBatch::new(lines, 4));
    let t = Instant::now();
    let mut outcome = check_message(input, &config, &ctx).unwrap();
    let checked = t.elapsed();
    assert_eq!(outcome.totals.aantal_geaccepteerd, lines);
    let t = Instant::now();
    let sum = record_outcome_forwarding(&*store, &mut outcome, fwd.plan().as_ref()).unwrap();
    let recorded = t.elapsed();
    assert_eq!(sum.inserted, lines);
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t = Instant::now();
    let pending = fwd.deliver_now(outcome.header.as_ref().unwrap(), Duration::from_secs(5));
    let forwarded = t.elapsed();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    assert!(pending.is_empty(), "{pending:?}");
    let size: u64 = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "forward {lines} lines: check {checked:?}, record {recorded:?}, render+spool {forwarded:?} \
         ({size} bytes), peak heap during forward {peak} bytes"
    );
    peak
}

#[test]
fn forwarding_memory_does_not_grow_with_the_message() {
    let small = forward_peak(2_000);
    let large = forward_peak(40_000);
    assert!(
        large < small + 512 * 1024,
        "peak heap while forwarding grew from {small} to {large} bytes"
    );
}
