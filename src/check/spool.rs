//! Line verdicts wait here, on disk, until the message has been read to its
//! end: only then is the Verwerking known, and a message-level code may still
//! void them all. Memory stays flat whatever the batch size.

use crate::model::verdict::LineVerdict;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};

pub struct Spool {
    writer: BufWriter<File>,
    len: u64,
}

impl Spool {
    /// A spool in an anonymous temporary file (gone when dropped).
    pub fn new() -> io::Result<Self> {
        Ok(Self {
            writer: BufWriter::with_capacity(64 * 1024, tempfile::tempfile()?),
            len: 0,
        })
    }

    pub fn push(&mut self, v: &LineVerdict) -> io::Result<()> {
        serde_json::to_writer(&mut self.writer, v)?;
        self.writer.write_all(b"\n")?;
        self.len += 1;
        Ok(())
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads the verdicts back in input order; may be called more than once.
    pub fn iter(&mut self) -> io::Result<SpoolIter> {
        self.writer.flush()?;
        let mut file = self.writer.get_ref().try_clone()?;
        file.seek(SeekFrom::Start(0))?;
        Ok(SpoolIter {
            reader: BufReader::with_capacity(64 * 1024, file),
            line: String::new(),
            left: self.len,
        })
    }
}

pub struct SpoolIter {
    reader: BufReader<File>,
    line: String,
    left: u64,
}

impl Iterator for SpoolIter {
    type Item = io::Result<LineVerdict>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        self.line.clear();
        Some(
            self.reader
                .read_line(&mut self.line)
                .and_then(|_| serde_json::from_str(&self.line).map_err(io::Error::other)),
        )
    }
}
