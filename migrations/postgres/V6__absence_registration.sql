
CREATE TABLE ledger_absence (
    agb TEXT NOT NULL,
    zorgkantoor TEXT NOT NULL,
    bsn TEXT NOT NULL,
    brin TEXT NOT NULL,
    product_code TEXT NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    soort TEXT NOT NULL,
    unit TEXT NOT NULL,
    base_volume BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    PRIMARY KEY (agb, zorgkantoor, bsn, brin, product_code, year, month, soort)
);
CREATE INDEX ledger_absence_year ON ledger_absence (year, agb, zorgkantoor);
