//! The ledger: an exact, idempotent record of what was agreed and what was
//! declared, and the budget guarantee that falls out of the two.
//!
//! One trait, [`LedgerStore`], with two backends: SQLite ([`sqlite`], the
//! embedded default, one file under the data directory) and PostgreSQL
//! ([`postgres`], several gateway instances share one ledger). Both keep the
//! same tables and the same SQL semantics:
//!
//! - `ledger_message`: one row per processed message, unique on
//!   (agb, message id): the next message with that id gets 0106;
//! - `ledger_line`: one row per accepted line, unique on (agb, referentie):
//!   recording is `INSERT .. ON CONFLICT DO NOTHING`, so a replay or a second
//!   process recording the same line records nothing twice;
//! - a credit line marks the line it names with a conditional
//!   `UPDATE .. WHERE credited_by IS NULL`: a line is cancelled once; a credit
//!   that finds its line already cancelled (by a concurrent process) is taken
//!   out again, so it never subtracts twice;
//! - `ledger_agreement` / `ledger_agreement_code`: imported agreements;
//! - `ledger_herschikking_event`: the herschikking's life, append only;
//! - `ledger_absence`: registered absence, one row per key, replaced by a
//!   later upload of the same key ([`absence`]).
//!
//! Everything of one message happens in one transaction.
//!
//! What is done with those tables is written once, so the backends cannot
//! drift apart: recording a message in `record.rs`, reading stored rows back
//! in `rows.rs`. A backend brings only its connection, its transactions and
//! its SQL dialect.
//!
//! Money is integer cents; volumes are integer base units (minutes for hour
//! products, dagdelen for dagdeel products), so every sum is exact.

pub mod absence;
pub mod absence_report;
pub mod agreements;
pub mod group;
pub mod herschikking;
mod pg_readers;
pub mod postgres;
mod record;
pub mod report;
mod rows;
pub mod sqlite;
mod sqlite_sql;

use crate::check::Outcome;
use crate::model::declaration::Header;
use crate::model::regime::{Agreement, Regime, Unit};
use crate::model::verdict::{LineVerdict, Route};
use crate::rules::history::PriorLine;
use crate::rules::History;
use crate::types::{
    AgbCode, Cents, Datum, DebetCredit, Eenheid, Period, ProductCode, Referentie, ZorgkantoorCode,
};
use chrono::Datelike;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

pub use agreements::{effective_agreements, parse_agreements_file};
pub use group::GroupCommit;
pub use herschikking::{import_agreements, import_agreements_by};
pub use report::{LedgerReport, OnderwijstijdReport, ReportSection};

/// Why the ledger could not do what was asked.
#[derive(Debug)]
pub enum LedgerError {
    Sqlite(rusqlite::Error),
    Postgres(::postgres::Error),
    Io(io::Error),
    /// Input that cannot be stored (an import file, a line value).
    Invalid(String),
    /// A concurrent transaction got in the way (deadlock, serialization
    /// failure): running the same recording again is safe and will succeed.
    Retry(String),
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerError::Sqlite(e) => write!(f, "ledger (SQLite): {e}"),
            LedgerError::Postgres(e) => write!(f, "ledger (PostgreSQL): {e}"),
            LedgerError::Io(e) => write!(f, "ledger: {e}"),
            LedgerError::Invalid(m) => write!(f, "ledger: {m}"),
            LedgerError::Retry(m) => write!(f, "ledger: concurrent update, try again: {m}"),
        }
    }
}

impl std::error::Error for LedgerError {}

impl From<rusqlite::Error> for LedgerError {
    fn from(e: rusqlite::Error) -> Self {
        LedgerError::Sqlite(e)
    }
}

impl From<::postgres::Error> for LedgerError {
    fn from(e: ::postgres::Error) -> Self {
        use ::postgres::error::SqlState;
        match e.code() {
            Some(c)
                if *c == SqlState::T_R_DEADLOCK_DETECTED
                    || *c == SqlState::T_R_SERIALIZATION_FAILURE =>
            {
                LedgerError::Retry(e.to_string())
            }
            _ => LedgerError::Postgres(e),
        }
    }
}

impl From<io::Error> for LedgerError {
    fn from(e: io::Error) -> Self {
        LedgerError::Io(e)
    }
}

pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

/// The message whose accepted lines are recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedMessage {
    /// Afzender: the provider.
    pub agb: AgbCode,
    /// Ontvanger: the zorgkantoor.
    pub zorgkantoor: ZorgkantoorCode,
    /// BerichtIdentificatie/Identificatie.
    pub identificatie: Referentie,
    pub dagtekening: Datum,
    /// The day of receipt.
    pub received: Datum,
    /// What the provider was told, kept with the message.
    pub receipt: Receipt,
}

/// What a provider was told about a message: kept for
/// `GET /declaraties/{id}` and for a byte-identical resend.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Receipt {
    /// Unix milliseconds.
    pub received_at_ms: i64,
    /// SHA-256 of the message's bytes, lower-case hex.
    pub request_sha256: Option<String>,
    pub verwerking: String,
    pub accepted_zio: u64,
    pub accepted_regulier: u64,
    pub rejected: u64,
    /// The answer as it was given (`sinks::answer::StoredAnswer`), when kept.
    pub answer: Option<Vec<u8>>,
}

impl RecordedMessage {
    pub fn from_header(header: &Header, received: Datum) -> Self {
        Self {
            agb: header.afzender.clone(),
            zorgkantoor: header.ontvanger.clone(),
            identificatie: header.bericht.identificatie.clone(),
            dagtekening: header.bericht.dagtekening,
            received,
            receipt: Receipt::default(),
        }
    }
}

/// One message for [`LedgerStore::record_batch`]: its lines are read while
/// the batch's transaction is open.
pub struct RecordJob {
    pub msg: RecordedMessage,
    pub plan: Option<ForwardPlan>,
    pub lines: Box<dyn Iterator<Item = io::Result<LineVerdict>> + Send>,
    /// Recorded in a savepoint of its own (and so is every other job of its
    /// batch): set when it is sent again after its batch was rolled back.
    pub alone: bool,
}

/// What the delivery worker's attempts came to, recorded in the group
/// writer's next commit ([`LedgerStore::record_batch`]): rows to mark
/// delivered, and rows to try again later.
#[derive(Clone, Debug, Default)]
pub struct Outcomes {
    pub delivered: Vec<Lease>,
    pub retries: Vec<Retry>,
    pub at_ms: i64,
}

/// A failed attempt: the row is due again at `next_attempt_ms`.
#[derive(Clone, Debug)]
pub struct Retry {
    pub lease: Lease,
    pub next_attempt_ms: i64,
    pub error: String,
}

