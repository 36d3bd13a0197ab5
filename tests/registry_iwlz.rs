//! The iWlz 2.2 reader: the official-shaped examples (tests/registry_samples,
//! the examples docs/contract/iwlz.md names, schema-valid against the iWlz 2.2 XSDs),
//! any prefix spelling, and clear errors with line:column and path.

use zio_gateway::model::iwlz::{BerichtSoort, Geldigheid, IwlzClient, IwlzHeader};
use zio_gateway::read::iwlz::{read_all, IwlzReader};
use zio_gateway::read::xml::XmlError;
use zio_gateway::types::{parse_datum, AgbCode, Bsn, Datum};

const IO31: &str = include_str!("registry_samples/io31-example.xml");
const AW33: &str = include_str!("registry_samples/aw33-example.xml");
const AW35: &str = include_str!("registry_samples/aw35-example.xml");
const AW39: &str = include_str!("registry_samples/aw39-example.xml");

fn d(s: &str) -> Datum {
    parse_datum(s).unwrap()
}

fn one(text: &str) -> (IwlzHeader, IwlzClient) {
    let (h, mut c) = read_all(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.len(), 1);
    (h, c.remove(0))
}

fn error(text: &str) -> (String, String) {
    match read_all(text.as_bytes()) {
        Err(e @ XmlError::Input { .. }) => (e.to_string(), e.locatie().unwrap_or_default()),
        Err(e) => panic!("not an input error: {e}"),
        Ok(_) => panic!("accepted: {text}"),
    }
}

#[test]
fn io31_example() {
    let (h, c) = one(IO31);
    assert_eq!(h.soort, BerichtSoort::Io31);
    assert_eq!(h.identificatie, "CIZ000000001");
    assert_eq!(h.dagtekening, d("2021-03-01"));
    assert_eq!(h.afzender, None);
    assert_eq!(h.ontvanger.as_deref(), Some("5509"));
    assert_eq!(c.bsn, Bsn::parse("999999990"));
    assert_eq!(c.geboortedatum, Some(d("1940-05-17")));
    assert_eq!(c.indicaties.len(), 1);
    let i = &c.indicaties[0];
    assert_eq!(i.besluitnummer, 123456789);
    assert_eq!(i.afgiftedatum, Some(d("2021-02-20")));
    assert_eq!(i.geldig, Geldigheid::new(d("2021-02-20"), None));
    assert!(i.functies.is_empty());
    assert_eq!(i.zzps.len(), 1);
    assert_eq!(i.zzps[0].code, 755);
    assert!(i.positief());
    assert!(c.functies.is_empty() && c.zzps.is_empty());
}

#[test]
fn aw33_example() {
    let (h, c) = one(AW33);
    assert_eq!(h.soort, BerichtSoort::Aw33);
    assert_eq!(h.afzender.as_deref(), Some("5509"));
    assert_eq!(c.indicaties.len(), 1);
    assert_eq!(c.zzps.len(), 1);
    let z = &c.zzps[0];
    assert_eq!(z.zzpcode, 755);
    assert_eq!(z.instelling, AgbCode::parse("12345678"));
    assert_eq!(z.leveringsvorm, 4);
    assert_eq!(z.besluitnummer, 123456789);
    assert_eq!(z.geldig, Geldigheid::new(d("2021-02-20"), None));
    assert_eq!(z.toewijzingsdatum, Some(d("2021-02-25")));
    assert_eq!(z.toewijzingstijd.as_deref(), Some("10:00:00"));
}

#[test]
fn aw35_example() {
    let (h, c) = one(AW35);
    assert_eq!(h.soort, BerichtSoort::Aw35);
    assert_eq!(c.aanvangen.len(), 1);
    let a = &c.aanvangen[0];
    assert_eq!((a.functiecode, a.besluitnummer), (81, 123456789));
    assert_eq!(a.instelling, AgbCode::parse("87654321").unwrap());
    assert_eq!(a.toewijzing_ingangsdatum, d("2023-01-01"));
    assert_eq!(a.begindatum, d("2023-01-09"));
    assert_eq!(a.status, 1);
}

