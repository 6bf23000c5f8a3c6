-- Vitrine schema version 2, PostgreSQL: campaigns get a version for
-- UpdateCampaign's optimistic check (store.Campaign.Version). Existing
-- campaigns start at 1, like new ones.

ALTER TABLE campaigns ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