impl Outcomes {
    /// How many rows.
    pub fn len(&self) -> usize {
        self.delivered.len() + self.retries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What [`LedgerStore::record_batch`] came to: per job, and per set of
/// outcomes how many of its rows were still pending under their lease.
pub struct BatchResults {
    pub recorded: Vec<Result<RecordSummary>>,
    pub marked: Vec<Result<u64>>,
}

/// A processed message as its sender may see it again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageStatus {
    pub agb: AgbCode,
    pub identificatie: String,
    pub zorgkantoor: String,
    pub dagtekening: Datum,
    pub received: Datum,
    pub receipt: Receipt,
    /// Lines newly recorded (duplicates of earlier lines not counted).
    pub lines_recorded: u64,
    /// Its forwarded messages, by route.
    pub forwarded: Vec<OutboxRow>,
}

/// What one call of [`LedgerStore::record_message`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordSummary {
    /// The message id was already recorded for this Afzender (a replay, or a
    /// concurrent process was first): nothing of this message was recorded.
    pub already_processed: bool,
    /// Accepted lines newly recorded.
    pub inserted: u64,
    /// Accepted lines whose (agb, referentie) was already in the ledger.
    pub duplicates: u64,
    /// Credit lines that cancelled the line they name.
    pub credits_applied: u64,
    /// Credit lines not recorded because the line they name was already
    /// cancelled, or is not in the ledger (a concurrent process got there first).
    pub credits_void: u64,
    /// Forwarded messages queued in the outbox (0, 1 or 2).
    pub outbox_rows: u64,
    /// The queued rows as the store numbered them, where the backend says
    /// (SQLite): what [`handed_rows`] hands to the delivery worker.
    pub fresh: [Option<FreshRow>; 2],
    /// The forwarded lines of a small message, by route, as the outbox's
    /// line query would read them back: handed to the worker with the rows,
    /// so it renders without reading the store. Empty for a larger message.
    pub held_lines: Vec<(Route, ForwardLine)>,
}

/// The most lines of one message kept in memory for its delivery
/// ([`RecordSummary::held_lines`]); a larger message is read from the store.
/// Small, because the rows wait in a bounded queue while the worker is
/// behind (a hanging upstream): at most 4,096 rows of 8 lines of about
/// 250 bytes, some 8 MB, where 64 lines would allow 65 MB.
pub const HELD_LINES: usize = 8;

/// An outbox row the recording inserted: its id, route and line count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreshRow {
    pub id: i64,
    pub route: Route,
    pub lines: u64,
}

/// The outbox rows a committed recording of the message of `header`
/// inserted under `plan`, as a claim would have returned them: claimed
/// under the plan's token until its `held_until_ms`, so no other claim
/// takes them meanwhile and the delivery worker can send them at once.
pub fn handed_rows(header: &Header, plan: &ForwardPlan, sum: &RecordSummary) -> Vec<OutboxRow> {
    sum.fresh
        .iter()
        .flatten()
        .map(|f| OutboxRow {
            id: f.id,
            agb: header.afzender.clone(),
            message_id: header.bericht.identificatie.clone(),
            route: f.route,
            forward_id: forward_id(header.bericht.identificatie.as_str(), f.route),
            zorgkantoor: header.ontvanger.clone(),
            dagtekening: header.bericht.dagtekening,
            periode: header.periode,
            lines: f.lines,
            state: "pending".into(),
            attempts: 0,
            next_attempt_at: plan.held_until_ms,
            delivered_at: None,
            last_error: None,
            created_at: plan.now_ms,
            claim: Some(plan.holder),
            held_lines: (!sum.held_lines.is_empty()).then(|| {
                Arc::new(
                    sum.held_lines
                        .iter()
                        .filter(|(route, _)| *route == f.route)
                        .map(|(_, l)| l.clone())
                        .collect(),
                )
            }),
        })
        .collect()
}

/// What [`LedgerStore::record_message_forwarding`] needs to queue the
/// forwarded messages (`messages.md` "Forwarding") in the outbox, in the same
/// transaction as the lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardPlan {
    /// The incoming message's Declaratieperiode (forwarded unchanged).
    pub periode: Period,
    /// Queue the ZIO lines (the ZIO upstream is configured).
    pub zio: bool,
    /// Queue the REGULIER lines.
    pub regulier: bool,
    /// Unix milliseconds: when the row is recorded.
    pub now_ms: i64,
    /// The recording request holds the new rows until then (it tries the
    /// first delivery itself); the worker takes them after that.
    pub held_until_ms: i64,
    /// The token the new rows are held under: the recording instance's
    /// ([`ClaimScope::Message`] with the same `holder` may take them while
    /// held; another instance may not).
    pub holder: i64,
    /// The new rows go to the delivery worker in memory after the commit:
    /// a small message's lines go with them ([`RecordSummary::held_lines`]).
    pub hands_over: bool,
}

/// The forwarded message's Identificatie: `<original>-Z` (ZIO) or
/// `<original>-R` (REGULIER) when that fits a Referentie (20 characters);
/// else `H`, the first 17 hex digits (upper case) of the SHA-256 of the
/// original, and the suffix: deterministic, 20 characters.
pub fn forward_id(original: &str, route: Route) -> String {
    let suffix = match route {
        Route::Zio => "-Z",
        _ => "-R",
    };
    if original.len() + suffix.len() <= 20 {
        return format!("{original}{suffix}");
    }
    let digest = Sha256::digest(original.as_bytes());
    format!("H{}{suffix}", &hex::encode_upper(digest)[..17])
}

/// One forwarded message waiting in (or delivered from) the outbox: one per
/// (agb, message id, route) with at least one newly recorded line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub agb: AgbCode,
    /// The incoming message's Identificatie.
    pub message_id: Referentie,
    pub route: Route,
    /// The forwarded message's Identificatie ([`forward_id`]).
    pub forward_id: String,
    pub zorgkantoor: ZorgkantoorCode,
    pub dagtekening: Datum,
    pub periode: Period,
    /// Lines recorded for this route.
    pub lines: u64,
    /// `pending` or `delivered`.
    pub state: String,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// Unix milliseconds.
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
    /// Unix milliseconds: when the row was recorded.
    pub created_at: i64,
    /// The token of the claim that handed out this row; `None` when it was
    /// only read.
    pub claim: Option<i64>,
    /// Its lines, when the recording handed them over in memory
    /// ([`RecordSummary::held_lines`]); `None`: read from the store.
    pub held_lines: Option<Arc<Vec<ForwardLine>>>,
}

impl OutboxRow {
    pub fn delivered(&self) -> bool {
        self.state == "delivered"
    }

    /// The lease this row was claimed under, to conclude it with.
    pub fn lease(&self) -> Option<Lease> {
        self.claim.map(|token| Lease { id: self.id, token })
    }
}

/// A claimed outbox row: its id and the token of the claim. Concluding
/// (delivered, retry) applies only while the row still carries this token:
/// a worker whose lease ran out (paused, slow) and whose row was claimed
/// again meanwhile, by this instance or another, concludes nothing; the
/// new claimant does. A lease that ran out with nobody claiming the row
/// since still concludes (the token is unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    pub id: i64,
    pub token: i64,
}

/// A fresh claim token.
pub fn claim_token() -> i64 {
    rand::random()
}

/// Which outbox rows [`LedgerStore::outbox_claim`] takes.
#[derive(Clone, Copy, Debug)]
pub enum ClaimScope<'a> {
    /// Pending rows that are due and not held, oldest first, at most `limit`.
    Due { limit: u32 },
    /// Every pending row of one message that is not held, or held under
    /// `holder` (the instance that recorded it, [`ForwardPlan::holder`]): a
    /// row another instance holds under a live lease is left alone.
    Message {
        agb: &'a AgbCode,
        message_id: &'a Referentie,
        holder: i64,
    },
}

