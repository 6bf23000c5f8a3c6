package analytics

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"vitrine/events"
	"vitrine/store"
)

// BenchEvents is the size of the benchmark's event: tracked events of
// players and of the server, almost all of them during the live.
const BenchEvents = 1_000_000

// benchEvents is BenchEvents, or VITRINE_BENCH_EVENTS when set (a
// smaller event to try a change quickly).
func benchEvents(b *testing.B) int {
	v := os.Getenv("VITRINE_BENCH_EVENTS")
	if v == "" {
		return BenchEvents
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("VITRINE_BENCH_EVENTS=%q: want a positive number", v)
	}
	return n
}

// benchBatch is how many events the fixture writes per transaction.
const benchBatch = 50_000

// buildBench writes, on SQLite, a campaign with BenchEvents tracked
// events: the script's clock (live from +60 to +120 min), about 20,000
// viewers whose player sessions beat every 30 s, a fifth of them also
// seen over HLS, who click products, open the catalog, add to cart, buy,
// share and like; a twentieth of them in prelive and as many in replay;
// 5,000 chat messages in the log.
func buildBench(b *testing.B) (*script, error) {
	start := time.Now()
	nEvents := benchEvents(b)
	s := newScript(b)
	ctx := b.Context()
	A, B, C := s.product(0), s.product(1), s.product(2)
	products := []string{A, B, C}
	s.log(events.TypeStreamLive, at(60, 0), events.StreamLive{})
	s.log(events.TypeProductPinned, at(61, 0), events.ProductPinned{Product: events.ProductRef{ID: A}})
	s.log(events.TypeProductPinned, at(80, 0), events.ProductPinned{Product: events.ProductRef{ID: B}})
	for i := range 5000 {
		typ := events.TypeChatMessage
		if i%10 == 0 {
			typ = events.TypeChatQuestion
		}
		s.log(typ, at(60, 0).Add(time.Duration(i)*700*time.Millisecond),
			events.ChatMessage{ID: fmt.Sprintf("m%d", i), ViewerID: fmt.Sprintf("v%d", i*3), Name: "V", Text: "hello"})
	}
	s.log(events.TypeStreamEnded, at(120, 0), events.StreamEnded{})

	rng := rand.New(rand.NewPCG(1, 2))
	devices := []string{Desktop, Mobile, Mobile, Tablet}
	sources := []string{Direct, "google.com", "instagram.com", "newsletter"}
	var batch []store.TrackedEvent
	total := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := s.st.InsertTrackedEvents(ctx, batch)
		if err != nil {
			return err
		}
		if n != len(batch) {
			return fmt.Errorf("inserted %d of %d", n, len(batch))
		}
		total += n
		batch = batch[:0]
		return nil
	}
	add := func(typ string, t time.Time, viewer, session, device, source string, mod func(*store.TrackedEvent)) error {
		if total+len(batch) >= nEvents {
			return nil
		}
		s.n++
		e := store.TrackedEvent{CampaignID: s.st.c.ID, EventID: fmt.Sprintf("b%08d", s.n), Type: typ, At: t,
			ViewerID: viewer, SessionID: session, Device: device, Source: source}
		if mod != nil {
			mod(&e)
		}
		batch = append(batch, e)
		if len(batch) == benchBatch {
			return flush()
		}
		return nil
	}
	for v := 0; total+len(batch) < nEvents; v++ {
		viewer, session := fmt.Sprintf("v%d", v), fmt.Sprintf("s%d", v)
		device, source := devices[rng.IntN(len(devices))], sources[rng.IntN(len(sources))]
		// A phase: 1 in 20 in prelive, 1 in 20 in replay, the rest live.
		from, span := at(60, 0), 60*time.Minute
		switch v % 20 {
		case 0:
			from = at(0, 0)
		case 1:
			from = at(120, 0)
		}
		a := from.Add(time.Duration(rng.Int64N(int64(span - time.Minute))))
		end := a.Add(time.Minute + time.Duration(rng.Int64N(int64(from.Add(span).Sub(a)-time.Minute+1))))
		if err := add(TypePageView, a, viewer, session, device, source, nil); err != nil {
			return nil, err
		}
		hls := v%5 == 0
		for t := a.Add(HeartbeatEvery); t.Before(end); t = t.Add(HeartbeatEvery) {
			if err := add(TypeSessionHeartbeat, t, viewer, session, device, source, nil); err != nil {
				return nil, err
			}
			if hls {
				if err := add(TypeHLSHeartbeat, t, viewer, "hls-"+session, device, "", nil); err != nil {
					return nil, err
				}
			}
		}
		if err := add(TypeSessionEnd, end, viewer, session, device, source, nil); err != nil {
			return nil, err
		}
		in := func() time.Time { return a.Add(time.Duration(rng.Int64N(int64(end.Sub(a)) + 1))) }
		for range rng.IntN(4) {
			pid := products[rng.IntN(len(products))]
			if err := add(TypeProductClick, in(), viewer, session, device, source, func(e *store.TrackedEvent) { e.ProductID, e.Value = pid, 1 }); err != nil {
				return nil, err
			}
		}
		steps := []struct {
			typ  string
			odds int
			mod  func(*store.TrackedEvent)
		}{
			{TypeCatalogOpen, 3, nil},
			{TypeWidgetView, 2, func(e *store.TrackedEvent) { e.Target, e.SessionID = WidgetProduct, "" }},
			{TypeWidgetClick, 6, func(e *store.TrackedEvent) { e.Target, e.SessionID = WidgetPlayer, "" }},
			{TypeLike, 3, nil},
			{TypeShare, 20, func(e *store.TrackedEvent) { e.Target = "link" }},
			{TypeCartAdd, 5, func(e *store.TrackedEvent) { e.ProductID, e.Value = A, 1 }},
			{TypeCartCreate, 8, func(e *store.TrackedEvent) { e.AmountE4, e.Currency = 1290000, "EUR" }},
			{TypePurchase, 15, func(e *store.TrackedEvent) {
				e.AmountE4, e.Currency, e.Data = 1290000, "EUR", `{"product_ids":["`+A+`"]}`
			}},
			{TypeSurveyView, 10, nil},
		}
		for _, st := range steps {
			if rng.IntN(st.odds) == 0 {
				if err := add(st.typ, in(), viewer, session, device, source, st.mod); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	b.Logf("%d tracked events written in %v", total, time.Since(start).Round(time.Millisecond))
	return s, nil
}

// BenchmarkComputeLive computes every live metric of a campaign with
// BenchEvents tracked events on SQLite (issue 6: under 1 s). Run with
//
//	go test -run '^$' -bench ComputeLive -benchtime 5x -benchmem ./analytics/
//
// VITRINE_BENCH_EVENTS=200000 runs it on fewer events.
func BenchmarkComputeLive(b *testing.B) {
	s, err := buildBench(b)
	if err != nil {
		b.Fatal(err)
	}
	for _, phase := range []string{Live, ""} {
		name := phase
		if name == "" {
			name = "all-phases"
		}
		b.Run(name, func(b *testing.B) {
			var rep *Report
			for b.Loop() {
				var err error
				rep, err = Compute(b.Context(), s.st, s.st.c.ID, Options{Phase: phase, Now: at(180, 0)})
				if err != nil {
					b.Fatal(err)
				}
			}
			if rep.Live == nil {
				b.Fatal("no live metrics")
			}
			if rep.Live.Audience.UniqueViewers < int64(s.n/100) || rep.Live.Business.Purchases == 0 {
				b.Fatalf("live metrics: %d unique viewers, %d purchases", rep.Live.Audience.UniqueViewers, rep.Live.Business.Purchases)
			}
		})
	}
}
