//! Hostile inputs over HTTP (issue 11): each with the exact status and, for
//! a declaration, the exact retourcodes of its JSON answer; the XML answer
//! to every declaration is also read back with the strict reader (it must
//! be well-formed whatever came in).

mod http;

use bytes::Bytes;
use http::*;
use hyper::{Method, StatusCode};
use zio_gateway::read::xml::{Attributes, Node, XmlPull};

/// The one body of every 403 (problem+json): the same whether the data
/// asked for exists or not.
const FORBIDDEN: &str =
    "{\"detail\":\"forbidden\",\"status\":403,\"title\":\"Forbidden\",\"type\":\"about:blank\"}\n";

/// The valid declaration of A with `id`, its Identificatie text replaced by
/// `ident` (raw bytes).
fn with_ident(id: &str, ident: &[u8]) -> Vec<u8> {
    let base = declaration(id).into_bytes();
    let needle = format!("<Identificatie>{id}</Identificatie>").into_bytes();
    let at = base
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("identificatie");
    let mut out = base[..at].to_vec();
    out.extend_from_slice(b"<Identificatie>");
    out.extend_from_slice(ident);
    out.extend_from_slice(b"</Identificatie>");
    out.extend_from_slice(&base[at + needle.len()..]);
    out
}

/// The valid declaration with `from` replaced by `to` (once).
fn edited(id: &str, from: &str, to: &[u8]) -> Vec<u8> {
    let base = declaration(id);
    let at = base.find(from).unwrap_or_else(|| panic!("{from}"));
    let mut out = base.as_bytes()[..at].to_vec();
    out.extend_from_slice(to);
    out.extend_from_slice(&base.as_bytes()[at + from.len()..]);
    out
}

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

