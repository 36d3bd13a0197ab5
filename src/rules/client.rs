//! 02xx: checks on the client that reject every line of that client.

use crate::model::declaration::{Client, Header};
use crate::retourcode::Retourcode;

/// The client codes that every line of `client` carries.
pub fn check(header: &Header, client: &Client) -> Vec<Retourcode> {
    let mut codes = Vec::new();
    if !client.bsn.passes_elfproef() {
        codes.push(Retourcode::R0201);
    }
    let born_later = client.geboortedatum > header.bericht.dagtekening
        || client
            .prestaties
            .iter()
            .any(|p| client.geboortedatum > p.periode.from);
    if born_later {
        codes.push(Retourcode::R0202);
    }
    codes
}
