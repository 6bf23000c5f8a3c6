package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"time"

	"vitrine/store"
)

const trackedCols = `campaign_id, event_id, type, at_us, viewer_id, session_id, device, source, target,
	product_id, amount_e4, currency, value, data`

// trackedChunk is how many rows one INSERT carries: 14 parameters each,
// far below both databases' limits on bound parameters.
const trackedChunk = 200

// InsertTrackedEvents writes events in one transaction, skipping those
// already stored (ON CONFLICT DO NOTHING on the campaign and event id),
// and returns how many were new.
func (db *DB) InsertTrackedEvents(ctx context.Context, events []store.TrackedEvent) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	inserted := 0
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for rest := events; len(rest) > 0; {
			n := min(len(rest), trackedChunk)
			var b strings.Builder
			b.WriteString(`INSERT INTO tracked_events (` + trackedCols + `) VALUES `)
			args := make([]any, 0, n*14)
			for i, e := range rest[:n] {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteByte('(')
				for j := range 14 {
					if j > 0 {
						b.WriteString(", ")
					}
					fmt.Fprintf(&b, "$%d", i*14+j+1)
				}
				b.WriteByte(')')
				args = append(args, e.CampaignID, e.EventID, e.Type, normTime(e.At).UnixMicro(), e.ViewerID,
					e.SessionID, e.Device, e.Source, e.Target, e.ProductID, e.AmountE4, e.Currency, e.Value, e.Data)
			}
			b.WriteString(` ON CONFLICT (campaign_id, event_id) DO NOTHING`)
			res, err := tx.ExecContext(ctx, b.String(), args...)
			if err != nil {
				return db.fail(err, "insert tracked events", "", fmt.Sprintf("campaign %q", rest[0].CampaignID))
			}
			k, err := res.RowsAffected()
			if err != nil {
				return db.fail(err, "insert tracked events", "", "")
			}
			inserted += int(k)
			rest = rest[n:]
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return inserted, nil
}

// trackedWhere is the condition shared by every tracked query.
func trackedWhere(s *sel, q store.TrackedQuery) {
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	if !q.From.IsZero() {
		from = normTime(q.From).UnixMicro()
	}
	if !q.To.IsZero() {
		to = normTime(q.To).UnixMicro()
	}
	s.where("campaign_id = " + s.arg(q.CampaignID))
	if len(q.Types) == 1 {
		s.where("type = " + s.arg(q.Types[0]))
	} else if len(q.Types) > 1 {
		s.where("type IN (" + s.placeholders(q.Types) + ")")
	}
	if len(q.Targets) > 0 {
		s.where("target IN (" + s.placeholders(q.Targets) + ")")
	}
	s.where("at_us >= " + s.arg(from))
	s.where("at_us < " + s.arg(to))
}

var trackedGroupCols = map[string]string{"": "''", "target": "target", "product_id": "product_id",
	"device": "device", "source": "source"}

