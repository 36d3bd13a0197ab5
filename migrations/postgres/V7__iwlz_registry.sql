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
