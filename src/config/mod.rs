//! `gateway.toml`, typed and validated when loaded. A configuration error names
//! the file, the table and the key, and is found at start-up, never at the
//! first request.

use crate::model::regime::{Agreement, OutOfWindow, Participant, Product, Regime, Unit};
use crate::types::{parse_datum, AgbCode, Cents, Datum, Period, ProductCode, ZorgkantoorCode};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

/// The file name inside the configuration directory.
pub const FILE_NAME: &str = "gateway.toml";

/// A configuration that cannot be used, with where it went wrong.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

impl std::error::Error for ConfigError {}

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
}

/// The HTTP daemon (`serve`).
#[derive(Debug, Clone)]
pub struct Server {
    pub listen: String,
    /// Check requests running at once; more wait (back-pressure), then 503.
    pub max_concurrent: usize,
    pub queue_timeout_ms: u64,
    pub header_read_timeout_ms: u64,
    /// Longest silence between two chunks of a request body.
    pub body_idle_timeout_ms: u64,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout_ms: u64,
}

#[derive(Debug, Clone, Default)]
pub struct StoreSettings {
    /// A shared PostgreSQL ledger; `None`: SQLite in the data directory.
    pub postgres_url: Option<String>,
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
}

#[derive(Debug, Clone)]
pub struct Token {
    pub agb: AgbCode,
    /// SHA-256 of the bearer token, 64 lower-case hex digits.
    pub sha256: String,
}

#[derive(Debug, Clone)]
pub struct RateLimits {
    /// Requests per second per provider AGB (`burst` at once).
    pub requests_per_second: u32,
    pub burst: u32,
    /// Declared lines per minute per provider AGB.
    pub lines_per_minute: u32,
}

#[derive(Debug, Clone)]
pub struct Gateway {
    /// Ontvanger codes this gateway serves (else 0108).
    pub zorgkantoren: Vec<ZorgkantoorCode>,
    /// Sender of answers to messages addressed to a zorgkantoor not served here.
    pub code: ZorgkantoorCode,
}

#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted message in bytes (0104); `None` when unlimited.
    pub max_message_bytes: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Indications {
    /// Check 0406 (start of delivery required).
    pub require_start_of_delivery: bool,
}

