//! Always-valid answers (issue 11, failure 3): for any input, the XML answer
//! is well-formed (and, when xmllint is installed, valid against
//! `schemas/retour.xsd`) and the JSON answer parses. Inputs: the valid
//! message with arbitrary bytes spliced into it (control characters,
//! invalid UTF-8, markup), and arbitrary bytes.

mod common;

use proptest::prelude::*;
use std::sync::Arc;
use zio_gateway::config::Config;
use zio_gateway::pipeline::{Arrival, Backends, Disposition, Pipeline};
use zio_gateway::read::xml::{Attributes, Node, XmlPull};
use zio_gateway::sinks::answer::Format;
use zio_gateway::types::parse_datum;

fn pipeline() -> Pipeline {
    let config: Config = common::load_config("config");
    Pipeline::new(Arc::new(config), Backends::none())
}

fn answer(p: &Pipeline, input: &[u8], format: Format) -> Vec<u8> {
    let arrival = Arrival {
        today: parse_datum("2024-04-10").unwrap(),
        authenticated: None,
        disposition: Disposition::AnswerOnly,
    };
    let mut processed = p.process(input, &arrival).expect("in memory");
    let mut out = Vec::new();
    p.answer(&mut processed, format, &mut out)
        .expect("in memory");
    out
}

/// Well-formed by our own strict reader (every XML 1.0 character rule).
fn well_formed(xml: &[u8]) -> Result<(), String> {
    let mut r = XmlPull::new(xml, None, Attributes::Ignore);
    loop {
        match r.next_node() {
            Ok(Node::Eof) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn valid() -> Vec<u8> {
    std::fs::read(common::root().join("conformance/cases/001-valid-basic/request.xml")).unwrap()
}

fn check_both(p: &Pipeline, input: &[u8]) {
    let xml = answer(p, input, Format::Xml);
    if let Err(e) = well_formed(&xml) {
        panic!(
            "answer not well-formed: {e}\n{}",
            String::from_utf8_lossy(&xml)
        );
    }
    let json = answer(p, input, Format::Json);
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&json) {
        panic!("JSON answer does not parse: {e}");
    }
}

fn splice() -> impl Strategy<Value = (usize, Vec<u8>)> {
    let nasty = prop_oneof![
        Just(b"\x00".to_vec()),
        Just(b"\x01".to_vec()),
        Just(b"\x0b".to_vec()),
        Just(b"\x1b[31m".to_vec()),
        Just(b"\xef\xbf\xbe".to_vec()),
        Just(b"\xef\xbf\xbf".to_vec()),
        Just(b"\xff".to_vec()),
        Just(b"\xc3".to_vec()),
        Just(b"&#1;".to_vec()),
        Just(b"]]>".to_vec()),
        Just(b"<x>".to_vec()),
        Just(b"&amp;<".to_vec()),
        Just(b"0000-01-01".to_vec()),
        proptest::collection::vec(any::<u8>(), 1..8),
    ];
    (0usize..4000, nasty)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn any_splice_gets_a_well_formed_answer((at, bytes) in splice()) {
        let p = pipeline();
        let mut input = valid();
        let at = at % (input.len() + 1);
        input.splice(at..at, bytes);
        check_both(&p, &input);
    }

    #[test]
    fn any_bytes_get_a_well_formed_answer(input in proptest::collection::vec(any::<u8>(), 0..512)) {
        let p = pipeline();
        check_both(&p, &input);
    }
}

/// The answers to the nasty conformance cases validate against the XSD.
#[test]
fn answers_to_forbidden_characters_validate_against_retour_xsd() {
    if !common::has_xmllint() {
        eprintln!("SKIPPED: xmllint not installed");
        return;
    }
    let p = pipeline();
    let dir = tempfile::tempdir().unwrap();
    let base = valid();
    let ident = b"<Identificatie>CONF-001</Identificatie>";
    let at = base.windows(ident.len()).position(|w| w == ident).unwrap() + 15;
    for (i, bad) in [
        &b"\x00"[..],
        b"\x01",
        b"\x0b",
        b"\x1b",
        b"\xef\xbf\xbe",
        b"\xff",
        b"&#1;",
        b"<",
    ]
    .iter()
    .enumerate()
    {
        let mut input = base.clone();
        input.splice(at..at, bad.iter().copied());
        let xml = answer(&p, &input, Format::Xml);
        let text = String::from_utf8(xml.clone()).expect("UTF-8 answer");
        assert!(text.contains("0101"), "{text}");
        let f = dir.path().join(format!("a{i}.xml"));
        std::fs::write(&f, &xml).unwrap();
        common::xmllint(&common::root().join("schemas/retour.xsd"), &f)
            .unwrap_or_else(|e| panic!("{bad:?}: {e}\n{text}"));
    }
}
