//! Layer 6: one message end to end. This is the only place that orders the
//! steps a declaration goes through:
//!
//! 1. **context**: the ledger as the rules' history (0106, 0308/0309 across
//!    messages, 0506) and the registry as their indication source (04xx);
//! 2. **check**: one streaming pass, verdicts spooled ([`crate::check`]);
//! 3. **sender**: 0107 when the Afzender is not the provider that
//!    authenticated (HTTP only);
//! 4. **record**: the accepted lines, and the outbox rows of their forwarded
//!    messages, in one transaction ([`crate::sinks::ledger`]);
//! 5. **deliver**: what the forwarder does at once ([`crate::sinks::forward`]);
//! 6. **answer**: the Retourbericht ([`crate::sinks::answer`]).
//!
//! The command line and the server both call [`Pipeline::process`] and then
//! [`Pipeline::answer`]; they differ only in where the bytes come from and go.

use crate::check::{check_message, Outcome};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::verdict::{AnswerTotals, MessageCode};
use crate::retourcode::Retourcode;
use crate::rules::{Context, History, IndicationSource};
use crate::sinks::answer::{self, Format, StoredAnswer};
use crate::sinks::forward::{Forwarder, NoUpstream};
use crate::sinks::ledger::{self, GroupCommit, LedgerStore, LedgerView, Receipt, RecordSummary};
use crate::sinks::registry::{RegistryStore, StoreIndications};
use crate::types::{AgbCode, Datum};
use sha2::{Digest, Sha256};
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// What happens to a message once it is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Answer only; nothing recorded or forwarded (`check` without
    /// `--record`). The answer carries the real Verwerking.
    AnswerOnly,
    /// The test-batch endpoint: checked like a real message, Verwerking
    /// `Test`, nothing recorded or forwarded.
    Test,
    /// Record the accepted lines and forward them (`check --record`,
    /// `POST /declaraties`).
    Process,
}

/// One message as it arrives.
#[derive(Clone, Copy, Debug)]
pub struct Arrival<'a> {
    /// The day of receipt (`--today` or the server's clock).
    pub today: Datum,
    /// The provider that authenticated (HTTP): the Afzender must be it (0107).
    pub authenticated: Option<&'a AgbCode>,
    pub disposition: Disposition,
}

/// A message that went through every step but the answer.
pub struct Processed {
    pub outcome: Outcome,
    /// What the ledger recorded (`None`: nothing was to be recorded).
    pub recorded: Option<RecordSummary>,
    pub disposition: Disposition,
    /// A byte-identical resend of a message answered before: its answer,
    /// given again instead of 0106.
    pub repeat: Option<StoredAnswer>,
}

impl Processed {
    /// The Verwerking as the answer will say it.
    pub fn verwerking(&self) -> &'static str {
        match (&self.repeat, self.disposition) {
            (Some(r), _) => r.verwerking.as_str(),
            (None, Disposition::Test) => "Test",
            (None, _) => self.outcome.verwerking().as_str(),
        }
    }
}

/// Hashes what is read through it, so a resend can be known byte for byte;
/// only a message that is recorded needs it (`None`: passes bytes through).
struct Hashing<R> {
    inner: R,
    hash: Option<Sha256>,
}

impl<R: BufRead> io::Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hash {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Hashing<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        if let Some(h) = &mut self.hash {
            if let Ok(buf) = self.inner.fill_buf() {
                h.update(&buf[..n.min(buf.len())]);
            }
        }
        self.inner.consume(n);
    }
}

/// A checked message before its recording: `receipt` is what to keep with
/// it when it is to be recorded (`None`: nothing to record).
pub struct Checked {
    pub processed: Processed,
    receipt: Option<Receipt>,
}

/// The ledger and the registry, shared by every message.
///
/// [`Backends::none`] has neither: every message is checked as if it were
/// the first, with no 04xx check (in-process tests, `check` without a store).
#[derive(Default)]
pub struct Backends {
    /// Shared with the forwarder (its outbox lives in the ledger store).
    pub ledger: Option<Arc<dyn LedgerStore>>,
    pub registry: Option<RegistryStores>,
}

/// Where it lived before it moved to the registry's own module.
pub use crate::sinks::registry::RegistryStores;

impl Backends {
    /// No ledger, no registry.
    pub fn none() -> Self {
        Self::default()
    }

    /// Opens the ledger and the registry: both in PostgreSQL when `pg_url`
    /// is given, else both in SQLite in `data_dir`.
    pub fn open(data_dir: &Path, pg_url: Option<&str>) -> Result<Self> {
        let registry = open_registry(data_dir, pg_url)?;
        let ledger = ledger::open(data_dir, pg_url)
            .map_err(|e| Error::backend(format!("{}: ledger: {e}", data_dir.display())))?;
        Ok(Self {
            ledger: Some(Arc::from(ledger)),
            registry: Some(registry),
        })
    }

