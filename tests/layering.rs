//! The house stays as built: every `crate::` (and `super::`) path in `src/`
//! points to a lower layer of `src/lib.rs`'s layout, or stays in its own
//! unit; and no files of one unit import each other in a circle.
//!
//! A unit is a top-level module or, under `sinks/`, one sink. Inside a unit a
//! `mod.rs` may wire its own children (that is what it is for); every other
//! file-to-file import must not close a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first: (module path, rank). A path may import another
/// only when the other's rank is lower, or when both are the same unit.
/// Keep in step with `src/lib.rs` and `docs/architecture.md`.
const LAYERS: &[(&str, u32)] = &[
    ("types", 0),
    ("retourcode", 0),
    ("error", 0),
    ("model", 10),
    ("config", 15),
    ("synth", 15),
    ("read", 20),
    ("rules", 30),
    ("check", 40),
    ("sinks::store", 50),
    ("sinks::answer", 52),
    ("sinks::ledger", 52),
    ("sinks::registry", 52),
    ("sinks::forward", 54),
    ("sinks::netwerkmodel", 54),
    ("sinks", 56),
    ("pipeline", 60),
    ("server", 70),
    ("cli", 75),
];

/// The unit a module path (`a::b::c`, below `crate`) belongs to.
fn unit_of(path: &[String]) -> Option<(&'static str, u32)> {
    LAYERS
        .iter()
        .filter(|(m, _)| {
            let parts: Vec<&str> = m.split("::").collect();
            parts.len() <= path.len() && parts.iter().zip(path).all(|(a, b)| *a == b)
        })
        .max_by_key(|(m, _)| m.split("::").count())
        .map(|&(m, r)| (m, r))
}

/// The module path of a source file: `src/sinks/ledger/sqlite.rs` ->
/// `sinks::ledger::sqlite`; `src/sinks/ledger/mod.rs` -> `sinks::ledger`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts
}

/// Removes `//` comments and string literals, so only code is read.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_str = false;
        let mut prev = ' ';
        let mut kept = String::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !in_str && c == '/' && chars.get(i + 1) == Some(&'/') {
                break;
            }
            if c == '"' && prev != '\\' && prev != '\'' {
                in_str = !in_str;
            } else if !in_str {
                kept.push(c);
            }
            prev = c;
            i += 1;
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// Expands one `use` tree (`a::{b, c::{d, e}}`) into its paths.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    match tree.find('{') {
        None => vec![tree.split(" as ").next().unwrap_or("").trim().to_owned()],
        Some(open) => {
            let prefix = tree[..open].trim_end_matches("::").trim();
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let mut items = Vec::new();
            let (mut depth, mut cur) = (0, String::new());
            for c in inner.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(std::mem::take(&mut cur));
                        continue;
                    }
                    _ => {}
                }
                cur.push(c);
            }
            items.push(cur);
            items
                .iter()
                .filter(|i| !i.trim().is_empty())
                .flat_map(|i| expand(i))
                .map(|p| {
                    if p == "self" {
                        prefix.to_owned()
                    } else {
                        format!("{prefix}::{p}")
                    }
                })
                .collect()
        }
    }
}

/// Every crate-internal path a file names, as segments below `crate`.
fn references(module: &[String], text: &str) -> Vec<Vec<String>> {
    // Unit tests sit at the end of a file and may reach anywhere.
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    let code = code_only(text);
    let mut paths = Vec::new();
    // `use` statements, possibly over several lines.
    let mut rest = code.as_str();
    while let Some(at) = rest.find("use ") {
        let before_ok = at == 0
            || !rest.as_bytes()[at - 1].is_ascii_alphanumeric() && rest.as_bytes()[at - 1] != b'_';
        let end = rest[at..].find(';').map_or(rest.len(), |e| at + e);
        if before_ok {
            paths.extend(expand(&rest[at + 4..end]));
        }
        rest = &rest[(at + 4).min(end)..];
    }
    // Paths written inline.
    for (i, _) in code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
    {
        if i > 0 {
            let b = code.as_bytes()[i - 1];
            if b.is_ascii_alphanumeric() || b == b'_' || b == b':' {
                continue;
            }
        }
        let tail: String = code[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        paths.push(tail.trim_end_matches(':').to_owned());
    }
    paths
        .into_iter()
        .filter_map(|p| {
            let segs: Vec<String> = p.split("::").map(|s| s.trim().to_owned()).collect();
            match segs.first().map(String::as_str) {
                Some("crate") => Some(segs[1..].to_vec()),
                Some("super") => {
                    // `super` of `a/b.rs` and of `a/b/mod.rs` is `a`.
                    let mut base = module.to_vec();
                    let mut s = &segs[..];
                    while s.first().map(String::as_str) == Some("super") {
                        base.pop();
                        s = &s[1..];
                    }
                    base.extend(s.iter().cloned());
                    Some(base)
                }
                _ => None,
            }
        })
        .filter(|p| !p.is_empty() && p[0] != "*")
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The deepest file under `src` a module path lands in.
fn file_of(files: &BTreeSet<Vec<String>>, path: &[String]) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| files.contains(p))
}