/// One recorded line as it is forwarded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardLine {
    pub bsn: String,
    pub geboortedatum: Datum,
    pub besluitnummer: u64,
    pub referentie: String,
    pub vorig_referentie: Option<String>,
    /// The code as forwarded (after a remap).
    pub product_code: String,
    pub period_from: Datum,
    pub period_to: Datum,
    pub volume: u64,
    /// `01`, `04` or `16`.
    pub eenheid: String,
    pub tarief: i64,
    pub bedrag: i64,
    /// `D` or `C`.
    pub debet_credit: String,
    pub onderwijstijd: Option<bool>,
    pub brin: Option<String>,
}

impl ForwardLine {
    /// The line as the ledger's `OUTBOX_LINES` query reads it back once recorded.
    pub fn of(l: &LedgerLine, geboortedatum: Datum, besluitnummer: u64) -> Self {
        Self {
            bsn: l.bsn.clone(),
            geboortedatum,
            besluitnummer,
            referentie: l.referentie.as_str().to_owned(),
            vorig_referentie: l.vorig_referentie.as_ref().map(|r| r.as_str().to_owned()),
            product_code: l.product_code.as_str().to_owned(),
            period_from: l.period_from,
            period_to: l.period_to,
            volume: l.volume,
            eenheid: l.eenheid.code().to_owned(),
            tarief: l.tarief as i64,
            bedrag: l.bedrag as i64,
            debet_credit: l.debet_credit.code().to_owned(),
            onderwijstijd: l.onderwijstijd,
            brin: l.brin.clone(),
        }
    }
}

/// One accepted line as the ledger stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerLine {
    pub agb: AgbCode,
    pub referentie: Referentie,
    pub message_id: Referentie,
    pub zorgkantoor: ZorgkantoorCode,
    pub bsn: String,
    pub brin: Option<String>,
    pub onderwijstijd: Option<bool>,
    pub route: Route,
    /// The code as forwarded.
    pub product_code: ProductCode,
    /// The code as declared (differs after a remap).
    pub declared_code: ProductCode,
    pub period_from: Datum,
    pub period_to: Datum,
    /// Year and month of Begindatum.
    pub year: i32,
    pub month: u32,
    pub volume: u64,
    pub eenheid: Eenheid,
    /// `uur` or `dagdeel`, from the Eenheid.
    pub unit: Unit,
    /// Volume in base units (minutes for hours, dagdelen), negative on a credit.
    pub base_volume: i64,
    pub tarief: Cents,
    pub bedrag: Cents,
    /// Bedrag, negative on a credit.
    pub bedrag_signed: i64,
    pub debet_credit: DebetCredit,
    pub vorig_referentie: Option<Referentie>,
    /// The line's retourcodes (warnings), e.g. `0505,0506`.
    pub codes: String,
    /// The credit line that cancelled this line.
    pub credited_by: Option<Referentie>,
}

/// Minutes per base unit of an hour product.
pub const MINUTES_PER_HOUR: i64 = 60;

pub fn unit_of(eenheid: Eenheid) -> Unit {
    match eenheid {
        Eenheid::Minuut | Eenheid::Uur => Unit::Uur,
        Eenheid::Dagdeel => Unit::Dagdeel,
    }
}

pub fn unit_str(unit: Unit) -> &'static str {
    match unit {
        Unit::Uur => "uur",
        Unit::Dagdeel => "dagdeel",
    }
}

pub fn unit_parse(s: &str) -> Option<Unit> {
    match s {
        "uur" => Some(Unit::Uur),
        "dagdeel" => Some(Unit::Dagdeel),
        _ => None,
    }
}

/// A volume in base units (minutes or dagdelen) in the agreement's unit:
/// hours (exact as a decimal up to 28 digits) or dagdelen.
pub fn base_to_unit(base: i64, unit: Unit) -> Decimal {
    match unit {
        Unit::Uur => Decimal::from(base) / Decimal::from(MINUTES_PER_HOUR),
        Unit::Dagdeel => Decimal::from(base),
    }
}

pub fn route_parse(s: &str) -> Route {
    match s {
        "ZIO" => Route::Zio,
        "REGULIER" => Route::Regulier,
        _ => Route::Afgewezen,
    }
}

impl LedgerLine {
    /// The ledger row for an accepted verdict of `msg`.
    pub fn from_verdict(msg: &RecordedMessage, v: &LineVerdict) -> Self {
        let p = &v.prestatie;
        let base = match p.eenheid {
            Eenheid::Uur => p.volume as i64 * MINUTES_PER_HOUR,
            Eenheid::Minuut | Eenheid::Dagdeel => p.volume as i64,
        };
        let sign = match p.debet_credit {
            DebetCredit::Debet => 1,
            DebetCredit::Credit => -1,
        };
        let codes: Vec<&str> = v.codes.iter().map(|c| c.code()).collect();
        Self {
            agb: msg.agb.clone(),
            referentie: p.referentie.clone(),
            message_id: msg.identificatie.clone(),
            zorgkantoor: msg.zorgkantoor.clone(),
            bsn: v.bsn.as_str().to_owned(),
            brin: p.brin.as_ref().map(|b| b.as_str().to_owned()),
            onderwijstijd: p.onderwijstijd,
            route: v.route,
            product_code: v.product_code.clone(),
            declared_code: p.product.clone(),
            period_from: p.periode.from,
            period_to: p.periode.to,
            year: p.periode.from.year(),
            month: p.periode.from.month(),
            volume: p.volume,
            eenheid: p.eenheid,
            unit: unit_of(p.eenheid),
            base_volume: sign * base,
            tarief: p.tarief,
            bedrag: p.bedrag,
            bedrag_signed: sign * p.bedrag as i64,
            debet_credit: p.debet_credit,
            vorig_referentie: p.vorig_referentie.clone(),
            codes: codes.join(","),
            credited_by: None,
        }
    }
}

/// One (pair, code, school, month) aggregate for the reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeRow {
    pub agb: AgbCode,
    pub zorgkantoor: ZorgkantoorCode,
    pub code: ProductCode,
    pub unit: Unit,
    /// `None` when grouped over every school.
    pub brin: Option<String>,
    /// 1-12; `None` when grouped over the year.
    pub month: Option<u32>,
    /// Net lines (debet lines not cancelled).
    pub lines: u64,
    /// Net volume in base units (debet minus credit).
    pub base_volume: i64,
    /// Net amount (debet minus credit).
    pub amount_cents: i64,
    /// Distinct BSNs behind the debet lines that were not cancelled.
    pub pupils: u64,
}

/// Which lines a volume aggregate counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VolumeFilter {
    /// Accepted ZiO lines (route ZIO).
    Zio,
    /// Accepted regular lines that carry 0505 (regular code in school time
    /// by a participant).
    RegularInSchoolTime,
}

/// Grouping of a volume aggregate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VolumeGrouping {
    /// Per pair and code over the whole year.
    Year,
    /// Per pair, code, school and month.
    SchoolMonth,
}

