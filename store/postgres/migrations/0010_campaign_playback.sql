-- Vitrine schema version 10, PostgreSQL: the seller's playback choices of
-- a campaign. transport is how the player page plays the live
-- (store.Campaign.Transport: auto, webrtc or llhls; '' reads as auto);
-- country is the ISO 3166-1 alpha-2 country of the campaign's audience,
-- the default of national phone numbers (store.Campaign.Country; '' for
-- none, as for the campaigns saved before).

ALTER TABLE campaigns ADD COLUMN transport TEXT NOT NULL DEFAULT 'auto';
ALTER TABLE campaigns ADD COLUMN country TEXT NOT NULL DEFAULT '';
