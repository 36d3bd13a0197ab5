
CREATE TABLE ledger_herschikking_event (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agb TEXT NOT NULL,
    zorgkantoor TEXT NOT NULL,
    year INTEGER NOT NULL,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    old_cents BIGINT,
    new_cents BIGINT,
    reason TEXT
);
CREATE INDEX ledger_herschikking_event_key
    ON ledger_herschikking_event (year, agb, zorgkantoor);
