//! zio-gateway: checks, routes and records Wlz declarations between care
//! providers and zorgkantoren, with care in school time (ZiO) kept apart.
//!
//! The data flows one way: bytes ([`message::reader`]) -> checks ([`rules`])
//! -> verdicts ([`check`], [`spool`]) -> answer ([`message::writer`]).

pub mod check;
pub mod cli;
pub mod config;
pub mod forward;
pub mod ledger;
pub mod message;
pub mod metrics;
pub mod regime;
pub mod registry;
pub mod retourcode;
pub mod rules;
pub mod server;
pub mod spool;
pub mod store;
pub mod synth;
pub mod types;