/// One declaration case: the body and the exact codes expected.
fn declarations() -> Vec<(&'static str, Vec<u8>, Vec<&'static str>)> {
    let lf = |s: &str| s.as_bytes().to_vec();
    let mut v: Vec<(&'static str, Vec<u8>, Vec<&'static str>)> = vec![
        ("empty body", vec![], vec!["0101"]),
        ("binary garbage", vec![0x89, b'P', b'N', b'G', 0, 1, 2, 0xff], vec!["0101"]),
        ("only a declaration", lf("<?xml version=\"1.0\"?>"), vec!["0101"]),
        ("NUL in text", with_ident("H-1", b"A\x00B"), vec!["0101"]),
        ("SOH in text", with_ident("H-2", b"A\x01B"), vec!["0101"]),
        ("BS in text", with_ident("H-3", b"A\x08B"), vec!["0101"]),
        ("VT in text", with_ident("H-4", b"A\x0bB"), vec!["0101"]),
        ("FF in text", with_ident("H-5", b"A\x0cB"), vec!["0101"]),
        ("ESC sequence in text", with_ident("H-6", b"\x1b[2J\x1b[31mA"), vec!["0101"]),
        ("US in text", with_ident("H-7", b"A\x1fB"), vec!["0101"]),
        ("U+FFFE in text", with_ident("H-8", b"A\xef\xbf\xbeB"), vec!["0101"]),
        ("U+FFFF in text", with_ident("H-9", b"A\xef\xbf\xbfB"), vec!["0101"]),
        ("byte 0xFF in text", with_ident("H-10", b"A\xffB"), vec!["0101"]),
        ("lone continuation byte", with_ident("H-11", b"A\x80B"), vec!["0101"]),
        ("truncated sequence", with_ident("H-12", b"A\xe2\x82"), vec!["0101"]),
        ("overlong slash", with_ident("H-13", b"A\xc0\xafB"), vec!["0101"]),
        ("encoded surrogate", with_ident("H-14", b"A\xed\xa0\x80B"), vec!["0101"]),
        ("above U+10FFFF", with_ident("H-15", b"A\xf4\x90\x80\x80B"), vec!["0101"]),
        ("&#0;", with_ident("H-16", b"A&#0;B"), vec!["0101"]),
        ("&#1;", with_ident("H-17", b"A&#1;B"), vec!["0101"]),
        ("&#x1B;", with_ident("H-18", b"A&#x1B;B"), vec!["0101"]),
        ("&#xFFFE;", with_ident("H-19", b"A&#xFFFE;B"), vec!["0101"]),
        ("&#xD800;", with_ident("H-20", b"A&#xD800;B"), vec!["0101"]),
        ("unknown entity", with_ident("H-21", b"A&bogus;B"), vec!["0101"]),
        ("bare ampersand", with_ident("H-22", b"A & B"), vec!["0101"]),
        ("bare less-than", with_ident("H-23", b"A < B"), vec!["0101"]),
        ("invalid UTF-8 in a comment", with_ident("H-24", b"H-24<!-- \xff -->"), vec!["0101"]),
        ("control char in a comment", with_ident("H-25", b"H-25<!-- \x01 -->"), vec!["0101"]),
        ("double hyphen in a comment", with_ident("H-26", b"H-26<!-- a -- b -->"), vec!["0101"]),
        ("control char in CDATA", with_ident("H-27", b"<![CDATA[A\x02B]]>"), vec!["0101"]),
        ("invalid UTF-8 in a PI", edited("H-28", "<Header>", b"<?pi \xfe?><Header>"), vec!["0101"]),
        ("control char in an attribute", edited("H-29", "<Header>", b"<Header a=\"\x01\">"), vec!["0101"]),
        ("char reference in an attribute", edited("H-30", "<Header>", b"<Header a=\"&#1;\">"), vec!["0101"]),
        ("an attribute", edited("H-31", "<Header>", b"<Header a=\"1\">"), vec!["0102"]),
        ("unclosed element", edited("H-32", "</Declaratiebericht>", b""), vec!["0101"]),
        ("mismatched end tag", edited("H-33", "</Header>", b"</Heder>"), vec!["0101"]),
        ("a second root", {
            let mut b = declaration("H-34").into_bytes();
            b.extend_from_slice(b"<Declaratiebericht/>");
            b
        }, vec!["0101"]),
        ("text after the root", {
            let mut b = declaration("H-35").into_bytes();
            b.extend_from_slice(b"trailing");
            b
        }, vec!["0101"]),
        ("undeclared prefix", edited("H-36", "<Header>", b"<x:Header>"), vec!["0101"]),
        ("unknown element", edited("H-37", "<Header>", b"<Header><Onbekend>1</Onbekend>"), vec!["0102"]),
        ("DOCTYPE", {
            let mut b = b"<!DOCTYPE Declaratiebericht>".to_vec();
            b.extend_from_slice(declaration("H-38").replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "").as_bytes());
            b
        }, vec!["0103"]),
        ("billion laughs", lf("<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><l>&b;</l>"), vec!["0103"]),
        ("external entity", lf("<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><l>&x;</l>"), vec!["0103"]),
        ("ISO-8859-1 declared", edited("H-41", "encoding=\"UTF-8\"", b"encoding=\"ISO-8859-1\""), vec!["0101"]),
        ("UTF-16 declared", edited("H-42", "encoding=\"UTF-8\"", b"encoding=\"UTF-16\""), vec!["0101"]),
        ("Dagtekening 0000-01-01", edited("H-43", "<Dagtekening>2024-04-02", b"<Dagtekening>0000-01-01"), vec!["0102"]),
        ("Dagtekening 1899-12-31", edited("H-44", "<Dagtekening>2024-04-02", b"<Dagtekening>1899-12-31"), vec!["0102"]),
        ("Dagtekening 2100-01-01", edited("H-45", "<Dagtekening>2024-04-02", b"<Dagtekening>2100-01-01"), vec!["0102"]),
        ("Dagtekening 2024-02-30", edited("H-46", "<Dagtekening>2024-04-02", b"<Dagtekening>2024-02-30"), vec!["0102"]),
        ("Dagtekening with a BOM inside", edited("H-47", "<Dagtekening>2024-04-02", "<Dagtekening>\u{feff}2024-04-02".as_bytes()), vec!["0102"]),
        ("Afzender of another provider", edited("H-48", "<Afzender>12345678", b"<Afzender>22220002"), vec!["0107"]),
        ("Afzender with a NUL", edited("H-49", "<Afzender>12345678", b"<Afzender>1234\x005678"), vec!["0101"]),
        ("a huge text value", with_ident("H-50", "x".repeat(1_100_000).as_bytes()), vec!["0102"]),
        ("root of another namespace", edited("H-51", "urn:zio-gateway:declaratie:1", b"urn:evil"), vec!["0102"]),
    ];
    v.push((
        "the valid message",
        declaration("H-OK").into_bytes(),
        vec![],
    ));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_declarations_get_exact_codes_and_well_formed_answers() {
    let s = Server::start().await;
    let cases = declarations();
    assert!(cases.len() >= 50);
    for (name, body, want) in &cases {
        let a = send(
            s.addr,
            Method::POST,
            "/declaraties",
            &[AUTH_A, JSON],
            Bytes::from(body.clone()),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.body);
        assert_eq!(&a.codes(), want, "{name}: {}", a.body);
        let x = send(
            s.addr,
            Method::POST,
            "/testbatches",
            &[AUTH_A],
            Bytes::from(body.clone()),
        )
        .await;
        assert_eq!(x.status, StatusCode::OK, "{name}");
        if let Err(e) = well_formed(x.body.as_bytes()) {
            panic!("{name}: XML answer not well-formed: {e}\n{}", x.body);
        }
        // Nothing of the raw bytes comes back: no control character at all.
        assert!(
            !x.body
                .chars()
                .any(|c| (c < ' ' && !"\t\n\r".contains(c)) || c == '\u{fffe}' || c == '\u{ffff}'),
            "{name}: a raw control character in the answer"
        );
    }
    s.shutdown().await;
}

