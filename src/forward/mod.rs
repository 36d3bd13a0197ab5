//! Forwarding accepted lines to the zorgkantoor (one Declaratiebericht per
//! route, `messages.md` "Forwarding"). This is the seam only: the server calls
//! a [`Forwarder`] after a real (non-test) message was checked and not
//! rejected whole. The upstream client, the durable outbox and retries (0901
//! when upstream is unreachable) come with later work.

use crate::check::Outcome;
use std::io;

/// Takes the accepted lines of a checked message further. Runs on a blocking
/// thread, after the check and before the answer is written.
pub trait Forwarder: Send + Sync {
    /// `Err` when the lines could not even be stored for later delivery.
    /// (0901, "stored, will be delivered", is a warning the answer must carry
    /// without rejecting the message: `Outcome::message_codes` today means
    /// "rejected whole", so it needs its own field when this is wired.)
    fn forward(&self, outcome: &mut Outcome) -> io::Result<()>;
}

/// Forwards nothing: the gateway runs without an upstream.
pub struct NoUpstream;

impl Forwarder for NoUpstream {
    fn forward(&self, _: &mut Outcome) -> io::Result<()> {
        Ok(())
    }
}
