//! `[gateway]`, `[limits]` and `[indications]`: what the check is told
//! besides the regime. They sit together because the check reads all three
//! for every message, `check` as much as `serve`.

use super::{zk, ConfigError};
use crate::types::ZorgkantoorCode;
use serde::Deserialize;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGateway {
    zorgkantoren: Vec<String>,
    code: Option<String>,
}

impl RawGateway {
    pub(super) fn build(&self) -> Result<Gateway, ConfigError> {
        let zorgkantoren = self
            .zorgkantoren
            .iter()
            .map(|z| zk("[gateway]", "zorgkantoren", z))
            .collect::<Result<Vec<_>, _>>()?;
        if zorgkantoren.is_empty() {
            // Every message would be answered 0108: refuse to start instead.
            return Err(ConfigError::at(
                "[gateway]",
                "zorgkantoren",
                "is empty: name at least one zorgkantoor code this gateway serves",
            ));
        }
        let code = match &self.code {
            Some(c) => zk("[gateway]", "code", c)?,
            // Answers for nobody's zorgkantoor still need a sender.
            None => ZorgkantoorCode::parse("0000").expect("valid literal"),
        };
        Ok(Gateway { zorgkantoren, code })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
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

impl RawLimits {
    /// 0 is how an operator writes "no limit" in TOML.
    pub(super) fn build(&self) -> Limits {
        Limits {
            max_message_bytes: (self.max_message_bytes > 0).then_some(self.max_message_bytes),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIndications {
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

impl RawIndications {
    pub(super) fn build(&self) -> Indications {
        Indications {
            require_start_of_delivery: self.require_start_of_delivery,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(text: &str) -> Result<Gateway, ConfigError> {
        toml::from_str::<RawGateway>(text).unwrap().build()
    }

    #[test]
    fn zorgkantoor_codes_are_checked_and_the_sender_defaults() {
        let g = gateway("zorgkantoren = [\"5509\"]").unwrap();
        assert_eq!(g.zorgkantoren.len(), 1);
        assert_eq!(g.code.to_string(), "0000");
        let e = gateway("zorgkantoren = [\"55\"]").unwrap_err();
        assert_eq!(
            e.to_string(),
            "[gateway] key `zorgkantoren`: `55` is not a 4-digit zorgkantoor code"
        );
        let e = gateway("zorgkantoren = [\"5509\"]\ncode = \"x\"").unwrap_err();
        assert!(e.to_string().starts_with("[gateway] key `code`"), "{e}");
        let e = gateway("zorgkantoren = []").unwrap_err();
        assert_eq!(
            e.to_string(),
            "[gateway] key `zorgkantoren`: is empty: name at least one zorgkantoor code this gateway serves"
        );
    }

    #[test]
    fn zero_bytes_is_no_limit() {
        let limits = |t: &str| toml::from_str::<RawLimits>(t).unwrap().build();
        assert_eq!(limits("").max_message_bytes, Some(256 * 1024 * 1024));
        assert_eq!(limits("max_message_bytes = 0").max_message_bytes, None);
        assert!(
            toml::from_str::<RawIndications>("")
                .unwrap()
                .build()
                .require_start_of_delivery
        );
    }
}
