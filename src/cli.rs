//! The command line: `check`, `ingest`, `ledger`, `serve`.
//! Exit status ([`exit_code`]): 0 when the message was read, whatever the
//! verdicts; 1 when `ingest` refused a message; 2 for a usage or
//! configuration error, with a message naming the file and the key; 3 when
//! the store failed (nothing was recorded; the same command may work later).

use crate::config::Config;
use crate::error::{Error, Fault, Result};
use crate::pipeline::{Arrival, Backends, Disposition, Pipeline};
use crate::sinks::answer::Format;
use crate::sinks::ledger;
use crate::sinks::registry::{ingest, RegistryStores};
use crate::types::{parse_datum, Datum};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};

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
    /// The registry's netwerkmodel source (`[registry.netwerkmodel]`).
    Registry {
        #[command(subcommand)]
        command: RegistryCommand,
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
pub enum RegistryCommand {
    /// Pull from the Indicatieregister and the Bemiddelingsregister what
    /// changed (everything of this zorgkantoor without --since) and store it,
    /// as notifications would have: for notifications that were missed. What
    /// is stored already is recognised and not counted twice. Exit status 1
    /// when the registers returned records with unusable values (the others
    /// are stored), 3 when a register or the store cannot be reached.
    Sync {
        /// Directory holding gateway.toml (with `[registry.netwerkmodel]`).
        #[arg(long, default_value = "config")]
        config: PathBuf,
        /// The gateway's store (created when missing).
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// Only what the registers fixed from this moment on: an RFC 3339
        /// date-time (2026-03-01T12:00:00Z) or a day (2026-03-01).
        #[arg(long)]
        since: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// Register absence (docs/absence.md): a CSV file, or JSON when its name
    /// ends in `.json`. Every row is validated first; a bad row refuses the
    /// whole file (its row number and the reason) and nothing is recorded.
    Absence {
        file: PathBuf,
        /// Who registers (kept with each changed row).
        #[arg(long, default_value = "cli")]
        actor: String,
        #[arg(long, default_value = "config")]
        config: PathBuf,
        #[arg(long, default_value = "data")]
        data: PathBuf,
    },
    /// The herschikking's status and history: `definitief`, `akkoord`,
    /// `history`.
    Herschikking {
        #[command(subcommand)]
        command: HerschikkingCommand,
    },
    /// The nacalculatie in full and the volume sections for one year
    /// (`--year Y`), or the care declared in school time in the school year
    /// starting on 1 August of Y (`--schooljaar Y --section onderwijstijd`).
    Report {
        #[arg(
            long,
            required_unless_present = "schooljaar",
            conflicts_with = "schooljaar"
        )]
        year: Option<i32>,
        /// The school year starting on 1 August of this year.
        #[arg(long)]
        schooljaar: Option<i32>,
        #[arg(long, value_enum, default_value = "json")]
        format: ReportFormat,
        /// For CSV with `--year`: which section (nacalculatie, prijzen,
        /// per_aanbieder, volumes, volumes_by_school_month,
        /// regular_in_school_time). With `--schooljaar`: onderwijstijd.
        /// `absence` (or, for CSV, `pupils_by_month`): the absence report
        /// (docs/absence.md), JSON with both tables.
        #[arg(long)]
        section: Option<String>,
        #[arg(long, default_value = "config")]
        config: PathBuf,
        #[arg(long, default_value = "data")]
        data: PathBuf,
    },
    /// Import agreements (CSV or TOML in the `[[agreements]]` shape); they
    /// replace the configured agreement for the same participant and year.
    /// A definitive herschikking is not changed without `--override`.
    Import {
        file: PathBuf,
        /// Who imports (kept in the herschikking history).
        #[arg(long, default_value = "cli")]
        actor: String,
        /// Change a definitive herschikking anyway; the reason is kept.
        #[arg(long = "override", value_name = "REASON")]
        override_reason: Option<String>,
        #[arg(long, default_value = "config")]
        config: PathBuf,
        #[arg(long, default_value = "data")]
        data: PathBuf,
    },
}

