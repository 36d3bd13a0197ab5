//! The reader meets hostile bytes: every truncation, random corruption and
//! random binary input gets an answer with a message code and a location,
//! never a panic or a hang.

mod common;

use proptest::prelude::*;
use zio_gateway::check::{check_message, Outcome};
use zio_gateway::config::Config;
use zio_gateway::rules::{Context, NoHistory};
use zio_gateway::types::parse_datum;

fn config() -> Config {
    common::load_config("config")
}

fn check(config: &Config, bytes: &[u8]) -> Outcome {
    let ctx = Context {
        regime: &config.regime,
        today: parse_datum("2024-04-10").unwrap(),
        indications: None,
        require_start_of_delivery: true,
        history: &NoHistory,
    };
    check_message(bytes, config, &ctx).expect("in-memory input never fails to read")
}

fn valid() -> Vec<u8> {
    std::fs::read(common::root().join("conformance/cases/001-valid-basic/request.xml")).unwrap()
}

#[test]
fn the_valid_message_is_accepted() {
    let out = check(&config(), &valid());
    assert!(out.message_codes.is_empty(), "{:?}", out.message_codes);
}

#[test]
fn every_truncation_is_0101_with_a_location() {
    let config = config();
    let bytes = valid();
    let end = bytes.iter().rposition(|&b| b == b'>').unwrap();
    for cut in 0..end {
        let out = check(&config, &bytes[..cut]);
        let codes: Vec<_> = out.message_codes.iter().map(|m| m.code.code()).collect();
        assert!(codes.contains(&"0101"), "cut at {cut}: {codes:?}");
        let m = out
            .message_codes
            .iter()
            .find(|m| m.code.code() == "0101")
            .unwrap();
        assert!(
            m.locatie.as_deref().is_some_and(|l| l.contains(':')),
            "cut at {cut}: no location"
        );
    }
}

#[test]
fn huge_inputs_are_refused_without_growing() {
    let config = config();
    // One enormous text node, and a very deep nesting of unknown elements.
    let huge = format!(
        "<Declaratiebericht xmlns=\"urn:zio-gateway:declaratie:1\"><Header>{}</Header></Declaratiebericht>",
        " ".repeat(8 << 20)
    );
    let out = check(&config, huge.as_bytes());
    assert_eq!(out.message_codes[0].code.code(), "0102");
    let deep = format!(
        "<Declaratiebericht xmlns=\"urn:zio-gateway:declaratie:1\">{}",
        "<x>".repeat(1 << 20)
    );
    let out = check(&config, deep.as_bytes());
    assert!(!out.message_codes.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_corruption_never_panics(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let config = config();
        let mut bytes = valid();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let out = check(&config, &bytes);
        // Either read fully (line verdicts for every line) or rejected whole.
        if out.message_codes.is_empty() {
            prop_assert_eq!(out.lines.len(), 2);
        }
    }

    #[test]
    fn random_bytes_are_rejected_whole(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let out = check(&config(), &bytes);
        prop_assert!(!out.message_codes.is_empty());
    }
}
