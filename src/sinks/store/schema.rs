//! Every table's SQL, in one place: the SQLite store's migrations and the
//! PostgreSQL ledger's. A sink reads and writes its tables; it never creates
//! them. Append a migration with the next number; never edit an applied one.

/// One schema step.
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order. Versions are 1, 2, 3, ... without gaps.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "iwlz registry",
        sql: REGISTRY,
    },
    Migration {
        version: 2,
        name: "ledger",
        sql: LEDGER,
    },
    Migration {
        version: 3,
        name: "forwarding outbox",
        sql: OUTBOX,
    },
    Migration {
        version: 4,
        name: "running declared volume",
        sql: LEDGER_VOLUME,
    },
    Migration {
        version: 5,
        name: "message receipts and kept answers",
        sql: RECEIPTS,
    },
    Migration {
        version: 6,
        name: "herschikking status and history",
        sql: HERSCHIKKING,
    },
    Migration {
        version: 7,
        name: "absence registration",
        sql: ABSENCE,
    },
];

/// Migration 1: the registry tables.
pub const REGISTRY: &str = "
CREATE TABLE iwlz_bericht (
    sha256 TEXT PRIMARY KEY,
    soort TEXT NOT NULL,
    identificatie TEXT NOT NULL,
    dagtekening TEXT NOT NULL,
    afzender TEXT,
    ontvanger TEXT,
    clienten INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE iwlz_indicatie (
    bsn INTEGER NOT NULL,
    besluitnummer INTEGER NOT NULL,
    afgiftedatum TEXT,
    ingangsdatum TEXT NOT NULL,
    einddatum TEXT,
    -- indicated functions and ZZPs: `code:ingangsdatum:einddatum` items, `;`-separated
    functies TEXT NOT NULL,
    zzps TEXT NOT NULL,
    stamp TEXT NOT NULL,
    PRIMARY KEY (bsn, besluitnummer)
) WITHOUT ROWID;

CREATE TABLE iwlz_toegewezen_functie (
    bsn INTEGER NOT NULL,
    functiecode INTEGER NOT NULL,
    instelling TEXT NOT NULL,
    ingangsdatum TEXT NOT NULL,
    einddatum TEXT,
    besluitnummer INTEGER NOT NULL,
    toewijzingsdatum TEXT,
    toewijzingstijd TEXT,
    reden_intrekking TEXT,
    stamp TEXT NOT NULL,
    PRIMARY KEY (bsn, functiecode, instelling, ingangsdatum)
) WITHOUT ROWID;

CREATE TABLE iwlz_toegewezen_zzp (
    bsn INTEGER NOT NULL,
    zzpcode INTEGER NOT NULL,
    ingangsdatum TEXT NOT NULL,
    instelling TEXT NOT NULL, -- '' when absent (pgb)
    leveringsvorm INTEGER NOT NULL,
    einddatum TEXT,
    besluitnummer INTEGER NOT NULL,
    toewijzingsdatum TEXT,
    toewijzingstijd TEXT,
    reden_intrekking TEXT,
    stamp TEXT NOT NULL,
    PRIMARY KEY (bsn, zzpcode, ingangsdatum, instelling, leveringsvorm)
) WITHOUT ROWID;

CREATE TABLE iwlz_aanvang (
    bsn INTEGER NOT NULL,
    functiecode INTEGER NOT NULL,
    instelling TEXT NOT NULL,
    toewijzing_ingangsdatum TEXT NOT NULL,
    begindatum TEXT NOT NULL,
    besluitnummer INTEGER NOT NULL,
    status INTEGER NOT NULL,
    stamp TEXT NOT NULL,
    PRIMARY KEY (bsn, functiecode, instelling, toewijzing_ingangsdatum, begindatum)
) WITHOUT ROWID;

-- Derived: everything of one BSN as the rules see it (withdrawn reports left
-- out), in the compact encoding of `encode_client`. Kept up to date by every
-- ingest, so that `check` reads one row per client. Not part of the dump.
CREATE TABLE iwlz_client (
    bsn INTEGER PRIMARY KEY,
    registry BLOB NOT NULL
);

CREATE TABLE iwlz_mutatie (
    bsn INTEGER NOT NULL,
    functiecode INTEGER NOT NULL,
    instelling TEXT NOT NULL,
    toewijzing_ingangsdatum TEXT NOT NULL,
    mutatiedatum TEXT NOT NULL,
    mutatiecode INTEGER NOT NULL,
    besluitnummer INTEGER NOT NULL,
    status INTEGER NOT NULL,
    stamp TEXT NOT NULL,
    PRIMARY KEY (bsn, functiecode, instelling, toewijzing_ingangsdatum, mutatiedatum, mutatiecode)
) WITHOUT ROWID;
";

/// The ledger's tables (store migration 2). Dates are `YYYY-MM-DD` text,
/// money integer cents, volumes integer base units.
pub const LEDGER: &str = "
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
";

/// Forwarding (store migration 3): the columns a forwarded line needs that
/// the ledger lacked, an index to read one message's lines in order, and the
/// outbox. Times are Unix milliseconds.
pub const OUTBOX: &str = "
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
";

/// Migration 4: the running declared volume per (pair, year, code), kept by
/// triggers in the same transaction as the lines, so 0506 reads one row
/// instead of summing every line of the year (which grows with the ledger).
pub const LEDGER_VOLUME: &str = "
CREATE TABLE ledger_volume (
    agb TEXT NOT NULL,
    zorgkantoor TEXT NOT NULL,
    year INTEGER NOT NULL,
    product_code TEXT NOT NULL,
    base_volume INTEGER NOT NULL,
    PRIMARY KEY (agb, zorgkantoor, year, product_code)
) WITHOUT ROWID;
INSERT INTO ledger_volume (agb, zorgkantoor, year, product_code, base_volume)
    SELECT agb, zorgkantoor, year, product_code, SUM(base_volume)
    FROM ledger_line GROUP BY agb, zorgkantoor, year, product_code;
CREATE TRIGGER ledger_volume_add AFTER INSERT ON ledger_line BEGIN
    INSERT INTO ledger_volume (agb, zorgkantoor, year, product_code, base_volume)
    VALUES (NEW.agb, NEW.zorgkantoor, NEW.year, NEW.product_code, NEW.base_volume)
    ON CONFLICT (agb, zorgkantoor, year, product_code)
    DO UPDATE SET base_volume = base_volume + excluded.base_volume;
END;
CREATE TRIGGER ledger_volume_sub AFTER DELETE ON ledger_line BEGIN
    UPDATE ledger_volume SET base_volume = base_volume - OLD.base_volume
    WHERE agb = OLD.agb AND zorgkantoor = OLD.zorgkantoor
      AND year = OLD.year AND product_code = OLD.product_code;
END;
";

/// Migration 5 (PostgreSQL 4): what a provider sees of a processed message
/// (`GET /declaraties/{id}`): when it came, its Verwerking, lines accepted
/// per route and rejected, the SHA-256 of its bytes (a byte-identical resend
/// gets the kept answer, not 0106); and the kept answers themselves, each
/// committed with its message's lines.
pub const RECEIPTS: &str = "
ALTER TABLE ledger_message ADD COLUMN received_at INTEGER;
ALTER TABLE ledger_message ADD COLUMN request_sha256 TEXT;
ALTER TABLE ledger_message ADD COLUMN verwerking TEXT;
ALTER TABLE ledger_message ADD COLUMN accepted_zio INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger_message ADD COLUMN accepted_regulier INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger_message ADD COLUMN rejected INTEGER NOT NULL DEFAULT 0;

CREATE TABLE ledger_answer (
    agb TEXT NOT NULL,
    message_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    answer BLOB NOT NULL,
    PRIMARY KEY (agb, message_id)
) WITHOUT ROWID;
CREATE INDEX ledger_answer_created ON ledger_answer (created_at);
CREATE INDEX forward_outbox_message ON forward_outbox (agb, message_id);
";

/// Migration 6: the life of a herschikking (Bedrag A) per (agb,
/// zorgkantoor, year), as events: imports, the act that makes it definitive,
/// overrides of a definitive figure, and each side marking the ZiO row of
/// the nacalculatie agreed. Status and agreement are derived from the events
/// (`sinks::ledger::herschikking`); nothing is ever updated or deleted.
pub const HERSCHIKKING: &str = "
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
";

/// Migration 7 (PostgreSQL 6): absence registered by a provider
/// (`docs/absence.md`): volume planned but not delivered, one row per key;
/// a later upload of the same key replaces the row (volume 0 deletes it).
/// Volumes are integer base units (minutes, dagdelen) like the lines'.
/// `at_ms` and `actor` say who last changed the row, and when.
pub const ABSENCE: &str = "
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
    base_volume INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    PRIMARY KEY (agb, zorgkantoor, bsn, brin, product_code, year, month, soort)
) WITHOUT ROWID;
CREATE INDEX ledger_absence_year ON ledger_absence (year, agb, zorgkantoor);
";

