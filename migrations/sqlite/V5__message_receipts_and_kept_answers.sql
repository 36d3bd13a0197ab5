
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
