//! From the registers' answers to the registry's records: an untrusted
//! answer is checked value by value (BSN, dates, AGB, codes) as strictly as
//! an IO31 or AW33 is read; one bad value refuses the record with the reason.
//!
//! - A WlzIndicatie is an [`Indicatie`] keyed by (BSN, besluitnummer), with
//!   its indicated ZZPs. Indicatieregister 2 holds no indicated functions.
//! - A Bemiddelingspecificatie is a [`ToegewezenZzp`] (leveringsvorm, ZZP,
//!   instelling, toewijzing dates); one with leveringsvorm mpt to an
//!   instelling is also the allocation of the mpt functions
//!   ([`MPT_FUNCTIES`]) to that instelling, the facts the 04xx checks ask
//!   for (docs/interpretation.md).

use super::queries::{
    bemiddelingspecificatie_op_id as by_spec_id, bemiddelingspecificaties_sinds as specs_since,
    wlz_indicatie_op_id as by_ind_id, wlz_indicaties_van_zorgkantoor as ind_of_zk,
};
use crate::model::iwlz::{
    Geindiceerd, Geldigheid, Indicatie, ToegewezenFunctie, ToegewezenZzp, LEVERINGSVORM_MPT,
    MPT_FUNCTIES,
};
use crate::sinks::registry::Stamp;
use crate::types::{parse_datum, AgbCode, Bsn, Datum};
use chrono::{DateTime, Utc};

/// An indication as the registry stores it, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndicatieFeit {
    pub wlzindicatie_id: String,
    pub bsn: Bsn,
    pub indicatie: Indicatie,
    pub stamp: Stamp,
    /// The register's moment of the fact (afgiftedatum), Unix seconds.
    pub moment: i64,
}

/// An allocation as the registry stores it, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecificatieFeit {
    pub bemiddelingspecificatie_id: String,
    pub wlzindicatie_id: String,
    pub bsn: Bsn,
    pub zzp: ToegewezenZzp,
    /// The mpt functions, for an mpt allocation to an instelling.
    pub functies: Vec<ToegewezenFunctie>,
    pub stamp: Stamp,
    /// The register's vaststellingMoment, Unix seconds.
    pub moment: i64,
}

impl SpecificatieFeit {
    /// The allocation came with this indication (once it is known).
    pub fn met_besluitnummer(mut self, besluitnummer: u64) -> Self {
        self.zzp.besluitnummer = besluitnummer;
        for f in &mut self.functies {
            f.besluitnummer = besluitnummer;
        }
        self
    }
}

fn datum(field: &str, v: &str) -> Result<Datum, String> {
    parse_datum(v).ok_or_else(|| format!("{field} `{v}` is not a date YYYY-MM-DD"))
}

fn opt_datum(field: &str, v: Option<&str>) -> Result<Option<Datum>, String> {
    v.map(|v| datum(field, v)).transpose()
}

fn bsn(v: &str) -> Result<Bsn, String> {
    Bsn::parse(v).ok_or_else(|| format!("bsn `{v}` is not a valid BSN"))
}

fn code<T: TryFrom<u64>>(field: &str, v: &str, max: u64) -> Result<T, String> {
    v.parse::<u64>()
        .ok()
        .filter(|n| (1..=max).contains(n) && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| format!("{field} `{v}` is not a code of 1 to {max}"))
}

fn geldig(field: &str, from: &str, to: Option<&str>) -> Result<Geldigheid, String> {
    let g = Geldigheid::new(datum(field, from)?, opt_datum(field, to)?);
    if g.einddatum.is_some_and(|e| e < g.ingangsdatum) {
        return Err(format!("{field}: einddatum before ingangsdatum"));
    }
    Ok(g)
}

/// One indicated ZZP as the register states it.
pub struct RawZzp<'a> {
    pub zzp_code: &'a str,
    pub ingangsdatum: &'a str,
    pub einddatum: Option<&'a str>,
}

/// A WlzIndicatie as the register states it (the fields the gateway asks for).
pub struct RawIndicatie<'a> {
    pub wlzindicatie_id: &'a str,
    pub bsn: &'a str,
    pub besluitnummer: i64,
    pub afgiftedatum: &'a str,
    pub ingangsdatum: &'a str,
    pub einddatum: Option<&'a str>,
    pub zzps: Vec<RawZzp<'a>>,
}

