package notify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vitrine/notify"
	"vitrine/store"
)

func TestDeliverySignedAndShaped(t *testing.T) {
	t.Parallel()
	st := openStore(t, "")
	rc := newReceiver(t, nil)
	wh := addWebhook(t, st, rc.URL+"/hook", notify.EventOrderCreated)
	n := newNotifier(t, st, nil)
	run(t, n)

	order := map[string]any{"id": "o1", "code": "A-17", "total": "129.00", "currency": "EUR"}
	if err := n.Publish(context.Background(), notify.EventOrderCreated, order); err != nil {
		t.Fatal(err)
	}
	ds := settled(t, st, wh.ID, 1)
	d := ds[0]
	if d.Status != store.DeliveryDelivered || d.Attempts != 1 || d.LastStatus != 200 || d.DeliveredAt == nil || d.LastError != "" {
		t.Fatalf("delivery %+v", d)
	}
	hits := rc.got()
	if len(hits) != 1 {
		t.Fatalf("%d requests, want 1", len(hits))
	}
	h := hits[0]
	if err := notify.Verify(wh.Secret, h.header, h.body, time.Minute); err != nil {
		t.Errorf("Verify: %v", err)
	}
	ts, err := strconv.ParseInt(h.header.Get("webhook-timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
		t.Errorf("webhook-timestamp %q", h.header.Get("webhook-timestamp"))
	}
	if got, want := h.header.Get("webhook-signature"), handSign(t, wh.Secret, d.ID, ts, h.body); got != want {
		t.Errorf("signature %s, by hand %s", got, want)
	}
	if h.header.Get("webhook-id") != d.ID {
		t.Errorf("webhook-id %q, delivery %q", h.header.Get("webhook-id"), d.ID)
	}
	if ct := h.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if ua := h.header.Get("User-Agent"); ua != "Vitrine-Webhooks/1" {
		t.Errorf("User-Agent %q", ua)
	}
	if h.path != "/hook" {
		t.Errorf("path %q", h.path)
	}

	var body map[string]json.RawMessage
	if err := json.Unmarshal(h.body, &body); err != nil {
		t.Fatalf("body %s: %v", h.body, err)
	}
	if len(body) != 3 {
		t.Errorf("body has keys %v, want type, timestamp, data", body)
	}
	var typ, stamp string
	_ = json.Unmarshal(body["type"], &typ)
	_ = json.Unmarshal(body["timestamp"], &stamp)
	if typ != "order.created" {
		t.Errorf("type %q", typ)
	}
	if when, err := time.Parse(time.RFC3339, stamp); err != nil || time.Since(when).Abs() > time.Minute {
		t.Errorf("timestamp %q: %v", stamp, err)
	}
	var data map[string]any
	_ = json.Unmarshal(body["data"], &data)
	if data["code"] != "A-17" || data["total"] != "129.00" {
		t.Errorf("data %v", data)
	}
	if string(d.Payload) != string(h.body) {
		t.Errorf("sent body differs from the stored payload")
	}
}

func TestRetryThenDelivered(t *testing.T) {
	t.Parallel()
	st := openStore(t, "")
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			http.Error(w, "busy, try later", http.StatusServiceUnavailable)
		}
	})
	wh := addWebhook(t, st, rc.URL, notify.EventCampaignLive)
	n := newNotifier(t, st, nil)
	run(t, n)

	if err := n.Publish(context.Background(), notify.EventCampaignLive, map[string]string{"id": "c1"}); err != nil {
		t.Fatal(err)
	}
	d := settled(t, st, wh.ID, 1)[0]
	if d.Status != store.DeliveryDelivered || d.Attempts != 3 || d.LastStatus != 200 {
		t.Fatalf("delivery %+v, want delivered after 3 attempts", d)
	}
	hits := rc.got()
	if len(hits) != 3 {
		t.Fatalf("%d requests, want 3", len(hits))
	}
	for _, h := range hits {
		// The id stays across retries (receivers dedupe on it); each
		// attempt is signed afresh.
		if h.header.Get("webhook-id") != d.ID {
			t.Errorf("retry with webhook-id %q, want %q", h.header.Get("webhook-id"), d.ID)
		}
		if err := notify.Verify(wh.Secret, h.header, h.body, time.Minute); err != nil {
			t.Errorf("retry signature: %v", err)
		}
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	st := openStore(t, "")
	page := strings.Repeat("<p>internal error</p>", 200)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, page, http.StatusInternalServerError)
	})
	wh := addWebhook(t, st, rc.URL, notify.EventAll)
	n := newNotifier(t, st, func(c *notify.Config) { c.MaxAttempts = 3 })
	run(t, n)

	if err := n.Publish(context.Background(), notify.EventCampaignEnded, map[string]string{"id": "c1"}); err != nil {
		t.Fatal(err)
	}
	d := settled(t, st, wh.ID, 1)[0]
	if d.Status != store.DeliveryFailed || d.Attempts != 3 || d.LastStatus != 500 {
		t.Fatalf("delivery %+v, want failed after 3 attempts", d)
	}
	if !strings.Contains(d.LastError, "500") || !strings.Contains(d.LastError, "internal error") || len(d.LastError) > 512 {
		t.Errorf("LastError (%d bytes) %q", len(d.LastError), d.LastError)
	}
	time.Sleep(100 * time.Millisecond) // several polls: nothing more is sent
	if len(rc.got()) != 3 {
		t.Errorf("%d requests, want 3", len(rc.got()))
	}
}

