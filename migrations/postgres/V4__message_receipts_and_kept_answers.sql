
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
