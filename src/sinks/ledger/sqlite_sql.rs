//! The statements where the embedded ledger differs from the shared SQL
//! ([`super::sql`]): a message's lines, outbox rows and kept answer are found
//! from its `ledger_message` row by rowid, not by indexes keyed on the
//! message's id (SQLite migration 10 says why). One writer records a message
//! in one transaction, so each of those sets has consecutive rowids; the row
//! keeps the first and last, and every lookup still filters on the message's
//! key, so a range can never take another message's row. (`CROSS JOIN` and
//! the unary `+` keep the planner from an index on `agb` instead of the
//! rowid range.)

use super::sql::{insert_answer, insert_outbox, outbox_line_columns, OUTBOX_COLUMNS};

/// Without a conflict target: no unique key but the rowid is left, and the
/// message's own insert already refused a second recording.
pub const INSERT_OUTBOX: &str = insert_outbox!();

pub const INSERT_ANSWER: &str = insert_answer!();

/// A recorded line's base volume added to its running total (what the V4
/// trigger did; migration 11 says why it is a statement now).
pub const VOLUME_ADD: &str = "INSERT INTO ledger_volume (agb, zorgkantoor, year, \
    product_code, base_volume) VALUES ($1, $2, $3, $4, $5) \
    ON CONFLICT (agb, zorgkantoor, year, product_code) \
    DO UPDATE SET base_volume = base_volume + excluded.base_volume";

/// A line taken out again, with what its running total must lose.
pub const DELETE_LINE: &str = "DELETE FROM ledger_line WHERE agb = $1 AND referentie = $2 \
    RETURNING zorgkantoor, year, product_code, base_volume";

pub const VOLUME_SUB: &str = "UPDATE ledger_volume SET base_volume = base_volume - $5 \
    WHERE agb = $1 AND zorgkantoor = $2 AND year = $3 AND product_code = $4";

/// The line count and the rowids of what the recording inserted: `$4`/`$5`
/// its first and last line, `$6`/`$7` its first and last outbox row, `$8`
/// its answer (NULL where it inserted none).
pub const COUNT_MESSAGE_LINES: &str = "UPDATE ledger_message SET lines_recorded = $3, \
    first_seq = $4, last_seq = $5, outbox_first = $6, outbox_last = $7, answer_id = $8 \
    WHERE agb = $1 AND message_id = $2";

pub const STORED_ANSWER: &str = "SELECT m.request_sha256, a.answer FROM ledger_message m \
    JOIN ledger_answer a ON a.id = m.answer_id AND a.agb = m.agb \
    AND a.message_id = m.message_id WHERE m.agb = $1 AND m.message_id = $2";

/// `$1` agb, `$2` message id, `$3` route.
pub const OUTBOX_LINES: &str = concat!(
    "SELECT ",
    outbox_line_columns!(),
    " FROM ledger_message m CROSS JOIN ledger_line l \
    ON l.seq BETWEEN m.first_seq AND m.last_seq WHERE m.agb = $1 AND m.message_id = $2 \
    AND +l.agb = $1 AND +l.message_id = $2 AND +l.route = $3 ORDER BY l.seq"
);

/// `$1` agb, `$2` message id.
pub fn outbox_of_message() -> String {
    format!(
        "SELECT {} FROM ledger_message m CROSS JOIN forward_outbox o \
         ON o.id BETWEEN m.outbox_first AND m.outbox_last \
         WHERE m.agb = $1 AND m.message_id = $2 \
         AND +o.agb = $1 AND +o.message_id = $2 ORDER BY o.id",
        prefixed("o", OUTBOX_COLUMNS)
    )
}

/// The ids of one message's rows a claim would take: `$1` now, `$2` agb,
/// `$3` message id, `$4` holder.
pub const OUTBOX_DUE_OF_MESSAGE: &str = "SELECT o.id FROM ledger_message m \
    CROSS JOIN forward_outbox o ON o.id BETWEEN m.outbox_first AND m.outbox_last \
    WHERE m.agb = $2 AND m.message_id = $3 AND +o.agb = $2 AND +o.message_id = $3 \
    AND +o.state = 'pending' AND (o.claimed_until IS NULL OR o.claimed_until <= $1 \
    OR o.claim = $4) ORDER BY o.next_attempt_at, o.id";

/// `a, b` as `t.a, t.b`.
fn prefixed(table: &str, columns: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{table}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::store::Store;

    /// How SQLite would run `sql`, one step per line.
    fn plan(sql: &str) -> String {
        let store = Store::open_in_memory().expect("store");
        let c = store.conn();
        let mut st = c
            .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.replace('$', "?")))
            .expect("statement");
        let n = st.parameter_count();
        let args: Vec<String> = (0..n).map(|_| "x".to_string()).collect();
        st.query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
            .expect("plan")
            .collect::<rusqlite::Result<Vec<_>>>()
            .expect("plan rows")
            .join("\n")
    }

    #[test]
    fn a_message_s_rows_are_read_by_rowid_range_not_by_an_index_on_agb() {
        for (name, sql) in [
            ("lines", OUTBOX_LINES.to_string()),
            ("outbox rows", outbox_of_message()),
            ("due rows", OUTBOX_DUE_OF_MESSAGE.to_string()),
        ] {
            let p = plan(&sql);
            assert!(
                p.contains("SEARCH m USING PRIMARY KEY (agb=? AND message_id=?)"),
                "{name}: {p}"
            );
            assert!(
                p.contains("USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"),
                "{name}: {p}"
            );
        }
        let p = plan(STORED_ANSWER);
        assert!(
            p.contains("SEARCH a USING INTEGER PRIMARY KEY (rowid=?)"),
            "{p}"
        );
    }
}