pub fn indicatie(x: &RawIndicatie<'_>) -> Result<IndicatieFeit, String> {
    let bsn = bsn(x.bsn)?;
    let besluitnummer = u64::try_from(x.besluitnummer)
        .ok()
        .filter(|n| (1..=999_999_999).contains(n))
        .ok_or_else(|| format!("besluitnummer {} is out of range", x.besluitnummer))?;
    let afgiftedatum = datum("afgiftedatum", x.afgiftedatum)?;
    let zzps = x
        .zzps
        .iter()
        .map(|z| {
            Ok(Geindiceerd {
                code: code("zzpCode", z.zzp_code, 999)?,
                geldig: geldig("geindiceerdZorgzwaartepakket", z.ingangsdatum, z.einddatum)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let indicatie = Indicatie {
        besluitnummer,
        afgiftedatum: Some(afgiftedatum),
        geldig: geldig("wlzIndicatie", x.ingangsdatum, x.einddatum)?,
        functies: Vec::new(),
        zzps,
    };
    let bron = format!("indicatieregister:WlzIndicatie/{}", x.wlzindicatie_id);
    Ok(IndicatieFeit {
        wlzindicatie_id: x.wlzindicatie_id.to_owned(),
        bsn,
        indicatie,
        stamp: Stamp::register(afgiftedatum, None, &bron),
        moment: afgiftedatum
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp()),
    })
}

/// A Bemiddelingspecificatie as the register states it.
pub struct RawSpecificatie<'a> {
    pub id: &'a str,
    pub leveringsvorm: &'a str,
    pub zzp_code: &'a str,
    pub toewijzing_ingangsdatum: &'a str,
    pub toewijzing_einddatum: Option<&'a str>,
    pub instelling: Option<&'a str>,
    pub vaststelling_moment: &'a str,
    pub reden_intrekking: Option<&'a str>,
    pub wlz_indicatie_id: &'a str,
    pub bsn: &'a str,
}

pub fn specificatie(x: &RawSpecificatie<'_>) -> Result<SpecificatieFeit, String> {
    let bsn = bsn(x.bsn)?;
    let leveringsvorm: u8 = code("leveringsvorm", x.leveringsvorm, 99)?;
    let instelling = x
        .instelling
        .map(|a| AgbCode::parse(a).ok_or_else(|| format!("instelling `{a}` is not an AGB code")))
        .transpose()?;
    let moment: DateTime<Utc> = DateTime::parse_from_rfc3339(x.vaststelling_moment)
        .map_err(|e| {
            format!(
                "vaststellingMoment `{}` is not an ISO-8601 date-time: {e}",
                x.vaststelling_moment
            )
        })?
        .with_timezone(&Utc);
    let dag = moment.date_naive();
    let tijd = moment.format("%H:%M:%S").to_string();
    let geldig = geldig(
        "bemiddelingspecificatie",
        x.toewijzing_ingangsdatum,
        x.toewijzing_einddatum,
    )?;
    let reden = x.reden_intrekking.map(str::to_owned);
    let zzp = ToegewezenZzp {
        zzpcode: code("zzpCode", x.zzp_code, 999)?,
        instelling: instelling.clone(),
        leveringsvorm,
        geldig,
        besluitnummer: 0,
        toewijzingsdatum: Some(dag),
        toewijzingstijd: Some(tijd.clone()),
        reden_intrekking: reden.clone(),
    };
    let functies = match (&instelling, leveringsvorm) {
        (Some(agb), LEVERINGSVORM_MPT) => MPT_FUNCTIES
            .iter()
            .map(|&f| ToegewezenFunctie {
                functiecode: f,
                instelling: agb.clone(),
                geldig,
                besluitnummer: 0,
                toewijzingsdatum: Some(dag),
                toewijzingstijd: Some(tijd.clone()),
                reden_intrekking: reden.clone(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let bron = format!("bemiddelingsregister:Bemiddelingspecificatie/{}", x.id);
    let stamp = Stamp::register(dag, Some(&format!("{dag}T{tijd}")), &bron);
    Ok(SpecificatieFeit {
        bemiddelingspecificatie_id: x.id.to_owned(),
        wlzindicatie_id: x.wlz_indicatie_id.to_owned(),
        bsn,
        zzp,
        functies,
        stamp,
        moment: moment.timestamp(),
    })
}

// The generated types of each operation are distinct Rust types with the
// same fields (one module per operation); these read each into the raw form.
macro_rules! raw_indicatie {
    ($m:ident) => {
        impl<'a> From<&'a $m::Indicatie> for RawIndicatie<'a> {
            fn from(x: &'a $m::Indicatie) -> Self {
                RawIndicatie {
                    wlzindicatie_id: &x.wlzindicatie_id,
                    bsn: &x.bsn,
                    besluitnummer: x.besluitnummer,
                    afgiftedatum: &x.afgiftedatum,
                    ingangsdatum: &x.ingangsdatum,
                    einddatum: x.einddatum.as_deref(),
                    zzps: x
                        .geindiceerd_zorgzwaartepakket
                        .iter()
                        .flatten()
                        .map(|z| RawZzp {
                            zzp_code: &z.zzp_code,
                            ingangsdatum: &z.ingangsdatum,
                            einddatum: z.einddatum.as_deref(),
                        })
                        .collect(),
                }
            }
        }
    };
}
raw_indicatie!(by_ind_id);
raw_indicatie!(ind_of_zk);

macro_rules! raw_specificatie {
    ($m:ident) => {
        impl<'a> From<&'a $m::Specificatie> for RawSpecificatie<'a> {
            fn from(x: &'a $m::Specificatie) -> Self {
                RawSpecificatie {
                    id: &x.bemiddelingspecificatie_id,
                    leveringsvorm: &x.leveringsvorm,
                    zzp_code: &x.zzp_code,
                    toewijzing_ingangsdatum: &x.toewijzing_ingangsdatum,
                    toewijzing_einddatum: x.toewijzing_einddatum.as_deref(),
                    instelling: x.instelling.as_deref(),
                    vaststelling_moment: &x.vaststelling_moment,
                    reden_intrekking: x.reden_intrekking.as_deref(),
                    wlz_indicatie_id: &x.bemiddeling.wlz_indicatie_id,
                    bsn: &x.bemiddeling.client.bsn,
                }
            }
        }
    };
}
raw_specificatie!(by_spec_id);
raw_specificatie!(specs_since);

#[cfg(test)]
mod tests {
    use super::*;

    fn spec<'a>(leveringsvorm: &'a str, instelling: Option<&'a str>) -> RawSpecificatie<'a> {
        RawSpecificatie {
            id: "b1",
            leveringsvorm,
            zzp_code: "806",
            toewijzing_ingangsdatum: "2024-01-01",
            toewijzing_einddatum: None,
            instelling,
            vaststelling_moment: "2024-01-02T09:30:00+01:00",
            reden_intrekking: None,
            wlz_indicatie_id: "i1",
            bsn: "240300002",
        }
    }

    #[test]
    fn an_mpt_allocation_to_an_instelling_allocates_the_mpt_functions() {
        let f = specificatie(&spec("7", Some("11110001"))).unwrap();
        assert_eq!(f.zzp.leveringsvorm, 7);
        let codes: Vec<u16> = f.functies.iter().map(|x| x.functiecode).collect();
        assert_eq!(codes, vec![81, 82]);
        assert!(f
            .functies
            .iter()
            .all(|x| x.instelling.as_str() == "11110001"));
        // The moment in UTC, and where the fact came from.
        assert_eq!(
            f.stamp.as_str(),
            "2024-01-02|2024-01-02T08:30:00|bemiddelingsregister:Bemiddelingspecificatie/b1"
        );
        assert!(specificatie(&spec("2", None)).unwrap().functies.is_empty());
        assert!(specificatie(&spec("4", Some("11110001")))
            .unwrap()
            .functies
            .is_empty());
    }

    #[test]
    fn bad_values_are_refused_with_their_field() {
        let mut s = spec("7", Some("11110001"));
        s.bsn = "24030000";
        assert!(specificatie(&s).unwrap_err().contains("bsn"));
        let mut s = spec("7", Some("1111"));
        s.instelling = Some("1111");
        assert!(specificatie(&s).unwrap_err().contains("instelling"));
        let mut s = spec("x7", None);
        s.leveringsvorm = "x7";
        assert!(specificatie(&s).unwrap_err().contains("leveringsvorm"));
        let mut s = spec("7", None);
        s.vaststelling_moment = "2024-01-02 09:30";
        assert!(specificatie(&s).unwrap_err().contains("vaststellingMoment"));
        let mut s = spec("7", None);
        s.toewijzing_einddatum = Some("2023-12-31");
        assert!(specificatie(&s).unwrap_err().contains("einddatum before"));
        let i = RawIndicatie {
            wlzindicatie_id: "i1",
            bsn: "240300002",
            besluitnummer: 0,
            afgiftedatum: "2023-12-15",
            ingangsdatum: "2024-01-01",
            einddatum: None,
            zzps: vec![],
        };
        assert!(indicatie(&i).unwrap_err().contains("besluitnummer"));
    }

    #[test]
    fn an_indication_keeps_its_zzps_and_its_origin() {
        let i = RawIndicatie {
            wlzindicatie_id: "i1",
            bsn: "240300002",
            besluitnummer: 4200101,
            afgiftedatum: "2023-12-15",
            ingangsdatum: "2024-01-01",
            einddatum: Some("2024-12-31"),
            zzps: vec![RawZzp {
                zzp_code: "806",
                ingangsdatum: "2024-01-01",
                einddatum: None,
            }],
        };
        let f = indicatie(&i).unwrap();
        assert!(f.indicatie.positief());
        assert_eq!(f.indicatie.zzps[0].code, 806);
        assert_eq!(
            f.stamp.as_str(),
            "2023-12-15||indicatieregister:WlzIndicatie/i1"
        );
        let mut neg = i;
        neg.zzps.clear();
        assert!(!indicatie(&neg).unwrap().indicatie.positief());
    }
}
