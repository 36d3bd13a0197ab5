//! The command line: `check`, `ingest`, `ledger`, `serve`.
//! Exit status 0 when the message was read, whatever the verdicts; 2 for a
//! usage or configuration error, with a message naming the file and the key.

use crate::check::check_message;
use crate::config::Config;
use crate::ledger;
use crate::message::writer::Format;
use crate::registry::{ingest, RegistryStore, StoreIndications};
use crate::rules::{Context, History, IndicationSource};
use crate::store::Store;
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
        /// Record the accepted lines in the ledger, exactly as the server
        /// will (without it, `check` changes nothing).
        #[arg(long)]
        record: bool,
    },
    /// The ledger: reports and agreement imports.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Load iWlz 2.2 messages (IO31, AW33, AW35, AW39) into the registry and
    /// report per message what changed. A directory stands for its *.xml
    /// files in name order. Exit status 1 when a message was refused (the
    /// others are ingested), 2 for a usage, configuration or store error.
    Ingest {
        /// Message files or directories of them.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Directory holding gateway.toml.
        #[arg(long, default_value = "config")]
        config: PathBuf,
        /// The gateway's store (created when missing).
        #[arg(long, default_value = "data")]
        data: PathBuf,
    },
    /// Run the HTTP daemon: POST /declaraties, /testbatches, /registry; GET
    /// /ledger/nacalculatie, /ledger/report, /metrics, /healthz, /readyz.
    /// Settings come from `[server]`; the flags override them. Prints the
    /// bound address as the first line of standard output. Stops on SIGTERM
    /// after draining.
    Serve {
        /// Directory holding gateway.toml.
        #[arg(long, default_value = "config")]
        config: PathBuf,
        /// The gateway's store (created when missing).
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// Address to listen on (`[server] listen`); port 0 picks a free one.
        #[arg(long)]
        listen: Option<String>,
        /// Largest message in bytes (0104); overrides `[limits] max_message_bytes`.
        #[arg(long)]
        max_body: Option<u64>,
        /// Check requests running at once (`[server] max_concurrent`).
        #[arg(long)]
        max_concurrent: Option<usize>,
        /// Seconds a request's head may take to arrive
        /// (`[server] header_read_timeout_ms`).
        #[arg(long)]
        header_read_timeout: Option<u64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// The nacalculatie ZiO (A, B, max(0, A - B)) and the volume and absence
    /// sections for one year.
    Report {
        #[arg(long)]
        year: i32,
        #[arg(long, value_enum, default_value = "json")]
        format: ReportFormat,
        /// For CSV: which section (nacalculatie, volumes, absence, regular).
        #[arg(long, default_value = "nacalculatie")]
        section: String,
        #[arg(long, default_value = "config")]
        config: PathBuf,
        #[arg(long, default_value = "data")]
        data: PathBuf,
    },
    /// Import agreements (CSV or TOML in the `[[agreements]]` shape); they
    /// replace the configured agreement for the same participant and year.
    Import {
        file: PathBuf,
        #[arg(long, default_value = "config")]
        config: PathBuf,
        #[arg(long, default_value = "data")]
        data: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ReportFormat {
    Json,
    Csv,
}

/// Opens the ledger; `create`: also when no store exists yet.
fn open_ledger(
    config: &Config,
    data: &std::path::Path,
    create: bool,
) -> Result<Option<Box<dyn ledger::LedgerStore>>, UsageError> {
    let url = config.ledger_url();
    if url.is_none() && !create && !data.join("gateway.db").exists() {
        return Ok(None);
    }
    ledger::open(data, url.as_deref())
        .map(Some)
        .map_err(|e| UsageError(format!("{}: ledger: {e}", data.display())))
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
            data,
            format,
            today,
            record,
        } => {
            let today = parse_today(today.as_deref())?;
            let mut config = Config::load_dir(&config).map_err(|e| UsageError(e.to_string()))?;
            // The ledger (0106, 0308/0309 across messages, 0506) when one exists.
            let ledger = open_ledger(&config, &data, record)?;
            if let Some(l) = &ledger {
                ledger::agreements::apply_stored_agreements(&mut config.regime, &**l)
                    .map_err(|e| UsageError(format!("ledger agreements: {e}")))?;
            }
            let view = ledger
                .as_ref()
                .map(|l| ledger::LedgerView::new(&**l, &config.regime));
            // The registry (04xx) when a store exists and anything was ingested.
            let store = Store::open_existing(&data).map_err(|e| UsageError(e.to_string()))?;
            let loaded = match &store {
                Some(s) => s.is_loaded().map_err(|e| UsageError(e.to_string()))?,
                None => false,
            };
            let registry = store
                .as_ref()
                .filter(|_| loaded)
                .map(|s| StoreIndications::new(s));
            let input: Box<dyn io::Read> = if batch.as_os_str() == "-" {
                Box::new(io::stdin().lock())
            } else {
                Box::new(std::fs::File::open(&batch).map_err(|e| {
                    UsageError(format!("{}: cannot open the batch: {e}", batch.display()))
                })?)
            };
            let ctx = Context::new(
                &config,
                today,
                registry.as_ref().map(|r| r as &dyn IndicationSource),
                view.as_ref().map(|v| v as &dyn History),
            );
            let mut outcome =
                check_message(BufReader::with_capacity(64 * 1024, input), &config, &ctx)
                    .map_err(|e| UsageError(format!("{}: read error: {e}", batch.display())))?;
            if let Some(e) = registry.as_ref().and_then(|r| r.failure()) {
                return Err(UsageError(format!("registry lookup failed: {e}")));
            }
            if let Some(e) = view.as_ref().and_then(|v| v.take_error()) {
                return Err(UsageError(format!("ledger lookup failed: {e}")));
            }
            if record {
                let l = ledger.as_ref().expect("opened with create");
                let summary = ledger::record_outcome(&**l, &mut outcome)
                    .map_err(|e| UsageError(format!("ledger: nothing recorded: {e}")))?;
                eprintln!("zio-gateway: recorded: {summary:?}");
            }
            let stdout = io::stdout().lock();
            let mut w = io::BufWriter::with_capacity(64 * 1024, stdout);
            outcome
                .write_answer(&config, format.into(), false, &mut w)
                .and_then(|_| w.flush())
                .map_err(|e| UsageError(format!("cannot write the answer: {e}")))?;
            Ok(0)
        }
        Command::Ledger { command } => run_ledger(command),
        Command::Ingest {
            files,
            config,
            data,
        } => {
            Config::load_dir(&config).map_err(|e| UsageError(e.to_string()))?;
            let inputs = ingest::expand_paths(&files).map_err(UsageError)?;
            if inputs.is_empty() {
                return Err(UsageError("no *.xml message found to ingest".into()));
            }
            let mut store = Store::open(&data).map_err(|e| UsageError(e.to_string()))?;
            let mut out = io::stdout().lock();
            let refused = ingest::ingest_paths(
                &mut store,
                &inputs,
                ingest::Options::default(),
                |path, r| match r {
                    Ok(rep) => {
                        let _ = writeln!(out, "{}: {rep}", path.display());
                    }
                    Err(e) => eprintln!("zio-gateway: {}: {e}", path.display()),
                },
            )
            .map_err(UsageError)?;
            Ok(if refused > 0 { 1 } else { 0 })
        }
        Command::Serve {
            config,
            data,
            listen,
            max_body,
            max_concurrent,
            header_read_timeout,
        } => {
            let mut config = Config::load_dir(&config).map_err(|e| UsageError(e.to_string()))?;
            if let Some(n) = max_body {
                config.limits.max_message_bytes = (n > 0).then_some(n);
            }
            let mut options = crate::server::Options::from_config(&config.server);
            if let Some(n) = max_concurrent {
                options.max_concurrent = n.max(1);
            }
            if let Some(s) = header_read_timeout {
                options.header_read_timeout = std::time::Duration::from_secs(s);
            }
            let listen = listen.unwrap_or_else(|| config.server.listen.clone());
            crate::server::serve(config, &data, &listen, options).map_err(UsageError)?;
            Ok(0)
        }
    }
}