/// The ledger. Every method is one short transaction or one query; the
/// implementations are `Send + Sync` (a connection behind a mutex), so one
/// store serves a whole process.
pub trait LedgerStore: CheckReads + Send + Sync {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Records one message that was not rejected whole, in one transaction:
    /// the message id (unique per Afzender: 0106 next time; when it is
    /// already there nothing is recorded), every accepted line of `lines`
    /// (rejected ones are skipped) once per (agb, referentie), and the
    /// credits. Call it also when every line was rejected: the message id
    /// then still counts as processed.
    fn record_message(
        &self,
        msg: &RecordedMessage,
        lines: &mut dyn Iterator<Item = io::Result<LineVerdict>>,
    ) -> Result<RecordSummary> {
        self.record_message_forwarding(msg, None, lines)
    }

    /// [`LedgerStore::record_message`], and with a `plan` in the same
    /// transaction one outbox row per queued route with newly recorded lines
    /// (state pending, attempts 0, held by the caller until
    /// `plan.held_until_ms`).
    fn record_message_forwarding(
        &self,
        msg: &RecordedMessage,
        plan: Option<&ForwardPlan>,
        lines: &mut dyn Iterator<Item = io::Result<LineVerdict>>,
    ) -> Result<RecordSummary>;

    /// Records several messages in one transaction (one sync to disk). A
    /// replay of one leaves the others as they are. A failure of one rolls
    /// the batch back: that job gets its error, the others and the marks
    /// [`LedgerError::Retry`], and are sent again; a batch holding a job
    /// marked `alone` puts each job and mark in a savepoint of its own, so
    /// that the failing one leaves the others as they are. A failed commit
    /// fails every one (nothing of the batch was recorded) with
    /// [`LedgerError::Retry`].
    ///
    /// In the same transaction, each of `marks` concludes its rows (as
    /// [`LedgerStore::outbox_delivered_many`] and
    /// [`LedgerStore::outbox_retry`]): the outbox pages the recordings
    /// write anyway carry them to disk, instead of transactions of their
    /// own beside the writer (one per failed row, during an outage).
    fn record_batch(&self, jobs: &mut [RecordJob], marks: &[Outcomes]) -> BatchResults;

    /// Whether claims and reads of forwarded lines are short in-process work
    /// that never waits for the network or for the writer (SQLite: a WAL
    /// read and a map of leases), so the delivery worker may do them on the
    /// async runtime instead of handing them to a blocking thread.
    fn reads_are_local(&self) -> bool {
        false
    }

    /// Takes outbox rows for delivery: holds them until `now_ms + lease_ms`
    /// (no other worker, in this process or another, takes them meanwhile;
    /// PostgreSQL: `FOR UPDATE SKIP LOCKED`), each under a fresh token
    /// ([`OutboxRow::lease`]). Ordered by id.
    fn outbox_claim(
        &self,
        scope: ClaimScope<'_>,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<OutboxRow>>;

    /// Streams the recorded lines of the row's message and route, in the
    /// order received, to `each`.
    fn outbox_lines(
        &self,
        row: &OutboxRow,
        each: &mut dyn FnMut(ForwardLine) -> io::Result<()>,
    ) -> Result<()>;

    /// Marks a row delivered (the upstream said 2xx, or the spool file is
    /// in place). `false` when it was delivered already or claimed again
    /// since ([`Lease`]).
    fn outbox_delivered(&self, lease: Lease, now_ms: i64) -> Result<bool>;

    /// Counts a failed attempt and releases the row until `next_attempt_ms`;
    /// `false` when the row was concluded or claimed again since.
    fn outbox_retry(&self, lease: Lease, next_attempt_ms: i64, error: &str) -> Result<bool>;

    /// Marks rows delivered in one transaction; how many were pending under
    /// their lease.
    fn outbox_delivered_many(&self, leases: &[Lease], now_ms: i64) -> Result<u64>;

    /// Gives claimed rows back before their leases end, without counting
    /// an attempt: due again for the next claim (rows a worker held while
    /// their route was down and had no room to keep). A row claimed again
    /// since, under another token, is left alone; how many were given back.
    fn outbox_unlease(&self, leases: &[Lease]) -> Result<u64>;

    /// Rows not delivered yet.
    fn outbox_pending(&self) -> Result<u64>;

    /// Rows not delivered yet, and when the oldest of them was recorded.
    fn outbox_backlog(&self) -> Result<(u64, Option<i64>)>;

    /// Releases the leases a previous run held, where no other process can
    /// hold them (SQLite); a shared ledger keeps them until they end.
    fn outbox_release_stale_leases(&self) -> Result<u64> {
        Ok(0)
    }

    /// A processed message of this provider, with its forwarded messages.
    fn message_status(
        &self,
        agb: &AgbCode,
        identificatie: &Referentie,
    ) -> Result<Option<MessageStatus>>;

    /// The kept answer of a processed message, with the SHA-256 of the
    /// message's bytes.
    fn stored_answer(
        &self,
        agb: &AgbCode,
        identificatie: &Referentie,
    ) -> Result<Option<(Option<String>, Vec<u8>)>>;

    /// Forgets the answers kept since before `before_ms`; how many.
    fn purge_answers(&self, before_ms: i64) -> Result<u64>;

    /// Every outbox row, by id (audit, tests).
    fn outbox_rows(&self) -> Result<Vec<OutboxRow>>;

    /// The lookups of one message's check on one read snapshot, where the
    /// backend gains by it (SQLite: one read transaction and one warm page
    /// cache per message instead of one per lookup); `None`: each lookup on
    /// its own, as the store's [`CheckReads`].
    fn check_reads(&self) -> Option<Box<dyn CheckReads + '_>> {
        None
    }

    /// Stores (replaces) the agreement for its (agb, zorgkantoor, year).
    fn put_agreement(&self, agreement: &Agreement, source: &str) -> Result<()>;

    /// Imported agreements, all years or one.
    fn stored_agreements(&self, year: Option<i32>) -> Result<Vec<Agreement>>;

    /// Net realisatie per pair: debet minus credit of accepted lines with
    /// route ZIO whose Begindatum lies in `year`.
    fn realisatie(&self, year: i32) -> Result<Vec<(AgbCode, ZorgkantoorCode, i64)>>;

    /// Volume aggregates of `year` for the reports.
    fn volumes(
        &self,
        year: i32,
        filter: VolumeFilter,
        grouping: VolumeGrouping,
    ) -> Result<Vec<VolumeRow>>;

    /// Every recorded line of this provider, in recording order (audit,
    /// tests).
    fn lines_of(&self, agb: &AgbCode) -> Result<Vec<LedgerLine>>;

    /// Keeps one event in the life of a herschikking (append only).
    fn add_herschikking_event(&self, e: &herschikking::Event) -> Result<()>;

    /// The herschikking events of one year or all years, oldest first.
    fn herschikking_events(&self, year: Option<i32>) -> Result<Vec<herschikking::Event>>;

    /// Every recorded line whose Begindatum lies in the years `from..=to`,
    /// in recording order (the full nacalculatie, the school-time report).
    fn lines_in_years(&self, from: i32, to: i32) -> Result<Vec<LedgerLine>>;

    /// Stores validated absence rows in one transaction: each replaces the
    /// row of its key, volume 0 removes it. Returns how many stored rows
    /// changed (0 when the same rows are stored again).
    fn put_absence(&self, rows: &[absence::AbsenceRow], actor: &str, at_ms: i64) -> Result<u64>;

    /// The registered absence of one year.
    fn absence(&self, year: i32) -> Result<Vec<absence::AbsenceRow>>;

