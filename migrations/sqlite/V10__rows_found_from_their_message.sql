-- Each recording wrote, besides the appended rows, one leaf page per index
-- keyed by the message's id: provider ids do not arrive in key order, so
-- every message landed on a leaf of its own in each such index. Under load
-- (issue 9) three of them cost half of every commit's pages: the lines'
-- (agb, message_id, route, seq) index, and the unique (agb, message_id)
-- keys of the outbox and of the kept answers.
--
-- One writer records a message in one transaction, so its lines, its outbox
-- rows and its answer get consecutive rowids. The message row (which the
-- recording updates anyway, to count its lines) now keeps those rowids, and
-- a lookup goes from the message to them by rowid. Uniqueness needs no
-- index of its own: these rows are only inserted with a new message row,
-- whose primary key already refuses a second one.
ALTER TABLE ledger_message ADD COLUMN first_seq INTEGER;
ALTER TABLE ledger_message ADD COLUMN last_seq INTEGER;
ALTER TABLE ledger_message ADD COLUMN outbox_first INTEGER;
ALTER TABLE ledger_message ADD COLUMN outbox_last INTEGER;
ALTER TABLE ledger_message ADD COLUMN answer_id INTEGER;

UPDATE ledger_message SET
    first_seq = (SELECT MIN(seq) FROM ledger_line l
        WHERE l.agb = ledger_message.agb AND l.message_id = ledger_message.message_id),
    last_seq = (SELECT MAX(seq) FROM ledger_line l
        WHERE l.agb = ledger_message.agb AND l.message_id = ledger_message.message_id),
    outbox_first = (SELECT MIN(id) FROM forward_outbox o
        WHERE o.agb = ledger_message.agb AND o.message_id = ledger_message.message_id),
    outbox_last = (SELECT MAX(id) FROM forward_outbox o
        WHERE o.agb = ledger_message.agb AND o.message_id = ledger_message.message_id),
    answer_id = (SELECT id FROM ledger_answer a
        WHERE a.agb = ledger_message.agb AND a.message_id = ledger_message.message_id);

DROP INDEX ledger_line_message;

CREATE TABLE forward_outbox_v10 (
    id INTEGER PRIMARY KEY,
    agb TEXT NOT NULL,
    message_id TEXT NOT NULL,
    route TEXT NOT NULL,
    forward_id TEXT NOT NULL,
    zorgkantoor TEXT NOT NULL,
    dagtekening TEXT NOT NULL,
    period_from TEXT NOT NULL,
    period_to TEXT NOT NULL,
    lines INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until INTEGER,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    last_error TEXT,
    claim INTEGER
);
INSERT INTO forward_outbox_v10 (id, agb, message_id, route, forward_id, zorgkantoor,
    dagtekening, period_from, period_to, lines, state, attempts, next_attempt_at,
    claimed_until, created_at, delivered_at, last_error, claim)
    SELECT id, agb, message_id, route, forward_id, zorgkantoor, dagtekening, period_from,
    period_to, lines, state, attempts, next_attempt_at, claimed_until, created_at,
    delivered_at, last_error, claim FROM forward_outbox;
DROP TABLE forward_outbox;
ALTER TABLE forward_outbox_v10 RENAME TO forward_outbox;
CREATE INDEX forward_outbox_due ON forward_outbox (state, next_attempt_at);

CREATE TABLE ledger_answer_v10 (
    id INTEGER PRIMARY KEY,
    agb TEXT NOT NULL,
    message_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    answer BLOB NOT NULL
);
INSERT INTO ledger_answer_v10 (id, agb, message_id, created_at, answer)
    SELECT id, agb, message_id, created_at, answer FROM ledger_answer;
DROP TABLE ledger_answer;
ALTER TABLE ledger_answer_v10 RENAME TO ledger_answer;
CREATE INDEX ledger_answer_created ON ledger_answer (created_at);
