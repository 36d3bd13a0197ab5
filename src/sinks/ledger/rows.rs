//! Stored rows back into values. Which column holds which field, and what a
//! stored value must look like, is one mapping for both backends: the
//! queries in [`super::sql`] select the same columns in the same order. Only
//! fetching one column is a backend's own ([`Columns`]).

use super::{
    route_parse, unit_parse, AgreementCodeRow, AgreementHead, ForwardLine, LedgerError, LedgerLine,
    MessageStatus, OutboxRow, Receipt, Result, VolumeRow,
};
use crate::types::{
    AgbCode, Datum, DebetCredit, Eenheid, Period, ProductCode, Referentie, ZorgkantoorCode,
};

/// One result row, column by position. The integer widths follow the
/// PostgreSQL schema (INTEGER is 32 bits there, BIGINT 64); SQLite stores
/// every integer alike and reads either.
pub(crate) trait Columns {
    fn opt_text(&self, i: usize) -> Result<Option<String>>;
    fn opt_i64(&self, i: usize) -> Result<Option<i64>>;
    fn opt_i32(&self, i: usize) -> Result<Option<i32>>;
    fn opt_bool(&self, i: usize) -> Result<Option<bool>>;
    fn opt_date(&self, i: usize) -> Result<Option<Datum>>;

    fn text(&self, i: usize) -> Result<String> {
        self.opt_text(i)?.ok_or_else(|| null(i))
    }
    fn i64(&self, i: usize) -> Result<i64> {
        self.opt_i64(i)?.ok_or_else(|| null(i))
    }
    fn i32(&self, i: usize) -> Result<i32> {
        self.opt_i32(i)?.ok_or_else(|| null(i))
    }
    fn date(&self, i: usize) -> Result<Datum> {
        self.opt_date(i)?.ok_or_else(|| null(i))
    }
}

pub(crate) fn bad(what: &str, v: &str) -> LedgerError {
    LedgerError::Invalid(format!("stored row: bad {what} `{v}`"))
}

fn null(i: usize) -> LedgerError {
    bad(&format!("column {i}"), "NULL")
}

fn required<T>(what: &str, v: Option<T>) -> Result<T> {
    v.ok_or_else(|| bad(what, "NULL"))
}

/// A stored text that must parse as a value of its column.
fn parsed<T>(what: &str, v: String, parse: impl FnOnce(&str) -> Option<T>) -> Result<T> {
    parse(&v).ok_or_else(|| bad(what, &v))
}

/// A row of [`super::sql::lines_of`].
pub(crate) fn line<C: Columns>(r: &C) -> Result<LedgerLine> {
    Ok(LedgerLine {
        agb: parsed("agb", r.text(0)?, AgbCode::parse)?,
        referentie: parsed("referentie", r.text(1)?, Referentie::parse)?,
        message_id: Referentie::new_unchecked(r.text(2)?),
        zorgkantoor: parsed("zorgkantoor", r.text(3)?, ZorgkantoorCode::parse)?,
        bsn: r.text(4)?,
        brin: r.opt_text(5)?,
        onderwijstijd: r.opt_bool(6)?,
        route: route_parse(&r.text(7)?),
        product_code: parsed("code", r.text(8)?, ProductCode::parse)?,
        declared_code: parsed("code", r.text(9)?, ProductCode::parse)?,
        period_from: r.date(10)?,
        period_to: r.date(11)?,
        year: r.i32(12)?,
        month: r.i32(13)? as u32,
        volume: r.i64(14)? as u64,
        eenheid: parsed("eenheid", r.text(15)?, Eenheid::parse)?,
        unit: parsed("unit", r.text(16)?, unit_parse)?,
        base_volume: r.i64(17)?,
        tarief: r.i64(18)? as u64,
        bedrag: r.i64(19)? as u64,
        bedrag_signed: r.i64(20)?,
        debet_credit: parsed("debet_credit", r.text(21)?, DebetCredit::parse)?,
        vorig_referentie: r.opt_text(22)?.map(Referentie::new_unchecked),
        codes: r.text(23)?,
        credited_by: r.opt_text(24)?.map(Referentie::new_unchecked),
    })
}

/// A row of [`super::sql::OUTBOX_COLUMNS`].
pub(crate) fn outbox_row<C: Columns>(r: &C) -> Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.i64(0)?,
        agb: parsed("agb", r.text(1)?, AgbCode::parse)?,
        message_id: Referentie::new_unchecked(r.text(2)?),
        route: route_parse(&r.text(3)?),
        forward_id: r.text(4)?,
        zorgkantoor: parsed("zorgkantoor", r.text(5)?, ZorgkantoorCode::parse)?,
        dagtekening: r.date(6)?,
        periode: Period::new(r.date(7)?, r.date(8)?),
        lines: r.i64(9)? as u64,
        state: r.text(10)?,
        attempts: r.i32(11)? as u32,
        next_attempt_at: r.i64(12)?,
        delivered_at: r.opt_i64(13)?,
        last_error: r.opt_text(14)?,
        created_at: r.i64(15)?,
        claim: None,
        held_lines: None,
    })
}

