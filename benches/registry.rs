//! The registry at scale: ingest a generated registry of a million clients
//! (IO31 + AW33 + AW35, the mandatory parts of real iWlz 2.2 messages), then
//! check a 100,000-line batch with and without it, in the same run.
//!
//!     cargo bench --bench registry
//!
//! Environment: REGISTRY_CLIENTS (default 1000000), BATCH_LINES (default
//! 100000), BENCH_DIR (default: a temporary directory, removed afterwards).
//! Prints the figures; asserts that every line was accepted with the
//! registry (so the lookups really found each client).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zio_gateway::check::check_message;
use zio_gateway::config::Config;
use zio_gateway::rules::{Context, IndicationSource, NoHistory};
use zio_gateway::sinks::registry::ingest::{self, Options};
use zio_gateway::sinks::registry::{RegistryStore, StoreIndications};
use zio_gateway::sinks::store::Store;
use zio_gateway::synth::bsn;
use zio_gateway::types::{parse_datum, AgbCode, Bsn};

const AGB: &str = "12345678";
const PER_FILE: u64 = 100_000;
const BASIS: &str = "http://www.istandaarden.nl/iwlz/2_2/basisschema/schema";

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Registry client `i`: BSN, Besluitnummer.
fn client(i: u64) -> (String, u64) {
    (bsn(10_000_000 + i * 37), i + 1)
}

fn header(
    w: &mut impl Write,
    soort: &str,
    code: u16,
    afz: Option<&str>,
    ontv: &str,
    id: &str,
    dag: &str,
) -> io::Result<()> {
    write!(
        w,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<m:Bericht xmlns:m=\"http://www.istandaarden.nl/iwlz/2_2/{soort}/schema\" xmlns:b=\"{BASIS}\">\
<m:Header><m:BerichtCode>{code}</m:BerichtCode><m:BerichtVersie>5</m:BerichtVersie><m:BerichtSubversie>2</m:BerichtSubversie>"
    )?;
    if let Some(a) = afz {
        write!(w, "<m:Afzender>{a}</m:Afzender>")?;
    }
    writeln!(
        w,
        "<m:Ontvanger>{ontv}</m:Ontvanger><m:BerichtIdentificatie><b:Identificatie>{id}</b:Identificatie>\
<b:Dagtekening>{dag}</b:Dagtekening></m:BerichtIdentificatie><m:XsdVersie><b:BasisschemaXsdVersie>1.0.0</b:BasisschemaXsdVersie>\
<b:BerichtXsdVersie>1.0.0</b:BerichtXsdVersie></m:XsdVersie></m:Header><m:Clienten>"
    )
}

fn client_head(w: &mut impl Write, bsn: &str) -> io::Result<()> {
    write!(
        w,
        "<m:Client><m:Bsn>{bsn}</m:Bsn><m:Geboortedatum><b:Datum>2013-05-01</b:Datum></m:Geboortedatum><m:Geslacht>2</m:Geslacht>\
<m:Naam><b:Geslachtsnaam><b:Achternaam>Leerling</b:Achternaam></b:Geslachtsnaam></m:Naam>"
    )
}

