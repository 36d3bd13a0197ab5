
ALTER TABLE forward_outbox ADD COLUMN claim INTEGER;