fn run_ledger(command: LedgerCommand) -> Result<i32, UsageError> {
    match command {
        LedgerCommand::Report {
            year,
            format,
            section,
            config,
            data,
        } => {
            let mut config = Config::load_dir(&config).map_err(|e| UsageError(e.to_string()))?;
            let store = open_ledger(&config, &data, true)?.expect("created");
            ledger::agreements::apply_stored_agreements(&mut config.regime, &*store)
                .map_err(|e| UsageError(format!("ledger agreements: {e}")))?;
            let report = ledger::report::LedgerReport::build(&*store, &config.regime, year)
                .map_err(|e| UsageError(format!("ledger report: {e}")))?;
            let out = io::stdout().lock();
            match format {
                ReportFormat::Json => report.write_json(out),
                ReportFormat::Csv => {
                    let s = ledger::report::ReportSection::parse(&section).ok_or_else(|| {
                        UsageError(format!("--section: `{section}` is not a report section"))
                    })?;
                    report.write_csv(s, out)
                }
            }
            .map_err(|e| UsageError(format!("cannot write the report: {e}")))?;
            Ok(0)
        }
        LedgerCommand::Import { file, config, data } => {
            let config = Config::load_dir(&config).map_err(|e| UsageError(e.to_string()))?;
            let store = open_ledger(&config, &data, true)?.expect("created");
            let n = ledger::agreements::import_agreements(&*store, &file, &config.regime)
                .map_err(|e| UsageError(format!("{}: {e}", file.display())))?;
            println!("{}: {n:?} agreements imported", file.display());
            Ok(0)
        }
    }
}
