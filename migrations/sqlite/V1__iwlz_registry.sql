
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
