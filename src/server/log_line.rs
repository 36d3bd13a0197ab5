//! The server's log: one JSON object per line, in the shape of
//! tracing-subscriber's JSON format (`timestamp`, `level`, `fields`,
//! `target`, `span`, `spans`), which operators' log pipelines already read.
//!
//! Written here rather than by that format because it parses every span's
//! fields back from their JSON text for every line, and formats the
//! timestamp through a format string: with one access line per request that
//! was 4% of the server's CPU under load. Here a span's fields, kept as JSON
//! text when the span was made ([`SpanFields`]), are copied as they are.

use crate::sinks::answer::json_str;
use crate::types::iso_date;
use chrono::Timelike;
use std::fmt;
use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event format; use it with `fmt_fields(SpanFields)`, which keeps each
/// span's fields as the JSON object this copies.
pub struct JsonLine;

/// Keeps a span's fields as one JSON object, in the order they were given.
pub struct SpanFields;

impl<'w> FormatFields<'w> for SpanFields {
    fn format_fields<R: RecordFields>(&self, mut w: Writer<'w>, fields: R) -> fmt::Result {
        let mut out = Vec::with_capacity(128);
        out.push(b'{');
        fields.record(&mut Fields {
            out: &mut out,
            first: true,
        });
        out.push(b'}');
        w.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }

    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> fmt::Result {
        let kept = current.fields.trim_end();
        if !(kept.starts_with('{') && kept.ends_with('}')) {
            current.fields.clear();
            return self.format_fields(current.as_writer(), fields);
        }
        let mut more = Vec::with_capacity(64);
        fields.record(&mut Fields {
            out: &mut more,
            first: kept.len() <= 2,
        });
        let mut merged = String::with_capacity(kept.len() + more.len());
        merged.push_str(&kept[..kept.len() - 1]);
        merged.push_str(std::str::from_utf8(&more).map_err(|_| fmt::Error)?);
        merged.push('}');
        current.fields = merged;
        Ok(())
    }
}

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(b"{\"timestamp\":\"");
        timestamp(&mut out, chrono::Utc::now());
        out.extend_from_slice(b"\",\"level\":\"");
        out.extend_from_slice(meta.level().as_str().as_bytes());
        out.extend_from_slice(b"\",\"fields\":{");
        let mut fields = Fields {
            out: &mut out,
            first: true,
        };
        event.record(&mut fields);
        out.extend_from_slice(b"},\"target\":");
        str_to(&mut out, meta.target());
        if let Some(scope) = ctx.event_scope() {
            let mut spans = Vec::with_capacity(256);
            let mut current = (0, 0);
            for span in scope.from_root() {
                if !spans.is_empty() {
                    spans.push(b',');
                }
                let start = spans.len();
                let ext = span.extensions();
                let kept = ext
                    .get::<FormattedFields<N>>()
                    .map(|f| f.fields.as_str().trim())
                    .filter(|f| f.len() > 2 && f.starts_with('{') && f.ends_with('}'));
                match kept {
                    Some(f) => {
                        spans.extend_from_slice(&f.as_bytes()[..f.len() - 1]);
                        spans.extend_from_slice(b",\"name\":");
                    }
                    None => spans.extend_from_slice(b"{\"name\":"),
                }
                str_to(&mut spans, span.name());
                spans.push(b'}');
                current = (start, spans.len());
            }
            if !spans.is_empty() {
                out.extend_from_slice(b",\"span\":");
                out.extend_from_slice(&spans[current.0..current.1]);
                out.extend_from_slice(b",\"spans\":[");
                out.extend_from_slice(&spans);
                out.push(b']');
            }
        }
        out.extend_from_slice(b"}\n");
        w.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

