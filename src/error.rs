//! The one error type that crosses a module boundary. It says whose fault a
//! failure is and whether trying again can help, because that is what both
//! faces need to answer: the server maps it to an HTTP status in
//! `server::response`, the command line to an exit status in `cli`.
//!
//! What a sender wrote wrong inside a declaration is never an [`Error`]: it
//! is a retourcode in the answer. An [`Error`] means no answer can be given.

use std::fmt;

/// Whose fault a failure is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The caller asked for something that cannot be done: a missing file,
    /// a bad flag, a malformed registry message, a request outside the API.
    Sender,
    /// The configuration cannot be used (found at start-up).
    Config,
    /// Our own storage failed: the ledger, the registry store, the disk.
    Backend,
    /// A zorgkantoor system we deliver to failed.
    Upstream,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Sender => "sender",
            Fault::Config => "config",
            Fault::Backend => "backend",
            Fault::Upstream => "upstream",
        }
    }
}

/// A failure with its fault, whether a retry can help, and what was being
/// done (outermost first, as the message reads).
#[derive(Debug)]
pub struct Error {
    fault: Fault,
    retry: bool,
    message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(fault: Fault, retry: bool, message: impl Into<String>) -> Self {
        Self {
            fault,
            retry,
            message: message.into(),
        }
    }

    /// The caller's mistake: sending the same again fails the same way.
    pub fn sender(message: impl Into<String>) -> Self {
        Self::new(Fault::Sender, false, message)
    }

    /// An unusable configuration.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Fault::Config, false, message)
    }

    /// Our storage failed; it may well work again in a moment.
    pub fn backend(message: impl Into<String>) -> Self {
        Self::new(Fault::Backend, true, message)
    }

    /// An upstream failed; it may well work again later.
    pub fn upstream(message: impl Into<String>) -> Self {
        Self::new(Fault::Upstream, true, message)
    }

    /// The same failure, said with what was being done: `what: message`.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// Overrides whether a retry can help (a full disk will not empty itself).
    pub fn with_retry(mut self, retry: bool) -> Self {
        self.retry = retry;
        self
    }

    pub fn fault(&self) -> Fault {
        self.fault
    }

    pub fn retryable(&self) -> bool {
        self.retry
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// A read or write on our own files or connections failed.
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::backend(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_reads_outermost_first_and_keeps_the_fault() {
        let e = Error::backend("disk full")
            .with_retry(false)
            .context("ledger")
            .context("recording B-1");
        assert_eq!(e.to_string(), "recording B-1: ledger: disk full");
        assert_eq!(e.fault(), Fault::Backend);
        assert!(!e.retryable());
        assert!(Error::upstream("timeout").retryable());
        assert!(!Error::sender("no such file").retryable());
    }
}
