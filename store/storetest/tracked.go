package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"vitrine/store"
)

// testTracked: insert skips events already stored (a replayed batch counts
// once); sessions folded; scan in time order; delete, and cascade with the
// campaign.
func testTracked(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createCampaign(t, s, newCampaign("A", base, base.Add(time.Hour)))
	b := createCampaign(t, s, newCampaign("B", base, base.Add(time.Hour)))
	ev := func(campaign, id, typ string, sec int, viewer string) store.TrackedEvent {
		return store.TrackedEvent{CampaignID: campaign, EventID: id, Type: typ,
			At: base.Add(time.Duration(sec) * time.Second), ViewerID: viewer}
	}
	batch := []store.TrackedEvent{
		ev(a.ID, "e1", "product.click", 10, "v1"),
		ev(a.ID, "e2", "product.click", 20, "v1"),
		ev(a.ID, "e3", "product.click", 70, "v2"),
		ev(a.ID, "e4", "cart.create", 30, "v2"),
		ev(a.ID, "e5", "cart.create", 90, ""),
		ev(a.ID, "s1", "session.start", 0, "v1"),
		ev(a.ID, "s2", "session.heartbeat", 60, "v1"),
		ev(a.ID, "s3", "session.end", 95, "v1"),
		ev(a.ID, "s4", "session.start", 50, "v2"),
		ev(b.ID, "e1", "product.click", 10, "v9"), // same event id, other campaign
	}
	batch[0].ProductID, batch[1].ProductID, batch[2].ProductID = "p1", "p1", "p2"
	batch[3].AmountE4, batch[4].AmountE4 = 125000, 50000
	batch[3].Value = 2
	batch[0].Data = `{"x":1}`
	for i := 5; i <= 7; i++ {
		batch[i].SessionID = "sa"
	}
	batch[8].SessionID = "sb"
	n, err := s.InsertTrackedEvents(ctx, batch)
	must(t, err)
	if n != len(batch) {
		t.Fatalf("inserted %d, want %d", n, len(batch))
	}
	// The same batch again, plus one new event: only the new one counts.
	again := append(slices.Clone(batch), ev(a.ID, "e6", "product.click", 100, "v3"))
	again[0].ProductID = "changed" // a repeat never overwrites
	n, err = s.InsertTrackedEvents(ctx, again)
	must(t, err)
	if n != 1 {
		t.Fatalf("replayed batch inserted %d, want 1", n)
	}
	if _, err := s.InsertTrackedEvents(ctx, []store.TrackedEvent{ev("cmp_nope", "x", "page.view", 0, "")}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown campaign: %v, want ErrNotFound", err)
	}

	spans, err := s.TrackedSessions(ctx, store.TrackedQuery{CampaignID: a.ID})
	must(t, err)
	sort.Slice(spans, func(i, j int) bool { return spans[i].SessionID < spans[j].SessionID })
	equal(t, "sessions", spans, []store.TrackedSpan{
		{SessionID: "sa", ViewerID: "v1", First: norm(base), Last: norm(base.Add(95 * time.Second))},
		{SessionID: "sb", ViewerID: "v2", First: norm(base.Add(50 * time.Second)), Last: norm(base.Add(50 * time.Second))},
	})
	spans, err = s.TrackedSessions(ctx, store.TrackedQuery{CampaignID: a.ID, To: base.Add(61 * time.Second)})
	must(t, err)
	if len(spans) != 2 || !spans[0].Last.Before(base.Add(61*time.Second)) {
		t.Fatalf("sessions before 61 s: %+v", spans)
	}

	var scanned []store.TrackedEvent
	must(t, s.ScanTrackedEvents(ctx, store.TrackedQuery{CampaignID: a.ID, Types: []string{"product.click"}},
		func(e *store.TrackedEvent) error { scanned = append(scanned, *e); return nil }))
	want := []store.TrackedEvent{batch[0], batch[1], batch[2], again[len(again)-1]}
	for i := range want {
		want[i].At = norm(want[i].At)
	}
	equal(t, "scan", scanned, want)
	stop := errors.New("stop")
	if err := s.ScanTrackedEvents(ctx, store.TrackedQuery{CampaignID: a.ID}, func(*store.TrackedEvent) error { return stop }); err != stop {
		t.Fatalf("scan stopped by fn: %v", err)
	}

	deleted, err := s.DeleteTrackedEvents(ctx, a.ID)
	must(t, err)
	if deleted != 10 {
		t.Fatalf("deleted %d, want 10", deleted)
	}
	if n := countTracked(t, s, a.ID); n != 0 {
		t.Fatalf("%d events after delete", n)
	}
	if n := countTracked(t, s, b.ID); n != 1 {
		t.Fatalf("%d events of the other campaign, want 1", n)
	}
	deleteCampaign(t, s, b.ID)
	if n := countTracked(t, s, b.ID); n != 0 {
		t.Fatalf("%d events after deleting the campaign", n)
	}
}

