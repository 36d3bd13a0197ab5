//! `[[tokens]]` and `[rate_limits]`: who may call the server, and how much.
//!
//! Every token has a role: `role = "aanbieder"` (the default) is one care
//! provider and names its `agb`; `role = "zorgkantoor"` is the operator and
//! names no `agb`. What each role may do is decided in `server/access.rs`.

use super::{agb, ConfigError};
use crate::types::AgbCode;
use serde::Deserialize;

/// Who a token speaks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    /// One care provider: its own messages and figures only.
    Aanbieder(AgbCode),
    /// The zorgkantoor (operator): the registry, agreements, everything read.
    Zorgkantoor,
}

impl Role {
    /// The provider's AGB code (`None` for the zorgkantoor).
    pub fn agb(&self) -> Option<&AgbCode> {
        match self {
            Role::Aanbieder(a) => Some(a),
            Role::Zorgkantoor => None,
        }
    }

    /// The log and metrics label.
    pub fn label(&self) -> &'static str {
        match self {
            Role::Aanbieder(_) => "aanbieder",
            Role::Zorgkantoor => "zorgkantoor",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Token {
    pub role: Role,
    /// SHA-256 of the bearer token, 64 lower-case hex digits.
    pub sha256: String,
}

impl Token {
    /// A provider's token (`sha256`: the hex SHA-256 of the secret).
    pub fn aanbieder(agb: AgbCode, sha256: impl Into<String>) -> Self {
        Self {
            role: Role::Aanbieder(agb),
            sha256: sha256.into(),
        }
    }

    /// The zorgkantoor's token.
    pub fn zorgkantoor(sha256: impl Into<String>) -> Self {
        Self {
            role: Role::Zorgkantoor,
            sha256: sha256.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RateLimits {
    /// Requests per second per provider AGB (`burst` at once).
    pub requests_per_second: u32,
    pub burst: u32,
    /// Declared lines per minute per provider AGB.
    pub lines_per_minute: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawToken {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    agb: Option<String>,
    sha256: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRateLimits {
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

pub(super) fn tokens(raw: &[RawToken]) -> Result<Vec<Token>, ConfigError> {
    raw.iter()
        .enumerate()
        .map(|(i, t)| t.build(&format!("[[tokens]] #{}", i + 1)))
        .collect()
}

impl RawToken {
    fn build(&self, table: &str) -> Result<Token, ConfigError> {
        let role = match (self.role.as_deref().unwrap_or("aanbieder"), &self.agb) {
            ("aanbieder", Some(a)) => Role::Aanbieder(agb(table, a)?),
            ("aanbieder", None) => {
                return Err(ConfigError::at(
                    table,
                    "agb",
                    "required for role \"aanbieder\" (the provider this token speaks for)",
                ))
            }
            ("zorgkantoor", None) => Role::Zorgkantoor,
            ("zorgkantoor", Some(_)) => {
                return Err(ConfigError::at(
                    table,
                    "agb",
                    "not allowed for role \"zorgkantoor\" (it reads every provider)",
                ))
            }
            (other, _) => {
                return Err(ConfigError::at(
                    table,
                    "role",
                    format!("`{other}` is not \"aanbieder\" or \"zorgkantoor\""),
                ))
            }
        };
        let hex_ok = self.sha256.len() == 64 && self.sha256.bytes().all(|c| c.is_ascii_hexdigit());
        if !hex_ok {
            // A token pasted in clear would sit readable in the file.
            return Err(ConfigError::at(
                table,
                "sha256",
                "not 64 hex digits (store the SHA-256 of the token, never the token)",
            ));
        }
        Ok(Token {
            role,
            // Compared with the hash of a request's token, which is lower case.
            sha256: self.sha256.to_ascii_lowercase(),
        })
    }
}

impl RawRateLimits {
    pub(super) fn build(self) -> Result<RateLimits, ConfigError> {
        if self.requests_per_second == 0 || self.burst == 0 || self.lines_per_minute == 0 {
            return Err(ConfigError::in_table(
                "[rate_limits]",
                "every limit must be at least 1",
            ));
        }
        Ok(RateLimits {
            requests_per_second: self.requests_per_second,
            burst: self.burst,
            lines_per_minute: self.lines_per_minute,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens_of(text: &str) -> Result<Vec<Token>, ConfigError> {
        #[derive(Deserialize)]
        struct File {
            tokens: Vec<RawToken>,
        }
        tokens(&toml::from_str::<File>(text).unwrap().tokens)
    }

    #[test]
    fn a_token_is_stored_as_its_hash() {
        let e = tokens_of("[[tokens]]\nagb = \"12345678\"\nsha256 = \"secret\"\n").unwrap_err();
        assert!(e.to_string().contains("[[tokens]] #1 key `sha256`"), "{e}");
        let hash = "AB".repeat(32);
        let t = tokens_of(&format!(
            "[[tokens]]\nagb = \"12345678\"\nsha256 = \"{hash}\"\n"
        ))
        .unwrap();
        assert_eq!(t[0].sha256, "ab".repeat(32));
        let e = tokens_of(&format!(
            "[[tokens]]\nagb = \"1234\"\nsha256 = \"{hash}\"\n"
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "[[tokens]] #1 key `agb`: `1234` is not an 8-digit AGB code"
        );
    }

    #[test]
    fn roles() {
        let hash = "ab".repeat(32);
        let t = tokens_of(&format!(
            "[[tokens]]\nagb = \"12345678\"\nsha256 = \"{hash}\"\n\
             [[tokens]]\nrole = \"zorgkantoor\"\nsha256 = \"{hash}\"\n\
             [[tokens]]\nrole = \"aanbieder\"\nagb = \"87654321\"\nsha256 = \"{hash}\"\n"
        ))
        .unwrap();
        assert_eq!(
            t[0].role,
            Role::Aanbieder(AgbCode::parse("12345678").unwrap())
        );
        assert_eq!(t[1].role, Role::Zorgkantoor);
        assert_eq!(t[2].role.label(), "aanbieder");
        let e = tokens_of(&format!("[[tokens]]\nsha256 = \"{hash}\"\n")).unwrap_err();
        assert!(e.to_string().contains("key `agb`: required"), "{e}");
        let e = tokens_of(&format!(
            "[[tokens]]\nrole = \"zorgkantoor\"\nagb = \"12345678\"\nsha256 = \"{hash}\"\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("key `agb`: not allowed"), "{e}");
        let e = tokens_of(&format!(
            "[[tokens]]\nrole = \"admin\"\nsha256 = \"{hash}\"\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("key `role`"), "{e}");
    }

    #[test]
    fn every_rate_limit_is_positive() {
        let limits = |t: &str| toml::from_str::<RawRateLimits>(t).unwrap().build();
        assert_eq!(limits("").unwrap().burst, 40);
        let e = limits("lines_per_minute = 0").unwrap_err();
        assert_eq!(
            e.to_string(),
            "[rate_limits]: every limit must be at least 1"
        );
    }
}