/// A `sql::MESSAGE_STATUS` row, without its forwarded messages.
pub(crate) fn message_status<C: Columns>(r: &C) -> Result<MessageStatus> {
    Ok(MessageStatus {
        agb: parsed("agb", r.text(0)?, AgbCode::parse)?,
        identificatie: r.text(1)?,
        zorgkantoor: r.text(2)?,
        dagtekening: r.date(3)?,
        received: r.date(4)?,
        lines_recorded: r.i64(5)? as u64,
        receipt: Receipt {
            received_at_ms: r.opt_i64(6)?.unwrap_or(0),
            request_sha256: r.opt_text(7)?,
            verwerking: r.opt_text(8)?.unwrap_or_default(),
            accepted_zio: r.i64(9)? as u64,
            accepted_regulier: r.i64(10)? as u64,
            rejected: r.i64(11)? as u64,
            answer: None,
        },
        forwarded: Vec::new(),
    })
}

/// A row of [`super::sql::OUTBOX_LINES`]. Geboortedatum and besluitnummer
/// came with a later migration: a line recorded before it cannot be
/// forwarded.
pub(crate) fn forward_line<C: Columns>(r: &C) -> Result<ForwardLine> {
    Ok(ForwardLine {
        bsn: r.text(0)?,
        geboortedatum: required("geboortedatum", r.opt_date(1)?)?,
        besluitnummer: required("besluitnummer", r.opt_i64(2)?)? as u64,
        referentie: r.text(3)?,
        vorig_referentie: r.opt_text(4)?,
        product_code: r.text(5)?,
        period_from: r.date(6)?,
        period_to: r.date(7)?,
        volume: r.i64(8)? as u64,
        eenheid: r.text(9)?,
        tarief: r.i64(10)?,
        bedrag: r.i64(11)?,
        debet_credit: r.text(12)?,
        onderwijstijd: r.opt_bool(13)?,
        brin: r.opt_text(14)?,
    })
}

/// A row of [`super::sql::volumes`].
pub(crate) fn volume_row<C: Columns>(r: &C) -> Result<VolumeRow> {
    Ok(VolumeRow {
        agb: parsed("agb", r.text(0)?, AgbCode::parse)?,
        zorgkantoor: parsed("zorgkantoor", r.text(1)?, ZorgkantoorCode::parse)?,
        code: parsed("code", r.text(2)?, ProductCode::parse)?,
        unit: parsed("unit", r.text(3)?, unit_parse)?,
        brin: r.opt_text(4)?,
        month: r.opt_i32(5)?.map(|m| m as u32),
        lines: r.i64(6)? as u64,
        base_volume: r.i64(7)?,
        amount_cents: r.i64(8)?,
        pupils: r.i64(9)? as u64,
    })
}

/// A row of [`super::sql::REALISATIE`].
pub(crate) fn realisatie_row<C: Columns>(r: &C) -> Result<(AgbCode, ZorgkantoorCode, i64)> {
    Ok((
        parsed("agb", r.text(0)?, AgbCode::parse)?,
        parsed("zorgkantoor", r.text(1)?, ZorgkantoorCode::parse)?,
        r.i64(2)?,
    ))
}

/// A row of [`super::sql::SELECT_AGREEMENTS`].
pub(crate) fn agreement_head<C: Columns>(r: &C) -> Result<AgreementHead> {
    Ok((r.text(0)?, r.text(1)?, r.i32(2)?, r.i64(3)?))
}

/// A row of [`super::sql::SELECT_AGREEMENT_CODES`].
pub(crate) fn agreement_code<C: Columns>(r: &C) -> Result<AgreementCodeRow> {
    Ok((
        r.text(0)?,
        r.text(1)?,
        r.i32(2)?,
        r.text(3)?,
        r.opt_i64(4)?,
        r.opt_i64(5)?,
    ))
}

/// A row of [`super::sql::HERSCHIKKING_EVENTS`].
pub(crate) fn herschikking_event<C: Columns>(r: &C) -> Result<super::herschikking::Event> {
    let action = r.text(5)?;
    Ok(super::herschikking::Event {
        agb: parsed("agb", r.text(0)?, AgbCode::parse)?,
        zorgkantoor: parsed("zorgkantoor", r.text(1)?, ZorgkantoorCode::parse)?,
        year: r.i32(2)?,
        at_ms: r.i64(3)?,
        actor: r.text(4)?,
        action: super::herschikking::Action::parse(&action)
            .ok_or_else(|| bad("action", &action))?,
        old_cents: r.opt_i64(6)?,
        new_cents: r.opt_i64(7)?,
        reason: r.opt_text(8)?,
    })
}

/// A row of [`super::sql::SELECT_ABSENCE`].
pub(crate) fn absence_row<C: Columns>(r: &C) -> Result<super::absence::AbsenceRow> {
    use super::absence::Soort;
    Ok(super::absence::AbsenceRow {
        agb: parsed("agb", r.text(0)?, AgbCode::parse)?,
        zorgkantoor: parsed("zorgkantoor", r.text(1)?, ZorgkantoorCode::parse)?,
        bsn: r.text(2)?,
        brin: r.text(3)?,
        product_code: parsed("code", r.text(4)?, ProductCode::parse)?,
        year: r.i32(5)?,
        month: r.i32(6)? as u32,
        soort: parsed("soort", r.text(7)?, Soort::parse)?,
        unit: parsed("unit", r.text(8)?, unit_parse)?,
        base_volume: r.i64(9)?,
    })
}

/// A row of [`super::sql::PUPIL_MONTHS`].
pub(crate) fn pupil_month<C: Columns>(r: &C) -> Result<super::PupilMonth> {
    Ok(super::PupilMonth {
        agb: parsed("agb", r.text(0)?, AgbCode::parse)?,
        zorgkantoor: parsed("zorgkantoor", r.text(1)?, ZorgkantoorCode::parse)?,
        bsn: r.text(2)?,
        year: r.i32(3)?,
        month: r.i32(4)? as u32,
    })
}
