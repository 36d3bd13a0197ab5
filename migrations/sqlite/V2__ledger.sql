
CREATE TABLE ledger_message (
    agb TEXT NOT NULL,
    message_id TEXT NOT NULL,
    zorgkantoor TEXT NOT NULL,
    dagtekening TEXT NOT NULL,
    received TEXT NOT NULL,
    lines_recorded INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agb, message_id)
) WITHOUT ROWID;

CREATE TABLE ledger_line (
    seq INTEGER PRIMARY KEY,
    agb TEXT NOT NULL,
    referentie TEXT NOT NULL,
    message_id TEXT NOT NULL,
    zorgkantoor TEXT NOT NULL,
    bsn TEXT NOT NULL,
    brin TEXT,
    onderwijstijd INTEGER,
    route TEXT NOT NULL,
    product_code TEXT NOT NULL,
    declared_code TEXT NOT NULL,
    period_from TEXT NOT NULL,
    period_to TEXT NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    volume INTEGER NOT NULL,
    eenheid TEXT NOT NULL,
    unit TEXT NOT NULL,
    base_volume INTEGER NOT NULL,
    tarief INTEGER NOT NULL,
    bedrag INTEGER NOT NULL,
    bedrag_signed INTEGER NOT NULL,
    debet_credit TEXT NOT NULL,
    vorig_referentie TEXT,
    codes TEXT NOT NULL,
    credited_by TEXT,
    UNIQUE (agb, referentie)
);
CREATE INDEX ledger_line_volume ON ledger_line (agb, zorgkantoor, year, product_code);

CREATE TABLE ledger_agreement (
    agb TEXT NOT NULL,
    zorgkantoor TEXT NOT NULL,
    year INTEGER NOT NULL,
    herschikking_cents INTEGER NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (agb, zorgkantoor, year)
) WITHOUT ROWID;

CREATE TABLE ledger_agreement_code (
    agb TEXT NOT NULL,
    zorgkantoor TEXT NOT NULL,
    year INTEGER NOT NULL,
    code TEXT NOT NULL,
    volume INTEGER,
    price_cents INTEGER,
    PRIMARY KEY (agb, zorgkantoor, year, code)
) WITHOUT ROWID;