fn indicatie(w: &mut impl Write, besluit: u64, allocations: bool) -> io::Result<()> {
    write!(
        w,
        "<m:Indicatie><m:Besluitnummer>{besluit}</m:Besluitnummer><m:Soort>1</m:Soort>\
<m:Grondslagen><b:Grondslag01>01</b:Grondslag01></m:Grondslagen><m:Afgiftedatum>2023-12-15</m:Afgiftedatum>\
<m:Ingangsdatum>2024-01-01</m:Ingangsdatum><m:GeindiceerdeFuncties>\
<m:GeindiceerdeFunctie><m:FunctieCode>81</m:FunctieCode><m:Ingangsdatum>2024-01-01</m:Ingangsdatum><m:Klasse>K3</m:Klasse></m:GeindiceerdeFunctie>\
<m:GeindiceerdeFunctie><m:FunctieCode>82</m:FunctieCode><m:Ingangsdatum>2024-01-01</m:Ingangsdatum><m:Klasse>K2</m:Klasse></m:GeindiceerdeFunctie>\
</m:GeindiceerdeFuncties>"
    )?;
    if allocations {
        for f in [81, 82] {
            write!(
                w,
                "<m:ToegewezenFuncties><m:ToegewezenFunctie><m:FunctieCode>{f}</m:FunctieCode><m:Instelling>{AGB}</m:Instelling>\
<m:Zorgkantoor>5509</m:Zorgkantoor><m:Soort>1</m:Soort><m:Toewijzingsdatum>2024-01-02</m:Toewijzingsdatum>\
<m:Toewijzingstijd>09:00:00</m:Toewijzingstijd><m:Ingangsdatum>2024-01-01</m:Ingangsdatum><m:Klasse>K3</m:Klasse>\
</m:ToegewezenFunctie></m:ToegewezenFuncties>"
            )?;
        }
    }
    write!(w, "</m:Indicatie>")
}

/// Writes the registry as IO31, AW33 and AW35 files of PER_FILE clients.
fn generate_registry(dir: &Path, clients: u64) -> io::Result<u64> {
    std::fs::create_dir_all(dir)?;
    let mut bytes = 0;
    let files = clients.div_ceil(PER_FILE);
    for (soort, code) in [("io31", 388u16), ("aw33", 352), ("aw35", 354)] {
        for f in 0..files {
            let path = dir.join(format!("{soort}-{f:04}.xml"));
            let mut w = BufWriter::with_capacity(1 << 20, File::create(&path)?);
            let id = format!("{}{f:06}", soort.to_uppercase());
            let (afz, ontv, dag) = match soort {
                "io31" => (None, "5509", "2023-12-20"),
                "aw33" => (Some("5509"), AGB, "2024-01-02"),
                _ => (Some(AGB), "5509", "2024-01-10"),
            };
            header(&mut w, soort, code, afz, ontv, &id, dag)?;
            for i in f * PER_FILE..((f + 1) * PER_FILE).min(clients) {
                let (b, besluit) = client(i);
                client_head(&mut w, &b)?;
                match soort {
                    "io31" => indicatie(&mut w, besluit, false)?,
                    "aw33" => indicatie(&mut w, besluit, true)?,
                    _ => {
                        write!(w, "<m:GeleverdeFuncties>")?;
                        for fc in [81, 82] {
                            write!(
                                w,
                                "<m:GeleverdeFunctie><m:Besluitnummer>{besluit}</m:Besluitnummer><m:FunctieCode>{fc}</m:FunctieCode>\
<m:ToewijzingIngangsdatum>2024-01-01</m:ToewijzingIngangsdatum><m:Begindatum>2024-01-08</m:Begindatum>\
<m:Instelling>{AGB}</m:Instelling><m:Klasse>K3</m:Klasse><m:StatusAanlevering>1</m:StatusAanlevering></m:GeleverdeFunctie>"
                            )?;
                        }
                        write!(w, "</m:GeleverdeFuncties>")?;
                    }
                }
                writeln!(w, "</m:Client>")?;
            }
            writeln!(w, "</m:Clienten></m:Bericht>")?;
            w.flush()?;
            bytes += std::fs::metadata(&path)?.len();
        }
    }
    Ok(bytes)
}

