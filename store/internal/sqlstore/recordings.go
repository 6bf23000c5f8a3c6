package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"vitrine/store"
)

// The recorder's index: recordings, their sessions and segments.

const recordingCols = `campaign_id, state, error, error_at, started_at, ended_at, updated_at`

func scanRecording(r rowScanner, rec *store.Recording) error {
	return r.Scan(&rec.CampaignID, &rec.State, &rec.Error, scanNullTime(&rec.ErrorAt), scanTime(&rec.StartedAt),
		scanNullTime(&rec.EndedAt), scanTime(&rec.UpdatedAt))
}

// SaveRecording inserts or updates the campaign's recording row and sets
// UpdatedAt.
func (db *DB) SaveRecording(ctx context.Context, r *store.Recording) error {
	r.StartedAt, r.ErrorAt, r.EndedAt = normTime(r.StartedAt), normPtr(r.ErrorAt), normPtr(r.EndedAt)
	t := now()
	_, err := db.w.ExecContext(ctx, `INSERT INTO recordings (`+recordingCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (campaign_id) DO UPDATE SET state = $2, error = $3, error_at = $4, started_at = $5,
			ended_at = $6, updated_at = $7`,
		r.CampaignID, r.State, r.Error, db.nullTimeArg(r.ErrorAt), db.timeArg(r.StartedAt),
		db.nullTimeArg(r.EndedAt), db.timeArg(t))
	if err != nil {
		return db.fail(err, "save recording", "", fmt.Sprintf("campaign %q", r.CampaignID))
	}
	r.UpdatedAt = t
	return nil
}

// GetRecording returns the campaign's recording row.
func (db *DB) GetRecording(ctx context.Context, campaignID string) (*store.Recording, error) {
	var r store.Recording
	err := scanRecording(db.r.QueryRowContext(ctx, `SELECT `+recordingCols+` FROM recordings WHERE campaign_id = $1`,
		campaignID), &r)
	if err != nil {
		return nil, db.fail(err, "get recording", "", fmt.Sprintf("recording of campaign %q", campaignID))
	}
	return &r, nil
}

// ListRecordings returns every recording row by campaign id.
func (db *DB) ListRecordings(ctx context.Context) ([]store.Recording, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+recordingCols+` FROM recordings ORDER BY campaign_id`)
	if err != nil {
		return nil, db.fail(err, "list recordings", "", "")
	}
	defer rows.Close()
	out := []store.Recording{}
	for rows.Next() {
		var r store.Recording
		if err := scanRecording(rows, &r); err != nil {
			return nil, db.fail(err, "list recordings", "", "")
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, db.fail(err, "list recordings", "", "")
	}
	return out, nil
}

const sessionCols = `campaign_id, session, init_path, tracks, started_at, ended_at`

// SaveRecordingSession inserts or updates a session.
func (db *DB) SaveRecordingSession(ctx context.Context, s *store.RecordingSession) error {
	s.StartedAt, s.EndedAt = normTime(s.StartedAt), normPtr(s.EndedAt)
	_, err := db.w.ExecContext(ctx, `INSERT INTO recording_sessions (`+sessionCols+`)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (campaign_id, session) DO UPDATE SET init_path = $3, tracks = $4, started_at = $5, ended_at = $6`,
		s.CampaignID, s.Session, s.InitPath, s.Tracks, db.timeArg(s.StartedAt), db.nullTimeArg(s.EndedAt))
	if err != nil {
		return db.fail(err, "save recording session", "", fmt.Sprintf("recording of campaign %q", s.CampaignID))
	}
	return nil
}

// ListRecordingSessions returns the campaign's sessions in order.
func (db *DB) ListRecordingSessions(ctx context.Context, campaignID string) ([]store.RecordingSession, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+sessionCols+` FROM recording_sessions
		WHERE campaign_id = $1 ORDER BY session`, campaignID)
	if err != nil {
		return nil, db.fail(err, "list recording sessions", "", "")
	}
	defer rows.Close()
	out := []store.RecordingSession{}
	for rows.Next() {
		var s store.RecordingSession
		if err := rows.Scan(&s.CampaignID, &s.Session, &s.InitPath, &s.Tracks, scanTime(&s.StartedAt),
			scanNullTime(&s.EndedAt)); err != nil {
			return nil, db.fail(err, "list recording sessions", "", "")
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, db.fail(err, "list recording sessions", "", "")
	}
	return out, nil
}

const segmentCols = `campaign_id, seq, session, path, start_at, media_start_us, duration_us, size, discontinuity, complete`

// SaveRecordingSegment inserts or updates a segment.
func (db *DB) SaveRecordingSegment(ctx context.Context, s *store.RecordingSegment) error {
	s.StartAt = normTime(s.StartAt)
	s.MediaStart, s.Duration = s.MediaStart.Truncate(time.Microsecond), s.Duration.Truncate(time.Microsecond)
	_, err := db.w.ExecContext(ctx, `INSERT INTO recording_segments (`+segmentCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (campaign_id, seq) DO UPDATE SET session = $3, path = $4, start_at = $5,
			media_start_us = $6, duration_us = $7, size = $8, discontinuity = $9, complete = $10`,
		s.CampaignID, s.Seq, s.Session, s.Path, db.timeArg(s.StartAt), s.MediaStart.Microseconds(),
		s.Duration.Microseconds(), s.Size, s.Discontinuity, s.Complete)
	if err != nil {
		return db.fail(err, "save recording segment", "", fmt.Sprintf("recording of campaign %q", s.CampaignID))
	}
	return nil
}

// ListRecordingSegments returns the campaign's segments by seq.
func (db *DB) ListRecordingSegments(ctx context.Context, campaignID string) ([]store.RecordingSegment, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+segmentCols+` FROM recording_segments
		WHERE campaign_id = $1 ORDER BY seq`, campaignID)
	if err != nil {
		return nil, db.fail(err, "list recording segments", "", "")
	}
	defer rows.Close()
	out := []store.RecordingSegment{}
	for rows.Next() {
		var s store.RecordingSegment
		if err := rows.Scan(&s.CampaignID, &s.Seq, &s.Session, &s.Path, scanTime(&s.StartAt),
			microsScanner{&s.MediaStart}, microsScanner{&s.Duration}, &s.Size, &s.Discontinuity, &s.Complete); err != nil {
			return nil, db.fail(err, "list recording segments", "", "")
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, db.fail(err, "list recording segments", "", "")
	}
	return out, nil
}

// DeleteRecordingSegments deletes the campaign's segments from fromSeq on.
func (db *DB) DeleteRecordingSegments(ctx context.Context, campaignID string, fromSeq int64) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM recording_segments WHERE campaign_id = $1 AND seq >= $2`,
		campaignID, fromSeq); err != nil {
		return db.fail(err, "delete recording segments", "", "")
	}
	return nil
}

// DeleteRecording deletes the campaign's recording index.
func (db *DB) DeleteRecording(ctx context.Context, campaignID string) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		return deleteRecordingTx(ctx, db, tx, campaignID)
	})
}

func deleteRecordingTx(ctx context.Context, db *DB, tx *sql.Tx, campaignID string) error {
	for _, table := range []string{"recording_segments", "recording_sessions", "recordings"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE campaign_id = $1`, campaignID); err != nil {
			return db.fail(err, "delete "+table, "", "")
		}
	}
	return nil
}

// ResetCampaignLive returns the campaign to its state before the live: see
// store.Store. Tables that hold what a live produces are listed here; an
// analytics table joins the list.
func (db *DB) ResetCampaignLive(ctx context.Context, campaignID string) (*store.Campaign, error) {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE campaigns SET live_started_at = NULL, live_ended_at = NULL,
			preparing_since = NULL, last_prepared_at = NULL, updated_at = $2, version = version + 1 WHERE id = $1`, campaignID, db.timeArg(now()))
		if err != nil {
			return db.fail(err, "reset campaign", "", "")
		}
		if err := affected(res, fmt.Sprintf("campaign %q", campaignID)); err != nil {
			return err
		}
		for _, table := range []string{"campaign_events", "campaign_event_seqs", "orders", "tracked_events", "tracked_sessions"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE campaign_id = $1`, campaignID); err != nil {
				return db.fail(err, "reset campaign "+table, "", "")
			}
		}
		return deleteRecordingTx(ctx, db, tx, campaignID)
	})
	if err != nil {
		return nil, err
	}
	return db.GetCampaign(ctx, campaignID)
}
