-- pgbench script (scripts/load-multi.sh): what one 2-line message costs the
-- PostgreSQL ledger, on the gateway's own tables (migrated by the gateway,
-- indexes and the running-volume trigger included): the recording
-- transaction (message, two lines, two outbox rows, the kept answer), then
-- the delivery marks of the two rows. One transaction per message, where
-- the gateway's group commit puts many messages into one: a bound on what
-- the database alone needs, not a copy of the gateway's traffic.
\set n random(1, 1000000000000000)
BEGIN;
INSERT INTO ledger_message (agb, message_id, zorgkantoor, dagtekening, received, lines_recorded,
    received_at, request_sha256, verwerking, accepted_zio, accepted_regulier, rejected)
  VALUES ('12345678', 'PGB' || :client_id || '-' || :n, '5509', '2024-04-02', '2024-04-10', 2,
    1733000000000, md5(:n::text), 'Geaccepteerd', 1, 1, 0)
  ON CONFLICT DO NOTHING;
INSERT INTO ledger_line (agb, referentie, message_id, zorgkantoor, bsn, brin, onderwijstijd, route,
    product_code, declared_code, period_from, period_to, year, month, volume, eenheid, unit,
    base_volume, tarief, bedrag, bedrag_signed, debet_credit, codes, geboortedatum, besluitnummer)
  VALUES
    ('12345678', 'PGB' || :client_id || '-' || :n || '-1', 'PGB' || :client_id || '-' || :n, '5509',
     '111222333', '12AB', true, 'ZIO', 'H307', 'H307', '2024-03-04', '2024-03-08', 2024, 3, 10, '04',
     'uur', 600, 7650, 76500, 76500, 'D', '', '2014-06-12', 4100001),
    ('12345678', 'PGB' || :client_id || '-' || :n || '-2', 'PGB' || :client_id || '-' || :n, '5509',
     '111222333', NULL, NULL, 'REGULIER', 'H300', 'H300', '2024-03-11', '2024-03-15', 2024, 3, 90, '01',
     'uur', 90, 7650, 11475, 11475, 'D', '', '2014-06-12', 4100001)
  ON CONFLICT DO NOTHING;
INSERT INTO forward_outbox (agb, message_id, route, forward_id, zorgkantoor, dagtekening, period_from,
    period_to, lines, state, next_attempt_at, created_at)
  VALUES
    ('12345678', 'PGB' || :client_id || '-' || :n, 'ZIO', 'PGB' || :client_id || '-' || :n || '-Z', '5509',
     '2024-04-02', '2024-03-01', '2024-03-31', 1, 'pending', 1733000000000, 1733000000000),
    ('12345678', 'PGB' || :client_id || '-' || :n, 'REGULIER', 'PGB' || :client_id || '-' || :n || '-R', '5509',
     '2024-04-02', '2024-03-01', '2024-03-31', 1, 'pending', 1733000000000, 1733000000000)
  ON CONFLICT DO NOTHING;
INSERT INTO ledger_answer (agb, message_id, created_at, answer)
  VALUES ('12345678', 'PGB' || :client_id || '-' || :n, 1733000000000, decode(repeat('ab', 700), 'hex'))
  ON CONFLICT DO NOTHING;
COMMIT;
UPDATE forward_outbox SET state = 'delivered', delivered_at = 1733000000001, claimed_until = NULL
  WHERE agb = '12345678' AND message_id = 'PGB' || :client_id || '-' || :n;
