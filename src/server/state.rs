//! What every request shares: the pipeline, the settings, the metrics, the
//! tokens and the limits.

use super::auth::{Limiter, Tokens};
use super::fair::Fair;
use super::metrics::Metrics;
use crate::config::{self, Config};
use crate::error::Result;
use crate::pipeline::{Backends, Pipeline};
use crate::sinks::forward::Forwarder;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// What every request shares.
pub struct State {
    /// Check, record, deliver, answer: the same steps as `check --record`.
    pub pipeline: Pipeline,
    pub metrics: Metrics,
    /// Bearer tokens of the providers (hashed).
    pub tokens: Tokens,
    /// Per-provider request and line limits.
    pub limiter: Limiter,
    /// Each provider's share of the check slots.
    pub fair: Fair,
    /// The netwerkmodel registers, when `[registry.netwerkmodel]` is set.
    pub netwerkmodel: Option<Arc<crate::sinks::netwerkmodel::Service>>,
    /// Caps concurrent check requests; waiting for a permit is the back-pressure.
    pub(super) permits: Arc<Semaphore>,
    /// Set once the configuration and the store are loaded and the listener
    /// runs; cleared when shutdown begins so balancers drain us.
    pub(super) ready: AtomicBool,
    next_request: AtomicU64,
    /// Distinguishes request ids of this process from an earlier one's.
    boot: u32,
}

impl State {
    /// A server without ledger or registry (in-process tests).
    pub fn new(config: Config) -> Self {
        Self::with_backends(config, Backends::none())
    }

    /// A server on the store of `data_dir` (and the PostgreSQL ledger when
    /// `pg_url` is given). The agreements imported into the ledger replace
    /// the configured ones, as for `check`.
    pub fn open(config: Config, data_dir: &Path, pg_url: Option<&str>) -> Result<Self> {
        let pipeline =
            Pipeline::open(config, Backends::open(data_dir, pg_url)?)?.with_group_commit(256)?;
        Ok(Self::with_pipeline(pipeline))
    }

    pub fn with_backends(config: Config, backends: Backends) -> Self {
        Self::with_pipeline(Pipeline::new(Arc::new(config), backends))
    }

    fn with_pipeline(pipeline: Pipeline) -> Self {
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32 ^ std::process::id().rotate_left(16))
            .unwrap_or(0);
        let tokens = Tokens::new(&pipeline.config.tokens);
        let limiter = Limiter::new(tokens.roles(), &pipeline.config.rate_limits);
        // A `Server` built in code may say 0; no permit at all would hang
        // every check request until its queue timeout.
        let fair = Fair::new(tokens.roles(), &pipeline.config.server);
        let permits = Arc::new(Semaphore::new(pipeline.config.server.max_concurrent.max(1)));
        let metrics = Metrics::new();
        metrics.register(pipeline.group_collectors());
        Self {
            pipeline,
            permits,
            fair,
            netwerkmodel: None,
            metrics,
            tokens,
            limiter,
            ready: AtomicBool::new(false),
            next_request: AtomicU64::new(1),
            boot,
        }
    }

    /// Replaces the forwarder (default: forward nothing).
    pub fn with_forwarder(mut self, forwarder: Arc<dyn Forwarder>) -> Self {
        self.pipeline = self.pipeline.with_forwarder(forwarder);
        self
    }

    pub fn config(&self) -> &Config {
        &self.pipeline.config
    }

    /// `[server]` with the flags of `serve` applied.
    pub fn server(&self) -> &config::Server {
        &self.pipeline.config.server
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// A fresh request id, unique within this process.
    pub(super) fn request_id(&self) -> String {
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}-{n:08x}", self.boot)
    }
}
