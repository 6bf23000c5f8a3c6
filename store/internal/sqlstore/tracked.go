package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"vitrine/store"
)

const trackedCols = `campaign_id, event_id, type, at_us, viewer_id, session_id, device, source, target,
	product_id, amount_e4, currency, value, data`

// trackedChunk is how many rows one INSERT carries by default: 14
// parameters each, far below both databases' limits on bound parameters.
const trackedChunk = 200

// insertTrackedSQL is the INSERT of n tracked events. It returns the
// rows it inserted (not those it skipped) for the session rollup.
func (db *DB) insertTrackedSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO tracked_events (` + trackedCols + `) VALUES `)
	db.values(&b, n, 14)
	b.WriteString(` ON CONFLICT (campaign_id, event_id) DO NOTHING RETURNING campaign_id, session_id, viewer_id, at_us`)
	return b.String()
}

// upsertSessionsSQL widens the rollup rows of n (campaign, session,
// viewer) to the times of newly inserted events.
func (db *DB) upsertSessionsSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO tracked_sessions (campaign_id, session_id, viewer_id, first_us, last_us) VALUES `)
	db.values(&b, n, 5)
	b.WriteString(` ON CONFLICT (campaign_id, session_id, viewer_id) DO UPDATE SET
		first_us = CASE WHEN excluded.first_us < tracked_sessions.first_us THEN excluded.first_us ELSE tracked_sessions.first_us END,
		last_us = CASE WHEN excluded.last_us > tracked_sessions.last_us THEN excluded.last_us ELSE tracked_sessions.last_us END`)
	return b.String()
}

// values writes n rows of k parameters, numbered unless the dialect's
// are positional.
func (db *DB) values(b *strings.Builder, n, k int) {
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range k {
			if j > 0 {
				b.WriteString(", ")
			}
			if db.d.Positional {
				b.WriteByte('?')
				continue
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(i*k + j + 1))
		}
		b.WriteByte(')')
	}
}

// sessionKey is a row of tracked_sessions.
type sessionKey struct{ campaign, session, viewer string }

