package overlay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"vitrine/events"
	"vitrine/store"
	"vitrine/store/sqlite"
)

func openSQLite(t testing.TB) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "vitrine.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newCampaign(t testing.TB, s store.Store) string {
	t.Helper()
	c := &store.Campaign{Title: "Live", Description: "x", StartsAt: time.Now(), EndsAt: time.Now().Add(time.Hour),
		Visibility: "suggested", Published: true}
	if err := s.CreateCampaign(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func newRooms(t testing.TB, cfg Config) *Rooms {
	t.Helper()
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = -1 // tests see the bus and gap filling alone
	}
	h, err := NewRooms(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Start()
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func room(t testing.TB, h *Rooms, id string) *Room {
	t.Helper()
	r, err := h.Room(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func next(t testing.TB, s *Subscription) *events.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("next after seq %d: %v", s.Last(), err)
	}
	return m
}

func subscribe(t testing.TB, r *Room, since int64) *Subscription {
	t.Helper()
	s, err := r.Subscribe(context.Background(), since)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func product(i int) events.ProductRef {
	return events.ProductRef{ID: fmt.Sprintf("prd_%d", i), Name: fmt.Sprintf("Product %d", i), Price: "129.00", Currency: "EUR"}
}

func TestPinsSnapshotAndLimit(t *testing.T) {
	st := openSQLite(t)
	id := newCampaign(t, st)
	r := room(t, newRooms(t, Config{Log: st}), id)

	sub := subscribe(t, r, -1)
	snap := next(t, sub)
	if snap.Type != events.TypeSnapshot || snap.Seq != 0 {
		t.Fatalf("first message %s seq %d, want a snapshot at 0", snap.Type, snap.Seq)
	}
	for i := 1; i <= 3; i++ {
		if _, err := r.PinProduct(t.Context(), product(i)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := r.PinProduct(t.Context(), product(4))
	if !errors.Is(err, ErrPinLimit) {
		t.Fatalf("4th pin: %v, want ErrPinLimit", err)
	}
	if _, err := r.PinProduct(t.Context(), product(2)); !errors.Is(err, ErrAlreadyPinned) {
		t.Fatalf("pin twice: %v", err)
	}
	if _, err := r.UnpinProduct(t.Context(), "prd_9"); !errors.Is(err, ErrNotPinned) {
		t.Fatalf("unpin unknown: %v", err)
	}
	for i := 1; i <= 3; i++ {
		m := next(t, sub)
		var d events.ProductPinned
		if err := json.Unmarshal(m.Data, &d); err != nil {
			t.Fatal(err)
		}
		if m.Seq != int64(i) || m.Type != events.TypeProductPinned || d.Product.ID != product(i).ID {
			t.Fatalf("message %d: %s", i, m.JSON)
		}
	}
	if _, err := r.UnpinProduct(t.Context(), "prd_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PinProduct(t.Context(), product(4)); err != nil {
		t.Fatalf("pin after an unpin: %v", err)
	}
	if _, err := r.PinVoucher(t.Context(), events.VoucherRef{ID: "vch_1", Code: "LIVE10"}); err != nil {
		t.Fatal(err)
	}

	s2 := subscribe(t, r, -1)
	snap = next(t, s2)
	var state events.State
	if err := json.Unmarshal(snap.Data, &state); err != nil {
		t.Fatal(err)
	}
	if snap.Seq != 6 || len(state.Products) != 3 || state.Products[0].ID != "prd_2" || state.Products[2].ID != "prd_4" ||
		state.Voucher == nil || state.Voucher.Code != "LIVE10" {
		t.Fatalf("snapshot: %s", snap.JSON)
	}

	// A node started later folds the same state from the log.
	r2 := room(t, newRooms(t, Config{Log: st}), id)
	if got := r2.State(); r2.Seq() != 6 || !reflect.DeepEqual(got, r.State()) {
		t.Fatalf("reloaded state %+v at %d, want %+v", got, r2.Seq(), r.State())
	}
}

func TestEnvelopeShape(t *testing.T) {
	st := openSQLite(t)
	id := newCampaign(t, st)
	at := time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)
	r := room(t, newRooms(t, Config{Log: st, Now: func() time.Time { return at }}), id)
	m, err := r.Publish(t.Context(), events.TypeViewerCount, events.ViewerCount{Count: 7})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"seq":1,"at":"2026-11-22T10:00:00.123Z","type":"viewer.count","data":{"count":7}}`
	if string(m.JSON) != want {
		t.Fatalf("live:\n got  %s\n want %s", m.JSON, want)
	}
	// The same bytes when read back from the log.
	s := subscribe(t, r, 0)
	if got := next(t, s); string(got.JSON) != want {
		t.Fatalf("from the log:\n got  %s\n want %s", got.JSON, want)
	}
	if _, err := events.ParseMessage(m.JSON); err != nil {
		t.Fatal(err)
	}
}

// TestResumeAcrossTheSwitch: subscribers join at every point of a stream
// being published and each gets every event after its since exactly once,
// in order, across the switch from the log to the live tail.
func TestResumeAcrossTheSwitch(t *testing.T) {
	st := openSQLite(t)
	id := newCampaign(t, st)
	r := room(t, newRooms(t, Config{Log: st, Buffer: 4096}), id)
	const total = 300
	done := make(chan error, 1)
	go func() {
		for i := range total {
			if _, err := r.Chat(context.Background(), "v1", "Ann", fmt.Sprint(i), false); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for j := range 24 {
		time.Sleep(time.Millisecond)
		since := int64(-1)
		if j%3 != 0 {
			since = r.Seq() / int64(j%3)
		}
		sub, err := r.Subscribe(t.Context(), since)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer sub.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			want := since + 1
			if since < 0 {
				m, err := sub.Next(ctx)
				if err != nil || m.Type != events.TypeSnapshot {
					errs <- fmt.Errorf("snapshot: %v", err)
					return
				}
				want = m.Seq + 1
			}
			for want <= total {
				m, err := sub.Next(ctx)
				if err != nil {
					errs <- fmt.Errorf("since %d: waiting for %d: %v", since, want, err)
					return
				}
				var d events.ChatMessage
				_ = json.Unmarshal(m.Data, &d)
				if m.Seq != want || d.Text != fmt.Sprint(want-1) {
					errs <- fmt.Errorf("since %d: got seq %d (%q), want %d", since, m.Seq, d.Text, want)
					return
				}
				want++
			}
		})
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSlowSubscriberIsDropped(t *testing.T) {
	st := openSQLite(t)
	id := newCampaign(t, st)
	r := room(t, newRooms(t, Config{Log: st, Buffer: 4}), id)
	sub := subscribe(t, r, 0)
	fast := subscribe(t, r, 0)
	for i := range 10 {
		if _, err := r.Chat(t.Context(), "v", "n", fmt.Sprint(i), false); err != nil {
			t.Fatal(err)
		}
		next(t, fast)
	}
	for i := 1; i <= 4; i++ {
		if m := next(t, sub); m.Seq != int64(i) {
			t.Fatalf("seq %d, want %d", m.Seq, i)
		}
	}
	if _, err := sub.Next(t.Context()); !errors.Is(err, ErrSlow) {
		t.Fatalf("after the buffer: %v, want ErrSlow", err)
	}
	if r.Subscribers() != 1 {
		t.Fatalf("%d subscribers, want the fast one only", r.Subscribers())
	}
	// It resumes where it stopped.
	again := subscribe(t, r, sub.Last())
	for i := 5; i <= 10; i++ {
		if m := next(t, again); m.Seq != int64(i) {
			t.Fatalf("resumed: seq %d, want %d", m.Seq, i)
		}
	}
}

func TestLikesAreAggregated(t *testing.T) {
	st := openSQLite(t)
	id := newCampaign(t, st)
	h := newRooms(t, Config{Log: st, LikeInterval: 50 * time.Millisecond})
	r := room(t, h, id)
	sub := subscribe(t, r, 0)
	start := time.Now()
	for range 20 {
		for range 50 {
			r.Like(1)
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	deadline := time.Now().Add(5 * time.Second)
	for r.State().Likes < 1000 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := r.State().Likes; got != 1000 {
		t.Fatalf("likes %d, want 1000", got)
	}
	n, last := 0, events.LikeCount{}
	for sub.Last() < r.Seq() {
		m := next(t, sub)
		if m.Type != events.TypeLikeCount {
			t.Fatalf("unexpected %s", m.Type)
		}
		_ = json.Unmarshal(m.Data, &last)
		n++
	}
	if most := int(elapsed/(50*time.Millisecond)) + 2; n > most || n < 2 {
		t.Fatalf("%d like.count events for 1000 taps over %v, want 2..%d", n, elapsed, most)
	}
	if last.Count != 1000 {
		t.Fatalf("last like.count %+v, want count 1000", last)
	}
}

// TestTwoNodesLocalBus: two hubs ("nodes") on one store and one bus; an
// event missing from the bus is read from the log.
func TestTwoNodesLocalBus(t *testing.T) {
	st := openSQLite(t)
	id := newCampaign(t, st)
	bus := NewLocalBus()
	a := room(t, newRooms(t, Config{Log: st, Bus: bus}), id)
	b := room(t, newRooms(t, Config{Log: st, Bus: bus}), id)
	sub := subscribe(t, b, -1)
	next(t, sub)
	if _, err := a.PinProduct(t.Context(), product(1)); err != nil {
		t.Fatal(err)
	}
	// An event that never went on the bus (its node died after the commit).
	if _, err := st.AppendEvent(t.Context(), id, events.TypeChatMessage, events.MediaNow(), []byte(`{"id":"m","viewer_id":"v","name":"n","text":"lost"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Chat(t.Context(), "v", "n", "after", false); err != nil {
		t.Fatal(err)
	}
	for i, typ := range []string{events.TypeProductPinned, events.TypeChatMessage, events.TypeChatMessage} {
		if m := next(t, sub); m.Seq != int64(i+1) || m.Type != typ {
			t.Fatalf("on B: %s, want seq %d %s", m.JSON, i+1, typ)
		}
	}
	if len(b.State().Products) != 1 {
		t.Fatalf("B's state: %+v", b.State())
	}
}

func TestCatchUpFindsSilentEvents(t *testing.T) {
	st := openSQLite(t)
	id := newCampaign(t, st)
	r := room(t, newRooms(t, Config{Log: st, SyncInterval: 20 * time.Millisecond}), id)
	sub := subscribe(t, r, 0)
	if _, err := st.AppendEvent(t.Context(), id, events.TypeStreamLive, events.MediaNow(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sub); m.Type != events.TypeStreamLive || !r.State().Live {
		t.Fatalf("got %s", m.JSON)
	}
}

func TestSubscribeFutureSince(t *testing.T) {
	st := openSQLite(t)
	r := room(t, newRooms(t, Config{Log: st}), newCampaign(t, st))
	if _, err := r.Subscribe(t.Context(), 5); !errors.Is(err, ErrFutureSince) {
		t.Fatalf("since beyond the log: %v", err)
	}
}

func TestHubClose(t *testing.T) {
	st := openSQLite(t)
	id := newCampaign(t, st)
	h, err := NewRooms(Config{Log: st, LikeInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h.Start()
	r := room(t, h, id)
	if _, err := r.Publish(t.Context(), events.TypeLikeCount, events.LikeCount{Count: 1, Added: 1}); err != nil {
		t.Fatal(err)
	}
	r.Like(5) // pending until Close
	sub := subscribe(t, r, 1)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	m := next(t, sub)
	if m.Type != events.TypeLikeCount || m.Seq != 2 {
		t.Fatalf("pending likes not flushed on close: %s", m.JSON)
	}
	if _, err := sub.Next(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	if _, err := h.Room(t.Context(), id); !errors.Is(err, ErrClosed) {
		t.Fatalf("room after close: %v", err)
	}
}