func TestGoneFailsAtOnce(t *testing.T) {
	t.Parallel()
	st := openStore(t, "")
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusGone) })
	wh := addWebhook(t, st, rc.URL, notify.EventAll)
	n := newNotifier(t, st, nil)
	run(t, n)

	if err := n.Publish(context.Background(), notify.EventOrderCreated, map[string]string{"id": "o1"}); err != nil {
		t.Fatal(err)
	}
	d := settled(t, st, wh.ID, 1)[0]
	if d.Status != store.DeliveryFailed || d.Attempts != 1 || d.LastStatus != 410 {
		t.Fatalf("delivery %+v, want failed after one 410", d)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	st := openStore(t, "")
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusTemporaryRedirect)
		}
	})
	wh := addWebhook(t, st, rc.URL+"/old", notify.EventAll)
	n := newNotifier(t, st, func(c *notify.Config) { c.MaxAttempts = 1 })
	run(t, n)

	if err := n.Publish(context.Background(), notify.EventOrderCreated, nil); err != nil {
		t.Fatal(err)
	}
	d := settled(t, st, wh.ID, 1)[0]
	if d.Status != store.DeliveryFailed || d.LastStatus != 307 || !strings.Contains(d.LastError, "/new") {
		t.Fatalf("delivery %+v", d)
	}
	for _, h := range rc.got() {
		if h.path == "/new" {
			t.Fatal("redirect was followed")
		}
	}
}

func TestSubscriptions(t *testing.T) {
	t.Parallel()
	st := openStore(t, "")
	rc := newReceiver(t, nil)
	orders := addWebhook(t, st, rc.URL+"/orders", notify.EventOrderCreated)
	all := addWebhook(t, st, rc.URL+"/all", notify.EventAll)
	live := addWebhook(t, st, rc.URL+"/live", notify.EventCampaignLive, notify.EventCampaignEnded)
	none := addWebhook(t, st, rc.URL+"/none", notify.EventReminderCreated)
	n := newNotifier(t, st, nil)
	run(t, n)

	ctx := context.Background()
	for _, typ := range []string{notify.EventOrderCreated, notify.EventCampaignEnded, notify.EventCampaignCreated} {
		if err := n.Publish(ctx, typ, map[string]string{"t": typ}); err != nil {
			t.Fatal(err)
		}
	}
	types := func(ds []store.Delivery) map[string]bool {
		m := map[string]bool{}
		for _, d := range ds {
			m[d.Type] = true
		}
		return m
	}
	if got := types(settled(t, st, orders.ID, 1)); !got["order.created"] {
		t.Errorf("orders webhook got %v", got)
	}
	if got := types(settled(t, st, all.ID, 3)); len(got) != 3 {
		t.Errorf("* webhook got %v", got)
	}
	if got := types(settled(t, st, live.ID, 1)); !got["campaign.ended"] {
		t.Errorf("live webhook got %v", got)
	}
	if ds := deliveries(t, st, none.ID); len(ds) != 0 {
		t.Errorf("unsubscribed webhook has %d deliveries", len(ds))
	}
	count := map[string]int{}
	for _, h := range rc.got() {
		count[h.path]++
	}
	if count["/orders"] != 1 || count["/all"] != 3 || count["/live"] != 1 || count["/none"] != 0 {
		t.Errorf("requests per endpoint %v", count)
	}
}