    /// What `check` reads without changing anything: the ledger and the
    /// registry when the store exists (or a PostgreSQL ledger is named),
    /// created only when `create` (`check --record`).
    pub fn open_existing(data_dir: &Path, pg_url: Option<&str>, create: bool) -> Result<Self> {
        let exists = data_dir.join(crate::sinks::store::DB_FILE).exists();
        if create {
            return Self::open(data_dir, pg_url);
        }
        let ledger = match (pg_url, exists) {
            (None, false) => None,
            _ => Some(Arc::from(ledger::open(data_dir, pg_url).map_err(|e| {
                Error::backend(format!("{}: ledger: {e}", data_dir.display()))
            })?)),
        };
        let registry = if exists || pg_url.is_some() {
            Some(open_registry(data_dir, pg_url)?)
        } else {
            None
        };
        Ok(Self { ledger, registry })
    }

    /// Runs `f` (the check) with the rules' context for a message received
    /// on `today`; a ledger or registry failure met meanwhile voids the
    /// result: no verdict can be trusted, nothing is recorded.
    fn check_with<R>(
        &self,
        config: &Config,
        today: Datum,
        f: impl FnOnce(&Context<'_>) -> R,
    ) -> Result<R> {
        let view = self
            .ledger
            .as_ref()
            .map(|l| LedgerView::new(&**l, &config.regime));
        let lookups = match &self.registry {
            Some(r) => r
                .lookups()
                .map_err(|e| Error::from(e).context("registry"))?,
            None => None,
        };
        let indications = lookups
            .as_ref()
            .map(|s| StoreIndications::new(s as &dyn RegistryStore));
        let ctx = Context::new(
            config,
            today,
            indications.as_ref().map(|r| r as &dyn IndicationSource),
            view.as_ref().map(|v| v as &dyn History),
        );
        let r = f(&ctx);
        let failure = indications.as_ref().and_then(|i| i.failure());
        drop(indications);
        if let Some(e) = failure {
            return Err(Error::from(e).context("registry lookup failed"));
        }
        if let Some(e) = view.as_ref().and_then(|v| v.take_error()) {
            return Err(Error::backend(format!("ledger lookup failed: {e}")));
        }
        Ok(r)
    }
}

/// The registry where the ledger is: PostgreSQL when `pg_url` is given,
/// else `DATA_DIR/gateway.db`.
fn open_registry(data_dir: &Path, pg_url: Option<&str>) -> Result<RegistryStores> {
    match pg_url {
        Some(url) => RegistryStores::open_postgres(url, None)
            .map_err(|e| Error::from(e).context("registry (PostgreSQL)")),
        None => RegistryStores::open(data_dir)
            .map_err(|e| Error::from(e).context(format!("{}: registry", data_dir.display()))),
    }
}

/// The steps of one message, with what every message shares.
pub struct Pipeline {
    pub config: Arc<Config>,
    pub backends: Backends,
    pub forwarder: Arc<dyn Forwarder>,
    /// Concurrent recordings share a transaction (the server's); `None`:
    /// each commits alone (`check --record`, tests).
    group: Option<Arc<GroupCommit>>,
}

impl Pipeline {
    /// The group writer's metrics (none without a group writer).
    pub fn group_collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        self.group
            .as_ref()
            .map(|g| g.telemetry().collectors())
            .unwrap_or_default()
    }

    /// The group writer, for the delivery worker's marks.
    pub fn group_writer(&self) -> Option<Arc<GroupCommit>> {
        self.group.clone()
    }

    /// A pipeline that forwards nothing ([`NoUpstream`]).
    pub fn new(config: Arc<Config>, backends: Backends) -> Self {
        Self {
            config,
            backends,
            forwarder: Arc::new(NoUpstream),
            group: None,
        }
    }

    /// Concurrent recordings share one transaction and one sync to disk.
    pub fn with_group_commit(mut self, max_batch: usize) -> Result<Self> {
        if let Some(l) = &self.backends.ledger {
            let g = GroupCommit::start(l.clone(), max_batch)
                .map_err(|e| Error::backend(format!("ledger writer: {e}")))?;
            self.group = Some(Arc::new(g));
        }
        Ok(self)
    }

    /// A pipeline on `backends`, whose ledger's imported agreements replace
    /// the configured ones for the same participant and year.
    pub fn open(mut config: Config, backends: Backends) -> Result<Self> {
        if let Some(l) = &backends.ledger {
            ledger::agreements::apply_stored_agreements(&mut config.regime, &**l)
                .map_err(|e| Error::backend(format!("ledger agreements: {e}")))?;
        }
        Ok(Self::new(Arc::new(config), backends))
    }