/// What is wrong with a set of files (module path, source text).
fn violations(sources: &[(Vec<String>, bool, String)]) -> Vec<String> {
    let modules: BTreeSet<Vec<String>> = sources.iter().map(|(m, _, _)| m.clone()).collect();
    let mut problems = Vec::new();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, is_mod, text) in sources {
        let Some((own, own_rank)) = unit_of(module) else {
            problems.push(format!("{}: not in the layer table", module.join("::")));
            continue;
        };
        for r in references(module, text) {
            let Some((unit, rank)) = unit_of(&r) else {
                continue;
            };
            if unit != own && rank >= own_rank {
                problems.push(format!(
                    "{} (layer {own_rank}) imports {} (layer {rank}): an import must point down",
                    module.join("::"),
                    r.join("::")
                ));
            }
            if let Some(target) = file_of(&modules, &r) {
                let parent_wires_child =
                    *is_mod && target.len() == module.len() + 1 && target.starts_with(module);
                if target != *module && !parent_wires_child {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
    }
    // Circles between files: a depth-first search for a back edge.
    fn visit(
        n: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
        out: &mut Vec<String>,
    ) {
        state.insert(n.clone(), 1);
        stack.push(n.clone());
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m).copied().unwrap_or(0) {
                0 => visit(m, edges, state, stack, out),
                1 => {
                    let from = stack.iter().position(|x| x == m).unwrap_or(0);
                    let circle: Vec<String> = stack[from..]
                        .iter()
                        .chain(std::iter::once(m))
                        .map(|x| x.join("::"))
                        .collect();
                    out.push(format!("import circle: {}", circle.join(" -> ")));
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.clone(), 2);
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if state.get(n).copied().unwrap_or(0) == 0 {
            visit(n, &edges, &mut state, &mut Vec::new(), &mut problems);
        }
    }
    problems
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_import_in_src_points_down_and_no_circle_closes() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let sources: Vec<(Vec<String>, bool, String)> = files
        .iter()
        .filter(|p| {
            let rel = p.strip_prefix(&src).unwrap();
            rel != Path::new("lib.rs") && rel != Path::new("main.rs")
        })
        .map(|p| {
            let rel = p.strip_prefix(&src).unwrap();
            let is_mod = rel.file_name().is_some_and(|f| f == "mod.rs");
            (module_of(rel), is_mod, std::fs::read_to_string(p).unwrap())
        })
        .collect();
    assert!(sources.len() > 40, "read {} files", sources.len());
    let problems = violations(&sources);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn file(module: &str, is_mod: bool, text: &str) -> (Vec<String>, bool, String) {
    (
        module.split("::").map(str::to_owned).collect(),
        is_mod,
        text.to_owned(),
    )
}

#[test]
fn an_import_that_points_up_is_found() {
    let found = violations(&[
        file(
            "rules::line",
            false,
            "use crate::sinks::ledger::{LedgerStore, sqlite::SqliteLedger};\n",
        ),
        file("sinks::ledger", true, "pub trait LedgerStore {}\n"),
    ]);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found
        .iter()
        .all(|f| f.starts_with("rules::line (layer 30) imports sinks::ledger")));
    // Inline paths count too; comments and strings do not.
    let found = violations(&[file(
        "model::verdict",
        false,
        "// crate::check::Outcome\nlet s = \"crate::pipeline\";\nfn f(o: &crate::check::Outcome) {}\n",
    )]);
    assert_eq!(found.len(), 1, "{found:?}");
    // A sink may not import a sink of its own rank.
    let found = violations(&[file(
        "sinks::ledger::sqlite",
        false,
        "use crate::sinks::registry::Stamp;\n",
    )]);
    assert_eq!(found.len(), 1, "{found:?}");
}

#[test]
fn a_circle_inside_a_unit_is_found_and_a_parent_wiring_its_children_is_not() {
    let found = violations(&[
        file("server::handler", false, "use super::admin::registry;\n"),
        file("server::admin", false, "use super::handler::plain;\n"),
    ]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("import circle: server::admin -> server::handler -> server::admin")
    );
    let found = violations(&[
        file("sinks::ledger", true, "pub mod sqlite;\nuse sqlite::SqliteLedger;\nfn open() { crate::sinks::ledger::sqlite::SqliteLedger::new(); }\n"),
        file("sinks::ledger::sqlite", false, "use super::LedgerStore;\n"),
    ]);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn use_trees_expand() {
    assert_eq!(
        expand("crate::a::{b, c::{d, e as f}, self}"),
        [
            "crate::a::b",
            "crate::a::c::d",
            "crate::a::c::e",
            "crate::a"
        ]
    );
}
