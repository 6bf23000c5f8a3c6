package storetest

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"vitrine/store"
	"vitrine/store/internal/sqlstore"
)

// rollupVersion is the migration that creates tracked_sessions and fills
// it from the tracked events already stored.
const rollupVersion = 7

// SessionsBackfill tests migration 0007 on a database that already holds
// tracked events: the schema is brought to version 6 alone, campaigns and
// their tracked events are written there as a Vitrine of that version
// wrote them, then the store is opened, which applies 0007 and the rest.
// The rollup's rows must then be, for each (campaign, session, viewer) of
// the events with a session id, the times of its first and last event, as
// folded here in Go from the events inserted; the sessions analytics
// folds per phase (TrackedSessions, reading the rollup) must be those of
// the events themselves, folded here and by the store's query of the
// events; and the backfilled rows must keep widening with the events
// inserted after.
//
// db reaches a new, empty database; d and ms are the store's dialect and
// migrations; open opens the store on that database.
func SessionsBackfill(t *testing.T, db *sql.DB, d sqlstore.Dialect, ms []sqlstore.Migration, open func(t *testing.T) store.Store) {
	ctx := t.Context()
	if len(ms) < rollupVersion || ms[rollupVersion-1].Name != "0007_tracked_sessions.sql" {
		t.Fatalf("migration %d is not 0007_tracked_sessions.sql", rollupVersion)
	}
	must(t, sqlstore.Migrate(ctx, db, d, ms[:rollupVersion-1]))

	// Two campaigns: their phases (prelive, live, replay) and windows.
	start := base
	liveFrom, liveTo := start.Add(5*time.Minute), start.Add(65*time.Minute)
	phases := []struct {
		name     string
		from, to time.Time
	}{
		{"prelive", start.Add(-2 * time.Hour), liveFrom},
		{"live", liveFrom, liveTo},
		{"replay", liveTo, start.Add(4 * time.Hour)},
		{"unbounded", time.Time{}, time.Time{}},
		{"[live+2 min, live+3 min)", liveFrom.Add(2 * time.Minute), liveFrom.Add(3 * time.Minute)},
		{"[live+10 min, live+11 min)", liveFrom.Add(10 * time.Minute), liveFrom.Add(11 * time.Minute)},
		{"[start, live end+1 µs)", start, liveTo.Add(time.Microsecond)},
	}
	campaigns := []string{"cmp_backfill0000000000a", "cmp_backfill0000000000b"}
	for i, id := range campaigns {
		_, err := db.ExecContext(ctx, `INSERT INTO campaigns (id, title, description, images, starts_at, ends_at,
			visibility, notify_at_creation, notify_before_start_us, notified_before_start, published, stream_key,
			live_started_at, live_ended_at, created_at, updated_at)
			VALUES ($1, $2, '', '[]', $3, $4, 'suggested', $5, 0, $5, $6, $7, $8, $9, $10, $10)`,
			id, fmt.Sprintf("Live %d", i), d.TimeArg(norm(start)), d.TimeArg(norm(start.Add(time.Hour))), false, true,
			"key-"+id, d.TimeArg(norm(liveFrom)), d.TimeArg(norm(liveTo)), d.TimeArg(norm(start.Add(-3*time.Hour))))
		must(t, err)
	}

	// The events: sessions that cross every phase; one whose viewer id
	// changes (anonymous, then two ids) so that it has three rows; one of
	// a single event on the live's first microsecond and one ending on the
	// live's end (a bound is in the later phase); events without a
	// session, which the rollup leaves out; the same session and viewer
	// ids in the other campaign; and sessions of random heartbeats, all
	// written in random order so that no row's times are those of its
	// first and last insert.
	rng := rand.New(rand.NewPCG(7, 2026))
	var events []store.TrackedEvent
	add := func(campaign, typ string, at time.Time, viewer, session string) {
		e := store.TrackedEvent{CampaignID: campaign, EventID: fmt.Sprintf("e%05d", len(events)), Type: typ,
			At: norm(at), ViewerID: viewer, SessionID: session, Device: "mobile", Source: "direct"}
		switch typ {
		case "product.click":
			e.ProductID, e.Value = "prd_1", 1
		case "purchase":
			e.AmountE4, e.Currency, e.Data = 1290000, "EUR", `{"product_ids":["prd_1"]}`
		}
		events = append(events, e)
	}
	a, b := campaigns[0], campaigns[1]
	add(a, "page.view", start.Add(-30*time.Minute), "v1", "s-cross")
	for at := liveFrom.Add(-time.Minute); at.Before(liveTo.Add(2 * time.Minute)); at = at.Add(30 * time.Second) {
		add(a, "session.heartbeat", at, "v1", "s-cross")
	}
	add(a, "session.end", start.Add(90*time.Minute), "v1", "s-cross")
	add(a, "page.view", liveFrom.Add(10*time.Second), "", "s-login")
	add(a, "session.heartbeat", liveFrom.Add(40*time.Second), "v3", "s-login")
	add(a, "session.heartbeat", liveFrom.Add(70*time.Second), "v3", "s-login")
	add(a, "session.heartbeat", liveFrom.Add(10*time.Minute+30*time.Second), "v2", "s-login")
	add(a, "session.end", liveTo.Add(10*time.Minute), "v2", "s-login")
	add(a, "page.view", liveFrom, "v4", "s-one")
	add(a, "page.view", liveTo.Add(-time.Minute+123*time.Microsecond), "v5", "s-end")
	add(a, "session.end", liveTo, "v5", "s-end")
	add(a, "product.click", liveFrom.Add(3*time.Minute), "v1", "")
	add(a, "purchase", liveFrom.Add(4*time.Minute), "v1", "")
	add(a, "product.click", liveTo.Add(20*time.Minute), "v9", "")
	add(b, "page.view", start.Add(-10*time.Minute), "v1", "s-cross")
	add(b, "session.end", start.Add(2*time.Hour), "v1", "s-cross")
	for i := range 8 {
		typ, viewer := "session.heartbeat", fmt.Sprintf("vr%d", i%5)
		if i%4 == 3 {
			typ, viewer = "hls.heartbeat", "" // a server-seen session without a viewer id
		}
		campaign := campaigns[i%2]
		from := start.Add(time.Duration(rng.Int64N(int64(5*time.Hour))) - 2*time.Hour)
		for range 20 + rng.IntN(40) {
			add(campaign, typ, from.Add(time.Duration(rng.Int64N(int64(40*time.Minute)))), viewer, fmt.Sprintf("r%d", i))
		}
	}
	rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	insertRaw(t, db, events)

	s := open(t)
	var version int
	must(t, db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&version))
	if version != len(ms) {
		t.Fatalf("schema version %d after open, want %d", version, len(ms))
	}
	var count int
	must(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM tracked_events`).Scan(&count))
	if count != len(events) {
		t.Fatalf("%d tracked events after the migration, want %d", count, len(events))
	}

	check := func(when string, events []store.TrackedEvent) {
		t.Helper()
		want := rollupOf(events)
		if len(want) < 15 {
			t.Fatalf("%s: only %d rollup rows expected: the data set does not cover the backfill", when, len(want))
		}
		equal(t, when+": tracked_sessions", readRollup(t, db), want)
		types := map[string]bool{}
		for _, e := range events {
			types[e.Type] = true
		}
		for _, c := range campaigns {
			for _, p := range phases {
				q := store.TrackedQuery{CampaignID: c, From: p.from, To: p.to}
				want := spansOf(events, q)
				what := fmt.Sprintf("%s: campaign %s, %s", when, c[len(c)-1:], p.name)
				equal(t, what+": sessions from the rollup", sessions(t, s, q), want)
				for typ := range types {
					q.Types = append(q.Types, typ)
				}
				equal(t, what+": sessions from the events", sessions(t, s, q), want)
			}
		}
	}
	check("backfilled", events)

	// The backfilled rows widen with the events inserted after, and a
	// replayed event id at another time changes nothing.
	later := []store.TrackedEvent{
		{CampaignID: a, EventID: "n1", Type: "session.heartbeat", At: norm(start.Add(3 * time.Hour)), ViewerID: "v1", SessionID: "s-cross"},
		{CampaignID: a, EventID: "n2", Type: "page.view", At: norm(start.Add(-90 * time.Minute)), ViewerID: "v4", SessionID: "s-one"},
		{CampaignID: b, EventID: "n3", Type: "page.view", At: norm(liveFrom.Add(time.Minute)), ViewerID: "v7", SessionID: "s-new"},
	}
	replayed := events[0]
	replayed.At = norm(start.Add(3*time.Hour + time.Minute))
	n, err := s.InsertTrackedEvents(ctx, append(slices.Clone(later), replayed))
	must(t, err)
	if n != len(later) {
		t.Fatalf("inserted %d after the migration, want %d", n, len(later))
	}
	check("after new events", append(slices.Clone(events), later...))
}

// insertRaw writes events as a Vitrine of schema version 6 did: into
// tracked_events alone.
func insertRaw(t *testing.T, db *sql.DB, events []store.TrackedEvent) {
	t.Helper()
	ctx := t.Context()
	tx, err := db.BeginTx(ctx, nil)
	must(t, err)
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO tracked_events (campaign_id, event_id, type, at_us, viewer_id,
		session_id, device, source, target, product_id, amount_e4, currency, value, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`)
	must(t, err)
	defer stmt.Close()
	for _, e := range events {
		_, err := stmt.ExecContext(ctx, e.CampaignID, e.EventID, e.Type, e.At.UnixMicro(), e.ViewerID, e.SessionID,
			e.Device, e.Source, e.Target, e.ProductID, e.AmountE4, e.Currency, e.Value, e.Data)
		must(t, err)
	}
	must(t, tx.Commit())
}

