//! Fair admission: no provider holds more than its share of the check
//! slots, and no request body holds a slot by trickling in.
//!
//! - Slots: beside the global `max_concurrent`, each provider has at most
//!   `max_concurrent_per_agb` check requests at once (a semaphore per
//!   configured AGB, built at start-up). A provider's request waits for its
//!   own slot first, then for a global one; past `queue_timeout` it hears 503.
//!   One provider's many slow bodies therefore never take the slots of the
//!   others.
//! - Pace: a body must keep `body_min_rate` bytes per second (after
//!   `body_rate_grace`) and end within `body_deadline`. Both count only the
//!   time spent waiting for the client, not the time the server itself held
//!   the body back (back-pressure from a slow check). A body that falls
//!   behind is cut off: 408 with `Connection: close`.

use super::response::{plain, RespBody};
use crate::config::{self, Role};
use crate::types::AgbCode;
use hyper::header::{HeaderValue, CONNECTION};
use hyper::{Response, StatusCode};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The per-provider slots.
pub struct Fair {
    per_agb: HashMap<AgbCode, Arc<Semaphore>>,
}

impl Fair {
    pub fn new<'a>(roles: impl Iterator<Item = &'a Role>, server: &config::Server) -> Self {
        let n = server
            .max_concurrent_per_agb
            .clamp(1, server.max_concurrent.max(1));
        Self {
            per_agb: roles
                .filter_map(|r| r.agb())
                .map(|a| (a.clone(), Arc::new(Semaphore::new(n))))
                .collect(),
        }
    }

    /// The semaphore of `agb` (none for an unconfigured one: authentication
    /// refused it already).
    pub fn slots(&self, agb: &AgbCode) -> Option<Arc<Semaphore>> {
        self.per_agb.get(agb).cloned()
    }
}

/// Both permits of one admitted check request, held until its answer is
/// written.
pub struct Admission {
    pub provider: Option<OwnedSemaphorePermit>,
    pub global: OwnedSemaphorePermit,
}

/// How fast a request body must come.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// Longest silence between two chunks.
    pub idle: Duration,
    /// Longest time the client may take for the whole body.
    pub deadline: Duration,
    /// Bytes per second the client must keep up, averaged, after `grace`.
    pub min_rate: u64,
    pub grace: Duration,
}

impl Pace {
    pub fn of(server: &config::Server) -> Self {
        Self {
            idle: server.body_idle_timeout,
            deadline: server.body_deadline,
            min_rate: server.body_min_rate,
            grace: server.body_rate_grace,
        }
    }

    /// Only the idle timeout (no deadline, no minimum rate).
    pub fn idle_only(idle: Duration) -> Self {
        Self {
            idle,
            deadline: Duration::MAX,
            min_rate: 0,
            grace: Duration::ZERO,
        }
    }

    /// How long to wait for the next chunk, having waited `waited` for the
    /// client so far and received `total` bytes; zero: too slow already.
    pub fn wait_limit(&self, waited: Duration, total: u64) -> Duration {
        let mut limit = self.idle.min(self.deadline.saturating_sub(waited));
        if self.min_rate > 0 {
            // The client is behind once waited > total / min_rate (and the
            // grace is over).
            let allowed = Duration::try_from_secs_f64(total as f64 / self.min_rate as f64)
                .unwrap_or(Duration::MAX)
                .max(self.grace)
                .min(self.deadline);
            limit = limit.min(allowed.saturating_sub(waited));
        }
        limit
    }
}

/// Set by the body feeder when it cut a body off for its pace.
#[derive(Clone, Default)]
pub struct TooSlow(Arc<AtomicBool>);

impl TooSlow {
    pub fn set(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// 408, and the connection is closed after it.
pub fn too_slow_response() -> Response<RespBody> {
    let mut r = plain(
        StatusCode::REQUEST_TIMEOUT,
        "the request body came too slowly\n",
    );
    r.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_limits() {
        let p = Pace {
            idle: Duration::from_secs(30),
            deadline: Duration::from_secs(60),
            min_rate: 1000,
            grace: Duration::from_secs(5),
        };
        // In the grace period: up to its end.
        assert_eq!(p.wait_limit(Duration::ZERO, 0), Duration::from_secs(5));
        // 20 kB received: 20 s of waiting allowed in all.
        assert_eq!(
            p.wait_limit(Duration::from_secs(8), 20_000),
            Duration::from_secs(12)
        );
        // Behind: nothing more.
        assert_eq!(p.wait_limit(Duration::from_secs(8), 10), Duration::ZERO);
        // Fast, but the deadline comes.
        assert_eq!(
            p.wait_limit(Duration::from_secs(50), 1 << 30),
            Duration::from_secs(10)
        );
        assert_eq!(
            Pace::idle_only(Duration::from_secs(3)).wait_limit(Duration::from_secs(100), 0),
            Duration::from_secs(3)
        );
    }
}
