//! Ingest: apply iWlz messages to a [`RegistryStore`].
//!
//! Each message is applied in one transaction: a message that turns out to be
//! malformed halfway changes nothing. A message is identified by the SHA-256
//! of its bytes; one ingested before is skipped (nothing would change: every
//! record applies idempotently anyway, see [`super::Stamp`]).

use super::{BerichtRecord, Change, RegistryStore, Stamp};
use crate::error::Error;
use crate::model::iwlz::IwlzHeader;
use crate::read::iwlz::IwlzReader;
use crate::read::xml::XmlError;
use crate::sinks::store::StoreError;
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// What applying one kind of record did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Older than the version in the store: ignored.
    pub older: u64,
}

impl Tally {
    pub fn add(&mut self, c: Change) {
        match c {
            Change::Added => self.added += 1,
            Change::Updated => self.updated += 1,
            Change::Unchanged => self.unchanged += 1,
            Change::Older => self.older += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.added + self.updated + self.unchanged + self.older
    }

    pub fn changed(&self) -> bool {
        self.added + self.updated > 0
    }
}

/// Per record kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub indicaties: Tally,
    pub toewijzingen: Tally,
    pub zzp_toewijzingen: Tally,
    pub aanvangen: Tally,
    pub mutaties: Tally,
}

impl Counts {
    pub fn changed(&self) -> bool {
        self.kinds().iter().any(|(_, t)| t.changed())
    }

    fn kinds(&self) -> [(&'static str, &Tally); 5] {
        [
            ("indications", &self.indicaties),
            ("function allocations", &self.toewijzingen),
            ("zzp allocations", &self.zzp_toewijzingen),
            ("starts of delivery", &self.aanvangen),
            ("mutations", &self.mutaties),
        ]
    }
}

/// The outcome of ingesting one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestReport {
    pub header: IwlzHeader,
    pub sha256: String,
    pub clienten: u64,
    /// The same bytes were ingested before: skipped.
    pub already_ingested: bool,
    pub counts: Counts,
}

impl fmt::Display for IngestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.header;
        write!(f, "{} {} of {}", h.soort, h.identificatie, h.dagtekening)?;
        if self.already_ingested {
            return write!(f, ": already ingested, nothing changed");
        }
        write!(
            f,
            ", {} client{}: ",
            self.clienten,
            if self.clienten == 1 { "" } else { "s" }
        )?;
        let parts: Vec<String> = self
            .counts
            .kinds()
            .iter()
            .filter(|(_, t)| t.total() > 0)
            .map(|(name, t)| {
                let mut p = Vec::new();
                for (n, word) in [
                    (t.added, "new"),
                    (t.updated, "updated"),
                    (t.unchanged, "unchanged"),
                    (t.older, "older than stored"),
                ] {
                    if n > 0 {
                        p.push(format!("{n} {word}"));
                    }
                }
                format!("{name} {}", p.join(", "))
            })
            .collect();
        if parts.is_empty() {
            write!(f, "nothing to record")
        } else {
            write!(f, "{}", parts.join("; "))?;
            if !self.counts.changed() {
                write!(f, " (nothing changed)")?;
            }
            Ok(())
        }
    }
}

/// Why a message was not ingested.
#[derive(Debug)]
pub enum IngestError {
    /// The message itself is wrong (not XML, not iWlz 2.2, a value missing
    /// or mistyped); with line:column and element path.
    Message(XmlError),
    /// Reading the bytes failed.
    Io(io::Error),
    Store(StoreError),
}

impl fmt::Display for IngestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IngestError::Message(e) => write!(f, "not ingested: {e}"),
            IngestError::Io(e) => write!(f, "read error: {e}"),
            IngestError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for IngestError {}

impl From<XmlError> for IngestError {
    fn from(e: XmlError) -> Self {
        match e {
            XmlError::Io(io) => IngestError::Io(io),
            other => IngestError::Message(other),
        }
    }
}

