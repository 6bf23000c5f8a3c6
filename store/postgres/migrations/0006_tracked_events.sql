-- Vitrine schema version 6, PostgreSQL: analytics' tracked events.
-- What players and widgets report (POST /live/{id}/track) and what the
-- server sees itself of HLS and WHEP viewers, one row per event. event_id
-- is chosen by the sender: a batch sent twice inserts nothing the second
-- time (ON CONFLICT DO NOTHING on the primary key).
-- at_us is integer microseconds since the Unix epoch in both databases, so
-- that bucketing is the same integer arithmetic everywhere. amount_e4 is a
-- money amount in 1/10000 of the currency unit.

CREATE TABLE tracked_events (
    campaign_id TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    at_us       BIGINT NOT NULL,
    viewer_id   TEXT NOT NULL DEFAULT '',
    session_id  TEXT NOT NULL DEFAULT '',
    device      TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL DEFAULT '',
    target      TEXT NOT NULL DEFAULT '',
    product_id  TEXT NOT NULL DEFAULT '',
    amount_e4   BIGINT NOT NULL DEFAULT 0,
    currency    TEXT NOT NULL DEFAULT '',
    value       BIGINT NOT NULL DEFAULT 0,
    data        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (campaign_id, event_id)
);

-- Every aggregate filters on a campaign, types and a time window.
CREATE INDEX tracked_events_type ON tracked_events (campaign_id, type, at_us, viewer_id);
-- Sessions are folded by session id (heartbeats are most of the rows).
CREATE INDEX tracked_events_session ON tracked_events (campaign_id, session_id, at_us, viewer_id)
    WHERE session_id <> '';