/// A declaration of `lines` H300 lines, `per_client` to a client, whose
/// clients are spread over the whole registry (not a warm contiguous range).
fn generate_batch(path: &Path, lines: u64, per_client: u64, registry: u64) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    write!(
        w,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Declaratiebericht xmlns=\"urn:zio-gateway:declaratie:1\">\n\
  <Header><BerichtIdentificatie><Identificatie>BENCH-1</Identificatie><Dagtekening>2024-04-02</Dagtekening></BerichtIdentificatie>\
<Afzender>{AGB}</Afzender><Ontvanger>5509</Ontvanger><Declaratieperiode><Begindatum>2024-03-01</Begindatum>\
<Einddatum>2024-03-31</Einddatum></Declaratieperiode></Header>\n  <Clienten>\n"
    )?;
    let mut n = 0;
    let mut c = 0u64;
    while n < lines {
        // 999_983 is prime: c -> c * 999_983 mod registry visits the registry spread out.
        let i = (c * 999_983) % registry;
        let (b, besluit) = client(i);
        writeln!(
            w,
            "    <Client><Bsn>{b}</Bsn><Geboortedatum>2013-05-01</Geboortedatum><Besluitnummer>{besluit}</Besluitnummer><Prestaties>"
        )?;
        for k in 0..per_client.min(lines - n) {
            let day = 1 + (k % 28);
            // Tariff 1 cent: TotaalDebet (at most 8 digits) stays valid for any batch size.
            let code = if k % 2 == 0 {
                ("H300", "04", 1)
            } else {
                ("H814", "16", 1)
            };
            writeln!(
                w,
                "      <Prestatie><ReferentieNummer>B{n}</ReferentieNummer><ProductCode>{}</ProductCode>\
<Begindatum>2024-03-{day:02}</Begindatum><Einddatum>2024-03-{day:02}</Einddatum><GeleverdVolume>1</GeleverdVolume>\
<Eenheid>{}</Eenheid><ProductTarief>{}</ProductTarief><Bedrag>{}</Bedrag><DebetCredit>D</DebetCredit></Prestatie>",
                code.0, code.1, code.2, code.2
            )?;
            n += 1;
        }
        writeln!(w, "    </Prestaties></Client>")?;
        c += 1;
    }
    // Totals are left for the gateway to report (0105 does not matter here): compute them.
    drop(w);
    let text = std::fs::read_to_string(path)?;
    let debet: u64 = text
        .match_indices("<Bedrag>")
        .map(|(p, _)| {
            let s = &text[p + 8..];
            s[..s.find('<').unwrap()].parse::<u64>().unwrap()
        })
        .sum();
    let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
    write!(
        f,
        "  </Clienten>\n  <Totalen><AantalPrestaties>{lines}</AantalPrestaties><TotaalDebet>{debet}</TotaalDebet>\
<TotaalCredit>0</TotaalCredit></Totalen>\n</Declaratiebericht>\n"
    )
}

