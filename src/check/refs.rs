//! The check's [`RefTable`]: the references of one message in memory up to
//! [`SPILL_AT`] entries; then, each time the memory table fills, its entries
//! sorted into a run appended to a private temporary file. A batch of any
//! size keeps memory flat: what stays in memory per run is a sparse index
//! (one key per [`BLOCK`] entries) and its smallest and largest key, and one
//! Bloom filter of fixed size ([`BLOOM_BYTES`]) answers most lookups of a
//! reference never seen (the common case: every line of a valid batch) without
//! reading the file. A reference set again lands in a newer run (or in
//! memory), and lookups go newest first.

use crate::rules::history::{MessageRefs, RefState, RefTable};
use crate::types::Referentie;
use std::cell::Cell;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasher, Hash, Hasher};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;

/// Entries kept in memory before they move to disk as one sorted run. The
/// map and, during a spill, its sorted copy set the check's peak memory:
/// 7,000 fit a table of 8,192 buckets (14,000 needed 16,384 and put a
/// 0.9 GB batch at 1.23x the peak of a 1 MB one; issue 10 asks 1.2x).
pub const SPILL_AT: usize = 7_000;
/// Entries per block of a run: one sparse index key per block.
pub const BLOCK: usize = 512;
/// The Bloom filter over every reference on disk: 1 MiB (8 Mi bits, about
/// 7.6 bits per reference at a million lines).
pub const BLOOM_BYTES: usize = 1 << 20;

pub struct SpillingTable {
    /// Keys inline: no allocation per entry, no pointer to follow on lookup.
    map: HashMap<Key, RefState, KeyHash>,
    /// References longer than [`INLINE`] bytes (no valid ReferentieNummer
    /// is; only values the gateway makes itself could be).
    long: HashMap<Referentie, RefState, KeyHash>,
    /// The last key looked up on disk and what the disk said: a line's
    /// reference is looked up twice (for its facts, then to remember it),
    /// and each lookup costs a miss in the Bloom filter's cache lines.
    last_disk: Cell<Option<(Key, Option<RefState>)>>,
    spill_at: usize,
    disk: Option<Runs>,
}

/// The sorted runs on disk.
struct Runs {
    file: File,
    end: u64,
    runs: Vec<Run>,
    /// Blocked Bloom filter: every key sets its bits in one 64-bit word.
    bloom: Vec<u64>,
    /// The smallest and largest key of all runs. References usually grow
    /// line by line (a counter): a new one then lies past every run and is
    /// known absent without touching the filter, whose word is a cache miss.
    bounds: Option<(RunKey, RunKey)>,
}

/// A key of a run, as stored in its bounds and index.
type RunKey = Box<[u8]>;

struct Run {
    min: Box<[u8]>,
    max: Box<[u8]>,
    /// The first key of each block, one after the other: one allocation
    /// per run, not one per block (the index is what grows with a batch).
    index_keys: Vec<u8>,
    /// Per block: where its key ends in `index_keys`, where it starts on disk.
    index: Vec<(u32, u64)>,
    end: u64,
}

impl Run {
    fn index_key(&self, b: usize) -> &[u8] {
        let from = if b == 0 {
            0
        } else {
            self.index[b - 1].0 as usize
        };
        &self.index_keys[from..self.index[b].0 as usize]
    }

