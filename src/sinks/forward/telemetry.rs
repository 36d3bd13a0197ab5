//! The forwarder's own metrics (as Vector's components each emit theirs):
//! attempts and deliveries per upstream route and outcome, how long an
//! attempt takes, how long a message waited from recording to delivery, and
//! the outbox's backlog. The server registers them in its registry.

use crate::model::verdict::Route;
use crate::sinks::ledger::OutboxRow;
use prometheus::core::Collector;
use prometheus::{
    exponential_buckets, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub struct Telemetry {
    /// Attempts by route and outcome (`delivered`, `failed`).
    pub attempts: IntCounterVec,
    /// Duration of one attempt (render and send), by route.
    pub attempt_seconds: HistogramVec,
    /// From recording to delivery, by route.
    pub delivery_latency_seconds: HistogramVec,
    /// Rows not yet delivered (as of the last count).
    pub outbox_pending: IntGauge,
    /// Age of the oldest row not yet delivered (0 when none).
    pub outbox_oldest_pending_seconds: IntGauge,
    /// 1 while a route's upstream is taken to be down (its gate is closed).
    pub upstream_down: IntGaugeVec,
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl Telemetry {
    pub fn new() -> Self {
        let buckets = exponential_buckets(0.000_5, 2.0, 18).expect("static buckets");
        Self {
            attempts: IntCounterVec::new(
                Opts::new(
                    "zio_gateway_upstream_attempts_total",
                    "Upstream delivery attempts by route and outcome.",
                ),
                &["route", "outcome"],
            )
            .expect("static metric"),
            attempt_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "zio_gateway_upstream_attempt_seconds",
                    "Duration of one delivery attempt (render and send), by route.",
                )
                .buckets(buckets.clone()),
                &["route"],
            )
            .expect("static metric"),
            delivery_latency_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "zio_gateway_delivery_latency_seconds",
                    "Time from recording a forwarded message to its delivery, by route.",
                )
                .buckets(buckets),
                &["route"],
            )
            .expect("static metric"),
            outbox_pending: IntGauge::new(
                "zio_gateway_outbox_pending",
                "Forwarded messages stored in the outbox, not yet delivered.",
            )
            .expect("static metric"),
            outbox_oldest_pending_seconds: IntGauge::new(
                "zio_gateway_outbox_oldest_pending_seconds",
                "Age of the oldest forwarded message not yet delivered (0 when none).",
            )
            .expect("static metric"),
            upstream_down: {
                let g = IntGaugeVec::new(
                    Opts::new(
                        "zio_gateway_upstream_down",
                        "1 while the route's upstream is taken to be down (failed attempts in a \
                         row; one probe at a time until it answers), else 0.",
                    ),
                    &["route"],
                )
                .expect("static metric");
                // Both series from the start, so an alert or a panel sees 0.
                for route in [Route::Zio, Route::Regulier] {
                    g.with_label_values(&[route.as_str()]).set(0);
                }
                g
            },
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// Every collector, for a registry.
    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.attempts.clone()),
            Box::new(self.attempt_seconds.clone()),
            Box::new(self.delivery_latency_seconds.clone()),
            Box::new(self.outbox_pending.clone()),
            Box::new(self.outbox_oldest_pending_seconds.clone()),
            Box::new(self.upstream_down.clone()),
        ]
    }

    pub(crate) fn attempted(&self, route: Route, took: Duration, delivered: bool) {
        let outcome = if delivered {
            "delivered"
        } else {
            self.failed.fetch_add(1, Ordering::Relaxed);
            "failed"
        };
        self.attempts
            .with_label_values(&[route.as_str(), outcome])
            .inc();
        self.attempt_seconds
            .with_label_values(&[route.as_str()])
            .observe(took.as_secs_f64());
    }

    pub(crate) fn delivered(&self, row: &OutboxRow, now_ms: i64) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        let waited = (now_ms - row.created_at).max(0) as f64 / 1000.0;
        self.delivery_latency_seconds
            .with_label_values(&[row.route.as_str()])
            .observe(waited);
    }

    pub(crate) fn backlog(&self, pending: u64, oldest_created_ms: Option<i64>, now_ms: i64) {
        self.outbox_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        let age = oldest_created_ms.map_or(0, |c| ((now_ms - c).max(0)) / 1000);
        self.outbox_oldest_pending_seconds.set(age);
    }

    /// Rows marked delivered so far.
    pub fn delivered_count(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Attempts that failed (and will be retried) so far.
    pub fn failed_count(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Rows not delivered, as of the last count.
    pub fn pending_count(&self) -> u64 {
        self.outbox_pending.get().max(0) as u64
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}
