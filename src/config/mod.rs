//! `gateway.toml`, typed and validated when loaded. A configuration error names
//! the file, the table and the key, and is found at start-up, never at the
//! first request.
//!
//! Each table has one owner file (its raw serde shape, its defaults, its
//! validation); this file reads the text and hands each table to its owner.

mod gateway;
mod netwerkmodel;
mod participants;
mod products;
mod regime;
mod server;
mod tokens;
mod upstreams;

pub use gateway::{Gateway, Indications, Limits};
pub use netwerkmodel::Netwerkmodel;
pub(crate) use participants::{agreements_from_raw, RawAgreement};
pub use products::DEFAULT_PRODUCTS;
pub use regime::DEFAULT_CODES;
pub use server::Server;
pub use tokens::{RateLimits, Role, Token};
pub use upstreams::{StoreSettings, Upstream, Upstreams, LEDGER_URL_ENV};

use crate::model::regime::Regime;
use crate::types::{parse_datum, AgbCode, Datum, ZorgkantoorCode};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The file name inside the configuration directory.
pub const FILE_NAME: &str = "gateway.toml";

/// A configuration that cannot be used, with where it went wrong.
#[derive(Debug)]
pub struct ConfigError {
    /// `None` while a table is validated: a table does not know its file;
    /// [`Config::parse`] adds it.
    pub file: Option<PathBuf>,
    /// As the operator reads it: `[server]`, `[[tokens]] #2`; `None` when
    /// the fault is in the file as a whole (unreadable, not TOML).
    pub table: Option<String>,
    pub key: Option<String>,
    pub message: String,
}

impl ConfigError {
    /// A fault in one key of one table.
    pub fn at(table: &str, key: &str, message: impl Into<String>) -> Self {
        Self {
            file: None,
            table: Some(table.to_owned()),
            key: Some(key.to_owned()),
            message: message.into(),
        }
    }

    /// A fault in a table that no single key carries.
    pub fn in_table(table: &str, message: impl Into<String>) -> Self {
        Self {
            file: None,
            table: Some(table.to_owned()),
            key: None,
            message: message.into(),
        }
    }

    /// A fault in the file as a whole.
    pub fn of_file(file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: Some(file.to_owned()),
            table: None,
            key: None,
            message: message.into(),
        }
    }

    pub fn in_file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_owned());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        match (&self.table, &self.key) {
            (Some(table), Some(key)) => write!(f, "{table} key `{key}`: ")?,
            (Some(table), None) => write!(f, "{table}: ")?,
            _ => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Here rather than in `error.rs`: the error type sits below the
/// configuration and must not know it.
impl From<ConfigError> for crate::error::Error {
    fn from(e: ConfigError) -> Self {
        crate::error::Error::config(e.to_string())
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this was read from, for messages.
    pub source: PathBuf,
    pub gateway: Gateway,
    pub regime: Regime,
    pub limits: Limits,
    pub indications: Indications,
    pub server: Server,
    pub store: StoreSettings,
    pub upstreams: Upstreams,
    /// Bearer tokens per provider AGB (hashed).
    pub tokens: Vec<Token>,
    pub rate_limits: RateLimits,
    /// `[registry.netwerkmodel]`: the registers, when configured.
    pub netwerkmodel: Option<Netwerkmodel>,
}

impl Config {
    /// The shared PostgreSQL ledger to use, if any: the environment first,
    /// then `[store] postgres_url`; `None` means SQLite in the data directory.
    pub fn ledger_url(&self) -> Option<String> {
        self.store.ledger_url()
    }

    /// What is allowed but worth an operator's look, said at start-up (more
    /// providers than the experiment admits).
    pub fn warnings(&self) -> Vec<String> {
        participants::participant_warnings(&self.regime.participants)
    }

    /// Loads `DIR/gateway.toml`.
    pub fn load_dir(dir: &Path) -> Result<Config, ConfigError> {
        Self::load_file(&dir.join(FILE_NAME))
    }

    pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::of_file(path, format!("cannot read the configuration: {e}"))
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates configuration text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| ConfigError::of_file(path, e.to_string()))?;
        let mut config = raw.build().map_err(|e| e.in_file(path))?;
        config.source = path.to_owned();
        if let Some(n) = &mut config.netwerkmodel {
            n.resolve_files(path.parent().unwrap_or(Path::new(".")));
        }
        Ok(config)
    }
}

