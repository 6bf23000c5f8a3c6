package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"vitrine/store"
)

func newOrder(campaignID, key, code string) *store.Order {
	return &store.Order{CampaignID: campaignID, IdempotencyKey: key, Code: code,
		Items:        []store.OrderItem{{ProductID: "prd_b", Quantity: 2}, {ProductID: "prd_a", Quantity: 1}},
		CustomerName: "Ana Silva", Total: "258.00", Currency: "EUR"}
}

func testOrders(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := createCampaign(t, s, newCampaign("Show", base, base.Add(time.Hour)))
	o := newOrder(c.ID, "key-1", "A-1001")
	// The viewer the shop says the order came from is kept (listed and
	// returned on a repeat); the other orders name none.
	o.ViewerID, o.SessionID = "v_ann", "sess-1"
	before := time.Now()
	created, err := s.CreateOrder(ctx, o)
	must(t, err)
	if !created {
		t.Fatal("first order not created")
	}
	checkID(t, o.ID, "ord_")
	checkStamp(t, "CreatedAt", o.CreatedAt, before, time.Now())
	first := *o

	// A repeat, even with other content, returns the first order.
	again := newOrder(c.ID, "key-1", "A-1001")
	again.Total, again.Items = "1.00", nil
	created, err = s.CreateOrder(ctx, again)
	must(t, err)
	if created {
		t.Fatal("repeat created an order")
	}
	equal(t, "repeat", again, &first)

	// The same code under another key is another order with a clashing code.
	isErr(t, func() error { _, err := s.CreateOrder(ctx, newOrder(c.ID, "key-2", "A-1001")); return err }(),
		store.ErrConflict, "A-1001")
	// The same key and code in another campaign is another order.
	other := createCampaign(t, s, newCampaign("Other", base, base.Add(time.Hour)))
	created, err = s.CreateOrder(ctx, newOrder(other.ID, "key-1", "A-1001"))
	must(t, err)
	if !created {
		t.Fatal("an order of another campaign was taken for a repeat")
	}
	// Without a key there is no deduplication.
	for i := range 2 {
		created, err := s.CreateOrder(ctx, newOrder(c.ID, "", fmt.Sprint("N-", i)))
		must(t, err)
		if !created {
			t.Fatal("an order without a key was taken for a repeat")
		}
	}
	_, err = s.CreateOrder(ctx, newOrder("cmp_missing", "k", "X"))
	isErr(t, err, store.ErrNotFound, "cmp_missing")

	for i := range 3 {
		_, err := s.CreateOrder(ctx, newOrder(c.ID, fmt.Sprint("more-", i), fmt.Sprint("M-", i)))
		must(t, err)
	}
	got := walk(t, 2, func(o store.Order) string { return o.ID }, func(p store.Page) ([]store.Order, string, error) {
		return s.ListOrders(ctx, c.ID, p)
	})
	if len(got) != 6 {
		t.Fatalf("%d orders listed, want 6", len(got))
	}
	equal(t, "first listed order", got[0], first)
	for i := 1; i < len(got); i++ {
		if got[i].CreatedAt.Before(got[i-1].CreatedAt) {
			t.Fatal("orders not oldest first")
		}
	}
	orders, next, err := s.ListOrders(ctx, "cmp_missing", store.Page{})
	must(t, err)
	if len(orders) != 0 || next != "" {
		t.Fatal("orders listed for an unknown campaign")
	}
}

// testOrdersConcurrentIdempotent: the shop retrying one order from ten
// goroutines at once records it once.
func testOrdersConcurrentIdempotent(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := createCampaign(t, s, newCampaign("Show", base, base.Add(time.Hour)))
	const n = 10
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]*store.Order, n)
	createdN := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			o := newOrder(c.ID, "retry-key", "R-1")
			createdN[i], errs[i] = s.CreateOrder(ctx, o)
			results[i] = o
		})
	}
	close(start)
	wg.Wait()
	count := 0
	for i := range n {
		must(t, errs[i])
		if createdN[i] {
			count++
		}
		equal(t, "order returned", results[i], results[0])
	}
	if count != 1 {
		t.Fatalf("%d orders created, want 1", count)
	}
	orders, _, err := s.ListOrders(ctx, c.ID, store.Page{})
	must(t, err)
	if len(orders) != 1 {
		t.Fatalf("%d orders stored, want 1", len(orders))
	}
}

func testReminders(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := createCampaign(t, s, newCampaign("Show", base, base.Add(time.Hour)))
	r := &store.Reminder{CampaignID: c.ID, Phone: "+33612345678", OptIn: false}
	before := time.Now()
	created, err := s.CreateReminder(ctx, r)
	must(t, err)
	if !created {
		t.Fatal("first reminder not reported created")
	}
	checkID(t, r.ID, "rem_")
	checkStamp(t, "CreatedAt", r.CreatedAt, before, time.Now())

	// The same phone again updates the opt-in, keeping id and date, and
	// says it is a repeat.
	again := &store.Reminder{CampaignID: c.ID, Phone: "+33612345678", OptIn: true}
	created, err = s.CreateReminder(ctx, again)
	must(t, err)
	if created {
		t.Fatal("a repeat was reported created")
	}
	want := *r
	want.OptIn = true
	equal(t, "upserted reminder", again, &want)

	other := &store.Reminder{CampaignID: c.ID, Phone: "+33700000000", OptIn: true}
	created, err = s.CreateReminder(ctx, other)
	must(t, err)
	if !created {
		t.Fatal("another phone was taken for a repeat")
	}
	got := walk(t, 1, func(r store.Reminder) string { return r.ID }, func(p store.Page) ([]store.Reminder, string, error) {
		return s.ListReminders(ctx, c.ID, p)
	})
	equal(t, "reminders", got, []store.Reminder{want, *other})

	_, err = s.CreateReminder(ctx, &store.Reminder{CampaignID: "cmp_missing", Phone: "+1"})
	isErr(t, err, store.ErrNotFound, "cmp_missing")
}

// testRemindersConcurrent: one phone sent from ten goroutines at once is
// created once; the nine others are repeats.
func testRemindersConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := createCampaign(t, s, newCampaign("Show", base, base.Add(time.Hour)))
	const n = 10
	var wg sync.WaitGroup
	start := make(chan struct{})
	created := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			created[i], errs[i] = s.CreateReminder(ctx, &store.Reminder{CampaignID: c.ID, Phone: "+33612345678"})
		})
	}
	close(start)
	wg.Wait()
	count := 0
	for i := range n {
		must(t, errs[i])
		if created[i] {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("%d reminders reported created, want 1", count)
	}
}
