package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"vitrine/notify"
	"vitrine/store"
)

// countingStore counts the catalog lookups the API makes.
type countingStore struct {
	store.Store
	mu                 sync.Mutex
	single, batch      int
	deleteOnFirstBatch string // a product deleted just before the first GetProducts
}

func (s *countingStore) GetProduct(ctx context.Context, id string) (*store.Product, error) {
	s.mu.Lock()
	s.single++
	s.mu.Unlock()
	return s.Store.GetProduct(ctx, id)
}

func (s *countingStore) GetVoucher(ctx context.Context, id string) (*store.Voucher, error) {
	s.mu.Lock()
	s.single++
	s.mu.Unlock()
	return s.Store.GetVoucher(ctx, id)
}

func (s *countingStore) GetProducts(ctx context.Context, ids []string) ([]store.Product, error) {
	s.mu.Lock()
	s.batch++
	del := s.deleteOnFirstBatch
	s.deleteOnFirstBatch = ""
	s.mu.Unlock()
	if del != "" {
		if err := s.Store.DeleteProduct(ctx, del); err != nil {
			return nil, err
		}
	}
	return s.Store.GetProducts(ctx, ids)
}

func (s *countingStore) GetVouchers(ctx context.Context, ids []string) ([]store.Voucher, error) {
	s.mu.Lock()
	s.batch++
	s.mu.Unlock()
	return s.Store.GetVouchers(ctx, ids)
}

func (s *countingStore) counts() (single, batch int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.single, s.batch
}

func (s *countingStore) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.single, s.batch = 0, 0
}

// TestBatchLookups: validation and preflight read the catalog with one
// lookup per list, not one per id, and still name every unknown id.
func TestBatchLookups(t *testing.T) {
	base := newEnv(t)
	cs := &countingStore{Store: base.st}
	e := newEnvOn(t, cs)
	var ps []string
	for _, sku := range []string{"A", "B", "C", "D", "E"} {
		ps = append(ps, e.createProduct(sku, nil).ID)
	}
	vs := []string{e.createVoucher("V1").ID, e.createVoucher("V2").ID}

	cs.reset()
	c := e.createCampaign(map[string]any{"product_ids": ps, "voucher_ids": vs})
	if single, batch := cs.counts(); single != 0 || batch != 2 {
		t.Fatalf("create: %d single lookups, %d batch lookups; want 0 and 2", single, batch)
	}

	// Every unknown id is named, at its index.
	r := e.do("PATCH", "/api/v1/campaigns/"+c.ID, map[string]any{
		"product_ids": []string{ps[0], "prd_nope1", ps[1], "prd_nope2"},
		"voucher_ids": []string{"vch_nope", vs[0]},
	})
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("unknown ids: %d %s", r.Status, r.Body)
	}
	if got := r.fields(t); !slices.Equal(got, []string{"product_ids[1]", "product_ids[3]", "voucher_ids[0]"}) {
		t.Fatalf("fields %v", got)
	}

	// Orders too.
	live := e.createCampaign(map[string]any{"go_live": true})
	cs.reset()
	r = e.do("POST", "/api/v1/campaigns/"+live.ID+"/orders", map[string]any{
		"code": "A-1", "customer_name": "Ana", "total": "10", "currency": "EUR",
		"items": []map[string]any{{"product_id": "prd_x", "quantity": 1}, {"product_id": ps[0], "quantity": 1},
			{"product_id": "prd_x", "quantity": 2}, {"product_id": "prd_y", "quantity": 1}},
	}, withHeader("Idempotency-Key", "k-1"))
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("order with unknown products: %d %s", r.Status, r.Body)
	}
	if got := r.fields(t); !slices.Equal(got, []string{"items[0].product_id", "items[2].product_id", "items[3].product_id"}) {
		t.Fatalf("fields %v", got)
	}
	if single, batch := cs.counts(); single != 0 || batch != 1 {
		t.Fatalf("order: %d single lookups, %d batch lookups; want 0 and 1", single, batch)
	}

	// Preflight lists what is attached, in order, in two lookups; a
	// product deleted between the campaign's read and the lookup is left
	// out.
	cs.reset()
	cs.mu.Lock()
	cs.deleteOnFirstBatch = ps[2]
	cs.mu.Unlock()
	var pf preflightView
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID+"/preflight", nil).decode(t, &pf)
	var got []string
	for _, p := range pf.Products {
		got = append(got, p.ID)
	}
	if want := []string{ps[0], ps[1], ps[3], ps[4]}; !slices.Equal(got, want) {
		t.Fatalf("preflight products %v, want %v", got, want)
	}
	if len(pf.Vouchers) != 2 || pf.Vouchers[0].ID != vs[0] || pf.Vouchers[1].ID != vs[1] {
		t.Fatalf("preflight vouchers %+v", pf.Vouchers)
	}
	if single, batch := cs.counts(); single != 0 || batch != 3 {
		t.Fatalf("preflight: %d single lookups, %d batch lookups; want 0 and 3 (one retried)", single, batch)
	}
}

// TestStartingSoonSameShape: the scheduler's campaign.starting_soon and
// the API's campaign notifications carry the same data for a campaign.
func TestStartingSoonSameShape(t *testing.T) {
	e := newEnv(t)
	img := e.uploadPNG()
	p := e.createProduct("SKU-1", nil)
	c := e.createCampaign(map[string]any{"published": true, "notify_before_start": "2h",
		"images": []string{img.ID}, "product_ids": []string{p.ID}})
	published, ok := e.notes.last(EventCampaignPublished)
	if !ok {
		t.Fatal("no campaign.published")
	}

	wh := &store.Webhook{URL: "http://127.0.0.1:9/", Events: []string{EventCampaignStartingSoon}}
	if err := e.st.CreateWebhook(t.Context(), wh); err != nil {
		t.Fatal(err)
	}
	n, err := notify.New(notify.Config{Store: e.st, Now: e.clock.Now, PublicURL: e.srv.URL,
		PollInterval: 10 * time.Millisecond, AllowPrivate: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() { cancel(); <-done }()

	var soon map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for soon == nil {
		ds, _, err := e.st.ListDeliveries(t.Context(), wh.ID, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) > 0 {
			var body struct {
				Data map[string]any `json:"data"`
			}
			if err := json.Unmarshal(ds[0].Payload, &body); err != nil {
				t.Fatal(err)
			}
			soon = body.Data
		} else if time.Now().After(deadline) {
			t.Fatal("no campaign.starting_soon")
		}
		time.Sleep(10 * time.Millisecond)
	}

	keys := func(m map[string]any) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	if !slices.Equal(keys(soon), keys(published.Data)) {
		t.Fatalf("starting_soon keys %v\npublished keys %v", keys(soon), keys(published.Data))
	}
	for k, v := range published.Data {
		switch k {
		case "version", "updated_at": // the scheduler marked the campaign
			continue
		}
		if toJSON(t, soon[k]) != toJSON(t, v) {
			t.Errorf("%s: starting_soon %s, published %s", k, toJSON(t, soon[k]), toJSON(t, v))
		}
	}
	if soon["watch_url"] != e.srv.URL+"/watch/"+c.ID {
		t.Errorf("watch_url %v", soon["watch_url"])
	}
}