// ---- the raw TOML shape: every table denies unknown keys -------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    gateway: RawGateway,
    #[serde(default)]
    regime: RawRegime,
    products: Option<BTreeMap<String, RawProduct>>,
    #[serde(default)]
    participants: Vec<RawParticipant>,
    #[serde(default)]
    agreements: Vec<RawAgreement>,
    #[serde(default)]
    tariffs: Vec<RawTariff>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    indications: RawIndications,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    upstreams: RawUpstreams,
    #[serde(default)]
    tokens: Vec<RawToken>,
    #[serde(default)]
    rate_limits: RawRateLimits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawServer {
    listen: String,
    max_concurrent: usize,
    queue_timeout_ms: u64,
    header_read_timeout_ms: u64,
    body_idle_timeout_ms: u64,
    drain_timeout_ms: u64,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            max_concurrent: 64,
            queue_timeout_ms: 10_000,
            header_read_timeout_ms: 10_000,
            body_idle_timeout_ms: 30_000,
            drain_timeout_ms: 30_000,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStore {
    postgres_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawUpstreams {
    zio: String,
    regulier: String,
    timeout_ms: u64,
    retry_initial_ms: u64,
    retry_max_ms: u64,
}

impl Default for RawUpstreams {
    fn default() -> Self {
        Self {
            zio: "none".into(),
            regulier: "none".into(),
            timeout_ms: 10_000,
            retry_initial_ms: 500,
            retry_max_ms: 60_000,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    agb: String,
    sha256: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRateLimits {
    requests_per_second: u32,
    burst: u32,
    lines_per_minute: u32,
}

impl Default for RawRateLimits {
    fn default() -> Self {
        Self {
            requests_per_second: 20,
            burst: 40,
            lines_per_minute: 2_000_000,
        }
    }
}

fn upstream(key: &str, v: &str) -> Result<Upstream, String> {
    if v == "none" {
        Ok(Upstream::None)
    } else if let Some(dir) = v.strip_prefix("spool:") {
        if dir.is_empty() {
            return Err(format!(
                "[upstreams] key `{key}`: `spool:` needs a directory"
            ));
        }
        Ok(Upstream::Spool(PathBuf::from(dir)))
    } else if v.starts_with("http://") {
        v.parse::<hyper::Uri>()
            .map_err(|e| format!("[upstreams] key `{key}`: `{v}` is not a URL: {e}"))?;
        Ok(Upstream::Http(v.to_owned()))
    } else {
        Err(format!(
            "[upstreams] key `{key}`: `{v}` is not \"none\", \"spool:DIR\" or an http:// URL"
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGateway {
    zorgkantoren: Vec<String>,
    code: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegime {
    #[serde(default = "default_name")]
    name: String,
    #[serde(default = "default_window_from")]
    window_from: String,
    #[serde(default = "default_window_to")]
    window_to: String,
    #[serde(default = "default_out_of_window")]
    out_of_window: String,
    #[serde(default = "default_start_days")]
    start_days: Vec<String>,
    #[serde(default = "default_last_start")]
    last_start: String,
    codes: Option<BTreeMap<String, String>>,
}

fn default_name() -> String {
    "Experiment Wlz-zorg in onderwijstijd".into()
}
fn default_window_from() -> String {
    "2022-07-25".into()
}
fn default_window_to() -> String {
    "2025-08-31".into()
}
fn default_out_of_window() -> String {
    "reject".into()
}
fn default_start_days() -> Vec<String> {
    vec!["09-01".into(), "01-01".into()]
}
fn default_last_start() -> String {
    "2024-09-01".into()
}

impl Default for RawRegime {
    fn default() -> Self {
        Self {
            name: default_name(),
            window_from: default_window_from(),
            window_to: default_window_to(),
            out_of_window: default_out_of_window(),
            start_days: default_start_days(),
            last_start: default_last_start(),
            codes: None,
        }
    }
}

/// The NZa experiment's mapping: ZiO code -> the regular code it stands for.
pub const DEFAULT_CODES: [(&str, &str); 5] = [
    ("H307", "H300"),
    ("H308", "H814"),
    ("H309", "H834"),
    ("H310", "H854"),
    ("H311", "H874"),
];

/// The products of the experiment: (code, unit, iWlz function, child product).
pub const DEFAULT_PRODUCTS: [(&str, Unit, u8, bool); 10] = [
    ("H300", Unit::Uur, 81, false),
    ("H307", Unit::Uur, 81, false),
    ("H814", Unit::Dagdeel, 82, true),
    ("H834", Unit::Dagdeel, 82, true),
    ("H854", Unit::Dagdeel, 82, true),
    ("H874", Unit::Dagdeel, 82, true),
    ("H308", Unit::Dagdeel, 82, true),
    ("H309", Unit::Dagdeel, 82, true),
    ("H310", Unit::Dagdeel, 82, true),
    ("H311", Unit::Dagdeel, 82, true),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduct {
    unit: String,
    function: u8,
    #[serde(default)]
    child: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParticipant {
    agb: String,
    zorgkantoor: String,
    from: String,
    to: String,
}

/// One `[[agreements]]` table as written (also the shape `ledger import`
/// takes in TOML).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAgreement {
    agb: String,
    zorgkantoor: String,
    year: i32,
    herschikking_cents: Cents,
    #[serde(default)]
    volumes: BTreeMap<String, u64>,
    #[serde(default)]
    prices_cents: BTreeMap<String, Cents>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTariff {
    code: String,
    year: i32,
    max_cents: Cents,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(default = "default_max_message_bytes")]
    max_message_bytes: u64,
}

fn default_max_message_bytes() -> u64 {
    256 * 1024 * 1024
}

impl Default for RawLimits {
    fn default() -> Self {
        Self {
            max_message_bytes: default_max_message_bytes(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndications {
    #[serde(default = "yes")]
    require_start_of_delivery: bool,
}

fn yes() -> bool {
    true
}

impl Default for RawIndications {
    fn default() -> Self {
        Self {
            require_start_of_delivery: true,
        }
    }
}

// ---- loading and validation -------------------------------------------------

/// A PostgreSQL URL here overrides `[store] postgres_url` (tests, one-off runs).
pub const LEDGER_URL_ENV: &str = "ZIO_GATEWAY_LEDGER_URL";

impl Config {
    /// The shared PostgreSQL ledger to use, if any: the environment first,
    /// then `[store] postgres_url`; `None` means SQLite in the data directory.
    pub fn ledger_url(&self) -> Option<String> {
        std::env::var(LEDGER_URL_ENV)
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| self.store.postgres_url.clone())
    }

    /// Loads `DIR/gateway.toml`.
    pub fn load_dir(dir: &Path) -> Result<Config, ConfigError> {
        Self::load_file(&dir.join(FILE_NAME))
    }

    pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            message: format!("cannot read the configuration: {e}"),
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates configuration text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let err = |message: String| ConfigError {
            file: path.to_owned(),
            message,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let mut config = build(raw).map_err(err)?;
        config.source = path.to_owned();
        Ok(config)
    }
}

fn date(table: &str, key: &str, v: &str) -> Result<Datum, String> {
    parse_datum(v).ok_or_else(|| format!("[{table}] key `{key}`: `{v}` is not a date YYYY-MM-DD"))
}

fn agb(table: &str, v: &str) -> Result<AgbCode, String> {
    AgbCode::parse(v).ok_or_else(|| format!("{table} key `agb`: `{v}` is not an 8-digit AGB code"))
}

fn zk(table: &str, key: &str, v: &str) -> Result<ZorgkantoorCode, String> {
    ZorgkantoorCode::parse(v)
        .ok_or_else(|| format!("{table} key `{key}`: `{v}` is not a 4-digit zorgkantoor code"))
}

fn build(raw: RawConfig) -> Result<Config, String> {
    let zorgkantoren = raw
        .gateway
        .zorgkantoren
        .iter()
        .map(|z| zk("[gateway]", "zorgkantoren", z))
        .collect::<Result<Vec<_>, _>>()?;
    let code = match &raw.gateway.code {
        Some(c) => zk("[gateway]", "code", c)?,
        None => ZorgkantoorCode::parse("0000").expect("valid literal"),
    };

    let products: BTreeMap<ProductCode, Product> = match raw.products {
        Some(table) => table
            .into_iter()
            .map(|(k, p)| {
                let code = ProductCode::parse(&k).ok_or_else(|| {
                    format!("[products] key `{k}`: not a product code (a capital letter and three digits)")
                })?;
                let unit = match p.unit.as_str() {
                    "uur" => Unit::Uur,
                    "dagdeel" => Unit::Dagdeel,
                    other => {
                        return Err(format!(
                            "[products] key `{k}.unit`: `{other}` is not \"uur\" or \"dagdeel\""
                        ))
                    }
                };
                Ok((
                    code,
                    Product {
                        unit,
                        function: p.function,
                        child: p.child,
                    },
                ))
            })
            .collect::<Result<_, String>>()?,
        None => DEFAULT_PRODUCTS
            .iter()
            .map(|&(c, unit, function, child)| {
                (
                    ProductCode::parse(c).expect("valid literal"),
                    Product {
                        unit,
                        function,
                        child,
                    },
                )
            })
            .collect(),
    };

    let r = raw.regime;
    let window = Period::new(
        date("regime", "window_from", &r.window_from)?,
        date("regime", "window_to", &r.window_to)?,
    );
    if window.to < window.from {
        return Err("[regime] key `window_to`: lies before `window_from`".into());
    }
    let out_of_window = match r.out_of_window.as_str() {
        "reject" => OutOfWindow::Reject,
        "remap" => OutOfWindow::Remap,
        other => {
            return Err(format!(
                "[regime] key `out_of_window`: `{other}` is not \"reject\" or \"remap\""
            ))
        }
    };
    let start_days = r
        .start_days
        .iter()
        .map(|s| {
            parse_month_day(s)
                .ok_or_else(|| format!("[regime] key `start_days`: `{s}` is not a month-day MM-DD"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let last_start = date("regime", "last_start", &r.last_start)?;
    let raw_codes: Vec<(String, String)> = match r.codes {
        Some(c) => c.into_iter().collect(),
        None => DEFAULT_CODES
            .iter()
            .map(|&(a, b)| (a.to_owned(), b.to_owned()))
            .collect(),
    };
    let mut codes = BTreeMap::new();
    for (zio, regular) in raw_codes {
        let z = ProductCode::parse(&zio)
            .filter(|z| products.contains_key(z))
            .ok_or_else(|| format!("[regime.codes] key `{zio}`: not a product in [products]"))?;
        let reg = ProductCode::parse(&regular)
            .filter(|c| products.contains_key(c))
            .ok_or_else(|| {
                format!("[regime.codes] key `{zio}`: maps to `{regular}`, which is not a product in [products]")
            })?;
        codes.insert(z, reg);
    }

    let mut participants = Vec::new();
    for (i, p) in raw.participants.iter().enumerate() {
        let t = format!("[[participants]] #{}", i + 1);
        let from = parse_datum(&p.from)
            .ok_or_else(|| format!("{t} key `from`: `{}` is not a date YYYY-MM-DD", p.from))?;
        let to = parse_datum(&p.to)
            .ok_or_else(|| format!("{t} key `to`: `{}` is not a date YYYY-MM-DD", p.to))?;
        let md = (chrono::Datelike::month(&from), chrono::Datelike::day(&from));
        if !start_days.contains(&md) {
            return Err(format!(
                "{t} key `from`: {from} is not a start day of the regime ({})",
                r.start_days.join(", ")
            ));
        }
        if from > last_start {
            return Err(format!(
                "{t} key `from`: {from} is after the regime's last start {last_start}"
            ));
        }
        if to > window.to {
            return Err(format!(
                "{t} key `to`: {to} is after the regime's window_to {}",
                window.to
            ));
        }
        if to < from {
            return Err(format!("{t} key `to`: {to} is before `from` {from}"));
        }
        participants.push(Participant {
            agb: agb(&t, &p.agb)?,
            zorgkantoor: zk(&t, "zorgkantoor", &p.zorgkantoor)?,
            period: Period::new(from, to),
        });
    }

    let agreements = agreements_from_raw(&raw.agreements, &products, &participants)?;

    let mut tariffs = HashMap::new();
    for (i, t) in raw.tariffs.iter().enumerate() {
        let code = ProductCode::parse(&t.code)
            .filter(|c| products.contains_key(c))
            .ok_or_else(|| {
                format!(
                    "[[tariffs]] #{} key `code`: `{}` is not a product in [products]",
                    i + 1,
                    t.code
                )
            })?;
        if tariffs.insert((code, t.year), t.max_cents).is_some() {
            return Err(format!(
                "[[tariffs]] #{} key `year`: a second maximum for {} in {}",
                i + 1,
                t.code,
                t.year
            ));
        }
    }

    let rs = raw.server;
    if rs.max_concurrent == 0 {
        return Err("[server] key `max_concurrent`: must be at least 1".into());
    }
    let ru = raw.upstreams;
    if ru.retry_initial_ms == 0 || ru.retry_max_ms < ru.retry_initial_ms {
        return Err(
            "[upstreams] key `retry_max_ms`: must be at least retry_initial_ms (> 0)".into(),
        );
    }
    let upstreams = Upstreams {
        zio: upstream("zio", &ru.zio)?,
        regulier: upstream("regulier", &ru.regulier)?,
        timeout_ms: ru.timeout_ms,
        retry_initial_ms: ru.retry_initial_ms,
        retry_max_ms: ru.retry_max_ms,
    };
    let mut tokens = Vec::new();
    for (i, t) in raw.tokens.iter().enumerate() {
        let tbl = format!("[[tokens]] #{}", i + 1);
        let agb = agb(&tbl, &t.agb)?;
        let hex_ok = t.sha256.len() == 64 && t.sha256.bytes().all(|c| c.is_ascii_hexdigit());
        if !hex_ok {
            return Err(format!(
                "{tbl} key `sha256`: not 64 hex digits (store the SHA-256 of the token, never the token)"
            ));
        }
        tokens.push(Token {
            agb,
            sha256: t.sha256.to_ascii_lowercase(),
        });
    }
    let rl = raw.rate_limits;
    if rl.requests_per_second == 0 || rl.burst == 0 || rl.lines_per_minute == 0 {
        return Err("[rate_limits]: every limit must be at least 1".into());
    }

    Ok(Config {
        source: PathBuf::new(),
        gateway: Gateway { zorgkantoren, code },
        regime: Regime {
            name: r.name,
            window,
            out_of_window,
            start_days,
            last_start,
            codes,
            products,
            participants,
            agreements,
            tariffs,
        },
        limits: Limits {
            max_message_bytes: (raw.limits.max_message_bytes > 0)
                .then_some(raw.limits.max_message_bytes),
        },
        indications: Indications {
            require_start_of_delivery: raw.indications.require_start_of_delivery,
        },
        server: Server {
            listen: rs.listen,
            max_concurrent: rs.max_concurrent,
            queue_timeout_ms: rs.queue_timeout_ms,
            header_read_timeout_ms: rs.header_read_timeout_ms,
            body_idle_timeout_ms: rs.body_idle_timeout_ms,
            drain_timeout_ms: rs.drain_timeout_ms,
        },
        store: StoreSettings {
            postgres_url: raw.store.postgres_url.filter(|u| !u.is_empty()),
        },
        upstreams,
        tokens,
        rate_limits: RateLimits {
            requests_per_second: rl.requests_per_second,
            burst: rl.burst,
            lines_per_minute: rl.lines_per_minute,
        },
    })
}

/// Typed, validated agreements: each pair a participant, each code a known
/// product, one agreement per pair and year. Errors name the table and key.
pub(crate) fn agreements_from_raw(
    raw: &[RawAgreement],
    products: &BTreeMap<ProductCode, Product>,
    participants: &[Participant],
) -> Result<Vec<Agreement>, String> {
    let mut agreements = Vec::new();
    for (i, a) in raw.iter().enumerate() {
        let t = format!("[[agreements]] #{}", i + 1);
        let agb = agb(&t, &a.agb)?;
        let zorgkantoor = zk(&t, "zorgkantoor", &a.zorgkantoor)?;
        if !participants
            .iter()
            .any(|p| p.agb == agb && p.zorgkantoor == zorgkantoor)
        {
            return Err(format!(
                "{t} key `agb`: {agb} with zorgkantoor {zorgkantoor} is not a participant"
            ));
        }
        let codes_of = |key: &str,
                        m: &BTreeMap<String, u64>|
         -> Result<BTreeMap<ProductCode, u64>, String> {
            m.iter()
                .map(|(k, v)| {
                    ProductCode::parse(k)
                        .filter(|c| products.contains_key(c))
                        .map(|c| (c, *v))
                        .ok_or_else(|| format!("{t} key `{key}.{k}`: not a product in [products]"))
                })
                .collect()
        };
        let volumes = codes_of("volumes", &a.volumes)?;
        let prices = codes_of("prices_cents", &a.prices_cents)?;
        if agreements
            .iter()
            .any(|x: &Agreement| x.agb == agb && x.zorgkantoor == zorgkantoor && x.year == a.year)
        {
            return Err(format!(
                "{t} key `year`: a second agreement for {agb}/{zorgkantoor} in {}",
                a.year
            ));
        }
        agreements.push(Agreement {
            agb,
            zorgkantoor,
            year: a.year,
            herschikking_cents: a.herschikking_cents,
            volumes,
            prices_cents: prices,
        });
    }

    Ok(agreements)
}

fn parse_month_day(s: &str) -> Option<(u32, u32)> {
    let (m, d) = s.split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    // 2024 is a leap year, so 02-29 is accepted as a month-day.
    chrono::NaiveDate::from_ymd_opt(2024, m, d).map(|_| (m, d))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn with_participant(from: &str, to: &str) -> String {
        format!("{MINIMAL}[[participants]]\nagb = \"12345678\"\nzorgkantoor = \"5509\"\nfrom = \"{from}\"\nto = \"{to}\"\n")
    }

    #[test]
    fn participant_rules_are_enforced() {
        assert!(parse(&with_participant("2023-01-01", "2025-08-31")).is_ok());
        assert!(parse(&with_participant("2024-09-01", "2025-08-31")).is_ok());
        let e = parse(&with_participant("2023-02-01", "2025-08-31")).unwrap_err();
        assert!(
            e.to_string().contains("[[participants]] #1 key `from`"),
            "{e}"
        );
        let e = parse(&with_participant("2025-01-01", "2025-08-31")).unwrap_err();
        assert!(e.to_string().contains("last start"), "{e}");
        let e = parse(&with_participant("2023-01-01", "2025-09-01")).unwrap_err();
        assert!(e.to_string().contains("key `to`"), "{e}");
    }

    #[test]
    fn agreement_needs_a_participant() {
        let text = format!("{MINIMAL}[[agreements]]\nagb = \"12345678\"\nzorgkantoor = \"5509\"\nyear = 2024\nherschikking_cents = 1\n");
        let e = parse(&text).unwrap_err();
        assert!(e.to_string().contains("[[agreements]] #1"), "{e}");
    }

    #[test]
    fn zio_code_must_map_to_a_known_product() {
        let text = format!("{MINIMAL}[regime.codes]\nH307 = \"H999\"\n");
        let e = parse(&text).unwrap_err();
        assert!(e.to_string().contains("[regime.codes] key `H307`"), "{e}");
    }

    #[test]
    fn server_keys_are_checked() {
        let e = parse(&format!("{MINIMAL}[upstreams]\nzio = \"ftp://x\"\n")).unwrap_err();
        assert!(e.to_string().contains("[upstreams] key `zio`"), "{e}");
        let e = parse(&format!(
            "{MINIMAL}[[tokens]]\nagb = \"12345678\"\nsha256 = \"secret\"\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("[[tokens]] #1 key `sha256`"), "{e}");
        let c = parse(&format!(
            "{MINIMAL}[upstreams]\nzio = \"spool:out/zio\"\nregulier = \"http://127.0.0.1:9/r\"\n"
        ))
        .unwrap();
        assert_eq!(c.upstreams.zio, Upstream::Spool(PathBuf::from("out/zio")));
        assert_eq!(
            c.upstreams.regulier,
            Upstream::Http("http://127.0.0.1:9/r".into())
        );
    }

    #[test]
    fn example_config_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        Config::load_dir(&dir).unwrap();
    }
}