/// The message is the sender's fault; a failing read or store is ours.
impl From<IngestError> for Error {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Message(_) => Error::sender(e.to_string()),
            IngestError::Io(_) => Error::sender(e.to_string()).with_retry(true),
            IngestError::Store(s) => Error::from(s),
        }
    }
}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        IngestError::Store(e)
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Apply the message even when the same bytes were ingested before
    /// (tests of the record-level idempotence).
    pub force: bool,
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Ingests one file.
pub fn ingest_file(
    store: &mut dyn RegistryStore,
    path: &Path,
    opts: Options,
) -> Result<IngestReport, IngestError> {
    let sha = sha256_file(path).map_err(IngestError::Io)?;
    let open = || File::open(path).map(|f| BufReader::with_capacity(256 * 1024, f));
    let input = open().map_err(IngestError::Io)?;
    ingest_reader(store, input, sha, opts)
}

/// Ingests a message held in memory.
pub fn ingest_bytes(
    store: &mut dyn RegistryStore,
    bytes: &[u8],
    opts: Options,
) -> Result<IngestReport, IngestError> {
    ingest_reader(store, bytes, sha256_bytes(bytes), opts)
}

/// Ingests a message whose SHA-256 is known.
pub fn ingest_reader<R: BufRead>(
    store: &mut dyn RegistryStore,
    input: R,
    sha256: String,
    opts: Options,
) -> Result<IngestReport, IngestError> {
    let mut reader = IwlzReader::new(input, None);
    let header = reader.read_header()?;
    if !opts.force && store.bericht_bekend(&sha256)? {
        return Ok(IngestReport {
            header,
            sha256,
            clienten: 0,
            already_ingested: true,
            counts: Counts::default(),
        });
    }
    let mut counts = Counts::default();
    let bericht_stamp = Stamp::new(&header, None);
    let mut tx = store.begin()?;
    while let Some(c) = reader.next_client()? {
        let bsn = c.bsn.expect("the reader requires a Bsn");
        for x in &c.indicaties {
            counts
                .indicaties
                .add(tx.put_indicatie(&bsn, x, &bericht_stamp)?);
        }
        for x in &c.functies {
            let stamp = Stamp::new(
                &header,
                x.toewijzingsdatum
                    .map(|d| (d, x.toewijzingstijd.as_deref())),
            );
            counts.toewijzingen.add(tx.put_functie(&bsn, x, &stamp)?);
        }
        for x in &c.zzps {
            let stamp = Stamp::new(
                &header,
                x.toewijzingsdatum
                    .map(|d| (d, x.toewijzingstijd.as_deref())),
            );
            counts.zzp_toewijzingen.add(tx.put_zzp(&bsn, x, &stamp)?);
        }
        for x in &c.aanvangen {
            counts
                .aanvangen
                .add(tx.put_aanvang(&bsn, x, &bericht_stamp)?);
        }
        for x in &c.mutaties {
            counts
                .mutaties
                .add(tx.put_mutatie(&bsn, x, &bericht_stamp)?);
        }
    }
    let clienten = reader.clients();
    let record = BerichtRecord::of_message(sha256.clone(), &header, clienten);
    tx.put_bericht(&record)?;
    tx.commit()?;
    Ok(IngestReport {
        header,
        sha256,
        clienten,
        already_ingested: false,
        counts,
    })
}

/// The files to ingest for the paths given: a file as it is, a directory as
/// its `*.xml` files (not hidden, not recursive) in name order.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let named = |p: &Path, e: io::Error| Error::sender(format!("{}: {e}", p.display()));
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| named(p, e))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            let entries = std::fs::read_dir(p).map_err(|e| named(p, e))?;
            for e in entries {
                let e = e.map_err(|e| named(p, e))?;
                let name = e.file_name();
                let name = name.to_string_lossy();
                let path = e.path();
                if !name.starts_with('.')
                    && name.to_ascii_lowercase().ends_with(".xml")
                    && path.is_file()
                {
                    files.push(path);
                }
            }
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Ingests every file of `paths` (directories expanded) in order, calling
/// `report` after each; a message that is refused does not stop the others.
/// Returns how many were refused; `Err` for a store failure (which stops).
pub fn ingest_paths(
    store: &mut dyn RegistryStore,
    paths: &[PathBuf],
    opts: Options,
    mut report: impl FnMut(&Path, &Result<IngestReport, IngestError>),
) -> Result<usize, Error> {
    let files = expand_paths(paths)?;
    let mut refused = 0;
    for f in &files {
        let r = ingest_file(store, f, opts);
        report(f, &r);
        match r {
            Ok(_) => {}
            Err(IngestError::Store(e)) => return Err(Error::from(e).context(f.display())),
            Err(_) => refused += 1,
        }
    }
    Ok(refused)
}
