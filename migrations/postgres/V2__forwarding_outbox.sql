
ALTER TABLE ledger_line ADD COLUMN geboortedatum DATE;
ALTER TABLE ledger_line ADD COLUMN besluitnummer BIGINT;
CREATE INDEX ledger_line_message ON ledger_line (agb, message_id, route, seq);

CREATE TABLE forward_outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agb TEXT NOT NULL,
    message_id TEXT NOT NULL,
    route TEXT NOT NULL,
    forward_id TEXT NOT NULL,
    zorgkantoor TEXT NOT NULL,
    dagtekening DATE NOT NULL,
    period_from DATE NOT NULL,
    period_to DATE NOT NULL,
    lines BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    last_error TEXT,
    UNIQUE (agb, message_id, route)
);
CREATE INDEX forward_outbox_due ON forward_outbox (state, next_attempt_at);
