-- Vitrine schema version 3, PostgreSQL: the overlay's durable event log.
-- Every shopping data-channel event of a campaign (pins, chat, counts...)
-- gets a gap-free sequence number, 1, 2, 3..., assigned from the counter
-- row in campaign_event_seqs in the same transaction as the insert: the
-- row lock serialises appends to one campaign across every node, and a
-- rolled-back append gives its number back. data holds the event's JSON
-- exactly as given (TEXT, not jsonb, which would reorder its keys).

CREATE TABLE campaign_event_seqs (
    campaign_id TEXT PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL
);

CREATE TABLE campaign_events (
    campaign_id TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    type        TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (campaign_id, seq)
);
