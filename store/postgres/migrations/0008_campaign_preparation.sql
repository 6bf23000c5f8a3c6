-- Vitrine schema version 8, PostgreSQL: a campaign's preparation (the
-- rehearsal before its live). preparing_since is when the current one
-- began, NULL when the campaign is not in preparation
-- (store.Campaign.PreparingSince); last_prepared_at is when the last one
-- began, kept after it ends (store.Campaign.LastPreparedAt).

ALTER TABLE campaigns ADD COLUMN preparing_since TIMESTAMPTZ;
ALTER TABLE campaigns ADD COLUMN last_prepared_at TIMESTAMPTZ;