// testTrackedLargeBatch: a batch larger than one INSERT is written whole,
// and a second copy of it inserts nothing.
func testTrackedLargeBatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := createCampaign(t, s, newCampaign("A", base, base.Add(time.Hour)))
	var evs []store.TrackedEvent
	for i := range 1234 {
		evs = append(evs, store.TrackedEvent{CampaignID: c.ID, EventID: fmt.Sprintf("e%05d", i), Type: "session.heartbeat",
			At: base.Add(time.Duration(i) * time.Second), ViewerID: fmt.Sprintf("v%d", i%10), SessionID: fmt.Sprintf("s%d", i%10)})
	}
	for round, want := range []int{1234, 0} {
		n, err := s.InsertTrackedEvents(ctx, evs)
		must(t, err)
		if n != want {
			t.Fatalf("round %d: inserted %d, want %d", round, n, want)
		}
	}
	spans, err := s.TrackedSessions(ctx, store.TrackedQuery{CampaignID: c.ID})
	must(t, err)
	if len(spans) != 10 {
		t.Fatalf("%d sessions, want 10", len(spans))
	}
}

// countTracked counts the campaign's tracked events.
func countTracked(t *testing.T, s store.Store, campaignID string) int {
	t.Helper()
	n := 0
	must(t, s.ScanTrackedEvents(t.Context(), store.TrackedQuery{CampaignID: campaignID},
		func(*store.TrackedEvent) error { n++; return nil }))
	return n
}

// testTrackedSessionsRollup: sessions folded from the rollup written at
// insert are those of the events themselves (the same query restricted to
// every type reads the events): within any bounds, a session of two
// viewers, one straddling the bounds, one with no event within them; a
// replayed event id at another time widens nothing; delete empties it.
func testTrackedSessionsRollup(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := createCampaign(t, s, newCampaign("A", base, base.Add(time.Hour)))
	ev := func(id, typ string, sec int, viewer, session string) store.TrackedEvent {
		return store.TrackedEvent{CampaignID: c.ID, EventID: id, Type: typ,
			At: base.Add(time.Duration(sec) * time.Second), ViewerID: viewer, SessionID: session}
	}
	types := []string{"page.view", "session.heartbeat", "session.end", "product.click", "hls.heartbeat"}
	batches := [][]store.TrackedEvent{
		{ev("a1", "page.view", 0, "v1", "sx"), ev("a2", "session.heartbeat", 30, "v1", "sx"),
			ev("a3", "product.click", 45, "v0", "sx"), ev("b1", "page.view", 10, "v2", "sy")},
		{ev("a4", "session.heartbeat", 60, "v1", "sx"), ev("a5", "session.end", 90, "v1", "sx"),
			ev("c1", "hls.heartbeat", 200, "", "sz"), ev("d1", "product.click", 50, "v3", "")},
		// a2 again, at another time: skipped, so sx does not reach 500 s.
		{ev("a2", "session.heartbeat", 500, "v1", "sx"), ev("b2", "session.end", 15, "v2", "sy")},
	}
	for _, b := range batches {
		_, err := s.InsertTrackedEvents(ctx, b)
		must(t, err)
	}
	sorted := func(q store.TrackedQuery) []store.TrackedSpan {
		spans, err := s.TrackedSessions(ctx, q)
		must(t, err)
		sort.Slice(spans, func(i, j int) bool { return spans[i].SessionID < spans[j].SessionID })
		return spans
	}
	at := func(sec int) time.Time { return norm(base.Add(time.Duration(sec) * time.Second)) }
	equal(t, "all sessions", sorted(store.TrackedQuery{CampaignID: c.ID}), []store.TrackedSpan{
		{SessionID: "sx", ViewerID: "v0", First: at(0), Last: at(90)},
		{SessionID: "sy", ViewerID: "v2", First: at(10), Last: at(15)},
		{SessionID: "sz", ViewerID: "", First: at(200), Last: at(200)},
	})
	equal(t, "sessions within [20 s, 70 s)", sorted(store.TrackedQuery{CampaignID: c.ID, From: base.Add(20 * time.Second),
		To: base.Add(70 * time.Second)}), []store.TrackedSpan{{SessionID: "sx", ViewerID: "v0", First: at(30), Last: at(60)}})
	equal(t, "sessions within [0, 40 s)", sorted(store.TrackedQuery{CampaignID: c.ID, To: base.Add(40 * time.Second)}),
		[]store.TrackedSpan{{SessionID: "sx", ViewerID: "v1", First: at(0), Last: at(30)},
			{SessionID: "sy", ViewerID: "v2", First: at(10), Last: at(15)}})
	for _, w := range [][2]int{{0, 3600}, {-10, 10}, {10, 11}, {15, 16}, {30, 90}, {30, 91}, {45, 46}, {61, 89}, {90, 300}} {
		q := store.TrackedQuery{CampaignID: c.ID, From: base.Add(time.Duration(w[0]) * time.Second), To: base.Add(time.Duration(w[1]) * time.Second)}
		events := q
		events.Types = types
		equal(t, fmt.Sprintf("sessions within [%d s, %d s), rollup and events", w[0], w[1]), sorted(q), sorted(events))
	}
	_, err := s.DeleteTrackedEvents(ctx, c.ID)
	must(t, err)
	if spans := sorted(store.TrackedQuery{CampaignID: c.ID}); len(spans) != 0 {
		t.Fatalf("sessions after delete: %+v", spans)
	}
	// The rollup starts again from the events inserted after a delete.
	_, err = s.InsertTrackedEvents(ctx, []store.TrackedEvent{ev("a1", "page.view", 100, "v1", "sx")})
	must(t, err)
	equal(t, "sessions after delete and insert", sorted(store.TrackedQuery{CampaignID: c.ID}),
		[]store.TrackedSpan{{SessionID: "sx", ViewerID: "v1", First: at(100), Last: at(100)}})
}