    /// The block that holds `key` if the run does (`key` >= the run's min).
    fn block_of(&self, key: &[u8]) -> usize {
        // The first block whose key is greater, minus one.
        let (mut lo, mut hi) = (0, self.index.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if key_order(self.index_key(mid), key).is_le() {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo - 1
    }
}

/// The longest reference kept inline in a [`Key`]; a ReferentieNummer has at
/// most 20 bytes.
const INLINE: usize = 23;

/// A reference as a fixed-width key: its length, then its bytes, zero-padded.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key([u8; INLINE + 1]);

impl Key {
    fn new(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() > INLINE {
            return None;
        }
        let mut k = [0u8; INLINE + 1];
        k[0] = b.len() as u8;
        k[1..=b.len()].copy_from_slice(b);
        Some(Self(k))
    }

    fn as_bytes(&self) -> &[u8] {
        &self.0[1..=usize::from(self.0[0])]
    }

    /// The key in [`key_order`]: length first, then the bytes (equal
    /// lengths pad alike).
    fn order(&self) -> [u64; 3] {
        let w =
            |i: usize| u64::from_be_bytes(self.0[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        [w(0), w(1), w(2)]
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.0);
    }
}

/// The in-memory table's hasher: a multiply-rotate over 8-byte words with a
/// per-table random seed, finished with splitmix64. References are at most 20
/// bytes, so this is a few multiplications where SipHash is a few rounds per
/// word; the seed keeps colliding keys from being chosen in advance, and the
/// table never holds more than [`SPILL_AT`] entries.
#[derive(Clone)]
struct KeyHash(u64);

impl KeyHash {
    fn new() -> Self {
        Self(std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64))
    }
}

impl BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(self.0)
    }
}

struct KeyHasher(u64);

impl KeyHasher {
    #[inline]
    fn mix(&mut self, w: u64) {
        self.0 = (self.0 ^ w)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }
}

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(w));
        }
        self.mix(bytes.len() as u64);
    }
    #[inline]
    fn write_u8(&mut self, b: u8) {
        self.mix(u64::from(b) | 0x100);
    }
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^ (h >> 31)
    }
}

/// A multiply-rotate over 8-byte words, then a splitmix64 finish: a
/// reference is at most three words, where a byte-wise hash takes twenty
/// rounds.
fn hash(key: &[u8]) -> u64 {
    let mut h = KeyHasher(0x243f_6a88_85a3_08d3);
    h.write(key);
    h.finish()
}

/// The order of keys in a run: by length, then by bytes. Any total order
/// serves (runs are only searched, never shown); this one is decided by
/// [`order_head`] for nearly every pair, without a call to `memcmp`.
fn key_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    order_head(a).cmp(&order_head(b)).then_with(|| a.cmp(b))
}

/// A key's length and first eight bytes, in [`key_order`].
fn order_head(k: &[u8]) -> (usize, u64) {
    let mut w = [0u8; 8];
    for (d, s) in w.iter_mut().zip(k) {
        *d = *s;
    }
    (k.len(), u64::from_be_bytes(w))
}

/// The word and the five bits a key sets.
fn bloom_slot(key: &[u8], words: usize) -> (usize, u64) {
    let h = hash(key);
    debug_assert!(words.is_power_of_two());
    let word = (h as usize) & (words - 1);
    let mut mask = 0u64;
    for i in 0..5 {
        mask |= 1 << ((h >> (32 + 6 * i)) & 63);
    }
    (word, mask)
}

impl Runs {
    fn new() -> io::Result<Self> {
        Ok(Self {
            file: tempfile::tempfile()?,
            end: 0,
            runs: Vec::new(),
            bloom: vec![0; BLOOM_BYTES / 8],
            bounds: None,
        })
    }

    fn may_hold(&self, key: &[u8]) -> bool {
        let (w, m) = bloom_slot(key, self.bloom.len());
        self.bloom[w] & m == m
    }

