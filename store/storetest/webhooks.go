package storetest

import (
	"cmp"
	"slices"
	"strings"
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
	due, err := s.DueDeliveries(ctx, time.Now().Add(time.Hour), 0)
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

	// Longest-waiting first: NextAttemptAt, then CreatedAt, then id.
	want := []store.Delivery{*d1, *d2, *d5, *d6}
	slices.SortFunc(want, func(a, b store.Delivery) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	due, err := s.DueDeliveries(ctx, now, 10)
	must(t, err)
	equal(t, "due", due, want)
	due, err = s.DueDeliveries(ctx, now, 2)
	must(t, err)
	equal(t, "due, limited", due, want[:2])

	// Outcomes: one delivered, one to retry later.
	delivered := now.Add(time.Second)
	d2.Status, d2.Attempts, d2.LastStatus, d2.DeliveredAt = store.DeliveryDelivered, 1, 204, &delivered
	must(t, s.UpdateDelivery(ctx, d2))
	retry := store.Delivery{ID: d1.ID, Status: store.DeliveryPending, Attempts: 1,
		NextAttemptAt: now.Add(10 * time.Minute), LastStatus: 500, LastError: "500 Internal Server Error"}
	must(t, s.UpdateDelivery(ctx, &retry))
	// The immutable fields are filled from the stored row.
	equal(t, "payload after update", retry.Payload, d1.Payload)
	equal(t, "CreatedAt after update", retry.CreatedAt, d1.CreatedAt)
	due, err = s.DueDeliveries(ctx, now, 10)
	must(t, err)
	equal(t, "due after outcomes", ids(due, deliveryID), []string{d5.ID, d6.ID})
	due, err = s.DueDeliveries(ctx, now.Add(10*time.Minute), 10)
	must(t, err)
	equal(t, "due later", ids(due, deliveryID), []string{d5.ID, d6.ID, retry.ID})

	// A bare delivery is due at once.
	bare := &store.Delivery{WebhookID: w.ID, Type: "campaign.live"}
	must(t, s.CreateDelivery(ctx, bare))
	equal(t, "bare next attempt", bare.NextAttemptAt, bare.CreatedAt)
	equal(t, "bare payload", bare.Payload, []byte{})
	due, err = s.DueDeliveries(ctx, bare.CreatedAt, 10)
	must(t, err)
	if !slices.Contains(ids(due, deliveryID), bare.ID) {
		t.Fatal("a bare delivery is not due at once")
	}

	all := walk(t, 2, deliveryID, func(p store.Page) ([]store.Delivery, string, error) {
		return s.ListDeliveries(ctx, w.ID, p)
	})
	if len(all) != 7 {
		t.Fatalf("%d deliveries listed, want 7", len(all))
	}
	byID := map[string]store.Delivery{}
	for _, d := range all {
		byID[d.ID] = d
	}
	equal(t, "delivered", byID[d2.ID], *d2)
	equal(t, "retried", byID[d1.ID], retry)

	isErr(t, s.UpdateDelivery(ctx, &store.Delivery{ID: "dlv_missing", Status: store.DeliveryFailed}), store.ErrNotFound)
	isErr(t, s.CreateDelivery(ctx, &store.Delivery{WebhookID: "wh_missing", Type: "x"}), store.ErrNotFound, "wh_missing")
}

func deliveryID(d store.Delivery) string { return d.ID }
