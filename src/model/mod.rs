//! Layer 1: the things the gateway reasons about, as plain values. Nothing
//! here reads bytes, touches a disk or knows a rule.

pub mod declaration;
pub mod iwlz;
pub mod regime;
pub mod verdict;