#[test]
fn aw39_example() {
    let (h, c) = one(AW39);
    assert_eq!(h.soort, BerichtSoort::Aw39);
    let m = &c.mutaties[0];
    assert_eq!((m.functiecode, m.mutatiecode), (81, 19));
    assert_eq!(m.mutatiedatum, d("2024-07-31"));
    assert!(m.beeindigt());
}

/// The same message with other prefixes (or none) reads the same.
#[test]
fn any_prefix_spelling_reads_the_same() {
    let base = one(AW33);
    let ns_msg = "http://www.istandaarden.nl/iwlz/2_2/aw33/schema";
    let ns_basis = "http://www.istandaarden.nl/iwlz/2_2/basisschema/schema";
    // Default namespace for the message, `b:` for the basisschema.
    let default_ns = AW33
        .replace("aw33:", "")
        .replace("xmlns:aw33=", "xmlns=")
        .replace("iwlz:", "b:")
        .replace("xmlns:iwlz=", "xmlns:b=");
    assert_eq!(one(&default_ns), base);
    // Swapped prefixes: `iwlz` for the message, `aw33` for the basisschema.
    let swapped = AW33
        .replace("aw33:", "TMP:")
        .replace("iwlz:", "aw33:")
        .replace("TMP:", "iwlz:")
        .replace(
            &format!("xmlns:aw33=\"{ns_msg}\" xmlns:iwlz=\"{ns_basis}\""),
            &format!("xmlns:aw33=\"{ns_basis}\" xmlns:iwlz=\"{ns_msg}\""),
        );
    assert!(swapped.contains("<iwlz:Bericht"), "{}", &swapped[..300]);
    assert_eq!(one(&swapped), base);
    // Basisschema declared locally on each composite, comments and a PI sprinkled in.
    let local = AW35
        .replace(&format!(" xmlns:iwlz=\"{ns_basis}\""), "")
        .replace(
            "<aw35:BerichtIdentificatie>",
            &format!("<!-- id --><?pi x?><aw35:BerichtIdentificatie xmlns:iwlz=\"{ns_basis}\">"),
        )
        .replace(
            "<aw35:XsdVersie>",
            &format!("<aw35:XsdVersie xmlns:iwlz=\"{ns_basis}\">"),
        )
        .replace(
            "<aw35:Geboortedatum>",
            &format!("<aw35:Geboortedatum xmlns:iwlz=\"{ns_basis}\">"),
        )
        .replace(
            "<aw35:Naam>",
            &format!("<aw35:Naam xmlns:iwlz=\"{ns_basis}\">"),
        );
    assert_eq!(one(&local), one(AW35));
}

#[test]
fn the_fixture_set_reads() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/registry");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "xml") {
            let bytes = std::fs::read(&p).unwrap();
            let (_, clients) = read_all(&bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(!clients.is_empty());
            n += 1;
        }
    }
    assert!(n >= 10);
}

#[test]
fn elements_in_the_wrong_namespace_do_not_count() {
    // Bsn without a namespace is not the iWlz Bsn: the Client lacks one.
    let text = AW35.replace("<aw35:Bsn>999999990</aw35:Bsn>", "<Bsn>999999990</Bsn>");
    let (msg, loc) = error(&text);
    assert!(msg.contains("Bsn is missing"), "{msg}");
    assert!(loc.contains("/Bericht/Clienten/Client[1]"), "{loc}");
}

