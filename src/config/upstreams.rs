//! `[upstreams]` and `[store]`: where accepted lines go and where the ledger
//! keeps them.

use super::ConfigError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A PostgreSQL URL here overrides `[store] postgres_url` (tests, one-off runs).
pub const LEDGER_URL_ENV: &str = "ZIO_GATEWAY_LEDGER_URL";

#[derive(Debug, Clone, Default)]
pub struct StoreSettings {
    /// A shared PostgreSQL ledger; `None`: SQLite in the data directory.
    pub postgres_url: Option<String>,
}

impl StoreSettings {
    /// The environment wins, so a test or a one-off run needs no edited file.
    pub fn ledger_url(&self) -> Option<String> {
        std::env::var(LEDGER_URL_ENV)
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| self.postgres_url.clone())
    }
}

/// Where accepted lines go, per route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// POST each forwarded message to this URL; delivered on a 2xx.
    Http(String),
    /// Write each forwarded message as a file into this directory (written
    /// under a temporary name, synced, then renamed).
    Spool(PathBuf),
    /// Accepted lines are recorded but not forwarded.
    None,
}

#[derive(Debug, Clone)]
pub struct Upstreams {
    pub zio: Upstream,
    pub regulier: Upstream,
    pub timeout_ms: u64,
    /// First retry delay; doubles per attempt (with jitter) up to `retry_max_ms`.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// Sends at once per route (each on a kept-alive connection).
    pub concurrency: usize,
    /// 0 (the default): the answer goes out once the lines are stored and
    /// delivery is the worker's. Above 0: the request waits at most this
    /// long for its own message's delivery, and says 0901 for what is still
    /// pending.
    pub answer_wait_ms: u64,
}

impl Upstreams {
    /// A relative `spool:DIR` lies inside the data directory (never the
    /// working directory of the process: forwarded messages carry BSNs).
    pub fn resolve_spools(&mut self, data_dir: &Path) {
        for u in [&mut self.zio, &mut self.regulier] {
            if let Upstream::Spool(dir) = u {
                if dir.is_relative() {
                    *dir = data_dir.join(&*dir);
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    postgres_url: Option<String>,
}

impl RawStore {
    /// `postgres_url = ""` is how an operator switches back to SQLite.
    pub(super) fn build(self) -> StoreSettings {
        StoreSettings {
            postgres_url: self.postgres_url.filter(|u| !u.is_empty()),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawUpstreams {
    zio: String,
    regulier: String,
    timeout_ms: u64,
    retry_initial_ms: u64,
    retry_max_ms: u64,
    concurrency: usize,
    answer_wait_ms: u64,
}

impl Default for RawUpstreams {
    fn default() -> Self {
        Self {
            zio: "none".into(),
            regulier: "none".into(),
            timeout_ms: 10_000,
            retry_initial_ms: 500,
            retry_max_ms: 60_000,
            concurrency: 16,
            answer_wait_ms: 0,
        }
    }
}

impl RawUpstreams {
    pub(super) fn build(self) -> Result<Upstreams, ConfigError> {
        // A zero delay would retry a failing upstream in a tight loop.
        if self.retry_initial_ms == 0 || self.retry_max_ms < self.retry_initial_ms {
            return Err(ConfigError::at(
                "[upstreams]",
                "retry_max_ms",
                "must be at least retry_initial_ms (> 0)",
            ));
        }
        if self.concurrency == 0 {
            return Err(ConfigError::at(
                "[upstreams]",
                "concurrency",
                "must be at least 1",
            ));
        }
        Ok(Upstreams {
            zio: upstream("zio", &self.zio)?,
            regulier: upstream("regulier", &self.regulier)?,
            timeout_ms: self.timeout_ms,
            retry_initial_ms: self.retry_initial_ms,
            retry_max_ms: self.retry_max_ms,
            concurrency: self.concurrency,
            answer_wait_ms: self.answer_wait_ms,
        })
    }
}

fn upstream(key: &str, v: &str) -> Result<Upstream, ConfigError> {
    let at = |message: String| ConfigError::at("[upstreams]", key, message);
    if v == "none" {
        Ok(Upstream::None)
    } else if let Some(dir) = v.strip_prefix("spool:") {
        if dir.is_empty() {
            return Err(at("`spool:` needs a directory".into()));
        }
        Ok(Upstream::Spool(PathBuf::from(dir)))
    } else if v.starts_with("http://") {
        v.parse::<hyper::Uri>()
            .map_err(|e| at(format!("`{v}` is not a URL: {e}")))?;
        Ok(Upstream::Http(v.to_owned()))
    } else {
        Err(at(format!(
            "`{v}` is not \"none\", \"spool:DIR\" or an http:// URL"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstreams(text: &str) -> Result<Upstreams, ConfigError> {
        toml::from_str::<RawUpstreams>(text).unwrap().build()
    }

    #[test]
    fn each_route_is_none_a_spool_or_a_url() {
        let e = upstreams("zio = \"ftp://x\"").unwrap_err();
        assert!(e.to_string().contains("[upstreams] key `zio`"), "{e}");
        let e = upstreams("regulier = \"spool:\"").unwrap_err();
        assert_eq!(
            e.to_string(),
            "[upstreams] key `regulier`: `spool:` needs a directory"
        );
        let u = upstreams("zio = \"spool:out/zio\"\nregulier = \"http://127.0.0.1:9/r\"").unwrap();
        assert_eq!(u.zio, Upstream::Spool(PathBuf::from("out/zio")));
        assert_eq!(u.regulier, Upstream::Http("http://127.0.0.1:9/r".into()));
        assert_eq!(upstreams("").unwrap().zio, Upstream::None);
    }

    #[test]
    fn retries_back_off_from_a_positive_delay() {
        for text in [
            "retry_initial_ms = 0",
            "retry_initial_ms = 10\nretry_max_ms = 5",
        ] {
            let e = upstreams(text).unwrap_err();
            assert_eq!(
                e.to_string(),
                "[upstreams] key `retry_max_ms`: must be at least retry_initial_ms (> 0)"
            );
        }
    }

    #[test]
    fn an_empty_postgres_url_means_sqlite() {
        let store = |t: &str| toml::from_str::<RawStore>(t).unwrap().build();
        assert_eq!(store("postgres_url = \"\"").postgres_url, None);
        assert_eq!(
            store("postgres_url = \"postgres://x\"")
                .postgres_url
                .as_deref(),
            Some("postgres://x")
        );
    }
}
