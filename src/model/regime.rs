//! The ZiO regime as data: which codes are ZiO codes and what they stand for,
//! the window, the participants, their agreements and the maximum tariffs.
//! A future regime is a new configuration, not new code.

use crate::types::{AgbCode, Cents, Datum, Period, ProductCode, ZorgkantoorCode};
use chrono::Datelike;
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Declared in hours (`04`) or minutes (`01`).
    Uur,
    /// Declared in dagdelen (`16`) of four hours.
    Dagdeel,
}

#[derive(Clone, Debug)]
pub struct Product {
    pub unit: Unit,
    /// The iWlz FunctieCode this product is care of (81 begeleiding individueel,
    /// 82 begeleiding in groepsverband).
    pub function: u8,
    /// A child product (0405 for clients aged 18 or older).
    pub child: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutOfWindow {
    Reject,
    Remap,
}

#[derive(Clone, Debug)]
pub struct Participant {
    pub agb: AgbCode,
    pub zorgkantoor: ZorgkantoorCode,
    pub period: Period,
}

#[derive(Clone, Debug)]
pub struct Agreement {
    pub agb: AgbCode,
    pub zorgkantoor: ZorgkantoorCode,
    pub year: i32,
    pub herschikking_cents: Cents,
    /// Agreed hours or dagdelen per code.
    pub volumes: BTreeMap<ProductCode, u64>,
    pub prices_cents: BTreeMap<ProductCode, Cents>,
}

#[derive(Clone, Debug)]
pub struct Regime {
    pub name: String,
    pub window: Period,
    pub out_of_window: OutOfWindow,
    pub start_days: Vec<(u32, u32)>,
    pub last_start: Datum,
    /// ZiO code -> the regular code it stands for.
    pub codes: BTreeMap<ProductCode, ProductCode>,
    pub products: BTreeMap<ProductCode, Product>,
    pub participants: Vec<Participant>,
    pub agreements: Vec<Agreement>,
    /// Maximum tariff per (code, year); absent = not checked.
    pub tariffs: HashMap<(ProductCode, i32), Cents>,
}

impl Regime {
    pub fn product(&self, code: &ProductCode) -> Option<&Product> {
        self.products.get(code)
    }

    /// The regular code a ZiO code stands for; `None` for a regular code.
    pub fn regular_for(&self, code: &ProductCode) -> Option<&ProductCode> {
        self.codes.get(code)
    }

    pub fn is_zio(&self, code: &ProductCode) -> bool {
        self.codes.contains_key(code)
    }

    /// A regular code that some ZiO code stands for (H300, H8xx by default).
    pub fn has_zio_counterpart(&self, code: &ProductCode) -> bool {
        self.codes.values().any(|c| c == code)
    }

    pub fn in_window(&self, period: &Period) -> bool {
        period.within(&self.window)
    }

    /// The pair is a participant on every day of the period.
    pub fn is_participant(&self, agb: &AgbCode, zk: &ZorgkantoorCode, period: &Period) -> bool {
        self.participants
            .iter()
            .any(|p| &p.agb == agb && &p.zorgkantoor == zk && period.within(&p.period))
    }

    pub fn agreement(&self, agb: &AgbCode, zk: &ZorgkantoorCode, year: i32) -> Option<&Agreement> {
        self.agreements
            .iter()
            .find(|a| &a.agb == agb && &a.zorgkantoor == zk && a.year == year)
    }

    /// The maximum tariff for a code in the year of `day`, when configured.
    pub fn max_tariff(&self, code: &ProductCode, day: Datum) -> Option<Cents> {
        self.tariffs.get(&(code.clone(), day.year())).copied()
    }
}
