//! The operations files under `deploy/` checked with Prometheus's own tool:
//! the alert rules (`promtool check rules`) and their unit tests
//! (`promtool test rules`), the example Prometheus configuration, and every
//! PromQL expression of the Grafana dashboard (written into a rule file as
//! recording rules, Grafana's variables replaced, then `promtool check
//! rules`). Every `zio_gateway_*` metric the dashboard and the alerts name
//! must be one the source defines.
//!
//! Needs `promtool` (Debian package `prometheus`; `.ci/run` installs it);
//! without it the test prints `SKIPPED` and passes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn promtool() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("promtool"))
            .find(|f| f.is_file())
    })
}

fn run(tool: &Path, args: &[&str]) {
    let out = Command::new(tool)
        .args(args)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every `expr` of every panel (rows' nested panels too).
fn expressions(panels: &[serde_json::Value], out: &mut Vec<(String, String)>) {
    for p in panels {
        let title = p["title"].as_str().unwrap_or("?").to_owned();
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(e) = t["expr"].as_str() {
                out.push((title.clone(), e.to_owned()));
            }
        }
        if let Some(inner) = p["panels"].as_array() {
            expressions(inner, out);
        }
    }
}

/// Grafana's variables as PromQL can read them.
fn substitute(expr: &str) -> String {
    expr.replace("$__rate_interval", "5m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h")
        .replace("$instance", ".*")
}

/// The `zio_gateway_*` metric names in a text, without histogram suffixes.
fn metric_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("zio_gateway_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let mut name = &tail[..end];
        for suffix in ["_bucket", "_sum", "_count"] {
            name = name.strip_suffix(suffix).unwrap_or(name);
        }
        names.push(name.to_owned());
        rest = &tail[end..];
    }
    names.sort();
    names.dedup();
    names
}

fn source_text(dir: &Path, out: &mut String) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            source_text(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
}

#[test]
fn alert_rules_pass_their_unit_tests() {
    let Some(tool) = promtool() else {
        println!("SKIPPED: no promtool (Debian: apt-get install prometheus)");
        return;
    };
    run(&tool, &["check", "rules", "deploy/prometheus/alerts.yml"]);
    run(
        &tool,
        &["test", "rules", "deploy/prometheus/alerts.test.yml"],
    );
    run(
        &tool,
        &["check", "config", "deploy/prometheus/prometheus.yml"],
    );
}

#[test]
fn every_dashboard_expression_is_valid_promql() {
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("deploy/grafana/zio-gateway.json").unwrap())
            .expect("the dashboard is JSON");
    let mut exprs = Vec::new();
    expressions(dash["panels"].as_array().expect("panels"), &mut exprs);
    assert!(exprs.len() >= 12, "{} expressions", exprs.len());

    // Every metric named exists in the source (a renamed metric breaks this).
    let mut src = String::new();
    source_text(Path::new("src"), &mut src);
    let alerts = std::fs::read_to_string("deploy/prometheus/alerts.yml").unwrap();
    let all: String = exprs
        .iter()
        .map(|(_, e)| e.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for name in metric_names(&(all.clone() + &alerts)) {
        assert!(
            src.contains(&format!("\"{name}\"")),
            "{name} is not a metric of the gateway"
        );
    }

    let Some(tool) = promtool() else {
        println!("SKIPPED: no promtool (Debian: apt-get install prometheus)");
        return;
    };
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, (title, e)) in exprs.iter().enumerate() {
        let e = substitute(e);
        assert!(!e.contains('$'), "unreplaced variable in {title:?}: {e}");
        rules.push_str(&format!(
            "      - record: dashboard:expr_{i}\n        expr: {}\n",
            serde_json::to_string(&e).unwrap()
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard-rules.yml");
    std::fs::write(&file, rules).unwrap();
    run(&tool, &["check", "rules", file.to_str().unwrap()]);
}