/// Every PostgreSQL migration, in order (1, 2, 3, ...): append, never edit.
/// Recorded in `ledger_schema_migrations`; applied under an advisory lock,
/// so gateways starting together migrate once.
pub const PG_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "ledger",
        sql: "
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
",
    },
    Migration {
        version: 2,
        name: "forwarding outbox",
        sql: "
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
",
    },
    Migration {
        version: 3,
        name: "running declared volume",
        // Kept by triggers in the recording transaction: 0506 reads one row
        // instead of summing every line of the year.
        sql: "
CREATE TABLE ledger_volume (
    agb TEXT NOT NULL,
    zorgkantoor TEXT NOT NULL,
    year INTEGER NOT NULL,
    product_code TEXT NOT NULL,
    base_volume BIGINT NOT NULL,
    PRIMARY KEY (agb, zorgkantoor, year, product_code)
);
INSERT INTO ledger_volume (agb, zorgkantoor, year, product_code, base_volume)
    SELECT agb, zorgkantoor, year, product_code, SUM(base_volume)
    FROM ledger_line GROUP BY agb, zorgkantoor, year, product_code;
CREATE FUNCTION ledger_volume_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO ledger_volume (agb, zorgkantoor, year, product_code, base_volume)
        VALUES (NEW.agb, NEW.zorgkantoor, NEW.year, NEW.product_code, NEW.base_volume)
        ON CONFLICT (agb, zorgkantoor, year, product_code)
        DO UPDATE SET base_volume = ledger_volume.base_volume + EXCLUDED.base_volume;
        RETURN NEW;
    ELSE
        UPDATE ledger_volume SET base_volume = base_volume - OLD.base_volume
        WHERE agb = OLD.agb AND zorgkantoor = OLD.zorgkantoor
          AND year = OLD.year AND product_code = OLD.product_code;
        RETURN OLD;
    END IF;
END $$;
CREATE TRIGGER ledger_volume_track AFTER INSERT OR DELETE ON ledger_line
    FOR EACH ROW EXECUTE FUNCTION ledger_volume_track();
",
    },
    Migration {
        version: 4,
        name: "message receipts and kept answers",
        sql: "
ALTER TABLE ledger_message ADD COLUMN received_at BIGINT;
ALTER TABLE ledger_message ADD COLUMN request_sha256 TEXT;
ALTER TABLE ledger_message ADD COLUMN verwerking TEXT;
ALTER TABLE ledger_message ADD COLUMN accepted_zio BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ledger_message ADD COLUMN accepted_regulier BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ledger_message ADD COLUMN rejected BIGINT NOT NULL DEFAULT 0;

CREATE TABLE ledger_answer (
    agb TEXT NOT NULL,
    message_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    answer BYTEA NOT NULL,
    PRIMARY KEY (agb, message_id)
);
CREATE INDEX ledger_answer_created ON ledger_answer (created_at);
CREATE INDEX forward_outbox_message ON forward_outbox (agb, message_id);
",
    },
    Migration {
        version: 5,
        name: "herschikking status and history",
        sql: "
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
",
    },
    Migration {
        version: 6,
        name: "absence registration",
        sql: "
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
",
    },
    Migration {
        version: 7,
        name: "iwlz registry",
        sql: PG_REGISTRY,
    },
];

