//! zio-gateway: checks, routes and records Wlz declarations between care
//! providers and zorgkantoren, with care in school time (ZiO) kept apart.
//!
//! # Layout
//!
//! A declaration travels one way, and so do the imports: every module below
//! may use the ones above it, never those below (`tests/layering.rs` holds
//! this; `docs/architecture.md` draws it and says where a change goes).
//!
//! 0. **Values.** [`types`]: `Bsn`, `AgbCode`, `Cents`, `Period`, ... that
//!    parse once at the edge; [`retourcode`]: the code table; [`error`]: the
//!    one error type (whose fault, retry or not).
//! 1. **Model.** [`model`]: the declaration, the verdicts, the iWlz registry
//!    values, the ZiO regime. [`config`]: `gateway.toml`, typed and
//!    validated at start-up. [`synth`]: synthetic batches for tests and
//!    benchmarks.
//! 2. **Readers** of untrusted bytes, streaming: [`read`].
//! 3. **Rules**: pure checks, and the ports they look things up through:
//!    [`rules`].
//! 4. **The check** of one message, with its spool: [`check`].
//! 5. **Sinks**: [`sinks`]: the store and its schema; the answer, the ledger
//!    (with the outbox), the registry; the forwarder.
//! 6. **The pipeline**: one message end to end, the only place that orders
//!    the steps: [`pipeline`].
//! 7. **Faces**: the HTTP daemon [`server`] and the command line [`cli`].

pub mod check;
pub mod cli;
pub mod config;
pub mod error;
pub mod model;
pub mod pipeline;
pub mod read;
pub mod retourcode;
pub mod rules;
pub mod server;
pub mod sinks;
pub mod synth;
pub mod types;
