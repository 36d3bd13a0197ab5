//! The registry store, in SQLite and in PostgreSQL alike: idempotent
//! ingestion (compared by a dump of the content), later messages updating
//! earlier ones, lookups, and atomicity of a message; and the two backends
//! holding the same for the same messages, also when two gateways ingest
//! into one PostgreSQL at once. The PostgreSQL tests need a PostgreSQL:
//! ZIO_TEST_PG_URL, else one started by scripts/pg-test-server.sh; without
//! either each prints "SKIPPED: no PostgreSQL" and returns.

mod registry_support;

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use zio_gateway::model::iwlz::ClientRegistry;
use zio_gateway::sinks::registry::ingest::{self, ingest_bytes, ingest_file, IngestError, Options};
use zio_gateway::sinks::registry::postgres::PgRegistry;
use zio_gateway::sinks::registry::sqlite::snapshot_mismatches;
use zio_gateway::sinks::registry::{RegistryLocation, RegistryStore, RegistryStores};
use zio_gateway::sinks::store::Store;
use zio_gateway::types::{parse_datum, AgbCode, Bsn};

fn fixtures_in(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("conformance")
        .join(dir);
    ingest::expand_paths(&[dir]).unwrap()
}

fn fixtures() -> Vec<PathBuf> {
    fixtures_in("registry")
}

fn dump(store: &dyn RegistryStore) -> String {
    let mut out = Vec::new();
    store.dump(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn ingest_all(store: &mut dyn RegistryStore, files: &[PathBuf], opts: Options) {
    for f in files {
        ingest_file(store, f, opts).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
}

fn bsn(s: &str) -> Bsn {
    Bsn::parse(s).unwrap()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// One connection to a test's registry, either backend.
enum Conn {
    Sqlite(Store),
    Postgres(Box<PgRegistry>),
}

impl Deref for Conn {
    type Target = dyn RegistryStore;
    fn deref(&self) -> &Self::Target {
        match self {
            Conn::Sqlite(s) => s,
            Conn::Postgres(s) => &**s,
        }
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            Conn::Sqlite(s) => s,
            Conn::Postgres(s) => &mut **s,
        }
    }
}

impl Conn {
    /// The per-client snapshots the checks read agree with the records.
    /// SQLite checks itself; PostgreSQL's snapshots are compared with
    /// SQLite's for every client in `postgres_holds_what_sqlite_holds`.
    fn self_check(&self) {
        if let Conn::Sqlite(s) = self {
            assert_eq!(snapshot_mismatches(s).unwrap(), []);
        }
    }
}

/// A test's empty registry: where it is, and a temporary directory to
/// keep for as long as it is used.
struct Place {
    at: RegistryLocation,
    _dir: tempfile::TempDir,
}

impl Place {
    /// `None` when the backend is PostgreSQL and there is none.
    fn new(backend: Backend, test: &str) -> Option<Place> {
        let dir = tempfile::tempdir().unwrap();
        let at = match backend {
            Backend::Sqlite => RegistryLocation::Sqlite(dir.path().join("data")),
            Backend::Postgres => registry_support::pg_location(test)?,
        };
        Some(Place { at, _dir: dir })
    }

    /// Another connection (opening or reopening the store).
    fn connect(&self) -> Conn {
        match &self.at {
            RegistryLocation::Sqlite(dir) => Conn::Sqlite(Store::open(dir).unwrap()),
            RegistryLocation::Postgres { url, schema } => Conn::Postgres(Box::new(
                PgRegistry::connect_in_schema(url, schema.as_deref()).unwrap(),
            )),
        }
    }
}

/// Every scenario as a test per backend.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(super::Backend::Sqlite);
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                super::$name(super::Backend::Postgres);
            })*
        }
    };
}

on_both!(
    ingesting_the_fixture_set_twice_changes_nothing,
    the_order_of_ingestion_does_not_matter,
    a_later_aw33_with_the_same_key_updates_the_allocation,
    an_io31_with_a_new_besluitnummer_adds_an_indication,
    lookups_by_besluitnummer_and_by_allocation_key,
    a_message_that_fails_halfway_changes_nothing,
    ingest_paths_takes_directories_in_name_order_and_goes_on_after_a_bad_file,
);

