-- Vitrine schema version 2, SQLite: campaigns get a version for
-- UpdateCampaign's optimistic check (store.Campaign.Version). Existing
-- campaigns start at 1, like new ones.

ALTER TABLE campaigns ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
