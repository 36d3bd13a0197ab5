//! Memory stays flat whatever the batch size: the peak of live heap bytes
//! while checking a batch ten times larger is no larger than for the small
//! batch, give or take a fixed allowance. Counted with a global allocator.

use std::io::BufReader;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use zio_gateway::config::Config;
use zio_gateway::pipeline::{Arrival, Backends, Disposition, Pipeline};
use zio_gateway::synth::SynthBatch;

mod counting;
use counting::{LIVE, PEAK};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

/// One measurement at a time: the counters are the whole process's.
static SERIAL: Mutex<()> = Mutex::new(());

/// Peak live heap bytes above the starting level while checking `lines`.
fn peak_for(lines: u64) -> usize {
    let _one_at_a_time = SERIAL.lock().unwrap();
    let config =
        Config::load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config")).unwrap();
    let today = zio_gateway::types::parse_datum("2024-04-10").unwrap();
    let pipeline = Pipeline::new(Arc::new(config), Backends::none());
    let arrival = Arrival {
        today,
        authenticated: None,
        disposition: Disposition::AnswerOnly,
    };
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let input = BufReader::with_capacity(64 * 1024, SynthBatch::new(lines, 4));
    let mut processed = pipeline.process(input, &arrival).unwrap();
    let outcome = &processed.outcome;
    assert!(
        outcome.message_codes.is_empty(),
        "{:?}",
        outcome.message_codes
    );
    assert_eq!(outcome.totals.aantal_geaccepteerd, lines);
    // Writing the answer streams from the spool too.
    pipeline
        .answer(
            &mut processed,
            zio_gateway::sinks::answer::Format::Xml,
            std::io::sink(),
        )
        .unwrap();
    PEAK.load(Ordering::Relaxed) - base
}

#[test]
fn peak_memory_does_not_grow_with_the_batch() {
    // Both sizes spill the reference table to disk (it holds 14,000 in memory).
    let small = peak_for(60_000);
    let large = peak_for(600_000);
    eprintln!("peak heap: 60,000 lines {small} bytes; 600,000 lines {large} bytes");
    assert!(
        large <= small + small / 4,
        "peak grew from {small} to {large} bytes for 10x the lines"
    );
    assert!(large < 64 * 1024 * 1024, "peak {large} bytes");
}
