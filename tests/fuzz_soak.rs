//! The proptest soak (docs/fuzzing.md): the declaration reader (through the
//! whole check), the iWlz reader and the configuration loader meet mutated
//! and random inputs; none may panic or hang, and every refusal of the
//! declaration reader is a message code with a location.
//!
//! `SOAK_CASES` sets the cases per target (default 64, cheap enough for CI):
//!
//!     SOAK_CASES=200000 cargo test --release --test fuzz_soak

mod common;

use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, TestRunner};
use std::path::Path;
use zio_gateway::check::check_message;
use zio_gateway::config::Config;
use zio_gateway::rules::{Context, NoHistory};
use zio_gateway::types::parse_datum;

fn cases() -> u32 {
    std::env::var("SOAK_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64)
}

fn runner() -> TestRunner {
    TestRunner::new(PtConfig {
        cases: cases(),
        failure_persistence: None,
        ..PtConfig::default()
    })
}

/// Mutations of `seed`: byte flips, splices of nasty bytes, cuts, repeats.
fn mutated(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = seed.len();
    let edit = prop_oneof![
        (0..len, any::<u8>()).prop_map(|(i, b)| (i, i + 1, vec![b])),
        (0..len, proptest::collection::vec(any::<u8>(), 0..16)).prop_map(|(i, v)| (i, i, v)),
        (0..len, 0..64usize).prop_map(|(i, n)| (i, i + n, vec![])),
        (
            0..len,
            prop_oneof![
                Just(b"<".to_vec()),
                Just(b">".to_vec()),
                Just(b"&".to_vec()),
                Just(b"&#1;".to_vec()),
                Just(b"\xff".to_vec()),
                Just(b"\x00".to_vec()),
                Just(b"<!--".to_vec()),
                Just(b"<![CDATA[".to_vec()),
                Just(b"xmlns:a='b'".to_vec()),
                Just(b"</".to_vec()),
                Just(b"<a>".to_vec()),
            ]
        )
            .prop_map(|(i, v)| (i, i, v)),
    ];
    proptest::collection::vec(edit, 1..6).prop_map(move |edits| {
        let mut b = seed.clone();
        for (from, to, with) in edits {
            let from = from.min(b.len());
            let to = to.min(b.len()).max(from);
            b.splice(from..to, with);
        }
        b
    })
}

#[test]
fn declaration_reader_soak() {
    let config = common::load_config("config");
    let seed = std::fs::read(common::root().join("conformance/cases/001-valid-basic/request.xml"))
        .unwrap();
    let ctx = Context {
        regime: &config.regime,
        today: parse_datum("2024-04-10").unwrap(),
        indications: None,
        require_start_of_delivery: true,
        history: &NoHistory,
    };
    runner()
        .run(&mutated(seed), |input| {
            let out = check_message(input.as_slice(), &config, &ctx).expect("in memory");
            for m in &out.message_codes {
                let c = m.code.code();
                if matches!(c, "0101" | "0102" | "0103") {
                    prop_assert!(m.locatie.is_some(), "{c} without a location");
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn iwlz_reader_soak() {
    let seed =
        std::fs::read(common::root().join("tests/registry_samples/io31-example.xml")).unwrap();
    runner()
        .run(&mutated(seed), |input| {
            let _ = zio_gateway::read::iwlz::read_all(&input);
            Ok(())
        })
        .unwrap();
}

#[test]
fn config_loader_soak() {
    let seed = std::fs::read(common::root().join("config/gateway.toml")).unwrap();
    runner()
        .run(&mutated(seed), |input| {
            let text = String::from_utf8_lossy(&input);
            let _ = Config::parse(&text, Path::new("soak.toml"));
            Ok(())
        })
        .unwrap();
}
