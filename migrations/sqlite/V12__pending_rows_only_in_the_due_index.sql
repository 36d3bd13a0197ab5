-- The due index kept every outbox row, delivered or not, keyed by state
-- first: marking a row delivered moved its entry from the 'pending' end to
-- the 'delivered' end, an index delete and an insert per forwarded message
-- and route, and the index grew with the whole history. Every query that
-- uses it asks for pending rows only, so it now holds only those: a mark
-- only deletes the entry (issue 9).
DROP INDEX forward_outbox_due;
CREATE INDEX forward_outbox_due ON forward_outbox (next_attempt_at) WHERE state = 'pending';
