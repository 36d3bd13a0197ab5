//! Value types of the wire contract. Each parses once at the edge and is valid
//! afterwards, so the rules never re-check a format.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A calendar date without time zone (`xs:date` restricted to `YYYY-MM-DD`).
pub type Datum = NaiveDate;

/// Parses `YYYY-MM-DD` exactly: four-digit year, real calendar day, no zone.
pub fn parse_datum(s: &str) -> Option<Datum> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    if !b
        .iter()
        .enumerate()
        .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    {
        return None;
    }
    let y: i32 = s[0..4].parse().ok()?;
    let m: u32 = s[5..7].parse().ok()?;
    let d: u32 = s[8..10].parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, d)
}

/// A date as `YYYY-MM-DD`, written without chrono's formatter or a heap
/// String: the ledger's inserts and every rendered message write about
/// twenty dates per request. The same text as `to_string()` (a year past
/// 9999 or before 0 takes chrono's form).
pub enum IsoDate {
    Short([u8; 10]),
    Long(String),
}

/// A date in serde as chrono writes it ("YYYY-MM-DD", its `Display`),
/// through [`iso_date`] instead of chrono's formatter: the same string, so
/// the same bytes in every format (postcard's kept answers and check spool,
/// JSON), at a fraction of the cost (chrono's formatter, run twice by
/// postcard's `collect_str`, was a sixth of keeping an answer). Read back
/// by chrono as before.
pub mod iso_serde {
    use super::{iso_date, Datum};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Datum, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&iso_date(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Datum, D::Error> {
        Datum::deserialize(d)
    }
}

pub fn iso_date(d: Datum) -> IsoDate {
    let year = d.year();
    if !(0..=9999).contains(&year) {
        return IsoDate::Long(d.to_string());
    }
    let mut b = *b"0000-00-00";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, d.month());
    put(8, 2, d.day());
    IsoDate::Short(b)
}

impl std::ops::Deref for IsoDate {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            // Only ASCII digits and dashes are ever written into it.
            IsoDate::Short(b) => std::str::from_utf8(b).unwrap_or("0000-00-00"),
            IsoDate::Long(s) => s,
        }
    }
}

fn all_digits(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|c| c.is_ascii_digit())
}

macro_rules! string_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);
        impl $name {
            pub fn as_str(&self) -> &str { &self.0 }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(&self.0) }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "{}({:?})", stringify!($name), self.0) }
        }
    };
}

string_type!(
    /// AGB code of a care provider: exactly 8 digits.
    AgbCode
);
impl AgbCode {
    pub fn parse(s: &str) -> Option<Self> {
        all_digits(s, 8).then(|| Self(s.to_owned()))
    }
}

string_type!(
    /// Zorgkantoor code: exactly 4 digits.
    ZorgkantoorCode
);
impl ZorgkantoorCode {
    pub fn parse(s: &str) -> Option<Self> {
        all_digits(s, 4).then(|| Self(s.to_owned()))
    }
}

/// A value of fixed length in ASCII, kept inline: parsing and cloning one
/// allocates nothing (one per line and per verdict). Compares, orders,
/// hashes, prints and serialises exactly as the string it stands for.
macro_rules! fixed_type {
    ($(#[$m:meta])* $name:ident, $len:literal) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
        pub struct $name([u8; $len]);
        impl $name {
            /// `s` must be `$len` ASCII bytes (every parser checks it).
            fn inline(s: &str) -> Self {
                let mut b = [0u8; $len];
                b.copy_from_slice(s.as_bytes());
                debug_assert!(b.is_ascii());
                Self(b)
            }
            pub fn as_str(&self) -> &str {
                std::str::from_utf8(&self.0).expect("ASCII by construction")
            }
        }
        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, h: &mut H) { self.as_str().hash(h) }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "{}({:?})", stringify!($name), self.as_str()) }
        }
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).ok_or_else(|| serde::de::Error::custom(format!(
                    "`{s}` is not a valid {}", stringify!($name))))
            }
        }
    };
}

