
CREATE TABLE ledger_herschikking_event (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agb TEXT NOT NULL,
    zorgkantoor TEXT NOT NULL,
    year INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    old_cents INTEGER,
    new_cents INTEGER,
    reason TEXT
);
CREATE INDEX ledger_herschikking_event_key
    ON ledger_herschikking_event (year, agb, zorgkantoor);
