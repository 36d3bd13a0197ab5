//! The command line: `check` (and, as they land, `ingest`, `ledger`, `serve`).
//! Exit status 0 when the message was read, whatever the verdicts; 2 for a
//! usage or configuration error, with a message naming the file and the key.

use crate::check::check_message;
use crate::config::Config;
use crate::message::writer::Format;
use crate::rules::{Context, NoHistory};
use crate::types::{parse_datum, Datum};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{self, BufReader, Write};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "zio-gateway",
    version,
    about = "Checks, routes and records Wlz declarations (zorg in onderwijstijd)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Xml,
    Json,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Xml => Format::Xml,
            FormatArg::Json => Format::Json,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check one Declaratiebericht and print its Retourbericht.
    Check {
        /// The Declaratiebericht (XML); `-` reads standard input.
        batch: PathBuf,
        /// Directory holding gateway.toml.
        #[arg(long, default_value = "config")]
        config: PathBuf,
        /// The gateway's store.
        #[arg(long, default_value = "data")]
        data: PathBuf,
        #[arg(long, value_enum, default_value = "xml")]
        format: FormatArg,
        /// The day of receipt for date rules, YYYY-MM-DD (default: today).
        #[arg(long)]
        today: Option<String>,
    },
}

/// A failure that ends the command with exit status 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn parse_today(arg: Option<&str>) -> Result<Datum, UsageError> {
    match arg {
        Some(s) => parse_datum(s)
            .ok_or_else(|| UsageError(format!("--today: `{s}` is not a date YYYY-MM-DD"))),
        None => Ok(chrono::Local::now().date_naive()),
    }
}

/// Runs a parsed command; `Ok(code)` is the exit status.
pub fn run(cli: Cli) -> Result<i32, UsageError> {
    match cli.command {
        Command::Check {
            batch,
            config,
            data: _,
            format,
            today,
        } => {
            let today = parse_today(today.as_deref())?;
            let config = Config::load_dir(&config).map_err(|e| UsageError(e.to_string()))?;
            let input: Box<dyn io::Read> = if batch.as_os_str() == "-" {
                Box::new(io::stdin().lock())
            } else {
                Box::new(std::fs::File::open(&batch).map_err(|e| {
                    UsageError(format!("{}: cannot open the batch: {e}", batch.display()))
                })?)
            };
            let ctx = Context {
                regime: &config.regime,
                today,
                indications: None,
                require_start_of_delivery: config.indications.require_start_of_delivery,
                history: &NoHistory,
            };
            let mut outcome =
                check_message(BufReader::with_capacity(64 * 1024, input), &config, &ctx)
                    .map_err(|e| UsageError(format!("{}: read error: {e}", batch.display())))?;
            let stdout = io::stdout().lock();
            let mut w = io::BufWriter::with_capacity(64 * 1024, stdout);
            outcome
                .write_answer(&config, format.into(), false, &mut w)
                .and_then(|_| w.flush())
                .map_err(|e| UsageError(format!("cannot write the answer: {e}")))?;
            Ok(0)
        }
    }
}
