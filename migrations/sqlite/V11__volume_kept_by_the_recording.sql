-- The running declared volume (V4) is kept by the recording itself, not by
-- triggers: a trigger on ledger_line made SQLite open a statement journal
-- for every line inserted (the trigger's write could fail after the line's)
-- and run the trigger's sub-program, together about a third of a line's
-- insert under load (issue 9). The same upsert, and the same subtraction on
-- a delete, now follow the line's own statement in the same transaction
-- (SqliteRecord::insert_line and delete_line). PostgreSQL keeps its trigger.
DROP TRIGGER ledger_volume_add;
DROP TRIGGER ledger_volume_sub;
