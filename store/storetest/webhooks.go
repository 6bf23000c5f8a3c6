package storetest

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"vitrine/store"
)

func testWebhooks(t *testing.T, s store.Store) {
	ctx := t.Context()
	w := &store.Webhook{URL: "https://hooks.example/vitrine", Events: []string{"order.created", "campaign.live"}}
	before := time.Now()
	must(t, s.CreateWebhook(ctx, w))
	checkID(t, w.ID, "wh_")
	checkStamp(t, "CreatedAt", w.CreatedAt, before, time.Now())
	if !strings.HasPrefix(w.Secret, "whsec_") || len(w.Secret) < 30 {
		t.Fatalf("generated secret %q", w.Secret)
	}
	got, err := s.GetWebhook(ctx, w.ID)
	must(t, err)
	equal(t, "read back", got, w)

	given := &store.Webhook{URL: "https://b.example/", Secret: "whsec_c2VjcmV0", Events: nil}
	must(t, s.CreateWebhook(ctx, given))
	equal(t, "given secret", given.Secret, "whsec_c2VjcmV0")
	list := walk(t, 1, func(w store.Webhook) string { return w.ID }, func(p store.Page) ([]store.Webhook, string, error) {
		return s.ListWebhooks(ctx, p)
	})
	equal(t, "webhooks", list, []store.Webhook{*w, *given})

	d := &store.Delivery{WebhookID: w.ID, Type: "order.created", Payload: []byte(`{"a":1}`)}
	must(t, s.CreateDelivery(ctx, d))
	must(t, s.DeleteWebhook(ctx, w.ID))
	_, err = s.GetWebhook(ctx, w.ID)
	isErr(t, err, store.ErrNotFound)
	isErr(t, s.DeleteWebhook(ctx, w.ID), store.ErrNotFound)
	// Its deliveries went with it.
	ds, _, err := s.ListDeliveries(ctx, w.ID, store.Page{})
	must(t, err)
	due, err := s.ClaimDueDeliveries(ctx, time.Now().Add(time.Hour), time.Minute, 0)
	must(t, err)
	if len(ds) != 0 || len(due) != 0 {
		t.Fatal("deliveries of a deleted webhook remain")
	}
}

