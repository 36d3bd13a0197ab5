-- A kept answer (about 1 KiB for a small message) overflowed the leaf of a
-- WITHOUT ROWID table (whose local payload stops near 1,000 bytes on a 4 KiB
-- page) onto a fresh overflow page of its own: 4.7 KiB on disk, and as much
-- written to the WAL, per answer. A rowid table keeps up to 4,061 bytes in
-- the leaf, and its rowids ascend, so a batch of answers fills pages in turn.
CREATE TABLE ledger_answer_v9 (
    id INTEGER PRIMARY KEY,
    agb TEXT NOT NULL,
    message_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    answer BLOB NOT NULL,
    UNIQUE (agb, message_id)
);
INSERT INTO ledger_answer_v9 (agb, message_id, created_at, answer)
    SELECT agb, message_id, created_at, answer FROM ledger_answer ORDER BY created_at;
DROP TABLE ledger_answer;
ALTER TABLE ledger_answer_v9 RENAME TO ledger_answer;
CREATE INDEX ledger_answer_created ON ledger_answer (created_at);

-- Two indexes every recording paid for and no query needs: the running
-- volume (V4) replaced the sums ledger_line_volume served, and the unique
-- (agb, message_id, route) key serves every lookup of a message's outbox
-- rows by its prefix.
DROP INDEX ledger_line_volume;
DROP INDEX forward_outbox_message;
