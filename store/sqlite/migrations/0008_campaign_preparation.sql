-- Vitrine schema version 8, SQLite: a campaign's preparation (the
-- rehearsal before its live). preparing_since is when the current one
-- began, NULL when the campaign is not in preparation
-- (store.Campaign.PreparingSince); last_prepared_at is when the last one
-- began, kept after it ends (store.Campaign.LastPreparedAt). Microseconds
-- since the Unix epoch, like the other times.

ALTER TABLE campaigns ADD COLUMN preparing_since INTEGER;
ALTER TABLE campaigns ADD COLUMN last_prepared_at INTEGER;