    /// Every (pair, BSN, year, month) with a standing ZiO debit line (debet,
    /// not credited) up to and including `to_year`: when pupils start and
    /// leave.
    fn pupil_months(&self, to_year: i32) -> Result<Vec<PupilMonth>>;
}

/// A pupil with a standing ZiO debit line of a pair in a month.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PupilMonth {
    pub agb: AgbCode,
    pub zorgkantoor: ZorgkantoorCode,
    pub bsn: String,
    pub year: i32,
    pub month: u32,
}

/// Opens the ledger a gateway is configured for: PostgreSQL when `pg_url` is
/// given (`postgres://` or `postgresql://`), else SQLite in
/// `DATA_DIR/gateway.db`.
pub fn open(data_dir: &Path, pg_url: Option<&str>) -> Result<Box<dyn LedgerStore>> {
    match pg_url {
        Some(url) => Ok(Box::new(postgres::PgLedger::connect(url)?)),
        None => Ok(Box::new(sqlite::SqliteLedger::open_data_dir(data_dir)?)),
    }
}

/// Records a checked message: nothing when it was rejected whole (it does
/// not count as processed), else the message id and its accepted lines.
/// Retries a recording a concurrent transaction got in the way of; the
/// accepted lines are read again from the outcome's spool each time.
pub fn record_outcome(store: &dyn LedgerStore, outcome: &mut Outcome) -> Result<RecordSummary> {
    record_outcome_forwarding(store, outcome, None)
}

/// [`record_outcome`], queueing the forwarded messages in the outbox when
/// `plan` is given (its `periode` is taken from the outcome's header).
pub fn record_outcome_forwarding(
    store: &dyn LedgerStore,
    outcome: &mut Outcome,
    plan: Option<&ForwardPlan>,
) -> Result<RecordSummary> {
    record_checked(store, None, outcome, plan, Receipt::default())
}

/// Records a checked message (nothing when it was rejected whole: it does
/// not count as processed) with what its sender was told, through the
/// group writer when there is one. Retries a recording a concurrent
/// transaction got in the way of; the accepted lines are read again from
/// the outcome's spool each time.
pub fn record_checked(
    store: &dyn LedgerStore,
    group: Option<&GroupCommit>,
    outcome: &mut Outcome,
    plan: Option<&ForwardPlan>,
    receipt: Receipt,
) -> Result<RecordSummary> {
    let Some((msg, plan)) = to_record(outcome, plan, receipt) else {
        return Ok(RecordSummary::default());
    };
    let mut attempt = 0;
    loop {
        let result = match group {
            Some(g) => g.record(RecordJob {
                msg: msg.clone(),
                plan: plan.clone(),
                lines: Box::new(outcome.accepted_lines()?),
                alone: attempt > 0,
            }),
            None => {
                let mut lines = outcome.accepted_lines()?;
                store.record_message_forwarding(&msg, plan.as_ref(), &mut lines)
            }
        };
        match result {
            Err(LedgerError::Retry(_)) if attempt < RETRIES => {
                attempt += 1;
                std::thread::sleep(retry_pause(attempt));
            }
            other => return other,
        }
    }
}

/// How often a recording or a set of delivery marks the writer answered
/// with [`LedgerError::Retry`] is sent again.
pub const RETRIES: u32 = 8;

/// The pause before the `attempt`th time (from 1): 10 ms, doubling to 160 ms.
pub fn retry_pause(attempt: u32) -> std::time::Duration {
    std::time::Duration::from_millis(5 << attempt.min(5))
}

/// The message and the forwarding plan (with the message's period) to
/// record for `outcome`; `None` when nothing is recorded (no header, or the
/// message rejected whole).
fn to_record(
    outcome: &Outcome,
    plan: Option<&ForwardPlan>,
    receipt: Receipt,
) -> Option<(RecordedMessage, Option<ForwardPlan>)> {
    let header = outcome.header.as_ref()?;
    if outcome.rejected_whole() {
        return None;
    }
    let mut msg = RecordedMessage::from_header(header, outcome.today);
    msg.receipt = receipt;
    let plan = plan.map(|p| ForwardPlan {
        periode: header.periode,
        ..p.clone()
    });
    Some((msg, plan))
}

/// What runs on the group writer after a recording committed.
pub type AfterCommit = std::sync::Arc<dyn Fn(&RecordSummary) + Send + Sync>;

/// [`record_checked`] through `group`, awaited by the calling task instead
/// of a thread blocked on the writer: the same job, the same retries.
/// `then` runs on the writer once the recording committed (once, whatever
/// became of the calling task), with the plan as recorded.
pub async fn record_checked_async(
    group: &GroupCommit,
    outcome: &mut Outcome,
    plan: Option<&ForwardPlan>,
    receipt: Receipt,
    then: Option<AfterCommit>,
) -> Result<RecordSummary> {
    let Some((msg, plan)) = to_record(outcome, plan, receipt) else {
        return Ok(RecordSummary::default());
    };
    let mut attempt = 0;
    loop {
        let job = RecordJob {
            msg: msg.clone(),
            plan: plan.clone(),
            lines: Box::new(outcome.accepted_lines()?),
            alone: attempt > 0,
        };
        let then = then
            .clone()
            .map(|f| -> group::OnCommit { Box::new(move |s| f(s)) });
        match group.record_async(job, then).await {
            Err(LedgerError::Retry(_)) if attempt < RETRIES => {
                attempt += 1;
                tokio::time::sleep(retry_pause(attempt)).await;
            }
            other => return other,
        }
    }
}

/// The ledger lookups of one message's check: every [`LedgerStore`] makes
/// them one at a time, and [`LedgerStore::check_reads`] may give them one
/// snapshot.
pub trait CheckReads {
    /// 0106: this message id of this Afzender was recorded.
    fn message_processed(&self, agb: &AgbCode, identificatie: &Referentie) -> Result<bool>;

    /// 0308/0309: the recorded line of this provider with this reference.
    fn prior_line(&self, agb: &AgbCode, referentie: &Referentie) -> Result<Option<PriorLine>>;

    /// 0506: net declared volume for (pair, year, code) in base units
    /// (minutes for hour lines, dagdelen), credits subtracted.
    fn declared_base_volume(
        &self,
        agb: &AgbCode,
        zk: &ZorgkantoorCode,
        year: i32,
        code: &ProductCode,
    ) -> Result<i64>;
}

/// What the rules see of the ledger ([`History`]): recorded references and
/// message ids, and the declared volume for 0506. Volumes are cached for
/// the view's lifetime (one message's check: recording happens after).
///
/// `History` cannot fail; a store error is kept and the view answers as if
/// the ledger had nothing. Ask [`LedgerView::take_error`] after the check
/// and refuse the answer when it is `Some`.
pub struct LedgerView<'a> {
    /// The store's snapshot, when it gives one.
    snapshot: Option<Box<dyn CheckReads + 'a>>,
    store: &'a dyn LedgerStore,
    regime: &'a Regime,
    volumes: Mutex<HashMap<(AgbCode, ZorgkantoorCode, i32, ProductCode), i64>>,
    error: Mutex<Option<LedgerError>>,
}

impl<'a> LedgerView<'a> {
    pub fn new(store: &'a dyn LedgerStore, regime: &'a Regime) -> Self {
        Self {
            snapshot: store.check_reads(),
            store,
            regime,
            volumes: Mutex::new(HashMap::new()),
            error: Mutex::new(None),
        }
    }

