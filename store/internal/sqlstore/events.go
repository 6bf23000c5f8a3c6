package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"vitrine/store"
)

// AppendEvent appends an event to the campaign's log and returns its
// sequence number. The counter row and the event are written in one
// transaction: on PostgreSQL the upsert locks the campaign's counter row,
// so appends from several nodes queue there and get 1, 2, 3... without a
// gap or a repeat; on SQLite the single writer connection serialises them.
func (db *DB) AppendEvent(ctx context.Context, campaignID, typ string, at time.Time, data []byte) (int64, error) {
	if typ == "" {
		return 0, fmt.Errorf("%s: append event: empty type", db.d.Name)
	}
	if !json.Valid(data) {
		return 0, fmt.Errorf("%s: append event %s: data is not valid JSON", db.d.Name, typ)
	}
	var seq int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO campaign_event_seqs (campaign_id, seq) VALUES ($1, 1)
			ON CONFLICT (campaign_id) DO UPDATE SET seq = campaign_event_seqs.seq + 1
			RETURNING seq`, campaignID).Scan(&seq)
		if err != nil {
			return db.fail(err, "append event", "", fmt.Sprintf("campaign %q", campaignID))
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO campaign_events (campaign_id, seq, type, at, data)
			VALUES ($1, $2, $3, $4, $5)`, campaignID, seq, typ, db.timeArg(at), string(data))
		if err != nil {
			return db.fail(err, "append event", "", fmt.Sprintf("campaign %q", campaignID))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return seq, nil
}

// ListEvents returns the campaign's events with seq > afterSeq, oldest
// first, at most limit (clamped to [1, store.MaxEventPage]; 0 or less
// means store.MaxEventPage).
func (db *DB) ListEvents(ctx context.Context, campaignID string, afterSeq int64, limit int) ([]store.Event, error) {
	if limit <= 0 || limit > store.MaxEventPage {
		limit = store.MaxEventPage
	}
	rows, err := db.r.QueryContext(ctx, `SELECT seq, type, at, data FROM campaign_events
		WHERE campaign_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, campaignID, afterSeq, limit)
	if err != nil {
		return nil, db.fail(err, "list events", "", "")
	}
	defer rows.Close()
	out := []store.Event{}
	for rows.Next() {
		e := store.Event{CampaignID: campaignID}
		var data string
		if err := rows.Scan(&e.Seq, &e.Type, scanTime(&e.At), &data); err != nil {
			return nil, db.fail(err, "list events", "", "")
		}
		e.Data = json.RawMessage(data)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, db.fail(err, "list events", "", "")
	}
	return out, nil
}

// LastEventSeq returns the sequence number of the campaign's last event,
// 0 when it has none.
func (db *DB) LastEventSeq(ctx context.Context, campaignID string) (int64, error) {
	var seq int64
	err := db.r.QueryRowContext(ctx, `SELECT seq FROM campaign_event_seqs WHERE campaign_id = $1`, campaignID).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, db.fail(err, "last event seq", "", "")
	}
	return seq, nil
}
