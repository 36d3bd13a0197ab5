//! 04xx: indication and allocation checks against the iWlz registry.
//!
//! The registry is consulted once per client ([`IndicationSource::client`]);
//! every line of that client is then checked in memory against the
//! [`ClientRegistry`]. What each code means is `docs/contract/iwlz.md`; the
//! readings where it leaves room are in `docs/interpretation.md`:
//!
//! - 0401: an Indicatie with the declared Besluitnummer for this BSN,
//!   positive, valid on every day of the period.
//! - 0402 (only when 0401 passes): that Indicatie has an indicated function
//!   with the product's FunctieCode, or an indicated ZZP, covering the period.
//! - 0403: one allocation (ToegewezenFunctie) of the product's FunctieCode
//!   to the declaring provider covering the whole period.
//! - 0404: a ZZP allocation with Leveringsvorm 2 (pgb) valid on any day of
//!   the period.
//! - 0407: for a line still carrying a ZiO code, a ZZP allocation with
//!   Leveringsvorm 4, 5, 8 or 9 (not mpt) valid on any day of the period;
//!   never together with 0404.
//! - 0405: a child product for a client aged 18 or more on the Begindatum.
//! - 0406 (only when 0403 passes, and when configured): on one of the
//!   allocations found for 0403, delivery started (AW35) on or before the
//!   Begindatum and did not end (AW39) on that start or later before the
//!   Einddatum.

use crate::model::iwlz::{
    Aanvang, ClientRegistry, Mutatie, ToegewezenFunctie, LEVERINGSVORMEN_NOT_MPT, LEVERINGSVORM_PGB,
};
use crate::model::regime::Product;
use crate::retourcode::Retourcode;
use crate::types::{AgbCode, Bsn, Datum, Period};
use chrono::Datelike;

/// What a line says about the client and the care, as the 04xx checks need it.
pub struct LineFacts<'a> {
    pub bsn: &'a Bsn,
    pub geboortedatum: Datum,
    pub besluitnummer: u64,
    /// The declaring provider.
    pub instelling: &'a AgbCode,
    /// The product as forwarded (after any remap).
    pub product: &'a Product,
    pub periode: Period,
    pub require_start_of_delivery: bool,
    /// The line still carries a ZiO code (not remapped to its regular code,
    /// not rejected with 0501): only then is 0407 checked.
    pub zio_code: bool,
}

/// The registry as the rules see it: everything known of one client, fetched
/// once per client.
pub trait IndicationSource {
    /// All indications, allocations, starts and ends of delivery for `bsn`
    /// (empty when the registry knows nothing of the client). An
    /// implementation that fails must not invent an answer silently: see
    /// [`crate::sinks::registry::StoreIndications`].
    fn client(&self, bsn: &Bsn) -> ClientRegistry;
}

/// Age in whole years on `day` (a birthday on 29 February counts from 1 March
/// in other years).
pub fn age_on(born: Datum, day: Datum) -> i32 {
    let mut age = day.year() - born.year();
    if (day.month(), day.day()) < (born.month(), born.day()) {
        age -= 1;
    }
    age
}

