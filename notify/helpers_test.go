package notify_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"vitrine/notify"
	"vitrine/store"
	"vitrine/store/sqlite"
)

// openStore opens a real SQLite store in a fresh file; path lets a test
// reopen the same file to prove durability.
func openStore(t *testing.T, path string) store.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "v.db")
	}
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// hit is one request a receiver got.
type hit struct {
	header http.Header
	body   []byte
	path   string
}

// receiver is a real HTTP endpoint on loopback. respond picks the status
// of the n-th request (1-based) and may write a body.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	hits []hit
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.hits = append(rc.hits, hit{header: r.Header.Clone(), body: body, path: r.URL.Path})
		n := len(rc.hits)
		rc.mu.Unlock()
		if respond != nil {
			respond(n, w, r)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hit(nil), rc.hits...)
}

// testLogger shows the notifier's log only with -v, to keep failures readable.
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newNotifier makes a notifier with test timings; edit tweaks the config.
func newNotifier(t *testing.T, st store.Store, edit func(*notify.Config)) *notify.Notifier {
	t.Helper()
	cfg := notify.Config{
		Store:        st,
		Logger:       testLogger(),
		PollInterval: 20 * time.Millisecond,
		MaxAttempts:  8,
		Backoff:      func(int) time.Duration { return 10 * time.Millisecond },
		AllowPrivate: true, // receivers are on loopback
	}
	if edit != nil {
		edit(&cfg)
	}
	n, err := notify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// run starts n.Run and stops it (checking it returns) at cleanup, or when
// the returned function is called.
func run(t *testing.T, n *notify.Notifier) (stop func() time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- n.Run(ctx) }()
	var once sync.Once
	var took time.Duration
	stop = func() time.Duration {
		once.Do(func() {
			start := time.Now()
			cancel()
			select {
			case err := <-errc:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("Run did not return within 5 s of cancel")
			}
			took = time.Since(start)
		})
		return took
	}
	t.Cleanup(func() { stop() })
	return stop
}

func addWebhook(t *testing.T, st store.Store, url string, events ...string) *store.Webhook {
	t.Helper()
	secret, err := notify.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	wh := &store.Webhook{URL: url, Secret: secret, Events: events}
	if err := st.CreateWebhook(context.Background(), wh); err != nil {
		t.Fatalf("create webhook: %v", err)
	}
	return wh
}

func deliveries(t *testing.T, st store.Store, webhookID string) []store.Delivery {
	t.Helper()
	ds, _, err := st.ListDeliveries(context.Background(), webhookID, store.Page{Limit: 200})
	if err != nil {
		t.Fatalf("list deliveries: %v", err)
	}
	return ds
}

// waitFor polls cond until it holds or 15 s pass (generous: with
// synchronous=FULL every SQLite commit is an fsync, slow on a busy disk).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settled waits until webhookID has want deliveries, none pending, and
// returns them.
func settled(t *testing.T, st store.Store, webhookID string, want int) []store.Delivery {
	t.Helper()
	var ds []store.Delivery
	waitFor(t, "deliveries to settle", func() bool {
		ds = deliveries(t, st, webhookID)
		if len(ds) != want {
			return false
		}
		for _, d := range ds {
			if d.Status == store.DeliveryPending {
				return false
			}
		}
		return true
	})
	return ds
}