/// The herschikking's life (zorgkantoor side: the operator of the gateway).
#[derive(Subcommand, Debug)]
pub enum HerschikkingCommand {
    /// Make the herschikking of (agb, zorgkantoor, year) definitive.
    Definitief {
        #[command(flatten)]
        key: HerschikkingKey,
    },
    /// Mark the year's ZiO row of the nacalculatie agreed by one side.
    Akkoord {
        #[command(flatten)]
        key: HerschikkingKey,
        #[arg(long, value_enum)]
        side: AkkoordSide,
    },
    /// Every change (who, when, what, old and new), as JSON lines.
    History {
        #[arg(long)]
        year: Option<i32>,
        #[arg(long, default_value = "config")]
        config: PathBuf,
        #[arg(long, default_value = "data")]
        data: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
pub struct HerschikkingKey {
    #[arg(long)]
    agb: String,
    #[arg(long)]
    zorgkantoor: String,
    #[arg(long)]
    year: i32,
    /// Who does it (kept in the history).
    #[arg(long, default_value = "cli")]
    actor: String,
    #[arg(long, default_value = "config")]
    config: PathBuf,
    #[arg(long, default_value = "data")]
    data: PathBuf,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AkkoordSide {
    Aanbieder,
    Zorgkantoor,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ReportFormat {
    Json,
    Csv,
}

/// The exit status for a command that failed: the one place faults become
/// numbers.
/// `--since`: a date-time, or the start of a day (UTC).
fn parse_since(s: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    parse_datum(s)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            Error::sender(format!(
                "--since `{s}` is neither an RFC 3339 date-time nor a date YYYY-MM-DD"
            ))
        })
}

fn registry_sync(config: &Path, data: &Path, since: Option<&str>) -> Result<i32> {
    use crate::sinks::netwerkmodel::{apply, telemetry::Telemetry, Service};
    let config = load_config(config)?;
    let since = since.map(parse_since).transpose()?;
    let Some(nm) = config.netwerkmodel.clone() else {
        return Err(Error::config(format!(
            "{}: no [registry.netwerkmodel] table: there is no register to sync from",
            config.source.display()
        )));
    };
    let service = Service::new(&nm, std::sync::Arc::new(Telemetry::new()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::backend(format!("cannot start the runtime: {e}")))?;
    let fetched = rt.block_on(service.fetch_sync(since))?;
    let stores = match config.ledger_url() {
        Some(url) => RegistryStores::open_postgres(&url, None)?,
        None => RegistryStores::open(data)?,
    };
    let applied = stores.with_writer(|store| apply(store, &fetched))?;
    for r in &fetched.refused {
        eprintln!("zio-gateway: register record not stored: {r}");
    }
    let c = &applied.counts;
    let t = |x: &ingest::Tally| {
        format!(
            "{} new, {} updated, {} unchanged, {} older than stored",
            x.added, x.updated, x.unchanged, x.older
        )
    };
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "registry sync {}: {} indications, {} allocations from the registers{}",
        fetched.identificatie,
        fetched.indicaties.len(),
        fetched.specificaties.len(),
        if applied.replay {
            " (the same answer as a sync before: nothing changed)"
        } else {
            ""
        }
    );
    if !applied.replay && !fetched.is_empty() {
        let _ = writeln!(out, "  indications: {}", t(&c.indicaties));
        let _ = writeln!(out, "  zzp allocations: {}", t(&c.zzp_toewijzingen));
        let _ = writeln!(out, "  function allocations (mpt): {}", t(&c.toewijzingen));
    }
    Ok(if fetched.refused.is_empty() { 0 } else { 1 })
}

pub fn exit_code(e: &Error) -> i32 {
    match e.fault() {
        Fault::Sender | Fault::Config => 2,
        Fault::Backend | Fault::Upstream => 3,
    }
}

fn load_config(dir: &Path) -> Result<Config> {
    Ok(Config::load_dir(dir)?)
}

/// Opens the ledger; `create`: also when no store exists yet.
fn open_ledger(config: &Config, data: &Path) -> Result<Box<dyn ledger::LedgerStore>> {
    let url = config.ledger_url();
    ledger::open(data, url.as_deref())
        .map_err(|e| Error::backend(format!("{}: ledger: {e}", data.display())))
}

pub fn parse_today(arg: Option<&str>) -> Result<Datum> {
    match arg {
        Some(s) => parse_datum(s)
            .ok_or_else(|| Error::sender(format!("--today: `{s}` is not a date YYYY-MM-DD"))),
        None => Ok(chrono::Local::now().date_naive()),
    }
}

/// Runs a parsed command; `Ok(code)` is the exit status.
pub fn run(cli: Cli) -> Result<i32> {
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
            let config = load_config(&config)?;
            // The ledger (0106, 0308/0309 across messages, 0506) and the
            // registry (04xx) when the store exists; created for --record.
            let url = config.ledger_url();
            let backends = Backends::open_existing(&data, url.as_deref(), record)?;
            let pipeline = Pipeline::open(config, backends)?;
            let input: Box<dyn io::Read> = if batch.as_os_str() == "-" {
                Box::new(io::stdin().lock())
            } else {
                Box::new(std::fs::File::open(&batch).map_err(|e| {
                    Error::sender(format!("{}: cannot open the batch: {e}", batch.display()))
                })?)
            };
            let arrival = Arrival {
                today,
                authenticated: None,
                disposition: if record {
                    Disposition::Process
                } else {
                    Disposition::AnswerOnly
                },
            };
            let mut processed = pipeline
                .process(BufReader::with_capacity(64 * 1024, input), &arrival)
                .map_err(|e| e.context(batch.display()))?;
            if let Some(summary) = &processed.recorded {
                eprintln!("zio-gateway: recorded: {summary:?}");
            }
            let stdout = io::stdout().lock();
            let mut w = io::BufWriter::with_capacity(64 * 1024, stdout);
            pipeline
                .answer(&mut processed, format.into(), &mut w)
                .and_then(|_| w.flush())
                .map_err(|e| Error::backend(format!("cannot write the answer: {e}")))?;
            Ok(0)
        }
        Command::Ledger { command } => run_ledger(command),
        Command::Registry {
            command:
                RegistryCommand::Sync {
                    config,
                    data,
                    since,
                },
        } => registry_sync(&config, &data, since.as_deref()),
        Command::Ingest {
            files,
            config,
            data,
        } => {
            let config = load_config(&config)?;
            let inputs = ingest::expand_paths(&files)?;
            if inputs.is_empty() {
                return Err(Error::sender("no *.xml message found to ingest"));
            }
            // Where the ledger is: PostgreSQL when configured, shared by
            // every gateway on it.
            let stores = match config.ledger_url() {
                Some(url) => RegistryStores::open_postgres(&url, None)?,
                None => RegistryStores::open(&data)?,
            };
            let mut out = io::stdout().lock();
            let refused =
                stores.with_writer(|store| {
                    ingest::ingest_paths(store, &inputs, ingest::Options::default(), |path, r| {
                        match r {
                            Ok(rep) => {
                                let _ = writeln!(out, "{}: {rep}", path.display());
                            }
                            Err(e) => eprintln!("zio-gateway: {}: {e}", path.display()),
                        }
                    })
                })?;
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
            let mut config = load_config(&config)?;
            if let Some(n) = max_body {
                config.limits.max_message_bytes = (n > 0).then_some(n);
            }
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            if let Some(n) = max_concurrent {
                config.server.max_concurrent = n.max(1);
            }
            if let Some(s) = header_read_timeout {
                config.server.header_read_timeout = std::time::Duration::from_secs(s);
            }
            crate::server::serve(config, &data)?;
            Ok(0)
        }
    }
}

