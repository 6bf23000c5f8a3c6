package overlay

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"vitrine/events"
	"vitrine/store/postgres/pgtest"
)

// redisURL is the test Redis: VITRINE_TEST_REDIS_URL or the local server.
// An unreachable server fails the test rather than skipping it.
func redisBus(t testing.TB) *RedisBus {
	t.Helper()
	url := os.Getenv("VITRINE_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := NewRedisBus(ctx, url, nil)
	if err != nil {
		t.Fatalf("%v\nStart Redis on 127.0.0.1:6379 or set VITRINE_TEST_REDIS_URL.", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestRedisBus(t *testing.T) {
	a, b := redisBus(t), redisBus(t)
	id := fmt.Sprintf("cmp_test_%d", time.Now().UnixNano())
	got := make(chan string, 10)
	cancel, err := b.Subscribe(t.Context(), id, func(m []byte) { got <- string(m) })
	if err != nil {
		t.Fatal(err)
	}
	other := make(chan string, 10)
	cancelOther, _ := b.Subscribe(t.Context(), id+"_other", func(m []byte) { other <- string(m) })
	defer cancelOther()
	time.Sleep(50 * time.Millisecond) // SUBSCRIBE is not acknowledged synchronously
	for i := range 3 {
		if err := a.Publish(t.Context(), id, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		select {
		case m := <-got:
			if m != fmt.Sprint(i) {
				t.Fatalf("got %q, want %d", m, i)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("nothing received from Redis")
		}
	}
	cancel()
	time.Sleep(50 * time.Millisecond)
	_ = a.Publish(t.Context(), id, []byte("after"))
	select {
	case m := <-got:
		t.Fatalf("received %q after cancel", m)
	case m := <-other:
		t.Fatalf("other campaign received %q", m)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestTwoNodesRedisPostgres: two hubs, as two Vitrine nodes, sharing one
// PostgreSQL database and one Redis: what the host publishes on A reaches
// a viewer on B, in order, without the periodic sync (it is off).
func TestTwoNodesRedisPostgres(t *testing.T) {
	url := pgtest.FreshURL(t)
	stA, stB := pgtest.Open(t, url), pgtest.Open(t, url)
	id := newCampaign(t, stA)
	a := room(t, newRooms(t, Config{Log: stA, Bus: redisBus(t)}), id)
	b := room(t, newRooms(t, Config{Log: stB, Bus: redisBus(t)}), id)
	sub := subscribe(t, b, -1)
	if m := next(t, sub); m.Type != events.TypeSnapshot {
		t.Fatalf("first: %s", m.JSON)
	}
	time.Sleep(50 * time.Millisecond)
	const n = 50
	errs := make(chan error, 2)
	// The host pins on A while viewers chat on both nodes.
	go func() {
		for i := range n / 2 {
			if _, err := a.Chat(context.Background(), "va", "A", fmt.Sprint(i), false); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	go func() {
		for i := range n / 2 {
			if _, err := b.Chat(context.Background(), "vb", "B", fmt.Sprint(i), false); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.PinProduct(t.Context(), product(1)); err != nil {
		t.Fatal(err)
	}
	for want := int64(1); want <= n+1; want++ {
		m := next(t, sub)
		if m.Seq != want {
			t.Fatalf("on B: seq %d, want %d", m.Seq, want)
		}
		if want == n+1 && m.Type != events.TypeProductPinned {
			t.Fatalf("last on B: %s", m.JSON)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for a.Seq() != n+1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if a.Seq() != n+1 || len(a.State().Products) != 1 || len(b.State().Products) != 1 {
		t.Fatalf("A at %d with %d pins, B with %d", a.Seq(), len(a.State().Products), len(b.State().Products))
	}
}