// serde names these fields, in this order, when it refuses an unknown table:
// the order is part of the message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    gateway: gateway::RawGateway,
    #[serde(default)]
    regime: regime::RawRegime,
    products: Option<BTreeMap<String, products::RawProduct>>,
    #[serde(default)]
    participants: Vec<participants::RawParticipant>,
    #[serde(default)]
    agreements: Vec<RawAgreement>,
    #[serde(default)]
    tariffs: Vec<participants::RawTariff>,
    #[serde(default)]
    limits: gateway::RawLimits,
    #[serde(default)]
    indications: gateway::RawIndications,
    #[serde(default)]
    server: server::RawServer,
    #[serde(default)]
    store: upstreams::RawStore,
    #[serde(default)]
    upstreams: upstreams::RawUpstreams,
    #[serde(default)]
    tokens: Vec<tokens::RawToken>,
    #[serde(default)]
    rate_limits: tokens::RawRateLimits,
    #[serde(default)]
    registry: netwerkmodel::RawRegistry,
}

impl RawConfig {
    /// The tables in a fixed order, so that of several faults the same one
    /// is reported every time. Later tables may depend on earlier ones
    /// (participants on the regime, agreements on both).
    fn build(self) -> Result<Config, ConfigError> {
        let gateway = self.gateway.build()?;
        let products = products::build(self.products)?;
        let mut regime = self.regime.build(products)?;
        regime.participants =
            participants::participants(&self.participants, &regime, &self.regime.start_days)?;
        regime.agreements =
            agreements_from_raw(&self.agreements, &regime.products, &regime.participants)?;
        regime.tariffs = participants::tariffs(&self.tariffs, &regime.products)?;
        let limits = self.limits.build();
        let indications = self.indications.build();
        let server = self.server.build()?;
        let upstreams = self.upstreams.build()?;
        let tokens = tokens::tokens(&self.tokens)?;
        let rate_limits = self.rate_limits.build()?;
        let netwerkmodel = self.registry.build(gateway.zorgkantoren[0].clone())?;
        Ok(Config {
            source: PathBuf::new(),
            gateway,
            regime,
            limits,
            indications,
            server,
            store: self.store.build(),
            upstreams,
            tokens,
            rate_limits,
            netwerkmodel,
        })
    }
}

// ---- values that several tables hold ----------------------------------------

fn date(table: &str, key: &str, v: &str) -> Result<Datum, ConfigError> {
    parse_datum(v)
        .ok_or_else(|| ConfigError::at(table, key, format!("`{v}` is not a date YYYY-MM-DD")))
}

fn agb(table: &str, v: &str) -> Result<AgbCode, ConfigError> {
    AgbCode::parse(v)
        .ok_or_else(|| ConfigError::at(table, "agb", format!("`{v}` is not an 8-digit AGB code")))
}

fn zk(table: &str, key: &str, v: &str) -> Result<ZorgkantoorCode, ConfigError> {
    ZorgkantoorCode::parse(v).ok_or_else(|| {
        ConfigError::at(
            table,
            key,
            format!("`{v}` is not a 4-digit zorgkantoor code"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::regime::OutOfWindow;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test/gateway.toml"))
    }

    const MINIMAL: &str = "[gateway]\nzorgkantoren = [\"5509\"]\n";

    #[test]
    fn minimal_config_gets_the_experiment_defaults() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.regime.window.from.to_string(), "2022-07-25");
        assert_eq!(c.regime.window.to.to_string(), "2025-08-31");
        assert_eq!(c.regime.codes.len(), 5);
        assert_eq!(c.regime.products.len(), 10);
        assert_eq!(c.regime.out_of_window, OutOfWindow::Reject);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = parse("[gateway]\nzorgkantoren = [\"5509\"]\nzorgkantoor = 1\n").unwrap_err();
        assert!(e.to_string().contains("zorgkantoor"), "{e}");
        assert!(e.to_string().contains("test/gateway.toml"), "{e}");
    }

    #[test]
    fn a_fault_names_the_file_the_table_and_the_key() {
        let e = parse(&format!("{MINIMAL}[server]\nmax_concurrent = 0\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "test/gateway.toml: [server] key `max_concurrent`: must be at least 1"
        );
        let e = parse(&format!("{MINIMAL}[rate_limits]\nburst = 0\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "test/gateway.toml: [rate_limits]: every limit must be at least 1"
        );
        let e = Config::load_dir(Path::new("no/such/dir")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("no/such/dir/gateway.toml: cannot read the configuration: "),
            "{e}"
        );
    }

    #[test]
    fn the_first_fault_in_table_order_is_reported() {
        let text = format!("{MINIMAL}[server]\nmax_concurrent = 0\n[regime]\nwindow_to = \"x\"\n");
        let e = parse(&text).unwrap_err();
        assert!(e.to_string().contains("[regime] key `window_to`"), "{e}");
    }

    #[test]
    fn a_config_error_is_a_config_fault() {
        let e: crate::error::Error = parse("").unwrap_err().into();
        assert_eq!(e.fault(), crate::error::Fault::Config);
        assert!(e.to_string().starts_with("test/gateway.toml: "), "{e}");
    }

    #[test]
    fn example_config_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        Config::load_dir(&dir).unwrap();
    }
}