fn run_herschikking(command: HerschikkingCommand) -> Result<i32> {
    use ledger::herschikking::{make_definitief, mark_akkoord, Side};
    let (key, side) = match command {
        HerschikkingCommand::History { year, config, data } => {
            let config = load_config(&config)?;
            let store = open_ledger(&config, &data)?;
            let events = store
                .herschikking_events(year)
                .map_err(|e| Error::backend(format!("ledger: {e}")))?;
            let mut out = io::stdout().lock();
            for e in events {
                serde_json::to_writer(&mut out, &e)
                    .map_err(|e| Error::backend(format!("cannot write: {e}")))?;
                writeln!(out).map_err(|e| Error::backend(format!("cannot write: {e}")))?;
            }
            return Ok(0);
        }
        HerschikkingCommand::Definitief { key } => (key, None),
        HerschikkingCommand::Akkoord { key, side } => (key, Some(side)),
    };
    let mut config = load_config(&key.config)?;
    let store = open_ledger(&config, &key.data)?;
    ledger::agreements::apply_stored_agreements(&mut config.regime, &*store)
        .map_err(|e| Error::backend(format!("ledger agreements: {e}")))?;
    let agb = crate::types::AgbCode::parse(&key.agb)
        .ok_or_else(|| Error::sender(format!("--agb `{}` is not 8 digits", key.agb)))?;
    let zk = crate::types::ZorgkantoorCode::parse(&key.zorgkantoor).ok_or_else(|| {
        Error::sender(format!(
            "--zorgkantoor `{}` is not 4 digits",
            key.zorgkantoor
        ))
    })?;
    let k = (agb, zk, key.year);
    let now = ledger::herschikking::now_ms();
    let done = match side {
        None => make_definitief(&*store, &config.regime, &k, &key.actor, now),
        Some(AkkoordSide::Aanbieder) => mark_akkoord(
            &*store,
            &config.regime,
            &k,
            Side::Aanbieder,
            &key.actor,
            now,
        ),
        Some(AkkoordSide::Zorgkantoor) => mark_akkoord(
            &*store,
            &config.regime,
            &k,
            Side::Zorgkantoor,
            &key.actor,
            now,
        ),
    }
    .map_err(|e| Error::sender(e.to_string()))?;
    let text = serde_json::to_string(&done).map_err(|e| Error::backend(e.to_string()))?;
    println!("{text}");
    Ok(0)
}