fn ingesting_the_fixture_set_twice_changes_nothing(b: Backend) {
    let Some(place) = Place::new(b, "twice") else {
        return;
    };
    let mut store = place.connect();
    assert!(!store.is_loaded().unwrap());
    let files = fixtures();
    assert!(files.len() >= 10);
    ingest_all(&mut *store, &files, Options::default());
    assert!(store.is_loaded().unwrap());
    store.self_check();
    let first = dump(&*store);
    assert!(first.lines().count() > 60, "{first}");

    // Again, as a user would: every message is recognised and skipped.
    for f in &files {
        let r = ingest_file(&mut *store, f, Options::default()).unwrap();
        assert!(r.already_ingested, "{}", f.display());
        assert!(r.to_string().contains("already ingested"), "{r}");
    }
    assert_eq!(dump(&*store), first);

    // Again, forcing every record through the upsert: still byte-for-byte equal,
    // and every record reports "unchanged" or "older than stored".
    for f in &files {
        let r = ingest_file(&mut *store, f, Options { force: true }).unwrap();
        assert!(!r.counts.changed(), "{}: {r}", f.display());
    }
    assert_eq!(dump(&*store), first);
    store.self_check();

    // And after closing and reopening the database.
    drop(store);
    let store = place.connect();
    assert_eq!(dump(&*store), first);
}

fn the_order_of_ingestion_does_not_matter(backend: Backend) {
    let (Some(pa), Some(pb)) = (
        Place::new(backend, "order_a"),
        Place::new(backend, "order_b"),
    ) else {
        return;
    };
    let files = fixtures();
    let mut a = pa.connect();
    ingest_all(&mut *a, &files, Options::default());
    let mut b = pb.connect();
    let reversed: Vec<_> = files.iter().rev().cloned().collect();
    ingest_all(&mut *b, &reversed, Options::default());
    assert_eq!(dump(&*a), dump(&*b));
    // The per-client snapshots the checks read agree with the records, whatever the order.
    a.self_check();
    b.self_check();
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

fn a_later_aw33_with_the_same_key_updates_the_allocation(b: Backend) {
    let Some(place) = Place::new(b, "later_aw33") else {
        return;
    };
    let mut s = place.connect();
    let k = "240300002";
    let first = aw33(
        "A1",
        "2024-01-02",
        &client(k, 7, &tf("11110001", "2024-01-01", None, "2024-01-02")),
    );
    let r = ingest_bytes(&mut *s, first.as_bytes(), Options::default()).unwrap();
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
    let r = ingest_bytes(&mut *s, closing.as_bytes(), Options::default()).unwrap();
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
    let before = dump(&*s);
    let r = ingest_bytes(&mut *s, first.as_bytes(), Options { force: true }).unwrap();
    assert_eq!(r.counts.toewijzingen.older, 1, "{r}");
    assert_eq!(dump(&*s), before);
    // Another allocation key (new Ingangsdatum) adds one.
    let next = aw33(
        "A3",
        "2024-03-09",
        &client(k, 7, &tf("11110001", "2024-03-21", None, "2024-03-09")),
    );
    let r = ingest_bytes(&mut *s, next.as_bytes(), Options::default()).unwrap();
    assert_eq!(r.counts.toewijzingen.added, 1, "{r}");
    assert_eq!(s.client(&bsn(k)).unwrap().functies.len(), 2);
    s.self_check();
}

fn an_io31_with_a_new_besluitnummer_adds_an_indication(b: Backend) {
    let Some(place) = Place::new(b, "io31_new") else {
        return;
    };
    let mut s = place.connect();
    let k = "240300002";
    ingest_bytes(
        &mut *s,
        aw33("A1", "2024-01-02", &client(k, 7, "")).as_bytes(),
        Options::default(),
    )
    .unwrap();
    let io31 = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/registry_samples/io31-example.xml"),
    )
    .unwrap()
    .replace(">999999990<", &format!(">{k}<"));
    let r = ingest_bytes(&mut *s, io31.as_bytes(), Options::default()).unwrap();
    assert_eq!(r.counts.indicaties.added, 1, "{r}");
    let c = s.client(&bsn(k)).unwrap();
    let mut besluiten: Vec<u64> = c.indicaties.iter().map(|i| i.besluitnummer).collect();
    besluiten.sort();
    assert_eq!(besluiten, [7, 123456789]);
}