/// PostgreSQL migration 7: the registry (SQLite migration 1, [`REGISTRY`]),
/// so every gateway on one database answers 04xx from the same indications
/// and allocations. Same tables, columns in the same order (the canonical
/// dump lists them as declared); dates as DATE. Text keys sort bytewise
/// (`COLLATE "C"`) as SQLite's do, so the dump's order is the same whatever
/// the database's locale.
pub const PG_REGISTRY: &str = r#"
CREATE TABLE iwlz_bericht (
    sha256 TEXT COLLATE "C" PRIMARY KEY,
    soort TEXT NOT NULL,
    identificatie TEXT NOT NULL,
    dagtekening DATE NOT NULL,
    afzender TEXT,
    ontvanger TEXT,
    clienten BIGINT NOT NULL
);

CREATE TABLE iwlz_indicatie (
    bsn BIGINT NOT NULL,
    besluitnummer BIGINT NOT NULL,
    afgiftedatum DATE,
    ingangsdatum DATE NOT NULL,
    einddatum DATE,
    functies TEXT NOT NULL,
    zzps TEXT NOT NULL,
    stamp TEXT NOT NULL,
    PRIMARY KEY (bsn, besluitnummer)
);

CREATE TABLE iwlz_toegewezen_functie (
    bsn BIGINT NOT NULL,
    functiecode INTEGER NOT NULL,
    instelling TEXT COLLATE "C" NOT NULL,
    ingangsdatum DATE NOT NULL,
    einddatum DATE,
    besluitnummer BIGINT NOT NULL,
    toewijzingsdatum DATE,
    toewijzingstijd TEXT,
    reden_intrekking TEXT,
    stamp TEXT NOT NULL,
    PRIMARY KEY (bsn, functiecode, instelling, ingangsdatum)
);

