//! `[server]`: the HTTP daemon (`serve`).

use super::ConfigError;
use serde::Deserialize;

/// The HTTP daemon (`serve`).
#[derive(Debug, Clone)]
pub struct Server {
    pub listen: String,
    /// Check requests running at once; more wait (back-pressure), then 503.
    pub max_concurrent: usize,
    pub queue_timeout_ms: u64,
    pub header_read_timeout_ms: u64,
    /// Longest silence between two chunks of a request body.
    pub body_idle_timeout_ms: u64,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawServer {
    listen: String,
    max_concurrent: usize,
    queue_timeout_ms: u64,
    header_read_timeout_ms: u64,
    body_idle_timeout_ms: u64,
    drain_timeout_ms: u64,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            max_concurrent: 64,
            queue_timeout_ms: 10_000,
            header_read_timeout_ms: 10_000,
            body_idle_timeout_ms: 30_000,
            drain_timeout_ms: 30_000,
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
        Ok(Server {
            listen: self.listen,
            max_concurrent: self.max_concurrent,
            queue_timeout_ms: self.queue_timeout_ms,
            header_read_timeout_ms: self.header_read_timeout_ms,
            body_idle_timeout_ms: self.body_idle_timeout_ms,
            drain_timeout_ms: self.drain_timeout_ms,
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
    fn an_absent_key_is_the_default() {
        let s = server("").unwrap();
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.max_concurrent, 64);
        assert_eq!(s.queue_timeout_ms, 10_000);
        assert_eq!(s.drain_timeout_ms, 30_000);
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
