//! The gateway's Prometheus metrics: one custom [`Registry`] per server (no
//! process-global default registry, so tests can run servers side by side),
//! rendered in the text exposition format for `GET /metrics`.
//!
//! Labels carry only bounded values (endpoint names, routes, retourcodes,
//! Verwerking): never a BSN, a reference or any other per-line value.

use prometheus::core::Collector;
use prometheus::{
    exponential_buckets, Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter,
    IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// Every metric the server emits, registered in its own registry.
pub struct Metrics {
    registry: Registry,
    /// Retourcodes of checked lines of `/declaraties` by route and code:
    /// every code of a line counts once (a line with two codes counts under
    /// both), `none` for a line without any.
    pub lines_total: IntCounterVec,
    /// Checked lines of `/declaraties` by route (one count per line).
    pub routed_lines_total: IntCounterVec,
    /// 1 while the server accepts requests (`GET /readyz` is 200), else 0.
    pub ready: IntGauge,
    /// Answered messages by endpoint and Verwerking.
    pub messages_total: IntCounterVec,
    /// HTTP requests by endpoint and status.
    pub requests_total: IntCounterVec,
    /// Time from request head to response head, by endpoint.
    pub request_duration: HistogramVec,
    /// Lines per checked message (0 for a message rejected whole).
    pub batch_lines: Histogram,
    /// Body bytes read per checked message.
    pub batch_bytes: Histogram,
    /// Check requests holding a concurrency permit.
    pub in_flight: IntGauge,
    /// Check requests refused with 503 because no permit came in time.
    pub busy_total: IntCounter,
    /// Requests refused with 401 (no or unknown bearer token).
    pub unauthorized_total: IntCounter,
    /// Requests refused with 429 by limit (`requests`, `lines`).
    pub rate_limited_total: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let lines_total = IntCounterVec::new(
            Opts::new(
                "zio_gateway_lines_total",
                "Retourcodes of checked declaration lines by route and code (every code of a line; none for a line without)",
            ),
            &["route", "code"],
        )
        .expect("valid metric");
        let routed_lines_total = IntCounterVec::new(
            Opts::new(
                "zio_gateway_routed_lines_total",
                "Checked declaration lines by route",
            ),
            &["route"],
        )
        .expect("valid metric");
        let ready = IntGauge::new(
            "zio_gateway_ready",
            "1 while the gateway is ready (GET /readyz answers 200)",
        )
        .expect("valid metric");
        let build_info = IntGauge::with_opts(
            Opts::new(
                "zio_gateway_build_info",
                "The running build: always 1, its version in the labels",
            )
            .const_label("version", env!("CARGO_PKG_VERSION"))
            .const_label(
                "profile",
                if cfg!(debug_assertions) {
                    "debug"
                } else {
                    "release"
                },
            ),
        )
        .expect("valid metric");
        build_info.set(1);
        let messages_total = IntCounterVec::new(
            Opts::new(
                "zio_gateway_messages_total",
                "Answered messages by endpoint and Verwerking",
            ),
            &["endpoint", "verwerking"],
        )
        .expect("valid metric");
        let requests_total = IntCounterVec::new(
            Opts::new(
                "zio_gateway_requests_total",
                "HTTP requests by endpoint and status",
            ),
            &["endpoint", "status"],
        )
        .expect("valid metric");
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "zio_gateway_request_duration_seconds",
                "Time from request head to response head",
            )
            .buckets(exponential_buckets(0.001, 2.5, 12).expect("valid buckets")),
            &["endpoint"],
        )
        .expect("valid metric");
        let batch_lines = Histogram::with_opts(
            HistogramOpts::new("zio_gateway_batch_lines", "Lines per checked message")
                .buckets(exponential_buckets(1.0, 4.0, 10).expect("valid buckets")),
        )
        .expect("valid metric");
        let batch_bytes = Histogram::with_opts(
            HistogramOpts::new(
                "zio_gateway_batch_bytes",
                "Body bytes read per checked message",
            )
            .buckets(exponential_buckets(1024.0, 4.0, 10).expect("valid buckets")),
        )
        .expect("valid metric");
        let in_flight = IntGauge::new(
            "zio_gateway_checks_in_flight",
            "Check requests holding a concurrency permit",
        )
        .expect("valid metric");
        let busy_total = IntCounter::new(
            "zio_gateway_busy_total",
            "Check requests refused with 503 because the concurrency cap was reached",
        )
        .expect("valid metric");
        let unauthorized_total = IntCounter::new(
            "zio_gateway_unauthorized_total",
            "Requests refused with 401: no or unknown bearer token",
        )
        .expect("valid metric");
        let rate_limited_total = IntCounterVec::new(
            Opts::new(
                "zio_gateway_rate_limited_total",
                "Requests refused with 429 by limit (requests, lines)",
            ),
            &["limit"],
        )
        .expect("valid metric");
        for c in [
            Box::new(lines_total.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(routed_lines_total.clone()),
            Box::new(ready.clone()),
            Box::new(build_info),
            Box::new(messages_total.clone()),
            Box::new(requests_total.clone()),
            Box::new(request_duration.clone()),
            Box::new(batch_lines.clone()),
            Box::new(batch_bytes.clone()),
            Box::new(in_flight.clone()),
            Box::new(busy_total.clone()),
            Box::new(unauthorized_total.clone()),
            Box::new(rate_limited_total.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        // process_cpu_seconds_total, process_resident_memory_bytes,
        // process_open_fds, process_start_time_seconds, ... of this process.
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("process metrics register once");
        Self {
            registry,
            lines_total,
            routed_lines_total,
            ready,
            messages_total,
            requests_total,
            request_duration,
            batch_lines,
            batch_bytes,
            in_flight,
            busy_total,
            unauthorized_total,
            rate_limited_total,
        }
    }

    /// Adds another component's collectors (the forwarder's, say): each
    /// component owns its metrics, the server exposes them all.
    pub fn register(&self, collectors: Vec<Box<dyn Collector>>) {
        for c in collectors {
            if let Err(e) = self.registry.register(c) {
                tracing::error!(error = %e, "metric registered twice");
            }
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> (String, Vec<u8>) {
        let encoder = TextEncoder::new();
        let mut buf = Vec::new();
        // Encoding into a Vec only fails on inconsistent metric families,
        // which the registry prevents at registration.
        let _ = encoder.encode(&self.registry.gather(), &mut buf);
        (encoder.format_type().to_owned(), buf)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_labels() {
        let m = Metrics::new();
        m.lines_total.with_label_values(&["ZIO", "none"]).inc();
        m.batch_lines.observe(2.0);
        let (ty, body) = m.render();
        let text = String::from_utf8(body).unwrap();
        assert!(ty.starts_with("text/plain"));
        assert!(text.contains("zio_gateway_lines_total{code=\"none\",route=\"ZIO\"} 1"));
        assert!(text.contains("zio_gateway_batch_lines_count 1"));
    }

    #[test]
    fn build_info_and_process_metrics() {
        let m = Metrics::new();
        let text = String::from_utf8(m.render().1).unwrap();
        let version = env!("CARGO_PKG_VERSION");
        assert!(
            text.contains(&format!(
                "zio_gateway_build_info{{profile=\"release\",version=\"{version}\"}} 1"
            )) || text.contains(&format!(
                "zio_gateway_build_info{{profile=\"debug\",version=\"{version}\"}} 1"
            )),
            "{text}"
        );
        assert!(text.contains("zio_gateway_ready 0"), "{text}");
        #[cfg(target_os = "linux")]
        {
            assert!(text.contains("process_resident_memory_bytes"), "{text}");
            assert!(text.contains("process_cpu_seconds_total"), "{text}");
        }
    }

    #[test]
    fn components_register_their_own_collectors() {
        let m = Metrics::new();
        let c = IntCounter::new("zio_gateway_component_total", "A component's counter").unwrap();
        c.inc_by(3);
        m.register(vec![Box::new(c.clone())]);
        // A second registration of the same name is refused, not a panic.
        m.register(vec![Box::new(c)]);
        let text = String::from_utf8(m.render().1).unwrap();
        assert!(text.contains("zio_gateway_component_total 3"), "{text}");
    }
}