fn time_check(
    config: &Config,
    batch: &Path,
    source: Option<&dyn IndicationSource>,
    lines: u64,
) -> (Duration, Duration) {
    let ctx = Context {
        regime: &config.regime,
        today: parse_datum("2024-04-10").unwrap(),
        indications: source,
        require_start_of_delivery: true,
        history: &NoHistory,
    };
    let t = Instant::now();
    let input = BufReader::with_capacity(64 * 1024, File::open(batch).unwrap());
    let mut outcome = check_message(input, config, &ctx).unwrap();
    let checked = t.elapsed();
    assert!(
        outcome.message_codes.is_empty(),
        "{:?}",
        outcome.message_codes
    );
    assert_eq!(
        outcome.totals.aantal_geaccepteerd, lines,
        "every line accepted"
    );
    zio_gateway::sinks::answer::write_outcome(
        &mut outcome,
        config,
        zio_gateway::sinks::answer::Format::Xml,
        false,
        io::sink(),
    )
    .unwrap();
    (checked, t.elapsed())
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn main() {
    // `cargo test --benches` runs this with --bench too; only run on `cargo bench` or directly.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let clients = env("REGISTRY_CLIENTS", 1_000_000);
    let lines = env("BATCH_LINES", 100_000);
    let tmp;
    let dir: PathBuf = match std::env::var("BENCH_DIR") {
        Ok(d) => PathBuf::from(d),
        Err(_) => {
            tmp = tempfile::tempdir().unwrap();
            tmp.path().to_owned()
        }
    };
    let config = Config::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config")).unwrap();

    let t = Instant::now();
    let bytes = generate_registry(&dir.join("iwlz"), clients).unwrap();
    println!(
        "generated {clients} clients as {} iWlz messages, {:.0} MB, in {:.1} s",
        3 * clients.div_ceil(PER_FILE),
        bytes as f64 / 1e6,
        secs(t.elapsed())
    );

    let data = dir.join("data");
    let _ = std::fs::remove_dir_all(&data);
    let mut store = Store::open(&data).unwrap();
    let t = Instant::now();
    let refused = ingest::ingest_paths(
        &mut store,
        &[dir.join("iwlz")],
        Options::default(),
        |p, r| {
            if let Err(e) = r {
                panic!("{}: {e}", p.display());
            }
        },
    )
    .unwrap();
    assert_eq!(refused, 0);
    let ingest_time = t.elapsed();
    drop(store);
    let db = std::fs::metadata(data.join("gateway.db"))
        .map(|m| m.len())
        .unwrap_or(0)
        + std::fs::metadata(data.join("gateway.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!(
        "ingest of {clients} clients (IO31+AW33+AW35, {} records): {:.1} s ({:.0} clients/s), store {:.0} MB",
        clients * 6,
        secs(ingest_time),
        clients as f64 / secs(ingest_time),
        db as f64 / 1e6
    );

    // Point lookups on a fresh connection, spread over the registry.
    let store = Store::open_existing(&data).unwrap().unwrap();
    let agb = AgbCode::parse(AGB).unwrap();
    let day = parse_datum("2024-03-15").unwrap();
    let n = 100_000u64;
    let t = Instant::now();
    for c in 0..n {
        let (b, besluit) = client((c * 999_983) % clients);
        let b = Bsn::parse(&b).unwrap();
        assert!(store.indicatie(&b, besluit).unwrap().is_some());
    }
    let by_besluit = t.elapsed();
    let t = Instant::now();
    for c in 0..n {
        let (b, _) = client((c * 7_919 + 13) % clients);
        let b = Bsn::parse(&b).unwrap();
        assert_eq!(store.toewijzingen(&b, 81, &agb, day).unwrap().len(), 1);
    }
    let by_key = t.elapsed();
    let t = Instant::now();
    for c in 0..n {
        let (b, _) = client((c * 104_729 + 7) % clients);
        let b = Bsn::parse(&b).unwrap();
        assert!(!store.client(&b).unwrap().is_empty());
    }
    let by_client = t.elapsed();
    println!(
        "lookups over {clients} clients: (BSN, Besluitnummer) {:.1} us, (BSN, FunctieCode, Instelling, date) {:.1} us, whole client (one snapshot row) {:.1} us",
        by_besluit.as_secs_f64() * 1e6 / n as f64,
        by_key.as_secs_f64() * 1e6 / n as f64,
        by_client.as_secs_f64() * 1e6 / n as f64
    );

    for per_client in [4u64, 1] {
        let batch = dir.join(format!("batch-{per_client}.xml"));
        generate_batch(&batch, lines, per_client, clients).unwrap();
        let store = Store::open_existing(&data).unwrap().unwrap();
        assert!(store.is_loaded().unwrap());
        let source = StoreIndications::new(&store);
        // Alternate, best of three each, same run.
        let mut without = (Duration::MAX, Duration::MAX);
        let mut with = (Duration::MAX, Duration::MAX);
        for _ in 0..3 {
            let a = time_check(&config, &batch, None, lines);
            let b = time_check(&config, &batch, Some(&source), lines);
            without = (without.0.min(a.0), without.1.min(a.1));
            with = (with.0.min(b.0), with.1.min(b.1));
        }
        assert!(source.failure().is_none());
        println!(
            "check of {lines} lines ({} per client, {} clients looked up): without registry {:.2} s, with registry {:.2} s: ratio {:.2} \
             (check + answer: {:.2} s vs {:.2} s, ratio {:.2})",
            per_client,
            lines.div_ceil(per_client),
            secs(without.0),
            secs(with.0),
            secs(with.0) / secs(without.0),
            secs(without.1),
            secs(with.1),
            secs(with.1) / secs(without.1),
        );
        std::fs::remove_file(&batch).ok();
    }
}