#[test]
fn malformed_messages_are_refused_with_location() {
    // Not well-formed: truncated in the middle.
    let cut = &AW33[..AW33.find("<aw33:Leveringsvorm>").unwrap()];
    let (msg, loc) = error(cut);
    assert!(msg.contains("unexpected end"), "{msg}");
    assert!(loc.starts_with(char::is_numeric), "{loc}");
    // Mismatched tags.
    let (msg, _) = error(&IO31.replace("</io31:Besluitnummer>", "</io31:BesluitNummer>"));
    assert!(!msg.is_empty());
    // A declaration is not an iWlz message.
    let (msg, _) =
        error("<Declaratiebericht xmlns=\"urn:zio-gateway:declaratie:1\"></Declaratiebericht>");
    assert!(msg.contains("not an iWlz 2.2"), "{msg}");
    // Release 2.1 namespace.
    let (msg, _) = error(&IO31.replace("iwlz/2_2/io31", "iwlz/2_1/io31"));
    assert!(msg.contains("not an iWlz 2.2"), "{msg}");
    // BerichtCode that does not fit the namespace.
    let (msg, loc) = error(&IO31.replace(">388<", ">352<"));
    assert!(msg.contains("BerichtCode 352"), "{msg}");
    assert!(loc.contains("/Bericht/Header"), "{loc}");
    // A mistyped date, with its element path and line.
    let (msg, loc) = error(&IO31.replace(
        "<io31:Ingangsdatum>2021-02-20</io31:Ingangsdatum>\n        <io31:GeindiceerdeZorgzwaartepakketten>",
        "<io31:Ingangsdatum>2021-02-30</io31:Ingangsdatum>\n        <io31:GeindiceerdeZorgzwaartepakketten>",
    ));
    assert!(msg.contains("2021-02-30"), "{msg}");
    assert!(
        loc.starts_with("46:")
            && loc.ends_with("/Bericht/Clienten/Client[1]/Indicatie/Ingangsdatum"),
        "{loc}"
    );
    // A missing Besluitnummer.
    let (msg, loc) = error(&IO31.replace("<io31:Besluitnummer>123456789</io31:Besluitnummer>", ""));
    assert!(msg.contains("Besluitnummer is missing"), "{msg}");
    assert!(
        loc.ends_with("/Bericht/Clienten/Client[1]/Indicatie"),
        "{loc}"
    );
    // A BSN of 8 digits.
    let (msg, _) = error(&AW39.replace(">999999990<", ">99999999<"));
    assert!(msg.contains("BSN of 9 digits"), "{msg}");
    // An element where a value belongs.
    let (msg, _) = error(&AW35.replace(
        "<aw35:FunctieCode>81</aw35:FunctieCode>",
        "<aw35:FunctieCode><aw35:X>81</aw35:X></aw35:FunctieCode>",
    ));
    assert!(msg.contains("holds a value"), "{msg}");
    // DOCTYPE is refused as in declarations.
    let (msg, _) = error(&AW35.replace(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><!DOCTYPE x>",
    ));
    assert!(msg.contains("DOCTYPE"), "{msg}");
    // A client with no Clienten.
    let (msg, _) = error(&AW39.replace(
        &AW39[AW39.find("<aw39:Clienten>").unwrap()..AW39.find("</aw39:Bericht>").unwrap()],
        "",
    ));
    assert!(msg.contains("Clienten is missing"), "{msg}");
}

/// The reader hands out one client at a time and skips what it does not
/// need, whatever its size (the optional parts are not kept).
#[test]
fn clients_stream_one_at_a_time() {
    let head = &AW33[..AW33.find("<aw33:Client>").unwrap()];
    let client = &AW33[AW33.find("<aw33:Client>").unwrap()..AW33.find("</aw33:Clienten>").unwrap()];
    let tail = &AW33[AW33.find("</aw33:Clienten>").unwrap()..];
    let mut doc = String::from(head);
    for _ in 0..2_000 {
        doc.push_str(client);
    }
    doc.push_str(tail);
    let mut r = IwlzReader::new(doc.as_bytes(), None);
    r.read_header().unwrap();
    let mut n = 0;
    while let Some(c) = r.next_client().unwrap() {
        assert_eq!(c.zzps.len(), 1);
        n += 1;
        // Only the first client's bytes (and a little look-ahead) are read when it is handed out.
        if n == 1 {
            assert!(r.bytes_read() < (head.len() + 2 * client.len() + 64 * 1024) as u64);
        }
    }
    assert_eq!(n, 2_000);
    assert!(r.next_client().unwrap().is_none());
}