CREATE TABLE iwlz_toegewezen_zzp (
    bsn BIGINT NOT NULL,
    zzpcode INTEGER NOT NULL,
    ingangsdatum DATE NOT NULL,
    instelling TEXT COLLATE "C" NOT NULL, -- '' when absent (pgb)
    leveringsvorm INTEGER NOT NULL,
    einddatum DATE,
    besluitnummer BIGINT NOT NULL,
    toewijzingsdatum DATE,
    toewijzingstijd TEXT,
    reden_intrekking TEXT,
    stamp TEXT NOT NULL,
    PRIMARY KEY (bsn, zzpcode, ingangsdatum, instelling, leveringsvorm)
);

CREATE TABLE iwlz_aanvang (
    bsn BIGINT NOT NULL,
    functiecode INTEGER NOT NULL,
    instelling TEXT COLLATE "C" NOT NULL,
    toewijzing_ingangsdatum DATE NOT NULL,
    begindatum DATE NOT NULL,
    besluitnummer BIGINT NOT NULL,
    status INTEGER NOT NULL,
    stamp TEXT NOT NULL,
    PRIMARY KEY (bsn, functiecode, instelling, toewijzing_ingangsdatum, begindatum)
);

CREATE TABLE iwlz_mutatie (
    bsn BIGINT NOT NULL,
    functiecode INTEGER NOT NULL,
    instelling TEXT COLLATE "C" NOT NULL,
    toewijzing_ingangsdatum DATE NOT NULL,
    mutatiedatum DATE NOT NULL,
    mutatiecode INTEGER NOT NULL,
    besluitnummer BIGINT NOT NULL,
    status INTEGER NOT NULL,
    stamp TEXT NOT NULL,
    PRIMARY KEY (bsn, functiecode, instelling, toewijzing_ingangsdatum, mutatiedatum, mutatiecode)
);

-- Derived, as in SQLite: everything of one BSN as the rules see it, in the
-- compact encoding of `encode_client`, kept by every ingest. Not dumped.
CREATE TABLE iwlz_client (
    bsn BIGINT PRIMARY KEY,
    registry BYTEA NOT NULL
);
"#;