/// Adds every 04xx code that applies to one line. The caller decides whether
/// 04xx runs at all (registry loaded, client identity known, product known).
pub fn check(reg: &ClientRegistry, f: &LineFacts<'_>, codes: &mut Vec<Retourcode>) {
    // A reversed period (0303) is checked over the days between its dates.
    let p = if f.periode.to < f.periode.from {
        Period::new(f.periode.to, f.periode.from)
    } else {
        f.periode
    };
    let function = u16::from(f.product.function);

    // 0401 / 0402: the declared indication.
    let indicatie = reg
        .indicaties
        .iter()
        .find(|i| i.besluitnummer == f.besluitnummer && i.positief() && i.geldig.covers(&p));
    match indicatie {
        None => codes.push(Retourcode::R0401),
        Some(i) => {
            let covered = i
                .functies
                .iter()
                .any(|g| g.code == function && g.geldig.covers(&p))
                || i.zzps.iter().any(|g| g.geldig.covers(&p));
            if !covered {
                codes.push(Retourcode::R0402);
            }
        }
    }

    // 0403 / 0406: the allocation to this provider, whatever indication it came with.
    let allocations: Vec<&ToegewezenFunctie> = reg
        .functies
        .iter()
        .filter(|a| {
            a.functiecode == function && &a.instelling == f.instelling && a.geldig.covers(&p)
        })
        .collect();
    if allocations.is_empty() {
        codes.push(Retourcode::R0403);
    } else if f.require_start_of_delivery && !allocations.iter().any(|a| delivering(reg, a, &p)) {
        codes.push(Retourcode::R0406);
    }

    // 0404: care in kind cannot be declared on days of a pgb.
    let pgb = reg
        .zzps
        .iter()
        .any(|z| z.leveringsvorm == LEVERINGSVORM_PGB && z.geldig.overlaps(&p));
    if pgb {
        codes.push(Retourcode::R0404);
    }

    // 0407: a ZiO code on days of a ZZP allocation that is not mpt; never
    // together with 0404 (a pgb gets 0404 only).
    if f.zio_code
        && !pgb
        && reg
            .zzps
            .iter()
            .any(|z| LEVERINGSVORMEN_NOT_MPT.contains(&z.leveringsvorm) && z.geldig.overlaps(&p))
    {
        codes.push(Retourcode::R0407);
    }

    // 0405: child products end at 18.
    if f.product.child && age_on(f.geboortedatum, p.from) >= 18 {
        codes.push(Retourcode::R0405);
    }
}

fn same_allocation_start(a: &ToegewezenFunctie, s: &Aanvang) -> bool {
    s.functiecode == a.functiecode
        && s.instelling == a.instelling
        && s.toewijzing_ingangsdatum == a.geldig.ingangsdatum
}

fn same_allocation_end(a: &ToegewezenFunctie, m: &Mutatie) -> bool {
    m.functiecode == a.functiecode
        && m.instelling == a.instelling
        && m.toewijzing_ingangsdatum == a.geldig.ingangsdatum
}

