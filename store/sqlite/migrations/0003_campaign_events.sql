-- Vitrine schema version 3, SQLite: the overlay's durable event log.
-- Every shopping data-channel event of a campaign (pins, chat, counts...)
-- gets a gap-free sequence number, 1, 2, 3..., assigned from the counter
-- row in campaign_event_seqs in the same transaction as the insert.
-- data holds the event's JSON exactly as given.

CREATE TABLE campaign_event_seqs (
    campaign_id TEXT PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL
);

CREATE TABLE campaign_events (
    campaign_id TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    type        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (campaign_id, seq)
);