// AggregateTracked groups q's events by type, q.GroupBy and time bucket.
func (db *DB) AggregateTracked(ctx context.Context, q store.TrackedQuery) ([]store.TrackedGroup, error) {
	key, ok := trackedGroupCols[q.GroupBy]
	if !ok {
		return nil, fmt.Errorf("%s: aggregate tracked: cannot group by %q: %w", db.d.Name, q.GroupBy, store.ErrInvalidFilter)
	}
	var s sel
	trackedWhere(&s, q)
	bucket := "0"
	if q.Bucket > 0 {
		bucket = fmt.Sprintf("(at_us - %s) / %s", s.arg(normTime(q.BucketBase).UnixMicro()), s.arg(q.Bucket.Microseconds()))
	}
	rows, err := db.r.QueryContext(ctx, `SELECT type, `+key+`, `+bucket+`, COUNT(*), COUNT(DISTINCT NULLIF(viewer_id, '')),
		CAST(COALESCE(SUM(value), 0) AS BIGINT), CAST(COALESCE(SUM(amount_e4), 0) AS BIGINT),
		COALESCE(MIN(amount_e4), 0), COALESCE(MAX(amount_e4), 0)
		FROM tracked_events`+s.clause()+` GROUP BY 1, 2, 3`, s.args...)
	if err != nil {
		return nil, db.fail(err, "aggregate tracked", "", "")
	}
	defer rows.Close()
	var out []store.TrackedGroup
	for rows.Next() {
		var g store.TrackedGroup
		if err := rows.Scan(&g.Type, &g.Key, &g.Bucket, &g.Count, &g.Viewers, &g.SumValue, &g.SumAmount,
			&g.MinAmount, &g.MaxAmount); err != nil {
			return nil, db.fail(err, "aggregate tracked", "", "")
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, db.fail(err, "aggregate tracked", "", "")
	}
	return out, nil
}

// TrackedViewers returns the distinct non-empty viewer ids of q's events.
func (db *DB) TrackedViewers(ctx context.Context, q store.TrackedQuery) ([]string, error) {
	var s sel
	trackedWhere(&s, q)
	s.where("viewer_id <> ''")
	rows, err := db.r.QueryContext(ctx, `SELECT DISTINCT viewer_id FROM tracked_events`+s.clause(), s.args...)
	if err != nil {
		return nil, db.fail(err, "tracked viewers", "", "")
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, db.fail(err, "tracked viewers", "", "")
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, db.fail(err, "tracked viewers", "", "")
	}
	return out, nil
}

// TrackedSessions folds the events of each session into its span. The
// partial index on (campaign_id, session_id, at_us, viewer_id) serves it
// without touching the table.
func (db *DB) TrackedSessions(ctx context.Context, q store.TrackedQuery) ([]store.TrackedSpan, error) {
	var s sel
	trackedWhere(&s, q)
	s.where("session_id <> ''")
	rows, err := db.r.QueryContext(ctx, `SELECT session_id, MIN(viewer_id), MIN(at_us), MAX(at_us)
		FROM tracked_events`+s.clause()+` GROUP BY session_id`, s.args...)
	if err != nil {
		return nil, db.fail(err, "tracked sessions", "", "")
	}
	defer rows.Close()
	var out []store.TrackedSpan
	for rows.Next() {
		var sp store.TrackedSpan
		var first, last int64
		if err := rows.Scan(&sp.SessionID, &sp.ViewerID, &first, &last); err != nil {
			return nil, db.fail(err, "tracked sessions", "", "")
		}
		sp.First, sp.Last = time.UnixMicro(first).UTC(), time.UnixMicro(last).UTC()
		out = append(out, sp)
	}
	if err := rows.Err(); err != nil {
		return nil, db.fail(err, "tracked sessions", "", "")
	}
	return out, nil
}

// ScanTrackedEvents streams q's events in time order.
func (db *DB) ScanTrackedEvents(ctx context.Context, q store.TrackedQuery, fn func(*store.TrackedEvent) error) error {
	var s sel
	trackedWhere(&s, q)
	rows, err := db.r.QueryContext(ctx, `SELECT `+trackedCols+` FROM tracked_events`+s.clause()+
		` ORDER BY at_us, event_id`+db.d.TextOrder, s.args...)
	if err != nil {
		return db.fail(err, "scan tracked events", "", "")
	}
	defer rows.Close()
	var e store.TrackedEvent
	for rows.Next() {
		var at int64
		if err := rows.Scan(&e.CampaignID, &e.EventID, &e.Type, &at, &e.ViewerID, &e.SessionID, &e.Device,
			&e.Source, &e.Target, &e.ProductID, &e.AmountE4, &e.Currency, &e.Value, &e.Data); err != nil {
			return db.fail(err, "scan tracked events", "", "")
		}
		e.At = time.UnixMicro(at).UTC()
		if err := fn(&e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return db.fail(err, "scan tracked events", "", "")
	}
	return nil
}

// DeleteTrackedEvents deletes the campaign's tracked events.
func (db *DB) DeleteTrackedEvents(ctx context.Context, campaignID string) (int64, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM tracked_events WHERE campaign_id = $1`, campaignID)
	if err != nil {
		return 0, db.fail(err, "delete tracked events", "", "")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, db.fail(err, "delete tracked events", "", "")
	}
	return n, nil
}