    /// Replaces the forwarder.
    pub fn with_forwarder(mut self, forwarder: Arc<dyn Forwarder>) -> Self {
        self.forwarder = forwarder;
        self
    }

    /// Every step but the answer. `Err` only when no answer can be given:
    /// the bytes could not be read, or the ledger or the registry failed
    /// (then nothing was recorded).
    pub fn process<R: BufRead>(&self, input: R, arrival: &Arrival<'_>) -> Result<Processed> {
        let Checked {
            mut processed,
            receipt,
        } = self.check(input, arrival)?;
        if let Some(receipt) = receipt {
            self.record_and_deliver(&mut processed, receipt)?;
        }
        Ok(processed)
    }

    /// Whether [`Pipeline::check`] and [`Pipeline::record`] may run on the
    /// server's runtime for a small message: the rules' lookups are local
    /// reads (SQLite in WAL), the recording is the group writer's (awaited,
    /// no thread blocked on it), and no request waits for its delivery.
    pub fn records_on_runtime(&self) -> bool {
        self.group.is_some()
            && self.config.upstreams.answer_wait_ms == 0
            && self
                .backends
                .ledger
                .as_ref()
                .is_some_and(|l| l.reads_are_local())
    }

    /// The steps before the recording: context, check, sender; what is to
    /// be recorded comes with it ([`Checked`]).
    pub fn check<R: BufRead>(&self, input: R, arrival: &Arrival<'_>) -> Result<Checked> {
        let config = &*self.config;
        let recording = arrival.disposition == Disposition::Process;
        let mut input = Hashing {
            inner: input,
            hash: recording.then(Sha256::new),
        };
        let mut outcome = self
            .backends
            .check_with(config, arrival.today, |ctx| {
                check_message(&mut input, config, ctx)
            })?
            .map_err(|e| {
                Error::sender(format!("the message could not be read: {e}")).with_retry(true)
            })?;
        if let Some(agb) = arrival.authenticated {
            enforce_afzender(&mut outcome, agb);
        }
        let sha256 = input
            .hash
            .map(|h| hex::encode(h.finalize()))
            .unwrap_or_default();
        let mut processed = Processed {
            outcome,
            recorded: None,
            disposition: arrival.disposition,
            repeat: None,
        };
        if recording {
            processed.repeat = self.kept_answer(&processed.outcome, &sha256)?;
        }
        let receipt =
            if recording && processed.repeat.is_none() && !processed.outcome.rejected_whole() {
                Some(self.receipt(&mut processed.outcome, sha256)?)
            } else {
                None
            };
        Ok(Checked { processed, receipt })
    }

    /// The recording of a [`Checked`] message, awaited on the runtime
    /// ([`Pipeline::records_on_runtime`]): the same transaction as
    /// [`Pipeline::process`], committed by the group writer before this
    /// returns; then the worker is told.
    pub async fn record(&self, checked: Checked) -> Result<Processed> {
        let Checked {
            mut processed,
            receipt,
        } = checked;
        let Some(receipt) = receipt else {
            return Ok(processed);
        };
        let (Some(_), Some(group)) = (&self.backends.ledger, self.group.as_deref()) else {
            self.record_and_deliver(&mut processed, receipt)?;
            return Ok(processed);
        };
        // New rows claimed in the recording transaction go to the worker in
        // memory once committed; else it claims them from the store.
        let handed = self.forwarder.plan_handed();
        let plan = match &handed {
            Some(p) => Some(p.clone()),
            None => self.forwarder.plan(),
        };
        // Handed over by the writer right after the commit: a request whose
        // client went away meanwhile (its task dropped) still hands its rows.
        let then = match (&handed, &processed.outcome.header) {
            (Some(plan), Some(header)) => {
                let (fwd, plan, header) = (self.forwarder.clone(), plan.clone(), header.clone());
                let hand = move |rec: &RecordSummary| {
                    fwd.hand_over(ledger::handed_rows(&header, &plan, rec));
                    if rec.fresh.iter().flatten().count() < rec.outbox_rows as usize {
                        // Not reached: runs on the runtime only on SQLite,
                        // which numbers its rows. Such a row is the
                        // worker's once its lease ends.
                        tracing::warn!("outbox: new rows without their ids, left to their lease");
                    }
                };
                Some(Arc::new(hand) as ledger::AfterCommit)
            }
            _ => None,
        };
        let rec = ledger::record_checked_async(
            group,
            &mut processed.outcome,
            plan.as_ref(),
            receipt,
            then,
        )
        .await
        .map_err(|e| Error::backend(format!("ledger: nothing recorded: {e}")))?;
        tracing::debug!(
            inserted = rec.inserted,
            duplicates = rec.duplicates,
            already_processed = rec.already_processed,
            "recorded"
        );
        processed.recorded = Some(rec);
        if handed.is_none() {
            self.forwarder.queued();
        }
        Ok(processed)
    }