fixed_type!(
    /// A BSN as it stands on the wire: 9 digits. Whether it passes the
    /// elfproef is a rule (0201), not a format, so it is asked separately.
    Bsn, 9
);
impl Bsn {
    pub fn parse(s: &str) -> Option<Self> {
        all_digits(s, 9).then(|| Self::inline(s))
    }
    /// The elfproef of the BSN: weights 9..2 and -1 on the last digit; the
    /// all-zero number is refused even though it passes the arithmetic.
    pub fn passes_elfproef(&self) -> bool {
        elfproef(self.as_str())
    }
}

/// `true` when `s` is 9 digits, not all zero, and passes the elfproef.
pub fn elfproef(s: &str) -> bool {
    if !all_digits(s, 9) || s.bytes().all(|c| c == b'0') {
        return false;
    }
    let sum: i64 = s
        .bytes()
        .enumerate()
        .map(|(i, c)| {
            let d = i64::from(c - b'0');
            if i == 8 {
                -d
            } else {
                d * (9 - i as i64)
            }
        })
        .sum();
    sum % 11 == 0
}

fixed_type!(
    /// Product code: one capital letter and three digits, e.g. `H300`.
    ProductCode, 4
);
impl ProductCode {
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        (b.len() == 4 && b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_digit))
            .then(|| Self::inline(s))
    }
}

string_type!(
    /// School code: two digits and two capital letters, e.g. `12AB`.
    Brin
);
impl Brin {
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        (b.len() == 4
            && b[..2].iter().all(u8::is_ascii_digit)
            && b[2..].iter().all(u8::is_ascii_uppercase))
        .then(|| Self(s.to_owned()))
    }
}

string_type!(
    /// A message or line reference: 1 to 20 characters of `[A-Za-z0-9-]`.
    Referentie
);
impl Referentie {
    pub fn parse(s: &str) -> Option<Self> {
        (!s.is_empty()
            && s.len() <= 20
            && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'))
        .then(|| Self(s.to_owned()))
    }
    /// For values the gateway makes itself (answer ids, derived ids).
    pub fn new_unchecked(s: String) -> Self {
        Self(s)
    }
}

/// Parses an unsigned decimal of 1..=`max_digits` digits (leading zeros allowed).
pub fn parse_digits(s: &str, max_digits: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max_digits || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Besluitnummer of a CIZ indicatiebesluit: 1 to 999999999.
pub fn parse_besluitnummer(s: &str) -> Option<u64> {
    parse_digits(s, 9).filter(|&n| n >= 1)
}

/// An amount in euro cents. Integer cents keep every sum exact.
pub type Cents = u64;

/// The unit a volume is declared in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Eenheid {
    /// `01`
    Minuut,
    /// `04`
    Uur,
    /// `16`: a dagdeel of four hours.
    Dagdeel,
}

impl Eenheid {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "01" => Some(Self::Minuut),
            "04" => Some(Self::Uur),
            "16" => Some(Self::Dagdeel),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Self::Minuut => "01",
            Self::Uur => "04",
            Self::Dagdeel => "16",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DebetCredit {
    Debet,
    Credit,
}

impl DebetCredit {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "D" => Some(Self::Debet),
            "C" => Some(Self::Credit),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Self::Debet => "D",
            Self::Credit => "C",
        }
    }
}