// TestPublishDurable: Publish's deliveries are in the store before any
// dispatcher runs, survive closing the store, and a notifier started later
// on the same file delivers them.
func TestPublishDurable(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "v.db")
	rc := newReceiver(t, nil)

	st1 := openStore(t, path)
	wh := addWebhook(t, st1, rc.URL, notify.EventCampaignPublished)
	n1 := newNotifier(t, st1, nil)
	if err := n1.Publish(context.Background(), notify.EventCampaignPublished, map[string]string{"id": "c1"}); err != nil {
		t.Fatal(err)
	}
	ds := deliveries(t, st1, wh.ID)
	if len(ds) != 1 || ds[0].Status != store.DeliveryPending || ds[0].Attempts != 0 {
		t.Fatalf("after Publish: %+v", ds)
	}
	if err := st1.Close(); err != nil {
		t.Fatal(err)
	}

	st2 := openStore(t, path)
	run(t, newNotifier(t, st2, nil))
	d := settled(t, st2, wh.ID, 1)[0]
	if d.Status != store.DeliveryDelivered || len(rc.got()) != 1 {
		t.Fatalf("after restart: %+v, %d requests", d, len(rc.got()))
	}
}

func TestGuardRefusesLoopback(t *testing.T) {
	t.Parallel()
	st := openStore(t, "")
	rc := newReceiver(t, nil)
	wh := addWebhook(t, st, rc.URL, notify.EventAll) // http://127.0.0.1:port
	n := newNotifier(t, st, func(c *notify.Config) {
		c.AllowPrivate = false
		c.MaxAttempts = 2
	})
	run(t, n)

	if err := n.Publish(context.Background(), notify.EventOrderCreated, nil); err != nil {
		t.Fatal(err)
	}
	d := settled(t, st, wh.ID, 1)[0]
	if d.Status != store.DeliveryFailed || d.Attempts != 2 || d.LastStatus != 0 ||
		!strings.Contains(d.LastError, "non-public address") || !strings.Contains(d.LastError, "127.0.0.1") {
		t.Fatalf("delivery %+v, want refused", d)
	}
	if len(rc.got()) != 0 {
		t.Fatalf("the receiver on loopback got %d requests", len(rc.got()))
	}
}

