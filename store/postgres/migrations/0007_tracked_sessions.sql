-- Vitrine schema version 7, PostgreSQL: analytics over large events.
-- tracked_sessions rolls up, at ingest, the tracked events that carry a
-- session id: one row per (campaign, session, viewer) with the times of
-- its first and last event. Folding a phase's sessions reads these rows
-- instead of every heartbeat (most of tracked_events); only a session that
-- straddles the phase's bounds goes back to its events. InsertTrackedEvents
-- keeps it in step with the events it actually inserts (a replayed event
-- changes nothing), and it is emptied with them.

CREATE TABLE tracked_sessions (
    campaign_id TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    session_id  TEXT NOT NULL,
    viewer_id   TEXT NOT NULL,
    first_us    BIGINT NOT NULL,
    last_us     BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, session_id, viewer_id)
);

INSERT INTO tracked_sessions (campaign_id, session_id, viewer_id, first_us, last_us)
SELECT campaign_id, session_id, viewer_id, MIN(at_us), MAX(at_us)
FROM tracked_events WHERE session_id <> ''
GROUP BY campaign_id, session_id, viewer_id;

-- Aggregates and ScanTrackedBrief read only this index (every column
-- but session_id, currency and data), never the table: a fold of a
-- campaign's non-heartbeat events reads them in one pass without a lookup
-- per row. It replaces tracked_events_type, its prefix.
CREATE INDEX tracked_events_brief ON tracked_events
    (campaign_id, type, at_us, viewer_id, target, product_id, value, amount_e4, device, source, event_id);
DROP INDEX tracked_events_type;