/// `xs:boolean`.
pub fn parse_boolean(s: &str) -> Option<bool> {
    match s {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// An inclusive range of calendar days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    #[serde(with = "crate::types::iso_serde")]
    pub from: Datum,
    #[serde(with = "crate::types::iso_serde")]
    pub to: Datum,
}

impl Period {
    pub fn new(from: Datum, to: Datum) -> Self {
        Self { from, to }
    }
    /// Every day of `self` lies inside `outer` (both ends inclusive). The spec
    /// calls a period outside a range when any one of its days is outside it.
    pub fn within(&self, outer: &Period) -> bool {
        self.from >= outer.from && self.to <= outer.to
    }
    /// Number of days, both ends included; 0 when the end precedes the start.
    pub fn days(&self) -> u64 {
        let d = (self.to - self.from).num_days() + 1;
        d.max(0) as u64
    }
    pub fn in_one_month(&self) -> bool {
        self.from.year() == self.to.year() && self.from.month() == self.to.month()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_serde_writes_the_bytes_chrono_serde_writes() {
        use chrono::NaiveDate;
        #[derive(serde::Serialize)]
        struct Ours(#[serde(with = "super::iso_serde")] NaiveDate);
        let mut days: Vec<NaiveDate> = (0..3000)
            .map(|i| NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Days::new(i * 7))
            .collect();
        days.extend([
            NaiveDate::from_ymd_opt(0, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(9999, 12, 31).unwrap(),
            NaiveDate::from_ymd_opt(-1, 6, 1).unwrap(),
            NaiveDate::from_ymd_opt(10000, 1, 1).unwrap(),
        ]);
        for d in days {
            assert_eq!(
                postcard::to_allocvec(&Ours(d)).unwrap(),
                postcard::to_allocvec(&d).unwrap(),
                "{d}"
            );
            assert_eq!(
                serde_json::to_string(&Ours(d)).unwrap(),
                serde_json::to_string(&d).unwrap()
            );
        }
    }

    #[test]
    fn iso_dates_are_what_chrono_writes() {
        use chrono::NaiveDate;
        let mut d = NaiveDate::from_ymd_opt(1899, 12, 25).unwrap();
        let end = NaiveDate::from_ymd_opt(2101, 1, 10).unwrap();
        while d <= end {
            assert_eq!(&*super::iso_date(d), d.to_string());
            d = d.succ_opt().unwrap();
        }
        for (y, m, dd) in [
            (0, 1, 1),
            (9999, 12, 31),
            (-1, 6, 15),
            (10000, 1, 1),
            (7, 2, 3),
        ] {
            let d = NaiveDate::from_ymd_opt(y, m, dd).unwrap();
            assert_eq!(&*super::iso_date(d), d.to_string());
        }
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn elfproef_known_values() {
        assert!(elfproef("999999990"));
        assert!(elfproef("111222333"));
        assert!(!elfproef("111222334"));
        assert!(!elfproef("000000000"));
        assert!(!elfproef("12345678"));
    }

    #[test]
    fn dates_are_strict() {
        assert!(parse_datum("2024-02-29").is_some());
        assert!(parse_datum("2023-02-29").is_none());
        assert!(parse_datum("2024-2-01").is_none());
        assert!(parse_datum("2024-02-01Z").is_none());
        assert!(parse_datum("+024-02-01").is_none());
    }

    proptest! {
        // Changing exactly one digit of a valid BSN always breaks the elfproef:
        // the weights 9..2 and -1 are all non-zero modulo 11.
        #[test]
        fn elfproef_detects_single_digit_change(n in 1u64..99_999_999, pos in 0usize..9, delta in 1u8..10) {
            // Build a valid BSN from 8 digits and the check digit they imply.
            let head = format!("{n:08}");
            let weighted: u64 = head.bytes().enumerate().map(|(i, c)| u64::from(c - b'0') * (9 - i as u64)).sum();
            let check = weighted % 11;
            prop_assume!(check < 10);
            let s = format!("{head}{check}");
            prop_assert!(elfproef(&s));
            let mut b = s.into_bytes();
            b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(b).unwrap();
            prop_assert!(!elfproef(&changed));
        }

        #[test]
        fn elfproef_matches_definition(n in 0u64..=999_999_999) {
            let s = format!("{n:09}");
            let d: Vec<i64> = s.bytes().map(|c| i64::from(c - b'0')).collect();
            let sum = 9*d[0]+8*d[1]+7*d[2]+6*d[3]+5*d[4]+4*d[5]+3*d[6]+2*d[7]-d[8];
            prop_assert_eq!(elfproef(&s), n != 0 && sum % 11 == 0);
        }

        #[test]
        fn datum_roundtrips(days in 0i64..200_000) {
            let d = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Duration::days(days);
            let s = d.format("%Y-%m-%d").to_string();
            prop_assume!(s.len() == 10);
            prop_assert_eq!(parse_datum(&s), Some(d));
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,24}") {
            let _ = parse_datum(&s);
            let _ = Bsn::parse(&s);
            let _ = ProductCode::parse(&s);
            let _ = Referentie::parse(&s);
            let _ = Brin::parse(&s);
            let _ = parse_digits(&s, 8);
        }
    }
}