func testDeliveries(t *testing.T, s store.Store) {
	ctx := t.Context()
	w := &store.Webhook{URL: "https://hooks.example/", Events: []string{"order.created"}}
	must(t, s.CreateWebhook(ctx, w))
	now := norm(base)
	mk := func(next time.Time, status string) *store.Delivery {
		d := &store.Delivery{WebhookID: w.ID, Type: "order.created", Payload: []byte{'{', 0, 0xff, '}'},
			Status: status, NextAttemptAt: next}
		must(t, s.CreateDelivery(ctx, d))
		return d
	}
	d1 := mk(now.Add(-time.Hour), store.DeliveryPending)
	d2 := mk(now.Add(-2*time.Hour), store.DeliveryPending)
	mk(now.Add(time.Hour), store.DeliveryPending)   // not yet due
	mk(now.Add(-3*time.Hour), store.DeliveryFailed) // given up
	d5 := mk(now.Add(-2*time.Hour), "")             // same time as d2; "" means pending
	d6 := mk(now, store.DeliveryPending)            // due exactly now
	checkID(t, d1.ID, "dlv_")
	equal(t, "default status", d5.Status, store.DeliveryPending)

	const lease = time.Minute
	claim := func(at time.Time, limit int) []store.Delivery {
		t.Helper()
		got, err := s.ClaimDueDeliveries(ctx, at, lease, limit)
		must(t, err)
		return got
	}
	// claimed is d as a claim at `at` returns it: due again at at+lease.
	claimed := func(d *store.Delivery, at time.Time) store.Delivery {
		c := *d
		c.NextAttemptAt = at.Add(lease)
		return c
	}
	// byCreation sorts as claims return: CreatedAt, then id.
	byCreation := func(ds ...store.Delivery) []store.Delivery {
		slices.SortFunc(ds, func(a, b store.Delivery) int {
			return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
		})
		return ds
	}

	// Longest-waiting first: a limit of 2 takes the two deliveries two
	// hours late (by NextAttemptAt, then CreatedAt), returned by creation.
	equal(t, "first claim", claim(now, 2), byCreation(claimed(d2, now), claimed(d5, now)))
	equal(t, "second claim", claim(now, 10), byCreation(claimed(d1, now), claimed(d6, now)))
	// Claimed deliveries are nobody else's until the lease runs out.
	equal(t, "claim while leased", claim(now, 10), []store.Delivery{})
	equal(t, "claim just before the lease ends", claim(now.Add(lease-time.Microsecond), 10), []store.Delivery{})
	// A claimer that dies records nothing: at the end of the lease the
	// deliveries are due again, for anyone.
	later := now.Add(lease)
	equal(t, "claim after the lease", claim(later, 10),
		byCreation(claimed(d1, later), claimed(d2, later), claimed(d5, later), claimed(d6, later)))

	// Outcomes: one delivered, one to retry later.
	delivered := later.Add(time.Second)
	d2.Status, d2.Attempts, d2.LastStatus, d2.DeliveredAt = store.DeliveryDelivered, 1, 204, &delivered
	must(t, s.UpdateDelivery(ctx, d2))
	retry := store.Delivery{ID: d1.ID, Status: store.DeliveryPending, Attempts: 1,
		NextAttemptAt: now.Add(10 * time.Minute), LastStatus: 500, LastError: "500 Internal Server Error"}
	must(t, s.UpdateDelivery(ctx, &retry))
	// The immutable fields are filled from the stored row.
	equal(t, "payload after update", retry.Payload, d1.Payload)
	equal(t, "CreatedAt after update", retry.CreatedAt, d1.CreatedAt)
	// The delivered one is never due again; the retry is due at its time.
	equal(t, "due before the retry", ids(claim(now.Add(5*time.Minute), 10), deliveryID), []string{d5.ID, d6.ID})
	retryAt := now.Add(10 * time.Minute)
	// (and so are d5 and d6 again: that claim's lease ran out too).
	equal(t, "due at the retry", claim(retryAt, 10),
		byCreation(claimed(&retry, retryAt), claimed(d5, retryAt), claimed(d6, retryAt)))

	all := walk(t, 2, deliveryID, func(p store.Page) ([]store.Delivery, string, error) {
		return s.ListDeliveries(ctx, w.ID, p)
	})
	if len(all) != 6 {
		t.Fatalf("%d deliveries listed, want 6", len(all))
	}
	byID := map[string]store.Delivery{}
	for _, d := range all {
		byID[d.ID] = d
	}
	equal(t, "delivered", byID[d2.ID], *d2)
	equal(t, "retried, then claimed", byID[d1.ID], claimed(&retry, retryAt))

	// A bare delivery is due at once.
	bare := &store.Delivery{WebhookID: w.ID, Type: "campaign.live"}
	must(t, s.CreateDelivery(ctx, bare))
	equal(t, "bare next attempt", bare.NextAttemptAt, bare.CreatedAt)
	equal(t, "bare payload", bare.Payload, []byte{})
	if !slices.Contains(ids(claim(bare.CreatedAt, 10), deliveryID), bare.ID) {
		t.Fatal("a bare delivery is not due at once")
	}

	_, err := s.ClaimDueDeliveries(ctx, now, 0, 10)
	if err == nil {
		t.Fatal("a claim without a lease was accepted")
	}
	isErr(t, s.UpdateDelivery(ctx, &store.Delivery{ID: "dlv_missing", Status: store.DeliveryFailed}), store.ErrNotFound)
	isErr(t, s.CreateDelivery(ctx, &store.Delivery{WebhookID: "wh_missing", Type: "x"}), store.ErrNotFound, "wh_missing")
}

// testDeliveriesConcurrentClaims: claimers racing over one outbox (on
// PostgreSQL, over several connections) take every due delivery exactly
// once.
func testDeliveriesConcurrentClaims(t *testing.T, s store.Store) {
	ctx := t.Context()
	w := &store.Webhook{URL: "https://hooks.example/", Events: []string{"*"}}
	must(t, s.CreateWebhook(ctx, w))
	const total, claimers = 240, 8
	now := norm(time.Now())
	for i := range total {
		must(t, s.CreateDelivery(ctx, &store.Delivery{WebhookID: w.ID, Type: "order.created",
			NextAttemptAt: now.Add(-time.Duration(i%7) * time.Second)}))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, claimers)
	for range claimers {
		wg.Go(func() {
			<-start
			for {
				got, err := s.ClaimDueDeliveries(ctx, now, time.Hour, 7)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != total {
		t.Fatalf("%d deliveries claimed, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s claimed %d times", id, n)
		}
	}
}

func deliveryID(d store.Delivery) string { return d.ID }