    /// Appends `entries` (sorted by [`key_order`], keys unique) as one run.
    fn push<'k>(
        &mut self,
        n: usize,
        entries: impl Iterator<Item = (&'k [u8], RefState)>,
    ) -> io::Result<()> {
        let start = self.end;
        let mut w = BufWriter::with_capacity(64 * 1024, &self.file);
        let mut pos = start;
        let mut index = Vec::with_capacity(n.div_ceil(BLOCK));
        let mut index_keys = Vec::new();
        let words = self.bloom.len();
        let mut ends: Option<(&[u8], &[u8])> = None;
        for (i, (key, s)) in entries.enumerate() {
            ends = Some(match ends {
                None => (key, key),
                Some((first, _)) => (first, key),
            });
            if i % BLOCK == 0 {
                index_keys.extend_from_slice(key);
                index.push((index_keys.len() as u32, pos));
            }
            let (word, mask) = bloom_slot(key, words);
            self.bloom[word] |= mask;
            // Appended: lookups read with pread, which leaves the file
            // position at the end.
            w.write_all(&[key.len() as u8])?;
            w.write_all(key)?;
            w.write_all(&[s.as_i64() as u8])?;
            pos += key.len() as u64 + 2;
        }
        w.flush()?;
        let Some((first, last)) = ends else {
            return Ok(());
        };
        index_keys.shrink_to_fit();
        self.end = pos;
        self.bounds = Some(match self.bounds.take() {
            None => (Box::from(first), Box::from(last)),
            Some((lo, hi)) => (
                if key_order(first, &lo).is_lt() {
                    Box::from(first)
                } else {
                    lo
                },
                if key_order(last, &hi).is_gt() {
                    Box::from(last)
                } else {
                    hi
                },
            ),
        });
        self.runs.push(Run {
            min: Box::from(first),
            max: Box::from(last),
            index_keys,
            index,
            end: pos,
        });
        Ok(())
    }

    fn get(&self, key: &[u8]) -> io::Result<Option<RefState>> {
        match &self.bounds {
            Some((lo, hi)) if key_order(key, lo).is_ge() && key_order(key, hi).is_le() => {}
            _ => return Ok(None),
        }
        if !self.may_hold(key) {
            return Ok(None);
        }
        for run in self.runs.iter().rev() {
            if key_order(key, &run.min).is_lt() || key_order(key, &run.max).is_gt() {
                continue;
            }
            let b = run.block_of(key);
            let from = run.index[b].1;
            let to = run.index.get(b + 1).map_or(run.end, |(_, o)| *o);
            let mut block = vec![0u8; (to - from) as usize];
            self.file.read_exact_at(&mut block, from)?;
            let mut rest = &block[..];
            while let Some((&n, tail)) = rest.split_first() {
                let n = n as usize;
                if tail.len() < n + 1 {
                    return Err(io::Error::other("reference table: corrupt run"));
                }
                if &tail[..n] == key {
                    return Ok(Some(RefState::from_i64(i64::from(tail[n]))));
                }
                rest = &tail[n + 1..];
            }
        }
        Ok(None)
    }
}

impl SpillingTable {
    pub fn with_spill_at(spill_at: usize) -> Self {
        Self {
            map: HashMap::with_hasher(KeyHash::new()),
            long: HashMap::with_hasher(KeyHash::new()),
            last_disk: Cell::new(None),
            spill_at: spill_at.max(1),
            disk: None,
        }
    }

    /// Moves the entries in memory to a new sorted run on disk.
    fn spill(&mut self) -> io::Result<()> {
        if self.disk.is_none() {
            self.disk = Some(Runs::new()?);
        }
        let disk = self.disk.as_mut().expect("just made");
        // Copies sorted in place: a spill is the moment of peak memory (the
        // full map and its copy side by side), so one copy, of 25 bytes an
        // entry. A `Key` (length, bytes, zeros) orders like `key_order` as
        // three big-endian words; every long key is longer than any `Key`,
        // so the long ones follow.
        let mut inline: Vec<(Key, RefState)> = self.map.iter().map(|(k, s)| (*k, *s)).collect();
        inline.sort_unstable_by_key(|(k, _)| k.order());
        let mut long: Vec<(&[u8], RefState)> = self
            .long
            .iter()
            .map(|(r, s)| (r.as_str().as_bytes(), *s))
            .collect();
        long.sort_unstable_by(|a, b| key_order(a.0, b.0));
        let entries = inline.iter().map(|(k, s)| (k.as_bytes(), *s));
        disk.push(
            inline.len() + long.len(),
            entries.chain(long.iter().copied()),
        )?;
        drop(long);
        drop(inline);
        self.map.clear();
        self.long.clear();
        self.last_disk.set(None);
        Ok(())
    }
}

/// The table a message is checked with.
pub fn message_refs() -> MessageRefs {
    MessageRefs::new(Box::new(SpillingTable::with_spill_at(SPILL_AT)))
}

