//! Who may do what: the one table of roles per endpoint, decided right
//! after authentication and before anything is looked up.
//!
//! | endpoint | aanbieder (one AGB) | zorgkantoor |
//! |---|---|---|
//! | `POST /declaraties`, `POST /testbatches` | as itself (an Afzender not its own: 0107) | 403 |
//! | `GET /declaraties/{id}[/antwoord]` | its own messages (`?agb=` absent or its own) | any, `?agb=` required |
//! | `POST /registry` | 403 | yes |
//! | `GET /ledger/nacalculatie`, `GET /ledger/report`, `GET /ledger/onderwijstijd`, `GET /ledger/absence`, `GET /ledger/herschikking` | its own rows only (`?agb=` absent or its own) | every row, or `?agb=` one provider's |
//! | `POST /ledger/absence` | rows of its own AGB only (a row of another: 403) | any provider's rows |
//! | `POST /ledger/herschikking/akkoord` | its own row (its side) | the named provider's row (its side; `?agb=` required) |
//! | `POST /ledger/herschikking/definitief` | 403 | yes, `?agb=` required |
//! | `/metrics`, `/healthz`, `/readyz` | open (bind `[server] metrics_listen` to an internal network) | open |
//!
//! A provider that asks for another AGB gets 403 whether or not that AGB or
//! its data exist, and before any lookup: the answer tells it nothing.
//! The match in [`authorize`] is exhaustive and has no catch-all that
//! allows: an endpoint added later does not compile until its roles are
//! decided here.

use super::endpoint::Endpoint;
use super::response::{plain, RespBody};
use crate::config::Role;
use crate::sinks::ledger::report::LedgerReport;
use crate::types::AgbCode;
use hyper::{Response, StatusCode};

/// Whose data a permitted request may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One provider's (the caller's own, or the one the zorgkantoor named).
    Agb(AgbCode),
    /// Everything (the zorgkantoor without `?agb=`).
    All,
}

impl Scope {
    pub fn agb(&self) -> Option<&AgbCode> {
        match self {
            Scope::Agb(a) => Some(a),
            Scope::All => None,
        }
    }
}

/// Why a request is not allowed.
#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    /// 403: not for this role, or another provider's data.
    Forbidden,
    /// 400: the zorgkantoor must say which provider (`?agb=`).
    AgbRequired,
}

impl Denied {
    pub fn response(&self) -> Response<RespBody> {
        match self {
            Denied::Forbidden => plain(StatusCode::FORBIDDEN, "forbidden\n"),
            Denied::AgbRequired => plain(
                StatusCode::BAD_REQUEST,
                "query parameter `agb` (8 digits) is required\n",
            ),
        }
    }
}

/// The `agb` query parameter, raw.
fn requested_agb(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "agb")
        .map(|(_, v)| v)
}

/// A provider's scope: its own AGB, when it asked for nothing else.
fn own(agb: &AgbCode, asked: Option<&str>) -> Result<Scope, Denied> {
    match asked {
        None => Ok(Scope::Agb(agb.clone())),
        Some(a) if a == agb.as_str() => Ok(Scope::Agb(agb.clone())),
        Some(_) => Err(Denied::Forbidden),
    }
}

/// The zorgkantoor naming one provider (`required`: it must).
fn named(asked: Option<&str>, required: bool) -> Result<Scope, Denied> {
    match asked {
        None if required => Err(Denied::AgbRequired),
        None => Ok(Scope::All),
        Some(a) => AgbCode::parse(a).map(Scope::Agb).ok_or(Denied::AgbRequired),
    }
}