// testTrackedBrief: the brief scan returns the events of the query, with
// the index's fields only, origin on demand, with one type or several.
func testTrackedBrief(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := createCampaign(t, s, newCampaign("A", base, base.Add(time.Hour)))
	evs := []store.TrackedEvent{
		{CampaignID: c.ID, EventID: "e1", Type: "page.view", At: base, ViewerID: "v1", SessionID: "s1",
			Device: "mobile", Source: "google.com"},
		{CampaignID: c.ID, EventID: "e2", Type: "product.click", At: base.Add(time.Second), ViewerID: "v1", SessionID: "s1",
			Device: "mobile", Source: "google.com", ProductID: "p1", Value: 1},
		{CampaignID: c.ID, EventID: "e3", Type: "purchase", At: base.Add(2 * time.Second), ViewerID: "v1",
			AmountE4: 125000, Currency: "EUR", Data: `{"x":1}`, Target: "t"},
		{CampaignID: c.ID, EventID: "e4", Type: "product.click", At: base.Add(time.Hour), ViewerID: "v2", ProductID: "p2"},
	}
	_, err := s.InsertTrackedEvents(ctx, evs)
	must(t, err)
	scan := func(q store.TrackedQuery, origin bool) []store.TrackedEvent {
		var out []store.TrackedEvent
		must(t, s.ScanTrackedBrief(ctx, q, origin, func(e *store.TrackedEvent) error { out = append(out, *e); return nil }))
		sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
		return out
	}
	brief := func(e store.TrackedEvent, origin bool) store.TrackedEvent {
		b := store.TrackedEvent{CampaignID: e.CampaignID, Type: e.Type, At: norm(e.At), ViewerID: e.ViewerID,
			Target: e.Target, ProductID: e.ProductID, Value: e.Value}
		if origin {
			b.Device, b.Source, b.EventID = e.Device, e.Source, e.EventID
		}
		return b
	}
	equal(t, "brief, every type, origin", scan(store.TrackedQuery{CampaignID: c.ID}, true),
		[]store.TrackedEvent{brief(evs[0], true), brief(evs[1], true), brief(evs[2], true), brief(evs[3], true)})
	equal(t, "brief, clicks before an hour", scan(store.TrackedQuery{CampaignID: c.ID, Types: []string{"product.click"},
		To: base.Add(time.Hour)}, false), []store.TrackedEvent{brief(evs[1], false)})
	equal(t, "brief, two types", scan(store.TrackedQuery{CampaignID: c.ID, Types: []string{"product.click", "purchase"}}, false),
		[]store.TrackedEvent{brief(evs[1], false), brief(evs[2], false), brief(evs[3], false)})
	stop := errors.New("stop")
	if err := s.ScanTrackedBrief(ctx, store.TrackedQuery{CampaignID: c.ID}, false, func(*store.TrackedEvent) error { return stop }); err != stop {
		t.Fatalf("brief scan stopped by fn: %v", err)
	}
}
