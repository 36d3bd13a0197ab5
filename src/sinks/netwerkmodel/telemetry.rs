//! The registers' metrics, per register (`indicatieregister`,
//! `bemiddelingsregister`): queries by outcome, their latency, and how fresh
//! the registry's register data is: when the last query succeeded and the
//! register's own moment of the newest fact it returned. When a register is
//! down, the 04xx checks go on from what is stored, and these say how old it
//! is. The server registers them in its registry.

use prometheus::core::Collector;
use prometheus::{
    exponential_buckets, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts,
};
use std::time::Duration;

pub struct Telemetry {
    /// Queries by register and outcome (`ok`, `error`, `timeout`, `refused`).
    pub queries: IntCounterVec,
    pub query_seconds: HistogramVec,
    /// Token requests by outcome.
    pub tokens: IntCounterVec,
    /// Unix time of the last successful query, by register.
    pub last_success: IntGaugeVec,
    /// Unix time of the newest fact (its register moment) stored from the
    /// register, by register.
    pub newest_fact: IntGaugeVec,
    /// Notifications received, by event type and outcome.
    pub notifications: IntCounterVec,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    pub fn new() -> Self {
        Self {
            queries: IntCounterVec::new(
                Opts::new(
                    "zio_gateway_register_queries_total",
                    "GraphQL queries to the iWlz registers, by register and outcome.",
                ),
                &["register", "outcome"],
            )
            .expect("static metric"),
            query_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "zio_gateway_register_query_seconds",
                    "Duration of one GraphQL query attempt (with its token), by register.",
                )
                .buckets(exponential_buckets(0.001, 2.0, 16).expect("static buckets")),
                &["register"],
            )
            .expect("static metric"),
            tokens: IntCounterVec::new(
                Opts::new(
                    "zio_gateway_register_token_requests_total",
                    "OAuth2 token requests to the network's token endpoint, by outcome.",
                ),
                &["outcome"],
            )
            .expect("static metric"),
            last_success: IntGaugeVec::new(
                Opts::new(
                    "zio_gateway_register_last_success_timestamp_seconds",
                    "Unix time of the last successful query, by register (0: none yet).",
                ),
                &["register"],
            )
            .expect("static metric"),
            newest_fact: IntGaugeVec::new(
                Opts::new(
                    "zio_gateway_register_newest_fact_timestamp_seconds",
                    "Unix time of the newest fact stored from the register (its own moment: afgiftedatum, vaststellingMoment).",
                ),
                &["register"],
            )
            .expect("static metric"),
            notifications: IntCounterVec::new(
                Opts::new(
                    "zio_gateway_register_notifications_total",
                    "Netwerkmodel notifications received, by event type and outcome.",
                ),
                &["event_type", "outcome"],
            )
            .expect("static metric"),
        }
    }

    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.queries.clone()),
            Box::new(self.query_seconds.clone()),
            Box::new(self.tokens.clone()),
            Box::new(self.last_success.clone()),
            Box::new(self.newest_fact.clone()),
            Box::new(self.notifications.clone()),
        ]
    }

    pub fn token_requests(&self, ok: bool) {
        self.tokens
            .with_label_values(&[if ok { "ok" } else { "error" }])
            .inc();
    }

    pub fn query(&self, register: &str, outcome: &str, took: Duration) {
        self.queries.with_label_values(&[register, outcome]).inc();
        self.query_seconds
            .with_label_values(&[register])
            .observe(took.as_secs_f64());
        if outcome == "ok" {
            self.last_success
                .with_label_values(&[register])
                .set(chrono::Utc::now().timestamp());
        }
    }

    /// Raises the newest-fact gauge to `unix` (never lowers it).
    pub fn fact(&self, register: &str, unix: i64) {
        let g = self.newest_fact.with_label_values(&[register]);
        if unix > g.get() {
            g.set(unix);
        }
    }

    pub fn notification(&self, event_type: &str, outcome: &str) {
        self.notifications
            .with_label_values(&[event_type, outcome])
            .inc();
    }
}