/// Name, method, path, headers, body, the status expected.
type Req<'a> = (
    &'a str,
    Method,
    &'a str,
    Vec<(&'a str, &'a str)>,
    Bytes,
    StatusCode,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_exact_statuses() {
    let s = Server::start().await;
    let addr = s.addr;
    let decl = || Bytes::from(declaration("HR-1"));
    let none: &[(&str, &str)] = &[];
    let cases: Vec<Req> = vec![
        (
            "no token",
            Method::POST,
            "/declaraties",
            vec![],
            decl(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong token",
            Method::POST,
            "/declaraties",
            vec![("authorization", "Bearer nope")],
            decl(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "basic auth",
            Method::POST,
            "/declaraties",
            vec![("authorization", "Basic dG9rZW4tYQ==")],
            decl(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "empty bearer",
            Method::POST,
            "/declaraties",
            vec![("authorization", "Bearer ")],
            decl(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "token without scheme",
            Method::POST,
            "/declaraties",
            vec![("authorization", "token-a")],
            decl(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "zorgkantoor declares",
            Method::POST,
            "/declaraties",
            vec![AUTH_ZK],
            decl(),
            StatusCode::FORBIDDEN,
        ),
        (
            "zorgkantoor tests",
            Method::POST,
            "/testbatches",
            vec![AUTH_ZK],
            decl(),
            StatusCode::FORBIDDEN,
        ),
        (
            "provider posts the registry",
            Method::POST,
            "/registry",
            vec![AUTH_A],
            Bytes::from(registry_sample()),
            StatusCode::FORBIDDEN,
        ),
        (
            "garbage registry message",
            Method::POST,
            "/registry",
            vec![AUTH_ZK],
            Bytes::from_static(b"\x00\x01garbage"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "registry with a DOCTYPE",
            Method::POST,
            "/registry",
            vec![AUTH_ZK],
            Bytes::from_static(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "registry with a control char",
            Method::POST,
            "/registry",
            vec![AUTH_ZK],
            Bytes::from_static(b"<x>\x01</x>"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "ledger of another AGB",
            Method::GET,
            "/ledger/report?year=2024&agb=12345678",
            vec![AUTH_B],
            Bytes::new(),
            StatusCode::FORBIDDEN,
        ),
        (
            "ledger of a bogus AGB",
            Method::GET,
            "/ledger/nacalculatie?year=2024&agb=%00",
            vec![AUTH_B],
            Bytes::new(),
            StatusCode::FORBIDDEN,
        ),
        (
            "ledger without a year",
            Method::GET,
            "/ledger/report",
            vec![AUTH_ZK],
            Bytes::new(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "ledger year 1800",
            Method::GET,
            "/ledger/report?year=1800",
            vec![AUTH_ZK],
            Bytes::new(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "ledger year text",
            Method::GET,
            "/ledger/report?year=abc",
            vec![AUTH_ZK],
            Bytes::new(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "ledger format xml",
            Method::GET,
            "/ledger/nacalculatie?year=2024&format=xml",
            vec![AUTH_ZK],
            Bytes::new(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "report as csv",
            Method::GET,
            "/ledger/report?year=2024&format=csv",
            vec![AUTH_ZK],
            Bytes::new(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "message of another AGB",
            Method::GET,
            "/declaraties/X-1?agb=12345678",
            vec![AUTH_B],
            Bytes::new(),
            StatusCode::FORBIDDEN,
        ),
        (
            "message without an id",
            Method::GET,
            "/declaraties/",
            vec![AUTH_A],
            Bytes::new(),
            StatusCode::NOT_FOUND,
        ),
        (
            "message path with a slash",
            Method::GET,
            "/declaraties/a/b",
            vec![AUTH_A],
            Bytes::new(),
            StatusCode::NOT_FOUND,
        ),
        (
            "message id with NUL",
            Method::GET,
            "/declaraties/%00",
            vec![AUTH_A],
            Bytes::new(),
            StatusCode::NOT_FOUND,
        ),
        (
            "message id traversal",
            Method::GET,
            "/declaraties/..%2f..%2fetc",
            vec![AUTH_A],
            Bytes::new(),
            StatusCode::NOT_FOUND,
        ),
        (
            "zorgkantoor message without agb",
            Method::GET,
            "/declaraties/X-1",
            vec![AUTH_ZK],
            Bytes::new(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "zorgkantoor message bogus agb",
            Method::GET,
            "/declaraties/X-1?agb=1",
            vec![AUTH_ZK],
            Bytes::new(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "GET declaraties",
            Method::GET,
            "/declaraties",
            vec![AUTH_A],
            Bytes::new(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            "DELETE registry",
            Method::DELETE,
            "/registry",
            vec![AUTH_ZK],
            Bytes::new(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            "PUT a message",
            Method::PUT,
            "/declaraties/X-1",
            vec![AUTH_A],
            Bytes::new(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            "unknown path",
            Method::GET,
            "/admin",
            vec![AUTH_ZK],
            Bytes::new(),
            StatusCode::NOT_FOUND,
        ),
        (
            "path traversal",
            Method::GET,
            "/../etc/passwd",
            none.to_vec(),
            Bytes::new(),
            StatusCode::NOT_FOUND,
        ),
        (
            "hostile request id",
            Method::GET,
            "/healthz",
            vec![("x-request-id", "a b;<script>\"")],
            Bytes::new(),
            StatusCode::OK,
        ),
    ];
    assert!(cases.len() >= 30);
    for (name, method, path, headers, body, want) in cases {
        let a = send(addr, method, path, &headers, body).await;
        assert_eq!(a.status, want, "{name}: {}", a.body);
        if want == StatusCode::FORBIDDEN {
            assert_eq!(a.body, FORBIDDEN, "{name}");
        }
    }
    s.shutdown().await;
}
