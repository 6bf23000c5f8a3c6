-- Vitrine schema version 5, PostgreSQL: the recorder's index.
-- recordings: one row per campaign that was recorded, with its state
-- (recording, finalising, ready, failed, deleted) and the last write error.
-- recording_sessions: one per publisher session (one init segment each).
-- recording_segments: the fMP4 segment files, numbered per campaign across
-- sessions. A row is written only after the bytes it counts (size) were
-- synced to disk; complete is set once the segment has its last fragment.
-- Times on the media clock (start_at: PROGRAM-DATE-TIME of the first frame),
-- media_start_us and duration_us on the stream's own timeline.

CREATE TABLE recordings (
    campaign_id TEXT PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    error       TEXT NOT NULL,
    error_at    TIMESTAMPTZ,
    started_at  TIMESTAMPTZ NOT NULL,
    ended_at    TIMESTAMPTZ,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX recordings_ended_at ON recordings (ended_at);

CREATE TABLE recording_sessions (
    campaign_id TEXT NOT NULL REFERENCES recordings (campaign_id) ON DELETE CASCADE,
    session     INTEGER NOT NULL,
    init_path   TEXT NOT NULL,
    tracks      TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    ended_at    TIMESTAMPTZ,
    PRIMARY KEY (campaign_id, session)
);

CREATE TABLE recording_segments (
    campaign_id    TEXT NOT NULL REFERENCES recordings (campaign_id) ON DELETE CASCADE,
    seq            BIGINT NOT NULL,
    session        INTEGER NOT NULL,
    path           TEXT NOT NULL,
    start_at       TIMESTAMPTZ NOT NULL,
    media_start_us BIGINT NOT NULL,
    duration_us    BIGINT NOT NULL,
    size           BIGINT NOT NULL,
    discontinuity  BOOLEAN NOT NULL,
    complete       BOOLEAN NOT NULL,
    PRIMARY KEY (campaign_id, seq)
);
