//! Runs every case in conformance/cases through the gateway and compares the
//! answer with the expected one: Verwerking, message codes (as a set), per
//! line in order the reference, BSN, route, product codes and sorted codes,
//! and the Totalen. Every case with a registry runs again with the registry
//! in PostgreSQL, which must answer byte for byte the same.

mod common;
mod registry_support;

use serde_json::{json, Value};
use zio_gateway::sinks::answer::Format;

/// The parts of an answer the suite fixes, in one comparable shape.
fn normalise(v: &Value, from_gateway: bool) -> Value {
    let codes = |list: &Value| -> Vec<String> {
        let mut c: Vec<String> = list
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        if from_gateway {
                            x["code"].as_str().unwrap().to_owned()
                        } else {
                            x.as_str().unwrap().to_owned()
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        c.sort();
        c
    };
    let lines: Vec<Value> = v["prestaties"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    json!({
                        "referentie_nummer": p["referentie_nummer"],
                        "bsn": p["bsn"],
                        "route": p["route"],
                        "product_code": p["product_code"],
                        "oorspronkelijke_product_code": p["oorspronkelijke_product_code"],
                        "retourcodes": codes(&p["retourcodes"]),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "verwerking": v["verwerking"],
        "retourcodes": codes(&v["retourcodes"]),
        "prestaties": lines,
        "totalen": v["totalen"],
    })
}

#[test]
fn every_conformance_case_gets_its_expected_answer() {
    let cases = common::cases();
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let expected: Value = serde_json::from_slice(
            &std::fs::read(case.dir.join("expected.json")).expect("expected.json"),
        )
        .unwrap_or_else(|e| panic!("{}: expected.json: {e}", case.name));
        let answer = common::answer(case, Format::Json);
        let actual: Value = serde_json::from_slice(&answer)
            .unwrap_or_else(|e| panic!("{}: answer is not JSON: {e}", case.name));
        let (want, got) = (normalise(&expected, false), normalise(&actual, true));
        if want != got {
            failures.push(format!(
                "{}\n  want {}\n  got  {}",
                case.name,
                serde_json::to_string(&want).unwrap(),
                serde_json::to_string(&got).unwrap()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn xml_and_json_answers_agree() {
    for case in common::cases() {
        let json: Value = serde_json::from_slice(&common::answer(&case, Format::Json)).unwrap();
        let xml = String::from_utf8(common::answer(&case, Format::Xml)).unwrap();
        let verwerking = format!(
            "<Verwerking>{}</Verwerking>",
            json["verwerking"].as_str().unwrap()
        );
        assert!(
            xml.contains(&verwerking),
            "{}: {verwerking} missing",
            case.name
        );
        let lines = json["prestaties"].as_array().unwrap().len();
        assert_eq!(xml.matches("<Prestatie>").count(), lines, "{}", case.name);
    }
}

/// Every case that uses the registry, with the registry in PostgreSQL: the
/// same answer, byte for byte (JSON and XML), as with it in SQLite. One
/// schema per registry directory, ingested by the first case that uses it
/// and recognised as already ingested by the others, as several gateways
/// share one registry.
#[test]
fn registry_cases_answer_the_same_with_the_registry_in_postgres() {
    let cases: Vec<_> = common::cases()
        .into_iter()
        .filter(|c| c.meta.registry.is_some())
        .collect();
    assert!(cases.len() >= 57, "only {} registry cases", cases.len());
    let mut places = std::collections::BTreeMap::new();
    let mut failures = Vec::new();
    for case in &cases {
        let dir = case.meta.registry.clone().unwrap();
        if !places.contains_key(&dir) {
            let Some(at) =
                registry_support::pg_location(&format!("conformance_{}", dir.replace('-', "_")))
            else {
                return;
            };
            places.insert(dir.clone(), at);
        }
        let config = common::load_config(&case.meta.config);
        for format in [Format::Json, Format::Xml] {
            let sqlite = common::answer_at(case, &config, format, None);
            let pg = common::answer_at(case, &config, format, Some(places[&dir].clone()));
            if pg != sqlite {
                failures.push(format!(
                    "{} ({format:?})\n  SQLite     {}\n  PostgreSQL {}",
                    case.name,
                    String::from_utf8_lossy(&sqlite),
                    String::from_utf8_lossy(&pg)
                ));
            }
        }
    }
    assert_eq!(places.len(), 2, "{:?}", places.keys());
    assert!(
        failures.is_empty(),
        "{} answers differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