/// `2026-12-02T11:58:58.148785Z`: RFC 3339 in UTC with microseconds.
fn timestamp(out: &mut Vec<u8>, t: chrono::DateTime<chrono::Utc>) {
    fn digits(out: &mut Vec<u8>, v: u32, width: usize) {
        let mut buf = [b'0'; 10];
        let mut v = v;
        for i in (0..width).rev() {
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out.extend_from_slice(&buf[..width]);
    }
    out.extend_from_slice(iso_date(t.date_naive()).as_bytes());
    out.push(b'T');
    digits(out, t.hour(), 2);
    out.push(b':');
    digits(out, t.minute(), 2);
    out.push(b':');
    digits(out, t.second(), 2);
    out.push(b'.');
    // A leap second shows as nanoseconds past 1e9; it stays in its second.
    digits(out, (t.nanosecond() % 1_000_000_000) / 1000, 6);
    out.push(b'Z');
}

fn str_to(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = json_str(out, s);
}

/// An event's fields as JSON members, valued as tracing-subscriber's JSON
/// format values them: numbers and booleans as JSON, the rest as strings.
struct Fields<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl Fields<'_> {
    fn key(&mut self, field: &Field) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        str_to(self.out, field.name());
        self.out.push(b':');
    }

    fn number(&mut self, field: &Field, v: impl serde::Serialize) {
        self.key(field);
        // serde_json writes non-finite floats as null, as that format did.
        let _ = serde_json::to_writer(&mut *self.out, &v);
    }
}

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.number(field, value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.number(field, value);
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.number(field, value);
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.number(field, value);
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.number(field, value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.number(field, value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        str_to(self.out, value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        str_to(self.out, &format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The lines `f` logs, each parsed as JSON.
    fn logged(f: impl FnOnce()) -> Vec<serde_json::Value> {
        let out = Captured::default();
        let sink = out.clone();
        let sub = tracing_subscriber::fmt()
            .fmt_fields(SpanFields)
            .event_format(JsonLine)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(sub, f);
        parsed(&out)
    }

    /// The same, in tracing-subscriber's own JSON format.
    fn logged_by_tracing_json(f: impl FnOnce()) -> Vec<serde_json::Value> {
        let out = Captured::default();
        let sink = out.clone();
        let sub = tracing_subscriber::fmt()
            .json()
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(sub, f);
        parsed(&out)
    }

    fn parsed(out: &Captured) -> Vec<serde_json::Value> {
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    #[test]
    fn a_line_in_a_span_carries_its_fields_and_the_span() {
        let lines = logged(|| {
            let outer = tracing::info_span!("conn", peer = "127.0.0.1:1");
            let _o = outer.enter();
            let span = tracing::info_span!("request", request_id = %"abc-1", method = "POST");
            let _e = span.enter();
            tracing::info!(
                status = 200u16,
                elapsed_ms = 1.5,
                negative = -3i64,
                ok = true,
                codes = ?vec!["0106"],
                text = "a \"quoted\"\nline",
                "checked"
            );
        });
        assert_eq!(lines.len(), 1);
        let v = &lines[0];
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["target"], module_path!());
        let f = &v["fields"];
        assert_eq!(f["message"], "checked");
        assert_eq!(f["status"], 200);
        assert_eq!(f["elapsed_ms"], 1.5);
        assert_eq!(f["negative"], -3);
        assert_eq!(f["ok"], true);
        assert_eq!(f["codes"], "[\"0106\"]");
        assert_eq!(f["text"], "a \"quoted\"\nline");
        assert_eq!(
            v["span"],
            serde_json::json!({"request_id": "abc-1", "method": "POST", "name": "request"})
        );
        assert_eq!(
            v["spans"],
            serde_json::json!([
                {"peer": "127.0.0.1:1", "name": "conn"},
                {"request_id": "abc-1", "method": "POST", "name": "request"}
            ])
        );
        let ts = v["timestamp"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.len() == 27 && ts.ends_with('Z'),
            "{ts}"
        );
    }

    #[test]
    fn a_line_outside_spans_has_none_and_a_span_without_fields_has_its_name() {
        let lines = logged(|| {
            tracing::warn!(n = 1u64, "alone");
            let s = tracing::info_span!("bare");
            let _e = s.enter();
            tracing::info!("inside");
        });
        assert_eq!(lines[0]["level"], "WARN");
        assert!(lines[0].get("span").is_none() && lines[0].get("spans").is_none());
        assert_eq!(lines[1]["span"], serde_json::json!({"name": "bare"}));
        assert_eq!(lines[1]["spans"], serde_json::json!([{"name": "bare"}]));
    }

    fn some_lines() {
        tracing::info!("before any span");
        let outer = tracing::info_span!("conn", peer = "127.0.0.1:1", n = 7u64);
        let _o = outer.enter();
        tracing::warn!(reason = ?Some(3), "in one span");
        let inner = tracing::info_span!(
            "request",
            request_id = %"abc-1",
            path = "/x",
            agb = tracing::field::Empty
        );
        inner.record("agb", "12345678");
        let _i = inner.enter();
        tracing::error!(
            status = 503u16,
            elapsed_ms = 0.109_710_999_999_999_99,
            nan = f64::NAN,
            agb = "12345678",
            "unicode: één \u{1} \"quoted\""
        );
        let bare = tracing::info_span!("bare");
        let _b = bare.enter();
        tracing::info!(lines = 2u64, "deepest");
    }

    #[test]
    fn lines_hold_what_tracing_subscribers_json_format_holds() {
        let strip = |mut v: serde_json::Value| {
            v.as_object_mut().unwrap().remove("timestamp");
            v
        };
        let ours: Vec<_> = logged(some_lines).into_iter().map(strip).collect();
        let theirs: Vec<_> = logged_by_tracing_json(some_lines)
            .into_iter()
            .map(strip)
            .collect();
        assert_eq!(ours.len(), 4);
        assert_eq!(ours, theirs);
    }

    #[test]
    fn the_timestamp_is_rfc3339_with_microseconds() {
        use chrono::TimeZone;
        let t = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
            + chrono::Duration::microseconds(6);
        let mut out = Vec::new();
        timestamp(&mut out, t);
        assert_eq!(out, b"2026-01-02T03:04:05.000006Z");
    }
}