fn run_ledger(command: LedgerCommand) -> Result<i32> {
    match command {
        LedgerCommand::Herschikking { command } => run_herschikking(command),
        LedgerCommand::Report {
            year,
            schooljaar,
            format,
            section,
            config,
            data,
        } => {
            let mut config = load_config(&config)?;
            let store = open_ledger(&config, &data)?;
            ledger::agreements::apply_stored_agreements(&mut config.regime, &*store)
                .map_err(|e| Error::backend(format!("ledger agreements: {e}")))?;
            if let Some(y) = schooljaar {
                if section.as_deref().is_some_and(|s| s != "onderwijstijd") {
                    return Err(Error::sender(
                        "--schooljaar: the only section is `onderwijstijd`",
                    ));
                }
                let report = ledger::OnderwijstijdReport::build(&*store, &config.regime, y)
                    .map_err(|e| Error::backend(format!("ledger report: {e}")))?;
                let out = io::stdout().lock();
                match format {
                    ReportFormat::Json => report.write_json(out),
                    ReportFormat::Csv => report.write_csv(out),
                }
                .map_err(|e| Error::backend(format!("cannot write the report: {e}")))?;
                return Ok(0);
            }
            let year = year.ok_or_else(|| Error::sender("--year or --schooljaar is required"))?;
            let section = section.unwrap_or_else(|| "nacalculatie".to_owned());
            if let Some(s) = ledger::absence_report::AbsenceSection::parse(&section) {
                let report =
                    ledger::absence_report::AbsenceReport::build(&*store, &config.regime, year)
                        .map_err(|e| Error::backend(format!("ledger report: {e}")))?;
                let out = io::stdout().lock();
                match format {
                    ReportFormat::Json => report.write_json(out),
                    ReportFormat::Csv => report.write_csv(s, out),
                }
                .map_err(|e| Error::backend(format!("cannot write the report: {e}")))?;
                return Ok(0);
            }
            let report = ledger::report::LedgerReport::build(&*store, &config.regime, year)
                .map_err(|e| Error::backend(format!("ledger report: {e}")))?;
            let out = io::stdout().lock();
            match format {
                ReportFormat::Json => report.write_json(out),
                ReportFormat::Csv => {
                    let s = ledger::report::ReportSection::parse(&section).ok_or_else(|| {
                        Error::sender(format!("--section: `{section}` is not a report section"))
                    })?;
                    report.write_csv(s, out)
                }
            }
            .map_err(|e| Error::backend(format!("cannot write the report: {e}")))?;
            Ok(0)
        }
        LedgerCommand::Absence {
            file,
            actor,
            config,
            data,
        } => {
            use ledger::absence::{register, UploadFormat};
            let config = load_config(&config)?;
            let bytes = std::fs::read(&file)
                .map_err(|e| Error::sender(format!("{}: cannot read: {e}", file.display())))?;
            let format = if file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"))
            {
                UploadFormat::Json
            } else {
                UploadFormat::Csv
            };
            let store = open_ledger(&config, &data)?;
            let now = ledger::herschikking::now_ms();
            match register(&*store, &config.regime, &bytes, format, &actor, now)
                .map_err(|e| Error::backend(format!("ledger: {e}")))?
            {
                Ok(r) => {
                    println!(
                        "{}: {} rows registered, {} changed",
                        file.display(),
                        r.rijen,
                        r.gewijzigd
                    );
                    Ok(0)
                }
                Err(bad) => Err(Error::sender(format!(
                    "{}: nothing registered: {bad}",
                    file.display()
                ))),
            }
        }
        LedgerCommand::Import {
            file,
            actor,
            override_reason,
            config,
            data,
        } => {
            let config = load_config(&config)?;
            let store = open_ledger(&config, &data)?;
            let n = ledger::import_agreements_by(
                &*store,
                &file,
                &config.regime,
                &actor,
                override_reason.as_deref(),
            )
            .map_err(|e| Error::sender(format!("{}: {e}", file.display())))?;
            println!("{}: {n:?} agreements imported", file.display());
            Ok(0)
        }
    }
}