    fn reads(&self) -> &dyn CheckReads {
        match &self.snapshot {
            Some(s) => &**s,
            None => self.store,
        }
    }

    /// The first store error met while answering the rules, if any.
    pub fn take_error(&self) -> Option<LedgerError> {
        self.error.lock().expect("ledger view").take()
    }

    fn keep<T>(&self, r: Result<T>, fallback: T) -> T {
        match r {
            Ok(v) => v,
            Err(e) => {
                let mut slot = self.error.lock().expect("ledger view");
                if slot.is_none() {
                    *slot = Some(e);
                }
                fallback
            }
        }
    }

    /// Net declared volume so far for (pair, year, code) in base units
    /// (minutes or dagdelen), credits subtracted.
    pub fn declared_base_volume(
        &self,
        agb: &AgbCode,
        zk: &ZorgkantoorCode,
        year: i32,
        code: &ProductCode,
    ) -> i64 {
        let key = (agb.clone(), zk.clone(), year, code.clone());
        if let Some(v) = self.volumes.lock().expect("ledger view").get(&key) {
            return *v;
        }
        let v = self.keep(self.reads().declared_base_volume(agb, zk, year, code), 0);
        self.volumes.lock().expect("ledger view").insert(key, v);
        v
    }
}

impl History for LedgerView<'_> {
    fn reference_used(&self, agb: &AgbCode, referentie: &Referentie) -> bool {
        self.keep(self.reads().prior_line(agb, referentie), None)
            .is_some()
    }

    fn prior_line(&self, agb: &AgbCode, referentie: &Referentie) -> Option<PriorLine> {
        self.keep(self.reads().prior_line(agb, referentie), None)
    }

    fn message_processed(&self, agb: &AgbCode, identificatie: &Referentie) -> bool {
        self.keep(self.reads().message_processed(agb, identificatie), false)
    }

    /// In the agreement's unit: hours (minutes / 60) for an hour product,
    /// dagdelen for a dagdeel product.
    fn declared_volume(
        &self,
        agb: &AgbCode,
        zk: &ZorgkantoorCode,
        year: i32,
        code: &ProductCode,
    ) -> Decimal {
        let base = self.declared_base_volume(agb, zk, year, code);
        let unit = self.regime.product(code).map_or(Unit::Uur, |p| p.unit);
        base_to_unit(base, unit)
    }
}

/// SQL both backends run, with PostgreSQL's `$n` placeholders (SQLite gets
/// them as `?n`, see [`sqlite`]).
pub(crate) mod sql {
    use crate::sinks::ledger::{VolumeFilter, VolumeGrouping};

    pub const LINE_COLUMNS: &str = "agb, referentie, message_id, zorgkantoor, bsn, brin, \
        onderwijstijd, route, product_code, declared_code, period_from, period_to, year, month, \
        volume, eenheid, unit, base_volume, tarief, bedrag, bedrag_signed, debet_credit, \
        vorig_referentie, codes";

    pub const INSERT_MESSAGE: &str = "INSERT INTO ledger_message \
        (agb, message_id, zorgkantoor, dagtekening, received, received_at, request_sha256, \
        verwerking, accepted_zio, accepted_regulier, rejected) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
        ON CONFLICT (agb, message_id) DO NOTHING";

    /// Without its conflict clause, which SQLite (no unique key left, see
    /// its migration 10) does not need.
    macro_rules! insert_answer {
        () => {
            "INSERT INTO ledger_answer (agb, message_id, created_at, answer) \
            VALUES ($1, $2, $3, $4)"
        };
    }
    pub(crate) use insert_answer;

    pub const INSERT_ANSWER: &str = concat!(
        insert_answer!(),
        " ON CONFLICT (agb, message_id) DO NOTHING"
    );

    pub const STORED_ANSWER: &str = "SELECT m.request_sha256, a.answer FROM ledger_message m \
        JOIN ledger_answer a ON a.agb = m.agb AND a.message_id = m.message_id \
        WHERE m.agb = $1 AND m.message_id = $2";

    pub const PURGE_ANSWERS: &str = "DELETE FROM ledger_answer WHERE created_at < $1";

    pub const MESSAGE_STATUS: &str = "SELECT agb, message_id, zorgkantoor, dagtekening, \
        received, lines_recorded, received_at, request_sha256, verwerking, accepted_zio, \
        accepted_regulier, rejected FROM ledger_message WHERE agb = $1 AND message_id = $2";

    pub fn outbox_of_message() -> String {
        format!(
            "SELECT {OUTBOX_COLUMNS} FROM forward_outbox WHERE agb = $1 AND message_id = $2 \
             ORDER BY id"
        )
    }

    pub const OUTBOX_BACKLOG: &str = "SELECT CAST(COUNT(*) AS BIGINT), MIN(created_at) \
        FROM forward_outbox WHERE state = 'pending'";

    /// Rows a previous run of this process held: one process per SQLite
    /// file, so nobody can still be sending them.
    ///
    /// A row held since its insert is due at once again (its
    /// `next_attempt_at` was the hold's end, see [`INSERT_OUTBOX`]).
    /// A row claimed under `claim` (a recording that handed it over holds
    /// it until `next_attempt_at` too) is due at once. PostgreSQL: `$1`
    /// ids, `$2` their claim tokens.
    pub const OUTBOX_UNLEASE: &str = "UPDATE forward_outbox o SET claimed_until = NULL, \
        next_attempt_at = CASE WHEN o.next_attempt_at >= o.claimed_until THEN o.created_at \
        ELSE o.next_attempt_at END \
        FROM unnest(CAST($1 AS BIGINT[]), CAST($2 AS BIGINT[])) AS u(id, claim) \
        WHERE o.id = u.id AND o.claim = u.claim AND o.state = 'pending' \
        AND o.claimed_until IS NOT NULL";

    /// [`OUTBOX_UNLEASE`] for one row (SQLite): `$1` id, `$2` claim token.
    pub const OUTBOX_UNLEASE_ONE: &str = "UPDATE forward_outbox SET claimed_until = NULL, \
        next_attempt_at = CASE WHEN next_attempt_at >= claimed_until THEN created_at \
        ELSE next_attempt_at END \
        WHERE id = $1 AND claim = $2 AND state = 'pending' AND claimed_until IS NOT NULL";

    pub const OUTBOX_RELEASE: &str = "UPDATE forward_outbox SET claimed_until = NULL, \
        next_attempt_at = CASE WHEN next_attempt_at >= claimed_until THEN created_at \
        ELSE next_attempt_at END \
        WHERE state = 'pending' AND claimed_until IS NOT NULL";

    pub const COUNT_MESSAGE_LINES: &str =
        "UPDATE ledger_message SET lines_recorded = $3 WHERE agb = $1 AND message_id = $2";