/// May `role` call `ep` (with `query`), and on whose data.
pub fn authorize(ep: Endpoint, role: &Role, query: Option<&str>) -> Result<Scope, Denied> {
    let asked = requested_agb(query);
    match (ep, role) {
        (Endpoint::Declaraties | Endpoint::Testbatches, Role::Aanbieder(a)) => own(a, None),
        (Endpoint::Declaraties | Endpoint::Testbatches, Role::Zorgkantoor) => {
            Err(Denied::Forbidden)
        }
        (Endpoint::Message, Role::Aanbieder(a)) => own(a, asked),
        (Endpoint::Message, Role::Zorgkantoor) => named(asked, true),
        (Endpoint::Registry, Role::Zorgkantoor) => Ok(Scope::All),
        (Endpoint::Registry, Role::Aanbieder(_)) => Err(Denied::Forbidden),
        // The network's notifications reach the zorgkantoor, not a provider.
        (Endpoint::Notificaties, Role::Zorgkantoor) => Ok(Scope::All),
        (Endpoint::Notificaties, Role::Aanbieder(_)) => Err(Denied::Forbidden),
        (
            Endpoint::LedgerNacalculatie
            | Endpoint::LedgerReport
            | Endpoint::LedgerOnderwijstijd
            | Endpoint::LedgerAbsence
            | Endpoint::LedgerHerschikking,
            Role::Aanbieder(a),
        ) => own(a, asked),
        (
            Endpoint::LedgerNacalculatie
            | Endpoint::LedgerReport
            | Endpoint::LedgerOnderwijstijd
            | Endpoint::LedgerAbsence
            | Endpoint::LedgerHerschikking,
            Role::Zorgkantoor,
        ) => named(asked, false),
        // A provider registers its own absence (each row's AGB is checked
        // against the token when the body is read); the zorgkantoor any.
        (Endpoint::LedgerAbsenceUpload, Role::Aanbieder(a)) => own(a, asked),
        (Endpoint::LedgerAbsenceUpload, Role::Zorgkantoor) => Ok(Scope::All),
        // Each side marks the ZiO row agreed: the provider its own, the
        // zorgkantoor for the provider it names.
        (Endpoint::LedgerHerschikkingAkkoord, Role::Aanbieder(a)) => own(a, asked),
        (Endpoint::LedgerHerschikkingAkkoord, Role::Zorgkantoor) => named(asked, true),
        // Making a herschikking definitive is the zorgkantoor's act, for
        // the provider it names.
        (Endpoint::LedgerHerschikkingDefinitief, Role::Zorgkantoor) => named(asked, true),
        (Endpoint::LedgerHerschikkingDefinitief, Role::Aanbieder(_)) => Err(Denied::Forbidden),
        // Open endpoints never get here; anything else is not allowed.
        (
            Endpoint::Metrics
            | Endpoint::Healthz
            | Endpoint::Readyz
            | Endpoint::Page
            | Endpoint::OpenApi
            | Endpoint::Other,
            Role::Zorgkantoor,
        ) => Ok(Scope::All),
        (
            Endpoint::Metrics
            | Endpoint::Healthz
            | Endpoint::Readyz
            | Endpoint::Page
            | Endpoint::OpenApi
            | Endpoint::Other,
            _,
        ) => Err(Denied::Forbidden),
    }
}

/// Keeps the rows of one provider only.
pub fn restrict(report: &mut LedgerReport, agb: &AgbCode) {
    let a = agb.as_str();
    report.nacalculatie.retain(|r| r.agb == a);
    report.per_aanbieder.retain(|r| r.agb == a);
    report.totaal_budgetgarantie_cents = report
        .nacalculatie
        .iter()
        .map(|r| r.budgetgarantie_cents)
        .sum();
    report.volumes.retain(|r| r.agb == a);
    report.volumes_by_school_month.retain(|r| r.agb == a);
    report.regular_in_school_time.retain(|r| r.agb == a);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Role {
        Role::Aanbieder(AgbCode::parse(s).unwrap())
    }

    #[test]
    fn the_table() {
        let me = p("11110001");
        let zk = Role::Zorgkantoor;
        let own = Ok(Scope::Agb(AgbCode::parse("11110001").unwrap()));
        let f = Err(Denied::Forbidden);
        assert_eq!(authorize(Endpoint::Declaraties, &me, None), own);
        assert_eq!(authorize(Endpoint::Declaraties, &zk, None), f);
        assert_eq!(authorize(Endpoint::Testbatches, &zk, None), f);
        assert_eq!(authorize(Endpoint::Registry, &me, None), f);
        assert_eq!(authorize(Endpoint::Registry, &zk, None), Ok(Scope::All));
        for ep in [
            Endpoint::Message,
            Endpoint::LedgerNacalculatie,
            Endpoint::LedgerReport,
        ] {
            assert_eq!(authorize(ep, &me, None), own);
            assert_eq!(authorize(ep, &me, Some("agb=11110001")), own);
            assert_eq!(authorize(ep, &me, Some("year=1&agb=22220002")), f);
            assert_eq!(authorize(ep, &me, Some("agb=x")), f);
            assert_eq!(
                authorize(ep, &zk, Some("agb=22220002")),
                Ok(Scope::Agb(AgbCode::parse("22220002").unwrap()))
            );
        }
        assert_eq!(
            authorize(Endpoint::Message, &zk, None),
            Err(Denied::AgbRequired)
        );
        assert_eq!(authorize(Endpoint::LedgerReport, &zk, None), Ok(Scope::All));
        assert_eq!(authorize(Endpoint::LedgerAbsence, &me, None), own);
        assert_eq!(
            authorize(Endpoint::LedgerAbsence, &me, Some("agb=22220002")),
            f
        );
        assert_eq!(authorize(Endpoint::LedgerAbsenceUpload, &me, None), own);
        assert_eq!(
            authorize(Endpoint::LedgerAbsenceUpload, &me, Some("agb=22220002")),
            f
        );
        assert_eq!(
            authorize(Endpoint::LedgerAbsenceUpload, &zk, None),
            Ok(Scope::All)
        );
        let akkoord = Endpoint::LedgerHerschikkingAkkoord;
        assert_eq!(authorize(akkoord, &me, None), own);
        assert_eq!(authorize(akkoord, &zk, None), Err(Denied::AgbRequired));
        assert_eq!(authorize(akkoord, &zk, Some("agb=11110001")), own);
        let definitief = Endpoint::LedgerHerschikkingDefinitief;
        assert_eq!(authorize(definitief, &me, Some("agb=11110001")), f);
        assert_eq!(authorize(definitief, &zk, None), Err(Denied::AgbRequired));
        assert_eq!(
            authorize(definitief, &zk, Some("agb=11110001&year=2024")),
            own
        );
    }
}