impl RefTable for SpillingTable {
    fn get(&self, r: &Referentie) -> io::Result<Option<RefState>> {
        let Some(k) = Key::new(r.as_str()) else {
            if let Some(s) = self.long.get(r) {
                return Ok(Some(*s));
            }
            return match &self.disk {
                Some(d) => d.get(r.as_str().as_bytes()),
                None => Ok(None),
            };
        };
        if let Some(s) = self.map.get(&k) {
            return Ok(Some(*s));
        }
        let Some(d) = &self.disk else {
            return Ok(None);
        };
        // A key in memory is found above, and a spill forgets this: what the
        // disk said cannot have changed since.
        if let Some((last, found)) = self.last_disk.get() {
            if last == k {
                return Ok(found);
            }
        }
        let found = d.get(k.as_bytes())?;
        self.last_disk.set(Some((k, found)));
        Ok(found)
    }

    fn set(&mut self, r: &Referentie, s: RefState) -> io::Result<()> {
        let full = self.map.len() + self.long.len() >= self.spill_at;
        let Some(k) = Key::new(r.as_str()) else {
            match self.long.get_mut(r) {
                Some(old) => *old = s,
                None => {
                    if full {
                        self.spill()?;
                    }
                    self.long.insert(r.clone(), s);
                }
            }
            return Ok(());
        };
        // One probe for the common cases: a new key with room, or a key
        // already in memory.
        match self.map.entry(k) {
            Entry::Occupied(mut old) => *old.get_mut() = s,
            Entry::Vacant(slot) if !full => {
                slot.insert(s);
            }
            Entry::Vacant(_) => {
                self.spill()?;
                self.map.insert(k, s);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::history::tests::run;

    #[test]
    fn long_references_are_kept_too() {
        let mut t = SpillingTable::with_spill_at(2);
        let long = Referentie::new_unchecked("L".repeat(INLINE + 5));
        let short = |i: u32| Referentie::new_unchecked(format!("S{i}"));
        t.set(&long, RefState::Rejected).unwrap();
        for i in 0..5 {
            t.set(&short(i), RefState::Accepted).unwrap();
        }
        assert_eq!(t.get(&long).unwrap(), Some(RefState::Rejected));
        t.set(&long, RefState::AcceptedCredited).unwrap();
        assert_eq!(t.get(&long).unwrap(), Some(RefState::AcceptedCredited));
        assert_eq!(t.get(&short(0)).unwrap(), Some(RefState::Accepted));
        assert_eq!(t.get(&short(9)).unwrap(), None);
    }

    /// Runs of several blocks each, keys in no order and of every length,
    /// some set again in a later run: every lookup agrees with a plain map,
    /// and keys never set are absent.
    #[test]
    fn lookups_across_blocks_and_runs_agree_with_a_map() {
        let spill_at = BLOCK * 3 + 17;
        let mut t = SpillingTable::with_spill_at(spill_at);
        let mut model = HashMap::new();
        let key = |i: u64| {
            // A scrambled counter: keys of 1 to 20 digits, in no order.
            let x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (i % 60);
            Referentie::new_unchecked(format!("R{x}"))
        };
        let states = [
            RefState::Accepted,
            RefState::Rejected,
            RefState::AcceptedCredited,
        ];
        for i in 0..(spill_at as u64 * 5) {
            let r = key(i % 4_000);
            let s = states[(i % 3) as usize];
            t.set(&r, s).unwrap();
            model.insert(r, s);
        }
        assert!(t.disk.as_ref().is_some_and(|d| d.runs.len() >= 4));
        for (r, s) in &model {
            assert_eq!(t.get(r).unwrap(), Some(*s), "{r:?}");
        }
        for i in 4_000..5_000 {
            let r = key(i);
            if !model.contains_key(&r) {
                assert_eq!(t.get(&r).unwrap(), None, "{r:?}");
            }
        }
    }

    #[test]
    fn spilled_table_behaves_the_same() {
        let in_memory = run(&mut MessageRefs::in_memory());
        let spilled = run(&mut MessageRefs::new(Box::new(
            SpillingTable::with_spill_at(2),
        )));
        assert_eq!(in_memory, spilled);
    }
}
