//! The one pass of `check`, stage by stage, so a regression shows in one
//! place: the reader (bytes to clients), the rules (clients to verdicts), the
//! spool (verdicts to disk and back) and the answer writer (verdicts to XML
//! and JSON). Each runs on the same generated 20,000-line valid batch.
//!
//!     cargo bench --bench check_stages
//!
//! Criterion (not a timed test): warm-up, many samples, and a comparison with
//! the previous run, which a one-shot timing cannot give.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::io::{self, Read};
use std::path::Path;
use zio_gateway::check::refs::message_refs;
use zio_gateway::check::spool::Spool;
use zio_gateway::config::Config;
use zio_gateway::model::declaration::{Client, Header};
use zio_gateway::model::verdict::{AnswerTotals, LineVerdict, Verwerking};
use zio_gateway::read::declaration::DeclaratieReader;
use zio_gateway::rules::{check_client, Context};
use zio_gateway::sinks::answer::{write_answer, AnswerHead, Format};
use zio_gateway::synth::SynthBatch;
use zio_gateway::types::parse_datum;

const LINES: u64 = 20_000;

fn batch() -> Vec<u8> {
    let mut v = Vec::new();
    SynthBatch::new(LINES, 4).read_to_end(&mut v).unwrap();
    v
}

fn read_all(bytes: &[u8]) -> (Header, Vec<Client>) {
    let mut r = DeclaratieReader::new(bytes, None);
    let header = r.read_header().unwrap();
    let mut clients = Vec::new();
    while let Some(c) = r.next_client().unwrap() {
        clients.push(c);
    }
    r.read_totalen().unwrap();
    (header, clients)
}

fn config() -> Config {
    Config::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config")).unwrap()
}

fn verdicts(config: &Config, header: &Header, clients: Vec<Client>) -> Vec<LineVerdict> {
    let today = parse_datum("2024-04-10").unwrap();
    let ctx = Context::new(config, today, None, None);
    let mut refs = message_refs();
    let mut out = Vec::new();
    for c in clients {
        out.extend(check_client(&ctx, header, &mut refs, c).unwrap());
    }
    out
}

fn stages(c: &mut Criterion) {
    let bytes = batch();
    let config = config();
    let (header, clients) = read_all(&bytes);
    let all = verdicts(&config, &header, clients.clone());
    assert_eq!(all.len() as u64, LINES);

    let mut g = c.benchmark_group("check_stages");
    g.sample_size(20);
    g.throughput(Throughput::Elements(LINES));

    g.bench_function("reader", |b| {
        b.iter(|| {
            let mut r = DeclaratieReader::new(&bytes[..], None);
            r.read_header().unwrap();
            let mut n = 0;
            while let Some(c) = r.next_client().unwrap() {
                n += c.prestaties.len();
            }
            r.read_totalen().unwrap();
            n
        })
    });
    g.bench_function("rules", |b| {
        b.iter_batched(
            || clients.clone(),
            |cl| verdicts(&config, &header, cl).len(),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("spool", |b| {
        b.iter(|| {
            let mut s = Spool::new().unwrap();
            for v in &all {
                s.push(v).unwrap();
            }
            let mut r = s.reader().unwrap();
            let mut n = 0;
            while let Some(v) = r.next_view().unwrap() {
                n += v.codes.len() + 1;
            }
            n
        })
    });
    let afzender = config.gateway.code.clone();
    let head = AnswerHead {
        identificatie: "RET-0000000000000000",
        dagtekening: parse_datum("2024-04-10").unwrap(),
        heenbericht: Some(&header.bericht),
        afzender: &afzender,
        ontvanger: Some(&header.afzender),
        verwerking: Verwerking::Geaccepteerd,
        message_codes: &[],
    };
    for (name, format) in [("writer_xml", Format::Xml), ("writer_json", Format::Json)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let lines = all.iter().cloned().map(Ok);
                write_answer(format, io::sink(), &head, lines, &AnswerTotals::default()).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