    pub const INSERT_LINE: &str = "INSERT INTO ledger_line (agb, referentie, message_id, \
        zorgkantoor, bsn, brin, onderwijstijd, route, product_code, declared_code, period_from, \
        period_to, year, month, volume, eenheid, unit, base_volume, tarief, bedrag, \
        bedrag_signed, debet_credit, vorig_referentie, codes, geboortedatum, besluitnummer) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
        $18, $19, $20, $21, $22, $23, $24, $25, $26) \
        ON CONFLICT (agb, referentie) DO NOTHING";

    /// A row held for its recorder (handed to the worker in memory, or
    /// sent by the request itself) is not due before the hold ends: with
    /// `next_attempt_at` the hold's end, the due-rows scan passes over the
    /// held rows by its index instead of reading each (under load they were
    /// thousands per claim: a tenth of the server's CPU).
    ///
    /// Without its conflict clause, as [`insert_answer`].
    macro_rules! insert_outbox {
        () => {
            "INSERT INTO forward_outbox (agb, message_id, route, forward_id, zorgkantoor, \
            dagtekening, period_from, period_to, lines, state, attempts, next_attempt_at, \
            claimed_until, created_at, claim) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
            'pending', 0, $11, $11, $10, $12)"
        };
    }
    pub(crate) use insert_outbox;

    pub const INSERT_OUTBOX: &str = concat!(
        insert_outbox!(),
        " ON CONFLICT (agb, message_id, route) DO NOTHING"
    );

    pub const OUTBOX_COLUMNS: &str = "id, agb, message_id, route, forward_id, zorgkantoor, \
        dagtekening, period_from, period_to, lines, state, attempts, next_attempt_at, \
        delivered_at, last_error, created_at";

    /// Claims rows under a new token (PostgreSQL): `$1` now, `$2` lease,
    /// `$3` the claim's token; Due: `$4` limit; Message: `$4` agb, `$5`
    /// message id, `$6` holder. A row another transaction is claiming is
    /// skipped (SKIP LOCKED); once that one commits, its new lease is what
    /// the WHERE sees (a locking read re-reads the newest row).
    pub fn outbox_claim(message: bool) -> String {
        let which = if message {
            "agb = $4 AND message_id = $5 AND state = 'pending' \
             AND (claimed_until IS NULL OR claimed_until <= $1 OR claim = $6)"
        } else {
            "state = 'pending' AND next_attempt_at <= $1 \
             AND (claimed_until IS NULL OR claimed_until <= $1)"
        };
        let limit = if message { "" } else { " LIMIT $4" };
        format!(
            "UPDATE forward_outbox SET claimed_until = CAST($1 AS BIGINT) + CAST($2 AS BIGINT), \
             claim = $3 WHERE id IN \
             (SELECT id FROM forward_outbox WHERE {which} ORDER BY next_attempt_at, id{limit} \
             FOR UPDATE SKIP LOCKED) RETURNING {OUTBOX_COLUMNS}"
        )
    }

    /// The ids of the rows a claim would take, read only: `$1` now, `$2`
    /// limit. For a ledger that only one process writes (SQLite), whose
    /// leases live in that process's memory. Ids only: most of them may be
    /// leased already and skipped.
    pub const OUTBOX_DUE: &str = "SELECT id FROM forward_outbox WHERE state = 'pending' \
        AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1) \
        ORDER BY next_attempt_at, id LIMIT $2";

    pub fn outbox_row() -> String {
        format!("SELECT {OUTBOX_COLUMNS} FROM forward_outbox WHERE id = $1")
    }

    /// What a forwarded line needs of a ledger line, in
    /// [`super::rows::forward_line`]'s order (a macro, for `concat!`).
    macro_rules! outbox_line_columns {
        () => {
            "bsn, geboortedatum, besluitnummer, referentie, vorig_referentie, product_code, \
            period_from, period_to, volume, eenheid, tarief, bedrag, debet_credit, \
            onderwijstijd, brin"
        };
    }
    pub(crate) use outbox_line_columns;

    pub const OUTBOX_LINES: &str = concat!(
        "SELECT ",
        outbox_line_columns!(),
        " FROM ledger_line WHERE agb = $1 AND message_id = $2 AND route = $3 ORDER BY seq"
    );

    /// SQLite (its leases are checked in memory first).
    pub const OUTBOX_DELIVERED: &str = "UPDATE forward_outbox SET state = 'delivered', \
        delivered_at = $2, claimed_until = NULL, attempts = attempts + 1, last_error = NULL \
        WHERE id = $1 AND state = 'pending'";

    /// SQLite (its leases are checked in memory first).
    pub const OUTBOX_RETRY: &str = "UPDATE forward_outbox SET attempts = attempts + 1, \
        next_attempt_at = $2, claimed_until = NULL, last_error = $3 \
        WHERE id = $1 AND state = 'pending'";

    /// PostgreSQL: only under the claim's token (`$3`). The token stays
    /// after the row is concluded, so a stale worker's late mark never
    /// matches either.
    pub const OUTBOX_DELIVERED_LEASED: &str = "UPDATE forward_outbox SET state = 'delivered', \
        delivered_at = $2, claimed_until = NULL, attempts = attempts + 1, last_error = NULL \
        WHERE id = $1 AND state = 'pending' AND claim = $3";

    /// PostgreSQL: only under the claim's token (`$4`).
    pub const OUTBOX_RETRY_LEASED: &str = "UPDATE forward_outbox SET attempts = attempts + 1, \
        next_attempt_at = $2, claimed_until = NULL, last_error = $3 \
        WHERE id = $1 AND state = 'pending' AND claim = $4";

    pub const OUTBOX_PENDING: &str =
        "SELECT CAST(COUNT(*) AS BIGINT) FROM forward_outbox WHERE state = 'pending'";

    pub fn outbox_rows() -> String {
        format!("SELECT {OUTBOX_COLUMNS} FROM forward_outbox ORDER BY id")
    }

    /// Cancels the named line, once: `$1` the credit's reference.
    pub const CREDIT_LINE: &str = "UPDATE ledger_line SET credited_by = $1 \
        WHERE agb = $2 AND referentie = $3 AND credited_by IS NULL";

    /// Takes a credit line out again when the line it names was cancelled
    /// already (by a concurrent process).
    pub const DELETE_LINE: &str = "DELETE FROM ledger_line WHERE agb = $1 AND referentie = $2";

    pub const MESSAGE_PROCESSED: &str =
        "SELECT 1 FROM ledger_message WHERE agb = $1 AND message_id = $2";

    pub const PRIOR_LINE: &str = "SELECT credited_by IS NOT NULL FROM ledger_line \
        WHERE agb = $1 AND referentie = $2";

    /// From the running total that triggers keep (migration 4 / PG 3).
    pub const DECLARED_BASE_VOLUME: &str = "SELECT CAST(COALESCE(SUM(base_volume), 0) AS BIGINT) \
        FROM ledger_volume WHERE agb = $1 AND zorgkantoor = $2 AND year = $3 AND product_code = $4";

    pub const REALISATIE: &str = "SELECT agb, zorgkantoor, CAST(SUM(bedrag_signed) AS BIGINT) \
        FROM ledger_line WHERE year = $1 AND route = 'ZIO' \
        GROUP BY agb, zorgkantoor ORDER BY agb, zorgkantoor";

    pub const DELETE_AGREEMENT_CODES: &str =
        "DELETE FROM ledger_agreement_code WHERE agb = $1 AND zorgkantoor = $2 AND year = $3";
    pub const DELETE_AGREEMENT: &str =
        "DELETE FROM ledger_agreement WHERE agb = $1 AND zorgkantoor = $2 AND year = $3";
    pub const INSERT_AGREEMENT: &str = "INSERT INTO ledger_agreement \
        (agb, zorgkantoor, year, herschikking_cents, source) VALUES ($1, $2, $3, $4, $5)";
    pub const INSERT_AGREEMENT_CODE: &str = "INSERT INTO ledger_agreement_code \
        (agb, zorgkantoor, year, code, volume, price_cents) VALUES ($1, $2, $3, $4, $5, $6)";
    pub const SELECT_AGREEMENTS: &str = "SELECT agb, zorgkantoor, year, herschikking_cents \
        FROM ledger_agreement WHERE ($1 = 0 OR year = $1) ORDER BY agb, zorgkantoor, year";
    pub const SELECT_AGREEMENT_CODES: &str = "SELECT agb, zorgkantoor, year, code, volume, \
        price_cents FROM ledger_agreement_code WHERE ($1 = 0 OR year = $1)";

    /// Aggregates for the reports. Columns: agb, zorgkantoor, code, unit,
    /// brin, month, lines, base volume, amount, pupils. `$1` is the year.
    pub fn volumes(filter: VolumeFilter, grouping: VolumeGrouping) -> String {
        let open = "debet_credit = 'D' AND credited_by IS NULL";
        let filter = match filter {
            VolumeFilter::Zio => "route = 'ZIO'",
            VolumeFilter::RegularInSchoolTime => {
                "route = 'REGULIER' AND (',' || codes || ',') LIKE '%,0505,%'"
            }
        };
        let (cols, group) = match grouping {
            VolumeGrouping::Year => (
                "CAST(NULL AS TEXT), CAST(NULL AS INTEGER)",
                "agb, zorgkantoor, product_code, unit",
            ),
            VolumeGrouping::SchoolMonth => (
                "brin, month",
                "agb, zorgkantoor, product_code, unit, brin, month",
            ),
        };
        format!(
            "SELECT agb, zorgkantoor, product_code, unit, {cols}, \
             CAST(SUM(CASE WHEN {open} THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(base_volume) AS BIGINT), CAST(SUM(bedrag_signed) AS BIGINT), \
             COUNT(DISTINCT CASE WHEN {open} THEN bsn END) \
             FROM ledger_line WHERE year = $1 AND {filter} \
             GROUP BY {group} ORDER BY {group}"
        )
    }

    pub fn lines_of() -> String {
        format!("SELECT {LINE_COLUMNS}, credited_by FROM ledger_line WHERE agb = $1 ORDER BY seq")
    }

    pub const INSERT_HERSCHIKKING_EVENT: &str = "INSERT INTO ledger_herschikking_event \
        (agb, zorgkantoor, year, at_ms, actor, action, old_cents, new_cents, reason) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

    pub const HERSCHIKKING_EVENTS: &str = "SELECT agb, zorgkantoor, year, at_ms, actor, action, \
        old_cents, new_cents, reason FROM ledger_herschikking_event \
        WHERE ($1 = 0 OR year = $1) ORDER BY id";

    /// Replaces the row of its key, and counts only a real change: the
    /// same volume again updates nothing (re-upload is idempotent).
    pub const UPSERT_ABSENCE: &str = "INSERT INTO ledger_absence (agb, zorgkantoor, bsn, \
        brin, product_code, year, month, soort, unit, base_volume, at_ms, actor) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
        ON CONFLICT (agb, zorgkantoor, bsn, brin, product_code, year, month, soort) \
        DO UPDATE SET unit = excluded.unit, base_volume = excluded.base_volume, \
        at_ms = excluded.at_ms, actor = excluded.actor \
        WHERE ledger_absence.base_volume <> excluded.base_volume";

    pub const DELETE_ABSENCE: &str = "DELETE FROM ledger_absence WHERE agb = $1 \
        AND zorgkantoor = $2 AND bsn = $3 AND brin = $4 AND product_code = $5 AND year = $6 \
        AND month = $7 AND soort = $8";

    pub const SELECT_ABSENCE: &str = "SELECT agb, zorgkantoor, bsn, brin, product_code, year, \
        month, soort, unit, base_volume FROM ledger_absence WHERE year = $1 \
        ORDER BY agb, zorgkantoor, product_code, bsn, brin, month, soort";

    pub const PUPIL_MONTHS: &str = "SELECT DISTINCT agb, zorgkantoor, bsn, year, month \
        FROM ledger_line WHERE route = 'ZIO' AND debet_credit = 'D' AND credited_by IS NULL \
        AND year <= $1 ORDER BY agb, zorgkantoor, bsn, year, month";

    pub fn lines_in_years() -> String {
        format!(
            "SELECT {LINE_COLUMNS}, credited_by FROM ledger_line \
             WHERE year >= $1 AND year <= $2 ORDER BY seq"
        )
    }
}

