//! `[registry.netwerkmodel]`: the iWlz netwerkmodel registers the gateway
//! reads indications and allocations from, beside the IO31/AW33 messages.
//!
//! Absent (the default): the registry is filled from messages only. Present:
//! both register URLs, the token endpoint and the client's identity are
//! required, because a register answers nobody without two-way TLS and a
//! token (Afsprakenstelsel iWlz). Relative file names are read from the
//! configuration directory.

use super::ConfigError;
use crate::types::ZorgkantoorCode;
use serde::Deserialize;
use std::path::{Path, PathBuf};

const TABLE: &str = "[registry.netwerkmodel]";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Netwerkmodel {
    /// GraphQL endpoint of the CIZ's Indicatieregister.
    pub indicatieregister: String,
    /// GraphQL endpoint of the zorgkantoren's Bemiddelingsregister.
    pub bemiddelingsregister: String,
    /// OAuth2 token endpoint (client credentials).
    pub token_url: String,
    pub client_id: String,
    /// A file holding the client secret (never the secret in this file).
    pub client_secret_file: PathBuf,
    /// The system certificate (PEM) and its key (PEM, PKCS#8 or PKCS#1).
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// The CA (PEM) the registers' and the token endpoint's certificates must
    /// chain to; nothing else is trusted.
    pub ca: PathBuf,
    /// Asked for with the token, when the network requires them.
    pub scope: Option<String>,
    pub audience: Option<String>,
    /// The zorgkantoor this gateway queries as: the registers' policies
    /// require it as input (initially responsible, executing zorgkantoor).
    pub zorgkantoor: ZorgkantoorCode,
    /// One attempt (connect, TLS, answer) at most this long.
    pub timeout_ms: u64,
    /// Attempts per query, with exponential backoff and jitter between them.
    pub attempts: u32,
    pub retry_initial_ms: u64,
}

impl Netwerkmodel {
    /// Relative file names are read from the configuration directory.
    pub fn resolve_files(&mut self, config_dir: &Path) {
        for p in [
            &mut self.client_secret_file,
            &mut self.client_cert,
            &mut self.client_key,
            &mut self.ca,
        ] {
            if p.is_relative() {
                *p = config_dir.join(&*p);
            }
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRegistry {
    netwerkmodel: Option<RawNetwerkmodel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwerkmodel {
    indicatieregister: Option<String>,
    bemiddelingsregister: Option<String>,
    token_url: Option<String>,
    client_id: Option<String>,
    client_secret_file: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
    ca: Option<PathBuf>,
    scope: Option<String>,
    audience: Option<String>,
    zorgkantoor: Option<String>,
    timeout_ms: Option<u64>,
    attempts: Option<u32>,
    retry_initial_ms: Option<u64>,
}

fn required<T>(v: Option<T>, key: &str) -> Result<T, ConfigError> {
    v.ok_or_else(|| ConfigError::at(TABLE, key, "is required when the table is present"))
}

fn url(v: Option<String>, key: &str) -> Result<String, ConfigError> {
    let v = required(v, key)?;
    // Two-way TLS is the network's rule: a plain http:// register would send
    // BSNs and the token in clear.
    if !v.starts_with("https://") || v.len() <= "https://".len() {
        return Err(ConfigError::at(
            TABLE,
            key,
            format!("`{v}` is not an https:// URL"),
        ));
    }
    Ok(v)
}

impl RawRegistry {
    /// `default_zorgkantoor`: the first of `[gateway] zorgkantoren`.
    pub(super) fn build(
        self,
        default_zorgkantoor: ZorgkantoorCode,
    ) -> Result<Option<Netwerkmodel>, ConfigError> {
        let Some(r) = self.netwerkmodel else {
            return Ok(None);
        };
        let zorgkantoor = match r.zorgkantoor {
            Some(z) => super::zk(TABLE, "zorgkantoor", &z)?,
            None => default_zorgkantoor,
        };
        let timeout_ms = r.timeout_ms.unwrap_or(10_000);
        if timeout_ms == 0 {
            return Err(ConfigError::at(TABLE, "timeout_ms", "must be at least 1"));
        }
        let attempts = r.attempts.unwrap_or(3);
        if attempts == 0 {
            return Err(ConfigError::at(TABLE, "attempts", "must be at least 1"));
        }
        Ok(Some(Netwerkmodel {
            indicatieregister: url(r.indicatieregister, "indicatieregister")?,
            bemiddelingsregister: url(r.bemiddelingsregister, "bemiddelingsregister")?,
            token_url: url(r.token_url, "token_url")?,
            client_id: required(r.client_id, "client_id")?,
            client_secret_file: required(r.client_secret_file, "client_secret_file")?,
            client_cert: required(r.client_cert, "client_cert")?,
            client_key: required(r.client_key, "client_key")?,
            ca: required(r.ca, "ca")?,
            scope: r.scope.filter(|s| !s.is_empty()),
            audience: r.audience.filter(|s| !s.is_empty()),
            zorgkantoor,
            timeout_ms,
            attempts,
            retry_initial_ms: r.retry_initial_ms.unwrap_or(500),
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    const FULL: &str = r#"
[gateway]
zorgkantoren = ["5509", "5510"]
[registry.netwerkmodel]
indicatieregister = "https://ir.example/graphql"
bemiddelingsregister = "https://br.example/graphql"
token_url = "https://auth.example/token"
client_id = "zk5509"
client_secret_file = "secret"
client_cert = "/etc/zio/client.pem"
client_key = "client.key"
ca = "ca.pem"
"#;

    fn parse(text: &str) -> Result<Config, crate::config::ConfigError> {
        Config::parse(text, Path::new("/etc/zio/gateway.toml"))
    }

    #[test]
    fn absent_means_messages_only() {
        let c = parse("[gateway]\nzorgkantoren = [\"5509\"]\n").unwrap();
        assert!(c.netwerkmodel.is_none());
    }

    #[test]
    fn files_are_read_from_the_configuration_directory() {
        let n = parse(FULL).unwrap().netwerkmodel.unwrap();
        assert_eq!(n.client_secret_file, Path::new("/etc/zio/secret"));
        assert_eq!(n.client_key, Path::new("/etc/zio/client.key"));
        assert_eq!(n.client_cert, Path::new("/etc/zio/client.pem"));
        assert_eq!(n.zorgkantoor.as_str(), "5509");
        assert_eq!((n.timeout_ms, n.attempts), (10_000, 3));
    }

    #[test]
    fn a_missing_key_and_a_plain_http_register_are_refused() {
        let e = parse(&FULL.replace("client_id = \"zk5509\"\n", "")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/zio/gateway.toml: [registry.netwerkmodel] key `client_id`: is required when the table is present"
        );
        let e = parse(&FULL.replace("https://ir.example", "http://ir.example")).unwrap_err();
        assert!(
            e.to_string().contains(
                "key `indicatieregister`: `http://ir.example/graphql` is not an https:// URL"
            ),
            "{e}"
        );
        let e = parse(&format!("{FULL}zorgkantoor = \"55\"\n")).unwrap_err();
        assert!(e.to_string().contains("key `zorgkantoor`"), "{e}");
    }
}
