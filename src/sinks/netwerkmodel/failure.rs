//! The registers and why a query to one gave no answer: shared by the
//! client and the token source.

use crate::error::Error;
use std::fmt;

/// The two registers the gateway reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Register {
    Indicatieregister,
    Bemiddelingsregister,
}

impl Register {
    pub fn name(self) -> &'static str {
        match self {
            Register::Indicatieregister => "indicatieregister",
            Register::Bemiddelingsregister => "bemiddelingsregister",
        }
    }
}

/// Why a query gave no answer.
#[derive(Debug)]
pub enum RegisterError {
    /// No connection, TLS refused, the connection broke: a retry may help.
    Transport(String),
    /// No answer within `timeout_ms`.
    Timeout(String),
    /// The register or the token endpoint said no (4xx): a retry will not help.
    Refused(String),
    /// The answer is not what the schema promises, or carries GraphQL errors.
    Answer(String),
    /// The client cannot be built from the configuration.
    Setup(String),
}

impl RegisterError {
    pub(super) fn transport(what: &str, e: reqwest::Error) -> Self {
        // The TLS reason sits deep in the source chain; an operator needs it.
        let mut msg = format!("{what}: {e}");
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        if e.is_timeout() {
            RegisterError::Timeout(msg)
        } else {
            RegisterError::Transport(msg)
        }
    }

    /// A retry may help (no connection, a timeout, a 5xx).
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            RegisterError::Transport(_) | RegisterError::Timeout(_)
        )
    }

    /// The metric's outcome label.
    pub(super) fn outcome(&self) -> &'static str {
        match self {
            RegisterError::Timeout(_) => "timeout",
            RegisterError::Refused(_) => "refused",
            _ => "error",
        }
    }
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterError::Transport(m) => write!(f, "register unreachable: {m}"),
            RegisterError::Timeout(m) => write!(f, "register timed out: {m}"),
            RegisterError::Refused(m) => write!(f, "register refused: {m}"),
            RegisterError::Answer(m) => write!(f, "register answer unusable: {m}"),
            RegisterError::Setup(m) => write!(f, "register client: {m}"),
        }
    }
}

impl std::error::Error for RegisterError {}

impl From<RegisterError> for Error {
    fn from(e: RegisterError) -> Self {
        let retry = e.retryable();
        match e {
            RegisterError::Setup(_) => Error::config(e.to_string()),
            _ => Error::upstream(e.to_string()).with_retry(retry),
        }
    }
}
