
ALTER TABLE ledger_line ADD COLUMN geboortedatum TEXT;
ALTER TABLE ledger_line ADD COLUMN besluitnummer INTEGER;
CREATE INDEX ledger_line_message ON ledger_line (agb, message_id, route, seq);

CREATE TABLE forward_outbox (
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
    UNIQUE (agb, message_id, route)
);
CREATE INDEX forward_outbox_due ON forward_outbox (state, next_attempt_at);