// rollupRow is a row of tracked_sessions.
type rollupRow struct {
	Campaign, Session, Viewer string
	First, Last               int64
}

func (r rollupRow) String() string {
	return fmt.Sprintf("\n  {%s %s %q %d %d}", r.Campaign, r.Session, r.Viewer, r.First, r.Last)
}

func sortRollup(rows []rollupRow) {
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		return strings.Compare(a.Campaign+"\x00"+a.Session+"\x00"+a.Viewer, b.Campaign+"\x00"+b.Session+"\x00"+b.Viewer) < 0
	})
}

// rollupOf folds events into the rows tracked_sessions should hold.
func rollupOf(events []store.TrackedEvent) []rollupRow {
	rows := map[[3]string]*rollupRow{}
	for _, e := range events {
		if e.SessionID == "" {
			continue
		}
		at := e.At.UnixMicro()
		k := [3]string{e.CampaignID, e.SessionID, e.ViewerID}
		if r := rows[k]; r != nil {
			r.First, r.Last = min(r.First, at), max(r.Last, at)
		} else {
			rows[k] = &rollupRow{e.CampaignID, e.SessionID, e.ViewerID, at, at}
		}
	}
	out := make([]rollupRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sortRollup(out)
	return out
}

func readRollup(t *testing.T, db *sql.DB) []rollupRow {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT campaign_id, session_id, viewer_id, first_us, last_us FROM tracked_sessions`)
	must(t, err)
	defer rows.Close()
	out := []rollupRow{}
	for rows.Next() {
		var r rollupRow
		must(t, rows.Scan(&r.Campaign, &r.Session, &r.Viewer, &r.First, &r.Last))
		out = append(out, r)
	}
	must(t, rows.Err())
	sortRollup(out)
	return out
}

// spansOf folds the events of q (its campaign and bounds) into sessions,
// as TrackedSessions documents it.
func spansOf(events []store.TrackedEvent, q store.TrackedQuery) []store.TrackedSpan {
	spans := map[string]*store.TrackedSpan{}
	for _, e := range events {
		if e.CampaignID != q.CampaignID || e.SessionID == "" ||
			(!q.From.IsZero() && e.At.Before(norm(q.From))) || (!q.To.IsZero() && !e.At.Before(norm(q.To))) {
			continue
		}
		sp := spans[e.SessionID]
		if sp == nil {
			spans[e.SessionID] = &store.TrackedSpan{SessionID: e.SessionID, ViewerID: e.ViewerID, First: e.At, Last: e.At}
			continue
		}
		sp.ViewerID = min(sp.ViewerID, e.ViewerID)
		if e.At.Before(sp.First) {
			sp.First = e.At
		}
		if e.At.After(sp.Last) {
			sp.Last = e.At
		}
	}
	out := []store.TrackedSpan{}
	for _, sp := range spans {
		out = append(out, *sp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SessionID < out[j].SessionID })
	return out
}

func sessions(t *testing.T, s store.Store, q store.TrackedQuery) []store.TrackedSpan {
	t.Helper()
	spans, err := s.TrackedSessions(t.Context(), q)
	must(t, err)
	if spans == nil {
		spans = []store.TrackedSpan{}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].SessionID < spans[j].SessionID })
	return spans
}