// inChunks runs the statement of rows [i, i+n) of a list of total rows,
// n at most chunk: full chunks through one statement prepared once, the
// rest through its own.
func inChunks(ctx context.Context, tx *sql.Tx, total, chunk int, query func(n int) string,
	run func(stmt *sql.Stmt, query string, from, n int) error) error {
	chunk = min(chunk, total)
	full, err := tx.PrepareContext(ctx, query(chunk))
	if err != nil {
		return err
	}
	defer full.Close()
	for i := 0; i < total; i += chunk {
		n := min(chunk, total-i)
		if n == chunk {
			err = run(full, "", i, n)
		} else {
			err = run(nil, query(n), i, n)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// InsertTrackedEvents writes events in one transaction, skipping those
// already stored (ON CONFLICT DO NOTHING on the campaign and event id),
// and returns how many were new. The inserted events with a session id
// widen their rows of tracked_sessions, in the same transaction.
func (db *DB) InsertTrackedEvents(ctx context.Context, events []store.TrackedEvent) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	chunk := db.d.InsertRows
	if chunk <= 0 {
		chunk = trackedChunk
	}
	inserted := 0
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		spans := map[sessionKey][2]int64{}
		args := make([]any, 0, min(chunk, len(events))*14)
		err := inChunks(ctx, tx, len(events), chunk, db.insertTrackedSQL, func(stmt *sql.Stmt, query string, from, n int) error {
			args = args[:0]
			for _, e := range events[from : from+n] {
				args = append(args, e.CampaignID, e.EventID, e.Type, normTime(e.At).UnixMicro(), e.ViewerID,
					e.SessionID, e.Device, e.Source, e.Target, e.ProductID, e.AmountE4, e.Currency, e.Value, e.Data)
			}
			var rows *sql.Rows
			var err error
			if stmt != nil {
				rows, err = stmt.QueryContext(ctx, args...)
			} else {
				rows, err = tx.QueryContext(ctx, query, args...)
			}
			if err != nil {
				return db.fail(err, "insert tracked events", "", fmt.Sprintf("campaign %q", events[from].CampaignID))
			}
			defer rows.Close()
			for rows.Next() {
				var campaign, session, viewer string
				var at int64
				if err := rows.Scan(&campaign, &session, &viewer, &at); err != nil {
					return db.fail(err, "insert tracked events", "", "")
				}
				inserted++
				if session == "" {
					continue
				}
				k := sessionKey{campaign, session, viewer}
				if sp, ok := spans[k]; ok {
					spans[k] = [2]int64{min(sp[0], at), max(sp[1], at)}
				} else {
					spans[k] = [2]int64{at, at}
				}
			}
			if err := rows.Err(); err != nil {
				return db.fail(err, "insert tracked events", "", fmt.Sprintf("campaign %q", events[from].CampaignID))
			}
			return nil
		})
		if err != nil || len(spans) == 0 {
			return err
		}
		// In key order, so that two transactions widening the same rows
		// (PostgreSQL) lock them in the same order.
		keys := make([]sessionKey, 0, len(spans))
		for k := range spans {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			a, b := keys[i], keys[j]
			if a.campaign != b.campaign {
				return a.campaign < b.campaign
			}
			if a.session != b.session {
				return a.session < b.session
			}
			return a.viewer < b.viewer
		})
		return inChunks(ctx, tx, len(keys), chunk, db.upsertSessionsSQL, func(stmt *sql.Stmt, query string, from, n int) error {
			args = args[:0]
			for _, k := range keys[from : from+n] {
				sp := spans[k]
				args = append(args, k.campaign, k.session, k.viewer, sp[0], sp[1])
			}
			var err error
			if stmt != nil {
				_, err = stmt.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, query, args...)
			}
			if err != nil {
				return db.fail(err, "insert tracked events: sessions", "", "")
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	return inserted, nil
}

// trackedBounds are q's bounds on at_us: from <= at_us < to.
func trackedBounds(q store.TrackedQuery) (from, to int64) {
	from, to = math.MinInt64, math.MaxInt64
	if !q.From.IsZero() {
		from = normTime(q.From).UnixMicro()
	}
	if !q.To.IsZero() {
		to = normTime(q.To).UnixMicro()
	}
	return from, to
}

// trackedWhere is the condition shared by every tracked query.
func trackedWhere(s *sel, q store.TrackedQuery) {
	from, to := trackedBounds(q)
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

// TrackedSessions folds the events of each session into its span.
//
// Without a filter on types or targets it reads the rollup
// (tracked_sessions): a (session, viewer) row that lies within [q.From,
// q.To) is its span as it is; one that straddles a bound is read again
// from its events within the bounds, through the partial index on
// (campaign_id, session_id, at_us, viewer_id); the rows of a session are
// then merged (its viewer is the least viewer id it has within the
// bounds, as MIN(viewer_id) over its events). With a filter, the events
// themselves are grouped.
func (db *DB) TrackedSessions(ctx context.Context, q store.TrackedQuery) ([]store.TrackedSpan, error) {
	if len(q.Types) > 0 || len(q.Targets) > 0 {
		return db.trackedSessionsOfEvents(ctx, q)
	}
	from, to := trackedBounds(q)
	window := `e.campaign_id = s.campaign_id AND e.session_id = s.session_id AND e.session_id <> ''
		AND e.viewer_id = s.viewer_id AND e.at_us >= $2 AND e.at_us < $3`
	rows, err := db.r.QueryContext(ctx, `SELECT s.session_id, s.viewer_id,
		CASE WHEN s.first_us >= $2 AND s.last_us < $3 THEN s.first_us
			ELSE (SELECT MIN(e.at_us) FROM tracked_events e WHERE `+window+`) END,
		CASE WHEN s.first_us >= $2 AND s.last_us < $3 THEN s.last_us
			ELSE (SELECT MAX(e.at_us) FROM tracked_events e WHERE `+window+`) END
		FROM tracked_sessions s WHERE s.campaign_id = $1 AND s.first_us < $3 AND s.last_us >= $2`,
		q.CampaignID, from, to)
	if err != nil {
		return nil, db.fail(err, "tracked sessions", "", "")
	}
	defer rows.Close()
	type span struct {
		viewer      string
		first, last int64
	}
	spans := map[string]*span{}
	for rows.Next() {
		var session, viewer string
		var first, last sql.NullInt64
		if err := rows.Scan(&session, &viewer, &first, &last); err != nil {
			return nil, db.fail(err, "tracked sessions", "", "")
		}
		if !first.Valid || !last.Valid {
			continue // straddles the bounds with no event within them
		}
		sp := spans[session]
		if sp == nil {
			spans[session] = &span{viewer: viewer, first: first.Int64, last: last.Int64}
			continue
		}
		sp.viewer = min(sp.viewer, viewer)
		sp.first, sp.last = min(sp.first, first.Int64), max(sp.last, last.Int64)
	}
	if err := rows.Err(); err != nil {
		return nil, db.fail(err, "tracked sessions", "", "")
	}
	var out []store.TrackedSpan
	for id, sp := range spans {
		out = append(out, store.TrackedSpan{SessionID: id, ViewerID: sp.viewer,
			First: time.UnixMicro(sp.first).UTC(), Last: time.UnixMicro(sp.last).UTC()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SessionID < out[j].SessionID })
	return out, nil
}

// trackedSessionsOfEvents is TrackedSessions over the events.
func (db *DB) trackedSessionsOfEvents(ctx context.Context, q store.TrackedQuery) ([]store.TrackedSpan, error) {
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
	var e store.TrackedEvent
	var at int64
	return db.scanTracked(rows, &e, &at, fn, &e.CampaignID, &e.EventID, &e.Type, &at, &e.ViewerID, &e.SessionID, &e.Device,
		&e.Source, &e.Target, &e.ProductID, &e.AmountE4, &e.Currency, &e.Value, &e.Data)
}

// scanTracked reads each row into dest (fields of e, and at for its
// time), sets e.At, and calls fn with e; it closes rows.
func (db *DB) scanTracked(rows *sql.Rows, e *store.TrackedEvent, at *int64, fn func(*store.TrackedEvent) error, dest ...any) error {
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return db.fail(err, "scan tracked events", "", "")
		}
		e.At = time.UnixMicro(*at).UTC()
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return db.fail(err, "scan tracked events", "", "")
	}
	return nil
}

// ScanTrackedBrief streams q's events, unordered, from the columns of
// tracked_events_brief. The SQLite driver pays for each column of each
// row, so only the asked ones are read.
func (db *DB) ScanTrackedBrief(ctx context.Context, q store.TrackedQuery, origin bool, fn func(*store.TrackedEvent) error) error {
	var s sel
	trackedWhere(&s, q)
	e := store.TrackedEvent{CampaignID: q.CampaignID}
	var at int64
	// One type is not read back.
	cols, dest := `type, at_us, viewer_id, target, product_id, value`, []any{&e.Type, &at, &e.ViewerID, &e.Target, &e.ProductID, &e.Value}
	if len(q.Types) == 1 {
		e.Type = q.Types[0]
		cols, dest = cols[len(`type, `):], dest[1:]
	}
	if origin {
		cols += `, device, source, event_id`
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+cols+` FROM tracked_events`+s.clause(), s.args...)
	if err != nil {
		return db.fail(err, "scan tracked events", "", "")
	}
	if origin {
		dest = append(dest, &e.Device, &e.Source, &e.EventID)
	}
	return db.scanTracked(rows, &e, &at, fn, dest...)
}

// DeleteTrackedEvents deletes the campaign's tracked events and their
// session rollup.
func (db *DB) DeleteTrackedEvents(ctx context.Context, campaignID string) (int64, error) {
	var n int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tracked_events WHERE campaign_id = $1`, campaignID)
		if err != nil {
			return db.fail(err, "delete tracked events", "", "")
		}
		if n, err = res.RowsAffected(); err != nil {
			return db.fail(err, "delete tracked events", "", "")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tracked_sessions WHERE campaign_id = $1`, campaignID); err != nil {
			return db.fail(err, "delete tracked sessions", "", "")
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