func TestRunStopsPromptly(t *testing.T) {
	t.Parallel()
	st := openStore(t, "")

	// Idle.
	stop := run(t, newNotifier(t, st, nil))
	time.Sleep(50 * time.Millisecond)
	if took := stop(); took > time.Second {
		t.Errorf("idle Run took %v to stop", took)
	}

	// An attempt hangs: Run waits DrainTimeout, cancels it, and the
	// delivery stays pending and uncounted for the next Run.
	release := make(chan struct{})
	rc := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	wh := addWebhook(t, st, rc.URL, notify.EventAll)
	n := newNotifier(t, st, func(c *notify.Config) { c.DrainTimeout = 200 * time.Millisecond })
	stop = run(t, n)
	if err := n.Publish(context.Background(), notify.EventOrderCreated, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the attempt to reach the receiver", func() bool { return len(rc.got()) == 1 })
	if took := stop(); took > 2*time.Second {
		t.Errorf("Run with a hung attempt took %v to stop", took)
	}
	ds := deliveries(t, st, wh.ID)
	if len(ds) != 1 || ds[0].Status != store.DeliveryPending || ds[0].Attempts != 0 {
		t.Errorf("after shutdown: %+v", ds)
	}
	// Released, not left claimed: due at once for the next Run or node.
	if len(ds) == 1 && ds[0].NextAttemptAt.After(time.Now()) {
		t.Errorf("after shutdown the delivery is still claimed until %v", ds[0].NextAttemptAt)
	}
}

func TestRunOnce(t *testing.T) {
	t.Parallel()
	st := openStore(t, "")
	rc := newReceiver(t, nil)
	addWebhook(t, st, rc.URL, notify.EventAll)
	n := newNotifier(t, st, nil)
	run(t, n)
	if err := n.Publish(context.Background(), notify.EventOrderCreated, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first Run to deliver", func() bool { return len(rc.got()) == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := n.Run(ctx); err == nil {
		t.Fatal("a second concurrent Run was accepted")
	}
}

// TestFailureRecorded: a failed attempt leaves the delivery pending with
// its status, error and next attempt (the larger of Backoff and the
// receiver's Retry-After).
func TestFailureRecorded(t *testing.T) {
	t.Parallel()
	st := openStore(t, "")
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "120")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	})
	wh := addWebhook(t, st, rc.URL, notify.EventAll)
	n := newNotifier(t, st, func(c *notify.Config) { c.Backoff = func(int) time.Duration { return time.Minute } })
	run(t, n)
	start := time.Now()
	if err := n.Publish(context.Background(), notify.EventOrderCreated, nil); err != nil {
		t.Fatal(err)
	}
	var d store.Delivery
	waitFor(t, "the first attempt to be recorded", func() bool {
		ds := deliveries(t, st, wh.ID)
		if len(ds) == 1 && ds[0].Attempts == 1 {
			d = ds[0]
			return true
		}
		return false
	})
	if d.Status != store.DeliveryPending || d.LastStatus != 429 || !strings.Contains(d.LastError, "slow down") {
		t.Errorf("delivery %+v", d)
	}
	if next := d.NextAttemptAt.Sub(start); next < 119*time.Second || next > 125*time.Second {
		t.Errorf("next attempt in %v, want about 120 s (Retry-After)", next)
	}
	time.Sleep(100 * time.Millisecond)
	if len(rc.got()) != 1 {
		t.Errorf("%d requests before the next attempt is due, want 1", len(rc.got()))
	}
}

// TestBoundedConcurrency: a backlog is delivered in parallel, never more
// than Concurrency at once, and each delivery exactly once.
func TestBoundedConcurrency(t *testing.T) {
	t.Parallel()
	st := openStore(t, "")
	var mu sync.Mutex
	inFlight, peak := 0, 0
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) {
		mu.Lock()
		inFlight++
		peak = max(peak, inFlight)
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
	})
	var hooks []*store.Webhook
	for range 3 {
		hooks = append(hooks, addWebhook(t, st, rc.URL, notify.EventAll))
	}
	n := newNotifier(t, st, func(c *notify.Config) { c.Concurrency = 4 })
	for i := range 8 {
		if err := n.Publish(context.Background(), notify.EventOrderCreated, map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	run(t, n)
	for _, wh := range hooks {
		for _, d := range settled(t, st, wh.ID, 8) {
			if d.Status != store.DeliveryDelivered || d.Attempts != 1 {
				t.Errorf("delivery %+v", d)
			}
		}
	}
	seen := map[string]int{}
	for _, h := range rc.got() {
		seen[h.header.Get("webhook-id")]++
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("delivery %s sent %d times", id, c)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 24 || peak > 4 || peak < 2 {
		t.Errorf("%d distinct deliveries (want 24), peak concurrency %d (want 2..4)", len(seen), peak)
	}
}