fn lookups_by_besluitnummer_and_by_allocation_key(b: Backend) {
    let Some(place) = Place::new(b, "lookups") else {
        return;
    };
    let mut s = place.connect();
    ingest_all(&mut *s, &fixtures(), Options::default());
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

fn a_message_that_fails_halfway_changes_nothing(b: Backend) {
    let Some(place) = Place::new(b, "halfway") else {
        return;
    };
    let mut s = place.connect();
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
    let e = ingest_bytes(&mut *s, msg.as_bytes(), Options::default()).unwrap_err();
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
    let empty = dump(&*s);
    assert!(empty.lines().all(|l| l.starts_with('#')), "{empty}");
}

fn ingest_paths_takes_directories_in_name_order_and_goes_on_after_a_bad_file(b: Backend) {
    let Some(place) = Place::new(b, "paths") else {
        return;
    };
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
    let mut s = place.connect();
    let mut seen = Vec::new();
    let refused = ingest::ingest_paths(&mut *s, &[msgs], Options::default(), |p, r| {
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

/// Every BSN the registry holds anything for, from its dump (the first
/// column of every record table).
fn bsns_in(dump: &str) -> Vec<Bsn> {
    let mut table = "";
    let mut out = Vec::new();
    for line in dump.lines() {
        if let Some(h) = line.strip_prefix("# ") {
            table = h.split('\t').next().unwrap();
        } else if table != "iwlz_bericht" {
            let b: u64 = line.split('\t').next().unwrap().parse().unwrap();
            out.push(bsn(&format!("{b:09}")));
        }
    }
    out.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    out.dedup();
    out
}

/// The same messages leave the same content in both backends, byte for byte
/// in the dump, and hand the rules the same client for every BSN (which
/// also shows PostgreSQL's snapshots agree with its records: SQLite's are
/// checked against its records).
#[test]
fn postgres_holds_what_sqlite_holds() {
    let mut both = fixtures_in("registry");
    both.extend(fixtures_in("registry-0407"));
    let reversed: Vec<PathBuf> = both.iter().rev().cloned().collect();
    let sets = [
        ("registry", fixtures_in("registry")),
        ("registry_0407", fixtures_in("registry-0407")),
        ("both_reversed", reversed),
    ];
    for (name, files) in sets {
        let (Some(sp), Some(pp)) = (
            Place::new(Backend::Sqlite, name),
            Place::new(Backend::Postgres, &format!("same_{name}")),
        ) else {
            return;
        };
        let (mut sqlite, mut pg) = (sp.connect(), pp.connect());
        ingest_all(&mut *sqlite, &files, Options::default());
        ingest_all(&mut *pg, &files, Options::default());
        sqlite.self_check();
        let d = dump(&*sqlite);
        assert_eq!(dump(&*pg), d, "{name}");
        let bsns = bsns_in(&d);
        assert!(bsns.len() >= 3, "{name}: {bsns:?}");
        for b in &bsns {
            let c = sqlite.client(b).unwrap();
            assert!(!c.is_empty(), "{name}: {b:?}");
            assert_eq!(pg.client(b).unwrap(), c, "{name}: {b:?}");
            for i in &c.indicaties {
                assert_eq!(
                    pg.indicatie(b, i.besluitnummer).unwrap(),
                    sqlite.indicatie(b, i.besluitnummer).unwrap()
                );
            }
            for f in &c.functies {
                let day = f.geldig.ingangsdatum;
                assert_eq!(
                    pg.toewijzingen(b, f.functiecode, &f.instelling, day)
                        .unwrap(),
                    sqlite
                        .toewijzingen(b, f.functiecode, &f.instelling, day)
                        .unwrap(),
                    "{name}: {b:?}"
                );
            }
        }
    }
}

/// Two gateways on one PostgreSQL ingest the same messages at the same time
/// (in opposite orders, the second forcing every record through the
/// upsert): the registry ends exactly as after one ingest in order, with
/// every message recorded once.
#[test]
fn two_gateways_ingesting_at_once_end_as_one_sequential_ingest() {
    let (Some(seq), Some(conc)) = (
        Place::new(Backend::Postgres, "sequential"),
        Place::new(Backend::Postgres, "concurrent"),
    ) else {
        return;
    };
    let mut files = fixtures_in("registry");
    files.extend(fixtures_in("registry-0407"));
    let mut one = seq.connect();
    ingest_all(&mut *one, &files, Options::default());
    let want = dump(&*one);

    for round in 0..5 {
        let start = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            let forward = s.spawn(|| {
                let mut c = conc.connect();
                start.wait();
                ingest_all(&mut *c, &files, Options::default());
            });
            let backward = s.spawn(|| {
                let mut c = conc.connect();
                let reversed: Vec<PathBuf> = files.iter().rev().cloned().collect();
                start.wait();
                ingest_all(&mut *c, &reversed, Options { force: true });
            });
            forward.join().unwrap();
            backward.join().unwrap();
        });
        let c = conc.connect();
        assert_eq!(dump(&*c), want, "round {round}");
        for b in bsns_in(&want) {
            assert_eq!(c.client(&b).unwrap(), one.client(&b).unwrap(), "{b:?}");
        }
    }
    let messages = want
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with('#'))
        .count();
    assert_eq!(messages, files.len());
}

/// An instance that found the registry empty learns of another instance's
/// ingest (`serve` and `zio-gateway ingest` on one data directory, or
/// gateways on one PostgreSQL) without a restart: its first check after the
/// short "not loaded" cache runs the 04xx rules.
fn an_instance_sees_another_instances_ingest(b: Backend) {
    let Some(place) = Place::new(b, "instances") else {
        return;
    };
    let a = RegistryStores::open_at(place.at.clone()).unwrap();
    let other = RegistryStores::open_at(place.at.clone()).unwrap();
    assert!(a.reader().unwrap().is_none());
    assert!(!a.is_loaded());
    other
        .with_writer(|s| {
            ingest::ingest_paths(s, &fixtures(), Options::default(), |p, r| {
                assert!(r.is_ok(), "{}", p.display())
            })
        })
        .unwrap();
    assert!(other.is_loaded());
    // Polled, not timed: how soon is the cache's business, that it happens is ours.
    let mut lease = None;
    for _ in 0..600 {
        lease = a.reader().unwrap();
        if lease.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let lease = lease.expect("the other instance's ingest is seen");
    assert!(a.is_loaded());
    assert!(!lease.client(&bsn("240300014")).unwrap().is_empty());
}

#[test]
fn an_instance_sees_another_instances_ingest_sqlite() {
    an_instance_sees_another_instances_ingest(Backend::Sqlite);
}

#[test]
fn an_instance_sees_another_instances_ingest_postgres() {
    an_instance_sees_another_instances_ingest(Backend::Postgres);
}

/// A writer whose every message was refused does not make the registry
/// count as loaded (that would switch the 04xx rules on against nothing).
#[test]
fn refused_messages_leave_the_registry_unloaded() {
    let place = Place::new(Backend::Sqlite, "refused").unwrap();
    let stores = RegistryStores::open_at(place.at.clone()).unwrap();
    let refused = stores
        .with_writer(|s| ingest_bytes(s, b"<not-closed>", Options::default()).map(|_| ()))
        .unwrap_err();
    assert!(matches!(refused, IngestError::Message(_)), "{refused}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.xml"), "<x/>").unwrap();
    let n = stores
        .with_writer(|s| {
            ingest::ingest_paths(s, &[dir.path().to_owned()], Options::default(), |_, _| {})
        })
        .unwrap();
    assert_eq!(n, 1);
    assert!(!stores.is_loaded());
    assert!(stores.reader().unwrap().is_none());
}