/// A stored agreement: agb, zorgkantoor, year, herschikking.
pub(crate) type AgreementHead = (String, String, i32, i64);
/// A stored agreement code: agb, zorgkantoor, year, code, volume, price.
pub(crate) type AgreementCodeRow = (String, String, i32, String, Option<i64>, Option<i64>);

/// Turns a stored agreement's rows back into an [`Agreement`].
pub(crate) fn assemble_agreements(
    heads: Vec<AgreementHead>,
    codes: Vec<AgreementCodeRow>,
) -> Result<Vec<Agreement>> {
    let bad =
        |what: &str, v: &str| LedgerError::Invalid(format!("stored agreement: bad {what} `{v}`"));
    let mut out: Vec<Agreement> = Vec::with_capacity(heads.len());
    let mut index = HashMap::new();
    for (agb, zk, year, a) in heads {
        let agreement = Agreement {
            agb: AgbCode::parse(&agb).ok_or_else(|| bad("agb", &agb))?,
            zorgkantoor: ZorgkantoorCode::parse(&zk).ok_or_else(|| bad("zorgkantoor", &zk))?,
            year,
            herschikking_cents: u64::try_from(a)
                .map_err(|_| bad("herschikking", &a.to_string()))?,
            volumes: Default::default(),
            prices_cents: Default::default(),
        };
        index.insert((agb, zk, year), out.len());
        out.push(agreement);
    }
    for (agb, zk, year, code, volume, price) in codes {
        let Some(&i) = index.get(&(agb, zk, year)) else {
            continue;
        };
        let c = ProductCode::parse(&code).ok_or_else(|| bad("code", &code))?;
        if let Some(v) = volume {
            out[i].volumes.insert(c.clone(), v.max(0) as u64);
        }
        if let Some(p) = price {
            out[i].prices_cents.insert(c, p.max(0) as u64);
        }
    }
    Ok(out)
}

/// The rows [`LedgerStore::put_agreement`] writes for the codes: every code
/// with a volume or a price.
pub(crate) fn agreement_code_rows(a: &Agreement) -> Vec<(ProductCode, Option<i64>, Option<i64>)> {
    let mut codes: Vec<&ProductCode> = a.volumes.keys().chain(a.prices_cents.keys()).collect();
    codes.sort();
    codes.dedup();
    codes
        .into_iter()
        .map(|c| {
            (
                c.clone(),
                a.volumes.get(c).map(|&v| v as i64),
                a.prices_cents.get(c).map(|&p| p as i64),
            )
        })
        .collect()
}
