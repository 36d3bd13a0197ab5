//! The registry in the SQLite store: idempotent ingestion (compared by a
//! dump of the content), later messages updating earlier ones, lookups, and
//! atomicity of a message.

use std::path::{Path, PathBuf};
use zio_gateway::model::iwlz::ClientRegistry;
use zio_gateway::sinks::registry::ingest::{self, ingest_bytes, ingest_file, IngestError, Options};
use zio_gateway::sinks::registry::sqlite::snapshot_mismatches;
use zio_gateway::sinks::registry::RegistryStore;
use zio_gateway::sinks::store::Store;
use zio_gateway::types::{parse_datum, AgbCode, Bsn};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/registry");
    ingest::expand_paths(&[dir]).unwrap()
}

fn dump(store: &Store) -> String {
    let mut out = Vec::new();
    store.dump(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn ingest_all(store: &mut Store, files: &[PathBuf], opts: Options) {
    for f in files {
        ingest_file(store, f, opts).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
}

fn bsn(s: &str) -> Bsn {
    Bsn::parse(s).unwrap()
}

#[test]
fn ingesting_the_fixture_set_twice_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    assert!(!store.is_loaded().unwrap());
    let files = fixtures();
    assert!(files.len() >= 10);
    ingest_all(&mut store, &files, Options::default());
    assert!(store.is_loaded().unwrap());
    assert_eq!(snapshot_mismatches(&store).unwrap(), []);
    let first = dump(&store);
    assert!(first.lines().count() > 60, "{first}");

    // Again, as a user would: every message is recognised and skipped.
    for f in &files {
        let r = ingest_file(&mut store, f, Options::default()).unwrap();
        assert!(r.already_ingested, "{}", f.display());
        assert!(r.to_string().contains("already ingested"), "{r}");
    }
    assert_eq!(dump(&store), first);

    // Again, forcing every record through the upsert: still byte-for-byte equal,
    // and every record reports "unchanged" or "older than stored".
    for f in &files {
        let r = ingest_file(&mut store, f, Options { force: true }).unwrap();
        assert!(!r.counts.changed(), "{}: {r}", f.display());
    }
    assert_eq!(dump(&store), first);
    assert_eq!(snapshot_mismatches(&store).unwrap(), []);

    // And after closing and reopening the database file.
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(dump(&store), first);
}

#[test]
fn the_order_of_ingestion_does_not_matter() {
    let files = fixtures();
    let mut a = Store::open_in_memory().unwrap();
    ingest_all(&mut a, &files, Options::default());
    let mut b = Store::open_in_memory().unwrap();
    let reversed: Vec<_> = files.iter().rev().cloned().collect();
    ingest_all(&mut b, &reversed, Options::default());
    assert_eq!(dump(&a), dump(&b));
    // The per-client snapshots the checks read agree with the records, whatever the order.
    assert_eq!(snapshot_mismatches(&a).unwrap(), []);
    assert_eq!(snapshot_mismatches(&b).unwrap(), []);
    for k in [
        "240300014",
        "240300087",
        "240300154",
        "240300166",
        "240300245",
    ] {
        assert_eq!(
            a.client(&bsn(k)).unwrap(),
            b.client(&bsn(k)).unwrap(),
            "{k}"
        );
    }
}

const AW33_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Bericht xmlns="http://www.istandaarden.nl/iwlz/2_2/aw33/schema" xmlns:b="http://www.istandaarden.nl/iwlz/2_2/basisschema/schema">
<Header><BerichtCode>352</BerichtCode><BerichtVersie>5</BerichtVersie><BerichtSubversie>2</BerichtSubversie>
<Afzender>5509</Afzender><Ontvanger>11110001</Ontvanger>
<BerichtIdentificatie><b:Identificatie>ID</b:Identificatie><b:Dagtekening>DAG</b:Dagtekening></BerichtIdentificatie>
<XsdVersie><b:BasisschemaXsdVersie>1.0.0</b:BasisschemaXsdVersie><b:BerichtXsdVersie>1.0.0</b:BerichtXsdVersie></XsdVersie>
</Header><Clienten>"#;

fn aw33(id: &str, dag: &str, clients: &str) -> String {
    format!(
        "{}{clients}</Clienten></Bericht>",
        AW33_HEAD
            .replace(">ID<", &format!(">{id}<"))
            .replace(">DAG<", &format!(">{dag}<"))
    )
}

fn client(bsn: &str, besluit: u64, allocations: &str) -> String {
    format!(
        "<Client><Bsn>{bsn}</Bsn><Geboortedatum><b:Datum>2014-06-12</b:Datum></Geboortedatum>\
<Geslacht>2</Geslacht><Naam><b:Geslachtsnaam><b:Achternaam>X</b:Achternaam></b:Geslachtsnaam></Naam>\
<Indicatie><Besluitnummer>{besluit}</Besluitnummer><Soort>1</Soort><Afgiftedatum>2023-12-01</Afgiftedatum>\
<Ingangsdatum>2024-01-01</Ingangsdatum><GeindiceerdeFuncties><GeindiceerdeFunctie><FunctieCode>81</FunctieCode>\
<Ingangsdatum>2024-01-01</Ingangsdatum><Klasse>K3</Klasse></GeindiceerdeFunctie></GeindiceerdeFuncties>\
<ToegewezenFuncties>{allocations}</ToegewezenFuncties></Indicatie></Client>"
    )
}

fn tf(inst: &str, from: &str, to: Option<&str>, tdatum: &str) -> String {
    let end = to
        .map(|t| format!("<Einddatum>{t}</Einddatum>"))
        .unwrap_or_default();
    format!(
        "<ToegewezenFunctie><FunctieCode>81</FunctieCode><Instelling>{inst}</Instelling><Zorgkantoor>5509</Zorgkantoor>\
<Soort>1</Soort><Toewijzingsdatum>{tdatum}</Toewijzingsdatum><Toewijzingstijd>09:00:00</Toewijzingstijd>\
<Ingangsdatum>{from}</Ingangsdatum>{end}<Klasse>K3</Klasse></ToegewezenFunctie>"
    )
}

#[test]
fn a_later_aw33_with_the_same_key_updates_the_allocation() {
    let mut s = Store::open_in_memory().unwrap();
    let k = "240300002";
    let first = aw33(
        "A1",
        "2024-01-02",
        &client(k, 7, &tf("11110001", "2024-01-01", None, "2024-01-02")),
    );
    let r = ingest_bytes(&mut s, first.as_bytes(), Options::default()).unwrap();
    assert_eq!(
        (r.counts.indicaties.added, r.counts.toewijzingen.added),
        (1, 1)
    );
    // The closing AW33: same natural key, an Einddatum.
    let closing = aw33(
        "A2",
        "2024-03-08",
        &client(
            k,
            7,
            &tf("11110001", "2024-01-01", Some("2024-03-20"), "2024-03-08"),
        ),
    );
    let r = ingest_bytes(&mut s, closing.as_bytes(), Options::default()).unwrap();
    assert_eq!(r.counts.toewijzingen.updated, 1, "{r}");
    assert_eq!(r.counts.indicaties.unchanged, 1, "{r}");
    assert!(
        r.to_string().contains("function allocations 1 updated"),
        "{r}"
    );
    let c = s.client(&bsn(k)).unwrap();
    assert_eq!(c.functies.len(), 1);
    assert_eq!(c.functies[0].geldig.einddatum, parse_datum("2024-03-20"));
    // The first message ingested again (new bytes: forced) is older: nothing changes.
    let before = dump(&s);
    let r = ingest_bytes(&mut s, first.as_bytes(), Options { force: true }).unwrap();
    assert_eq!(r.counts.toewijzingen.older, 1, "{r}");
    assert_eq!(dump(&s), before);
    // Another allocation key (new Ingangsdatum) adds one.
    let next = aw33(
        "A3",
        "2024-03-09",
        &client(k, 7, &tf("11110001", "2024-03-21", None, "2024-03-09")),
    );
    let r = ingest_bytes(&mut s, next.as_bytes(), Options::default()).unwrap();
    assert_eq!(r.counts.toewijzingen.added, 1, "{r}");
    assert_eq!(s.client(&bsn(k)).unwrap().functies.len(), 2);
    assert_eq!(snapshot_mismatches(&s).unwrap(), []);
}

#[test]
fn an_io31_with_a_new_besluitnummer_adds_an_indication() {
    let mut s = Store::open_in_memory().unwrap();
    let k = "240300002";
    ingest_bytes(
        &mut s,
        aw33("A1", "2024-01-02", &client(k, 7, "")).as_bytes(),
        Options::default(),
    )
    .unwrap();
    let io31 = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/registry_samples/io31-example.xml"),
    )
    .unwrap()
    .replace(">999999990<", &format!(">{k}<"));
    let r = ingest_bytes(&mut s, io31.as_bytes(), Options::default()).unwrap();
    assert_eq!(r.counts.indicaties.added, 1, "{r}");
    let c = s.client(&bsn(k)).unwrap();
    let mut besluiten: Vec<u64> = c.indicaties.iter().map(|i| i.besluitnummer).collect();
    besluiten.sort();
    assert_eq!(besluiten, [7, 123456789]);
}

#[test]
fn lookups_by_besluitnummer_and_by_allocation_key() {
    let mut s = Store::open_in_memory().unwrap();
    ingest_all(&mut s, &fixtures(), Options::default());
    let k02 = bsn("240300014");
    let i = s.indicatie(&k02, 4200201).unwrap().unwrap();
    assert_eq!(i.geldig.einddatum, parse_datum("2024-03-15"));
    assert!(s.indicatie(&k02, 4200202).unwrap().is_some());
    assert!(s.indicatie(&k02, 4200101).unwrap().is_none());
    let p1 = AgbCode::parse("11110001").unwrap();
    let k16 = bsn("240300166");
    let on = |day: &str| {
        s.toewijzingen(&k16, 81, &p1, parse_datum(day).unwrap())
            .unwrap()
    };
    assert_eq!(on("2024-03-15").len(), 1);
    assert_eq!(
        on("2024-03-15")[0].geldig.einddatum,
        parse_datum("2024-03-15")
    );
    assert_eq!(
        on("2024-03-16")[0].geldig.ingangsdatum,
        parse_datum("2024-03-16").unwrap()
    );
    assert!(on("2023-12-31").is_empty());
    assert!(s
        .toewijzingen(&k16, 82, &p1, parse_datum("2024-03-16").unwrap())
        .unwrap()
        .is_empty());
    // Withdrawn starts (StatusAanlevering 3) are not handed to the rules.
    let k15 = s.client(&bsn("240300154")).unwrap();
    assert!(k15.aanvangen.is_empty(), "{k15:?}");
    // A client in no message.
    assert_eq!(
        s.client(&bsn("240300178")).unwrap(),
        ClientRegistry::default()
    );
}

#[test]
fn a_message_that_fails_halfway_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let good = client(
        "240300002",
        7,
        &tf("11110001", "2024-01-01", None, "2024-01-02"),
    );
    let bad = client(
        "240300014",
        8,
        &tf("1111000X", "2024-01-01", None, "2024-01-02"),
    );
    let msg = aw33("A1", "2024-01-02", &format!("{good}{bad}"));
    let e = ingest_bytes(&mut s, msg.as_bytes(), Options::default()).unwrap_err();
    match &e {
        IngestError::Message(x) => {
            let loc = x.locatie().unwrap();
            assert!(loc.ends_with("/Bericht/Clienten/Client[2]/Indicatie/ToegewezenFuncties/ToegewezenFunctie[1]/Instelling"), "{loc}");
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("1111000X"), "{e}");
    // Nothing of the first client, and the registry still counts as not loaded.
    assert!(!s.is_loaded().unwrap());
    assert!(s.client(&bsn("240300002")).unwrap().is_empty());
    let empty = dump(&s);
    assert!(empty.lines().all(|l| l.starts_with('#')), "{empty}");
}

#[test]
fn ingest_paths_takes_directories_in_name_order_and_goes_on_after_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let msgs = dir.path().join("msgs");
    std::fs::create_dir(&msgs).unwrap();
    std::fs::write(
        msgs.join("b.xml"),
        aw33("B", "2024-01-03", &client("240300014", 8, "")),
    )
    .unwrap();
    std::fs::write(
        msgs.join("a.xml"),
        aw33("A", "2024-01-02", &client("240300002", 7, "")),
    )
    .unwrap();
    std::fs::write(msgs.join("c.xml"), "<not-closed>").unwrap();
    std::fs::write(msgs.join("notes.txt"), "not a message").unwrap();
    std::fs::write(msgs.join(".hidden.xml"), "<x/>").unwrap();
    let mut s = Store::open(&dir.path().join("data")).unwrap();
    let mut seen = Vec::new();
    let refused = ingest::ingest_paths(&mut s, &[msgs], Options::default(), |p, r| {
        seen.push((
            p.file_name().unwrap().to_string_lossy().into_owned(),
            r.is_ok(),
        ))
    })
    .unwrap();
    assert_eq!(refused, 1);
    assert_eq!(
        seen,
        [
            ("a.xml".into(), true),
            ("b.xml".into(), true),
            ("c.xml".into(), false)
        ]
    );
    assert!(s.indicatie(&bsn("240300014"), 8).unwrap().is_some());
}
