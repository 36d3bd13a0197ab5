//! zio-gateway: checks, routes and records Wlz declarations between care
//! providers and zorgkantoren, with care in school time (ZiO) kept apart.
//!
//! placeholder
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
