-- Vitrine schema version 5, SQLite: the recorder's index.
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
    error_at    INTEGER,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX recordings_ended_at ON recordings (ended_at);

CREATE TABLE recording_sessions (
    campaign_id TEXT NOT NULL REFERENCES recordings (campaign_id) ON DELETE CASCADE,
    session     INTEGER NOT NULL,
    init_path   TEXT NOT NULL,
    tracks      TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    PRIMARY KEY (campaign_id, session)
) STRICT;

CREATE TABLE recording_segments (
    campaign_id    TEXT NOT NULL REFERENCES recordings (campaign_id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    session        INTEGER NOT NULL,
    path           TEXT NOT NULL,
    start_at       INTEGER NOT NULL,
    media_start_us INTEGER NOT NULL,
    duration_us    INTEGER NOT NULL,
    size           INTEGER NOT NULL,
    discontinuity  INTEGER NOT NULL,
    complete       INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, seq)
) STRICT;
