//! Layer 2: readers of untrusted bytes. Each streams its input with a reused
//! buffer and hands out one unit at a time (a declaration's client, an iWlz
//! message's client), so memory is bounded by the largest unit.

pub mod declaration;
pub mod iwlz;
pub mod xml;