    /// The answer kept for a byte-identical resend of a processed message
    /// (only then does the check say 0106 for it).
    fn kept_answer(&self, outcome: &Outcome, sha256: &str) -> Result<Option<StoredAnswer>> {
        let (Some(l), Some(h)) = (&self.backends.ledger, &outcome.header) else {
            return Ok(None);
        };
        let only_0106 =
            outcome.message_codes.len() == 1 && outcome.message_codes[0].code == Retourcode::R0106;
        if !only_0106 {
            return Ok(None);
        }
        let kept = l
            .stored_answer(&h.afzender, &h.bericht.identificatie)
            .map_err(|e| Error::backend(format!("ledger: kept answer: {e}")))?;
        match kept {
            Some((Some(sha), bytes)) if sha == sha256 => {
                Ok(Some(StoredAnswer::parse(&bytes).map_err(|e| {
                    Error::backend(format!("ledger: kept answer: {e}"))
                })?))
            }
            _ => Ok(None),
        }
    }

    /// What the sender is told, to keep with the message.
    fn receipt(&self, outcome: &mut Outcome, sha256: String) -> Result<Receipt> {
        let mut r = Receipt {
            received_at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            request_sha256: Some(sha256),
            verwerking: outcome.verwerking().as_str().to_owned(),
            ..Receipt::default()
        };
        for (&(route, _), n) in &outcome.line_counts {
            match route {
                "ZIO" => r.accepted_zio += n,
                "REGULIER" => r.accepted_regulier += n,
                _ => r.rejected += n,
            }
        }
        let cap = self.config.server.keep_answer_max_bytes;
        if cap > 0 {
            r.answer = StoredAnswer::of(outcome, &self.config, cap)
                .map_err(|e| Error::backend(format!("keeping the answer: {e}")))?;
        }
        Ok(r)
    }

    /// Records the accepted lines (with the forwarder's outbox rows in the
    /// same transaction) and hands the rows to the forwarder. The answer
    /// goes out once that commit is durable; delivery is the worker's.
    /// Only with `[upstreams] answer_wait_ms` does the request wait, that
    /// long at most, for its own rows; what is pending then is said as 0901.
    fn record_and_deliver(&self, p: &mut Processed, receipt: Receipt) -> Result<()> {
        if let Some(l) = &self.backends.ledger {
            let plan = self.forwarder.plan();
            let group = self.group.as_deref();
            let rec = ledger::record_checked(&**l, group, &mut p.outcome, plan.as_ref(), receipt)
                .map_err(|e| Error::backend(format!("ledger: nothing recorded: {e}")))?;
            tracing::debug!(
                inserted = rec.inserted,
                duplicates = rec.duplicates,
                already_processed = rec.already_processed,
                "recorded"
            );
            p.recorded = Some(rec);
        }
        let wait = self.config.upstreams.answer_wait_ms;
        if wait == 0 {
            self.forwarder.queued();
        } else if let Some(header) = &p.outcome.header {
            let pending = self
                .forwarder
                .deliver_now(header, Duration::from_millis(wait));
            if !pending.is_empty() {
                p.outcome.notices.push(MessageCode {
                    code: Retourcode::R0901,
                    detail: Some(format!("nog niet geleverd: {}", pending.join(", "))),
                    locatie: None,
                });
            }
        }
        Ok(())
    }

    /// Writes the Retourbericht of a processed message.
    pub fn answer<W: Write>(&self, p: &mut Processed, format: Format, out: W) -> io::Result<()> {
        if let Some(kept) = &p.repeat {
            return kept.write(format, out);
        }
        let test = p.disposition == Disposition::Test;
        answer::write_outcome(&mut p.outcome, &self.config, format, test, out)
    }
}

/// 0107: a message whose Afzender is not the authenticated provider is
/// rejected whole (nothing recorded, nothing forwarded). The verdicts it got
/// against another provider's history are dropped with it, and so is 0106
/// (whether another provider's message id was processed is not ours to tell).
pub fn enforce_afzender(outcome: &mut Outcome, agb: &AgbCode) {
    let Some(h) = &outcome.header else { return };
    if h.afzender == *agb {
        return;
    }
    outcome
        .message_codes
        .retain(|m| m.code != Retourcode::R0106);
    outcome.message_codes.push(MessageCode {
        code: Retourcode::R0107,
        detail: None,
        locatie: Some("/Declaratiebericht/Header/Afzender".into()),
    });
    outcome.message_codes.sort_by_key(|m| m.code);
    outcome.totals = AnswerTotals::default();
}