/// Delivery on allocation `a` runs on every day of `p`: a start on or before
/// the first day, and no ending mutation from that start on whose last day of
/// care lies before the period's last day.
fn delivering(reg: &ClientRegistry, a: &ToegewezenFunctie, p: &Period) -> bool {
    reg.aanvangen
        .iter()
        .filter(|s| same_allocation_start(a, s) && s.begindatum <= p.from)
        .any(|s| {
            !reg.mutaties.iter().any(|m| {
                same_allocation_end(a, m)
                    && m.beeindigt()
                    && m.mutatiedatum >= s.begindatum
                    && m.mutatiedatum < p.to
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::iwlz::{Geindiceerd, Geldigheid, Indicatie, ToegewezenZzp};
    use crate::model::regime::Unit;
    use crate::types::parse_datum;

    fn d(s: &str) -> Datum {
        parse_datum(s).unwrap()
    }
    fn g(from: &str, to: Option<&str>) -> Geldigheid {
        Geldigheid::new(d(from), to.map(d))
    }

    const BESLUIT: u64 = 4100001;

    fn agb() -> AgbCode {
        AgbCode::parse("11110001").unwrap()
    }

    /// A client with indication 2024-01-01..2024-12-31 for 81 and 82, an
    /// allocation of 81 from 2024-02-01 to 2024-06-30 to 11110001, delivery
    /// started 2024-02-05 and ended (AW39 code 19) on 2024-05-15.
    fn registry() -> ClientRegistry {
        ClientRegistry {
            indicaties: vec![Indicatie {
                besluitnummer: BESLUIT,
                afgiftedatum: Some(d("2023-12-20")),
                geldig: g("2024-01-01", Some("2024-12-31")),
                functies: vec![
                    Geindiceerd {
                        code: 81,
                        geldig: g("2024-01-01", Some("2024-12-31")),
                    },
                    Geindiceerd {
                        code: 82,
                        geldig: g("2024-03-01", None),
                    },
                ],
                zzps: vec![],
            }],
            functies: vec![ToegewezenFunctie {
                functiecode: 81,
                instelling: agb(),
                geldig: g("2024-02-01", Some("2024-06-30")),
                besluitnummer: BESLUIT,
                toewijzingsdatum: Some(d("2024-01-20")),
                toewijzingstijd: Some("10:00:00".into()),
                reden_intrekking: None,
            }],
            zzps: vec![],
            aanvangen: vec![Aanvang {
                functiecode: 81,
                instelling: agb(),
                toewijzing_ingangsdatum: d("2024-02-01"),
                begindatum: d("2024-02-05"),
                besluitnummer: BESLUIT,
                status: 1,
            }],
            mutaties: vec![Mutatie {
                functiecode: 81,
                instelling: agb(),
                toewijzing_ingangsdatum: d("2024-02-01"),
                mutatiecode: 19,
                mutatiedatum: d("2024-05-15"),
                besluitnummer: BESLUIT,
                status: 1,
            }],
        }
    }

    fn product(function: u8, child: bool) -> Product {
        Product {
            unit: Unit::Uur,
            function,
            child,
        }
    }

    fn codes_for(
        reg: &ClientRegistry,
        from: &str,
        to: &str,
        function: u8,
        child: bool,
        born: &str,
        besluit: u64,
    ) -> Vec<&'static str> {
        let a = agb();
        let bsn = Bsn::parse("111222333").unwrap();
        let prod = product(function, child);
        let mut c = Vec::new();
        check(
            reg,
            &LineFacts {
                bsn: &bsn,
                geboortedatum: d(born),
                besluitnummer: besluit,
                instelling: &a,
                product: &prod,
                periode: Period::new(d(from), d(to)),
                require_start_of_delivery: true,
                zio_code: function == 81 && child,
            },
            &mut c,
        );
        c.sort();
        c.into_iter().map(|c| c.code()).collect()
    }

    fn h300(reg: &ClientRegistry, from: &str, to: &str) -> Vec<&'static str> {
        codes_for(reg, from, to, 81, false, "2014-06-12", BESLUIT)
    }

    #[test]
    fn a_line_inside_everything_is_clean() {
        assert!(h300(&registry(), "2024-03-04", "2024-03-08").is_empty());
    }

    #[test]
    fn r0401_indication_boundaries() {
        let mut r = registry();
        // Stretch the allocation and delivery so only the indication matters.
        r.functies[0].geldig = g("2023-01-01", None);
        r.aanvangen[0].toewijzing_ingangsdatum = d("2023-01-01");
        r.aanvangen[0].begindatum = d("2023-01-01");
        r.mutaties.clear();
        r.indicaties[0].functies[0].geldig = g("2023-01-01", None);
        // First and last day of the indication: fine.
        assert!(h300(&r, "2024-01-01", "2024-01-01").is_empty());
        assert!(h300(&r, "2024-12-31", "2024-12-31").is_empty());
        // One day before or after: 0401.
        assert_eq!(h300(&r, "2023-12-31", "2024-01-05"), ["0401"]);
        assert_eq!(h300(&r, "2024-12-30", "2025-01-01"), ["0401"]);
        // Another Besluitnummer: 0401.
        assert_eq!(
            codes_for(&r, "2024-03-04", "2024-03-08", 81, false, "2014-06-12", 999),
            ["0401"]
        );
        // Open-ended indication: valid far ahead.
        r.indicaties[0].geldig.einddatum = None;
        assert!(h300(&r, "2030-03-04", "2030-03-08").is_empty());
        // A negative decision (nothing indicated) is no indication.
        r.indicaties[0].functies.clear();
        assert_eq!(h300(&r, "2024-03-04", "2024-03-08"), ["0401"]);
    }

    #[test]
    fn r0402_function_or_zzp() {
        let r = registry();
        // 82 is indicated from 2024-03-01: a dagbesteding line in February is 0402.
        let f82 =
            |r: &ClientRegistry, from, to| codes_for(r, from, to, 82, false, "2014-06-12", BESLUIT);
        let v = f82(&r, "2024-02-26", "2024-02-29");
        assert!(v.contains(&"0402"), "{v:?}");
        let v = f82(&r, "2024-03-01", "2024-03-05");
        assert!(!v.contains(&"0402"), "{v:?}");
        // An indicated ZZP covers any function.
        let mut r2 = registry();
        r2.indicaties[0].functies.retain(|g| g.code == 81);
        assert!(f82(&r2, "2024-03-04", "2024-03-08").contains(&"0402"));
        r2.indicaties[0].zzps.push(Geindiceerd {
            code: 806,
            geldig: g("2024-01-01", None),
        });
        assert!(!f82(&r2, "2024-03-04", "2024-03-08").contains(&"0402"));
        // 0401 suppresses 0402.
        let v = codes_for(&r, "2024-02-26", "2024-02-29", 82, false, "2014-06-12", 7);
        assert!(v.contains(&"0401") && !v.contains(&"0402"), "{v:?}");
    }

    #[test]
    fn r0403_allocation_boundaries_and_provider() {
        let mut r = registry();
        r.mutaties.clear();
        r.aanvangen[0].begindatum = d("2024-02-01");
        assert!(h300(&r, "2024-02-01", "2024-02-01").is_empty());
        assert!(h300(&r, "2024-06-30", "2024-06-30").is_empty());
        assert_eq!(h300(&r, "2024-01-31", "2024-02-02"), ["0403"]);
        assert_eq!(h300(&r, "2024-06-28", "2024-07-01"), ["0403"]);
        // Another provider's allocation does not count.
        r.functies[0].instelling = AgbCode::parse("22220001").unwrap();
        assert_eq!(h300(&r, "2024-03-04", "2024-03-08"), ["0403"]);
    }

    #[test]
    fn r0404_pgb_on_any_day() {
        let mut r = registry();
        r.zzps.push(ToegewezenZzp {
            zzpcode: 806,
            instelling: None,
            leveringsvorm: 2,
            geldig: g("2024-01-01", Some("2024-03-03")),
            besluitnummer: BESLUIT,
            toewijzingsdatum: None,
            toewijzingstijd: None,
            reden_intrekking: None,
        });
        assert!(h300(&r, "2024-03-04", "2024-03-08").is_empty());
        assert_eq!(h300(&r, "2024-03-03", "2024-03-08"), ["0404"]);
        r.zzps[0].leveringsvorm = 7; // mpt: care in kind
        assert!(h300(&r, "2024-03-03", "2024-03-08").is_empty());
    }

    /// A ZiO line (H307 stands in: function 81; `child` marks it ZiO in
    /// `codes_for`) against ZZP allocations of each Leveringsvorm.
    #[test]
    fn r0407_zio_code_on_a_zzp_that_is_not_mpt() {
        let zio =
            |r: &ClientRegistry, from, to| codes_for(r, from, to, 81, true, "2014-06-12", BESLUIT);
        let mut r = registry();
        // No ZZP allocation at all (functions only): no 0407.
        assert!(zio(&r, "2024-03-04", "2024-03-08").is_empty());
        r.zzps.push(ToegewezenZzp {
            zzpcode: 806,
            instelling: None,
            leveringsvorm: 4,
            geldig: g("2024-01-01", Some("2024-03-03")),
            besluitnummer: BESLUIT,
            toewijzingsdatum: None,
            toewijzingstijd: None,
            reden_intrekking: None,
        });
        for lv in [4, 5, 8, 9] {
            r.zzps[0].leveringsvorm = lv;
            // The last day of the allocation is in the period: 0407.
            assert_eq!(zio(&r, "2024-03-03", "2024-03-08"), ["0407"], "{lv}");
            // The day after: no 0407.
            assert!(zio(&r, "2024-03-04", "2024-03-08").is_empty(), "{lv}");
            // A regular code (not ZiO) never gets 0407.
            assert!(h300(&r, "2024-03-03", "2024-03-08").is_empty(), "{lv}");
        }
        // mpt is the experiment's own: no 0407.
        r.zzps[0].leveringsvorm = 7;
        assert!(zio(&r, "2024-03-03", "2024-03-08").is_empty());
        // pgb: 0404 only, never with 0407.
        r.zzps[0].leveringsvorm = 2;
        assert_eq!(zio(&r, "2024-03-03", "2024-03-08"), ["0404"]);
        let mut both = r.clone();
        both.zzps.push(ToegewezenZzp {
            leveringsvorm: 4,
            ..both.zzps[0].clone()
        });
        assert_eq!(zio(&both, "2024-03-03", "2024-03-08"), ["0404"]);
    }

    #[test]
    fn r0405_eighteenth_birthday() {
        let r = registry();
        let f = |born| codes_for(&r, "2024-03-04", "2024-03-08", 81, true, born, BESLUIT);
        assert!(f("2006-03-05").is_empty()); // 17 on 2024-03-04
        assert_eq!(f("2006-03-04"), ["0405"]); // 18 on the Begindatum
                                               // Not a child product: no age limit.
        assert!(codes_for(
            &r,
            "2024-03-04",
            "2024-03-08",
            81,
            false,
            "1990-01-01",
            BESLUIT
        )
        .is_empty());
        assert_eq!(age_on(d("2004-02-29"), d("2022-02-28")), 17);
        assert_eq!(age_on(d("2004-02-29"), d("2022-03-01")), 18);
    }

    #[test]
    fn r0406_start_and_end_of_delivery() {
        let r = registry();
        // Started 2024-02-05: a line from that day is fine, from the day before is not.
        assert!(h300(&r, "2024-02-05", "2024-02-09").is_empty());
        assert_eq!(h300(&r, "2024-02-04", "2024-02-09"), ["0406"]);
        // Ended 2024-05-15 (last day of care): up to that day fine, one day more not.
        assert!(h300(&r, "2024-05-13", "2024-05-15").is_empty());
        assert_eq!(h300(&r, "2024-05-13", "2024-05-16"), ["0406"]);
        assert_eq!(h300(&r, "2024-05-20", "2024-05-24"), ["0406"]);
        // An ending mutation of another code does not end delivery.
        let mut r2 = registry();
        r2.mutaties[0].mutatiecode = 18;
        assert!(h300(&r2, "2024-05-20", "2024-05-24").is_empty());
        // A restart after the end counts from the new start.
        let mut r3 = registry();
        r3.aanvangen.push(Aanvang {
            begindatum: d("2024-06-01"),
            ..r3.aanvangen[0].clone()
        });
        assert!(h300(&r3, "2024-06-03", "2024-06-07").is_empty());
        assert_eq!(h300(&r3, "2024-05-27", "2024-05-31"), ["0406"]);
        // Without an allocation, 0403 only (0406 not checked).
        assert_eq!(h300(&r, "2024-07-01", "2024-07-05"), ["0403"]);
        // Switched off: no 0406.
        let a = agb();
        let bsn = Bsn::parse("111222333").unwrap();
        let prod = product(81, false);
        let mut c = Vec::new();
        check(
            &r,
            &LineFacts {
                bsn: &bsn,
                geboortedatum: d("2014-06-12"),
                besluitnummer: BESLUIT,
                instelling: &a,
                product: &prod,
                periode: Period::new(d("2024-02-01"), d("2024-02-09")),
                require_start_of_delivery: false,
                zio_code: false,
            },
            &mut c,
        );
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn unknown_client_gets_0401_and_0403() {
        assert_eq!(
            h300(&ClientRegistry::default(), "2024-03-04", "2024-03-08"),
            ["0401", "0403"]
        );
    }
}
