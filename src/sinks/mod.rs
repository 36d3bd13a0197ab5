//! Layer 5: where a checked message goes. Each sink takes the verdicts and
//! decides nothing about them.

pub mod answer;
pub mod forward;
pub mod ledger;
pub mod netwerkmodel;
pub mod registry;
pub mod store;
