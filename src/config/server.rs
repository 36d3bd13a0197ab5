//! `[server]`: the HTTP daemon (`serve`). Operators write milliseconds; the
//! server reads [`Duration`]s, so the unit is settled here once.

use super::ConfigError;
use serde::Deserialize;
use std::time::Duration;

/// The daemon's settings: `[server]`, overridden by the flags of `serve`.
#[derive(Debug, Clone)]
pub struct Server {
    pub listen: String,
    /// Where `/metrics` is served instead of on `listen` (an internal
    /// address); `None`: on `listen`.
    pub metrics_listen: Option<String>,
    /// Check requests (`/declaraties`, `/testbatches`) running at once; more
    /// wait (back-pressure), then 503.
    pub max_concurrent: usize,
    /// Check requests of one provider AGB at once (its share of
    /// `max_concurrent`); more wait, then 503.
    pub max_concurrent_per_agb: usize,
    /// Longest time a client may take to send a whole request body (time
    /// the server held the body back does not count); then 408.
    pub body_deadline: Duration,
    /// Bytes per second a body must keep up on average after
    /// `body_rate_grace`; 0: no minimum. Below it: 408.
    pub body_min_rate: u64,
    pub body_rate_grace: Duration,
    /// How long a check request waits for a slot before 503.
    pub queue_timeout: Duration,
    /// Time allowed for a request's head to arrive.
    pub header_read_timeout: Duration,
    /// Longest silence between two chunks of a request body.
    pub body_idle_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout: Duration,
    /// How long an answer is kept for a resend whose answer was lost.
    pub keep_answers_days: u32,
    /// Answers larger than this are not kept (their resend gets 0106); 0
    /// keeps none.
    pub keep_answer_max_bytes: usize,
    /// Threads of the runtime that serves requests and deliveries; 0: one
    /// per core ([`Server::runtime_threads`]).
    pub worker_threads: usize,
}

impl Server {
    /// The runtime's threads: `worker_threads`, or by default one per core.
    /// One fewer than the cores (the ledger writer has a thread of its own)
    /// took 2-5% less CPU per request on 2 cores in 9 of 14 alternating
    /// pairs (2026-12-02), but its p99 in the fault runs (an upstream that
    /// hangs) came out worse more often than two threads': 1.9-3.1x the
    /// normal phase's against 1.3-2.4x. The default keeps the tail.
    pub fn runtime_threads(&self) -> usize {
        match self.worker_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

/// What a configuration without `[server]` gets; tests start servers from it.
impl Default for Server {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            metrics_listen: None,
            max_concurrent: 64,
            max_concurrent_per_agb: 16,
            body_deadline: Duration::from_secs(600),
            body_min_rate: 1024,
            body_rate_grace: Duration::from_secs(10),
            queue_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(30),
            keep_answers_days: 30,
            keep_answer_max_bytes: 8 * 1024 * 1024,
            worker_threads: 0,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawServer {
    listen: String,
    metrics_listen: Option<String>,
    max_concurrent: usize,
    max_concurrent_per_agb: usize,
    body_deadline_ms: u64,
    body_min_rate: u64,
    body_rate_grace_ms: u64,
    queue_timeout_ms: u64,
    header_read_timeout_ms: u64,
    body_idle_timeout_ms: u64,
    drain_timeout_ms: u64,
    keep_answers_days: u32,
    keep_answer_max_bytes: usize,
    worker_threads: usize,
}

/// The typed defaults written back as milliseconds, so a default is said once.
impl Default for RawServer {
    fn default() -> Self {
        let d = Server::default();
        let ms = |t: Duration| u64::try_from(t.as_millis()).unwrap_or(u64::MAX);
        Self {
            listen: d.listen,
            metrics_listen: d.metrics_listen,
            max_concurrent: d.max_concurrent,
            max_concurrent_per_agb: d.max_concurrent_per_agb,
            body_deadline_ms: ms(d.body_deadline),
            body_min_rate: d.body_min_rate,
            body_rate_grace_ms: ms(d.body_rate_grace),
            queue_timeout_ms: ms(d.queue_timeout),
            header_read_timeout_ms: ms(d.header_read_timeout),
            body_idle_timeout_ms: ms(d.body_idle_timeout),
            drain_timeout_ms: ms(d.drain_timeout),
            keep_answers_days: d.keep_answers_days,
            keep_answer_max_bytes: d.keep_answer_max_bytes,
            worker_threads: d.worker_threads,
        }
    }
}

impl RawServer {
    pub(super) fn build(self) -> Result<Server, ConfigError> {
        if self.max_concurrent == 0 {
            return Err(ConfigError::at(
                "[server]",
                "max_concurrent",
                "must be at least 1",
            ));
        }
        if self.max_concurrent_per_agb == 0 {
            return Err(ConfigError::at(
                "[server]",
                "max_concurrent_per_agb",
                "must be at least 1",
            ));
        }
        if self.body_deadline_ms == 0 {
            return Err(ConfigError::at(
                "[server]",
                "body_deadline_ms",
                "must be at least 1",
            ));
        }
        let ms = Duration::from_millis;
        Ok(Server {
            listen: self.listen,
            metrics_listen: self.metrics_listen.filter(|m| !m.is_empty()),
            max_concurrent: self.max_concurrent,
            max_concurrent_per_agb: self.max_concurrent_per_agb,
            body_deadline: ms(self.body_deadline_ms),
            body_min_rate: self.body_min_rate,
            body_rate_grace: ms(self.body_rate_grace_ms),
            queue_timeout: ms(self.queue_timeout_ms),
            header_read_timeout: ms(self.header_read_timeout_ms),
            body_idle_timeout: ms(self.body_idle_timeout_ms),
            drain_timeout: ms(self.drain_timeout_ms),
            keep_answers_days: self.keep_answers_days,
            keep_answer_max_bytes: self.keep_answer_max_bytes,
            worker_threads: self.worker_threads,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(text: &str) -> Result<Server, ConfigError> {
        toml::from_str::<RawServer>(text).unwrap().build()
    }

    #[test]
    fn an_absent_key_is_the_typed_default() {
        let s = server("").unwrap();
        let d = Server::default();
        assert_eq!(s.listen, d.listen);
        assert_eq!(s.max_concurrent, d.max_concurrent);
        assert_eq!(s.queue_timeout, d.queue_timeout);
        assert_eq!(s.header_read_timeout, d.header_read_timeout);
        assert_eq!(s.body_idle_timeout, d.body_idle_timeout);
        assert_eq!(s.drain_timeout, d.drain_timeout);
    }

    #[test]
    fn milliseconds_become_durations() {
        let s = server("queue_timeout_ms = 250\ndrain_timeout_ms = 0").unwrap();
        assert_eq!(s.queue_timeout, Duration::from_millis(250));
        assert_eq!(s.drain_timeout, Duration::ZERO);
    }

    #[test]
    fn runtime_threads_are_one_per_core_unless_set() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(server("").unwrap().runtime_threads(), cores);
        assert_eq!(server("worker_threads = 3").unwrap().runtime_threads(), 3);
    }

    #[test]
    fn at_least_one_check_at_a_time() {
        let e = server("max_concurrent = 0").unwrap_err();
        assert_eq!(
            e.to_string(),
            "[server] key `max_concurrent`: must be at least 1"
        );
        assert!(toml::from_str::<RawServer>("max_concurrency = 1").is_err());
    }
}
