//! The check's [`RefTable`]: the references of one message in memory up to
//! [`SPILL_AT`] entries, then in a private temporary SQLite file, so a batch
//! of any size keeps memory flat.

use crate::rules::history::{MessageRefs, RefState, RefTable};
use crate::types::Referentie;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::io;

/// Entries kept in memory before the table moves to disk.
pub const SPILL_AT: usize = 50_000;

pub enum SpillingTable {
    Memory {
        map: HashMap<Referentie, RefState>,
        spill_at: usize,
    },
    Disk(Connection),
}

impl SpillingTable {
    pub fn with_spill_at(spill_at: usize) -> Self {
        Self::Memory {
            map: HashMap::new(),
            spill_at,
        }
    }

    /// Moves the table into a private temporary database file (SQLite's
    /// empty file name): its page cache is bounded, the file is removed when
    /// the connection closes.
    fn spill(&mut self) -> io::Result<()> {
        let c = Connection::open("").map_err(sql)?;
        c.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -4096;
             CREATE TABLE refs (r TEXT PRIMARY KEY, s INTEGER NOT NULL) WITHOUT ROWID;
             BEGIN;",
        )
        .map_err(sql)?;
        if let Self::Memory { map, .. } = self {
            let mut st = c
                .prepare("INSERT INTO refs (r, s) VALUES (?1, ?2)")
                .map_err(sql)?;
            for (r, s) in map.iter() {
                st.execute(params![r.as_str(), s.as_i64()]).map_err(sql)?;
            }
        }
        // One long transaction: nothing here needs to survive a crash, and
        // it saves a journal sync per line.
        *self = Self::Disk(c);
        Ok(())
    }
}

/// The table a message is checked with.
pub fn message_refs() -> MessageRefs {
    MessageRefs::new(Box::new(SpillingTable::with_spill_at(SPILL_AT)))
}

fn sql(e: rusqlite::Error) -> io::Error {
    io::Error::other(format!("reference table: {e}"))
}

impl RefTable for SpillingTable {
    fn get(&self, r: &Referentie) -> io::Result<Option<RefState>> {
        match self {
            Self::Memory { map, .. } => Ok(map.get(r).copied()),
            Self::Disk(c) => c
                .prepare_cached("SELECT s FROM refs WHERE r = ?1")
                .and_then(|mut st| {
                    st.query_row(params![r.as_str()], |row| row.get::<_, i64>(0))
                        .optional()
                })
                .map(|o| o.map(RefState::from_i64))
                .map_err(sql),
        }
    }

    fn set(&mut self, r: &Referentie, s: RefState) -> io::Result<()> {
        if let Self::Memory { map, spill_at } = self {
            if map.len() >= *spill_at && !map.contains_key(r) {
                self.spill()?;
            }
        }
        match self {
            Self::Memory { map, .. } => {
                map.insert(r.clone(), s);
                Ok(())
            }
            Self::Disk(c) => c
                .prepare_cached("INSERT OR REPLACE INTO refs (r, s) VALUES (?1, ?2)")
                .and_then(|mut st| st.execute(params![r.as_str(), s.as_i64()]))
                .map(|_| ())
                .map_err(sql),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::history::tests::run;

    #[test]
    fn spilled_table_behaves_the_same() {
        let in_memory = run(&mut MessageRefs::in_memory());
        let spilled = run(&mut MessageRefs::new(Box::new(
            SpillingTable::with_spill_at(2),
        )));
        assert_eq!(in_memory, spilled);
    }
}
