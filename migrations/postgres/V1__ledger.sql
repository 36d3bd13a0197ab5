
CREATE TABLE ledger_message (
    agb TEXT NOT NULL,
    message_id TEXT NOT NULL,
    zorgkantoor TEXT NOT NULL,
    dagtekening DATE NOT NULL,
    received DATE NOT NULL,
    lines_recorded BIGINT NOT NULL DEFAULT 0,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (agb, message_id)
);

CREATE TABLE ledger_line (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agb TEXT NOT NULL,
    referentie TEXT NOT NULL,
    message_id TEXT NOT NULL,
    zorgkantoor TEXT NOT NULL,
    bsn TEXT NOT NULL,
    brin TEXT,
    onderwijstijd BOOLEAN,
    route TEXT NOT NULL,
    product_code TEXT NOT NULL,
    declared_code TEXT NOT NULL,
    period_from DATE NOT NULL,
    period_to DATE NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    volume BIGINT NOT NULL,
    eenheid TEXT NOT NULL,
    unit TEXT NOT NULL,
    base_volume BIGINT NOT NULL,
    tarief BIGINT NOT NULL,
    bedrag BIGINT NOT NULL,
    bedrag_signed BIGINT NOT NULL,
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
    herschikking_cents BIGINT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (agb, zorgkantoor, year)
);

CREATE TABLE ledger_agreement_code (
    agb TEXT NOT NULL,
    zorgkantoor TEXT NOT NULL,
    year INTEGER NOT NULL,
    code TEXT NOT NULL,
    volume BIGINT,
    price_cents BIGINT,
    PRIMARY KEY (agb, zorgkantoor, year, code)
);
