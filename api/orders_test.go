package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestOrders(t *testing.T) {
	e := newEnv(t)
	p1, p2 := e.createProduct("P1", nil), e.createProduct("P2", nil)
	c := e.createCampaign(nil)
	path := "/api/v1/campaigns/" + c.ID + "/orders"
	body := map[string]any{"code": "SO-1001", "customer_name": "Ada", "total": "259", "currency": "EUR",
		"items": []map[string]any{{"product_id": p1.ID, "quantity": 2}, {"product_id": p2.ID, "quantity": 1}}}
	key := func(k string) reqOpt { return withHeader("Idempotency-Key", k) }

	// Before the campaign ever went live.
	if r := e.must(http.StatusConflict, "POST", path, body, key("k1")); r.errCode(t) != "campaign_not_live_yet" {
		t.Fatalf("before live: %s", r.Body)
	}
	e.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/live", nil)
	e.notes.reset()

	var o orderView
	e.must(http.StatusCreated, "POST", path, body, key("k1")).decode(t, &o)
	if o.ID == "" || o.CampaignID != c.ID || o.Total != "259.00" || o.ProductCount != 3 || o.ItemCount != 2 ||
		o.CustomerName != "Ada" || len(o.Items) != 2 || o.Items[0].ProductID != p1.ID {
		t.Fatalf("order %+v", o)
	}
	if n, ok := e.notes.last(EventOrderCreated); !ok || n.Data["id"] != o.ID || n.Data["campaign_id"] != c.ID {
		t.Fatalf("order.created: %v", e.notes.types())
	}

	// A repeat answers 200 with the original; the total's spelling does
	// not matter once canonical.
	body["total"] = "259.0"
	var again orderView
	e.must(http.StatusOK, "POST", path, body, key("k1")).decode(t, &again)
	if again.ID != o.ID || !again.CreatedAt.Equal(o.CreatedAt) {
		t.Fatalf("repeat %+v, first %+v", again, o)
	}
	if n := len(e.notes.types()); n != 1 {
		t.Fatalf("repeat notified again: %v", e.notes.types())
	}
	// Same key, other body.
	body["customer_name"] = "Grace"
	if r := e.must(http.StatusUnprocessableEntity, "POST", path, body, key("k1")); r.errCode(t) != "idempotency_key_reused" {
		t.Fatalf("reused key: %s", r.Body)
	}
	// Same order code, other key.
	if r := e.must(http.StatusConflict, "POST", path, body, key("k2")); r.errCode(t) != "duplicate_order_code" {
		t.Fatalf("duplicate code: %s", r.Body)
	}

	for _, tc := range []struct {
		name   string
		opts   []reqOpt
		body   any
		status int
		field  string
	}{
		{"no key", nil, body, http.StatusBadRequest, ""},
		{"long key", []reqOpt{key(strings.Repeat("k", 256))}, body, http.StatusBadRequest, ""},
		{"key with space", []reqOpt{key("a b")}, body, http.StatusBadRequest, ""},
		{"no items", []reqOpt{key("x1")}, map[string]any{"code": "A", "customer_name": "A", "total": "1", "currency": "EUR", "items": []any{}}, http.StatusUnprocessableEntity, "items"},
		{"unknown product", []reqOpt{key("x2")}, map[string]any{"code": "B", "customer_name": "A", "total": "1", "currency": "EUR",
			"items": []map[string]any{{"product_id": p1.ID, "quantity": 1}, {"product_id": "nope", "quantity": 1}}}, http.StatusUnprocessableEntity, "items[1].product_id"},
		{"zero quantity", []reqOpt{key("x3")}, map[string]any{"code": "C", "customer_name": "A", "total": "1", "currency": "EUR",
			"items": []map[string]any{{"product_id": p1.ID, "quantity": 0}}}, http.StatusUnprocessableEntity, "items[0].quantity"},
		{"bad total", []reqOpt{key("x4")}, map[string]any{"code": "D", "customer_name": "A", "total": "1.999999", "currency": "EUR",
			"items": []map[string]any{{"product_id": p1.ID, "quantity": 1}}}, http.StatusUnprocessableEntity, "total"},
		{"bad currency", []reqOpt{key("x5")}, map[string]any{"code": "E", "customer_name": "A", "total": "1", "currency": "euro",
			"items": []map[string]any{{"product_id": p1.ID, "quantity": 1}}}, http.StatusUnprocessableEntity, "currency"},
		{"quantity as string", []reqOpt{key("x6")}, `{"code": "F", "customer_name": "A", "total": "1", "currency": "EUR", "items": [{"product_id": "x", "quantity": "2"}]}`,
			http.StatusBadRequest, "items.quantity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", path, tc.body, tc.opts...)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			r.errCode(t)
			if tc.field != "" && !slices.Contains(r.fields(t), tc.field) {
				t.Fatalf("fields %v, want %s", r.fields(t), tc.field)
			}
		})
	}
	e.must(http.StatusNotFound, "POST", "/api/v1/campaigns/nope/orders", body, key("k9"))

	// The list, paginated, oldest first.
	for i := range 3 {
		b := map[string]any{"code": fmt.Sprintf("SO-%d", 2000+i), "customer_name": "Bob", "total": "10", "currency": "EUR",
			"items": []map[string]any{{"product_id": p2.ID, "quantity": i + 1}}}
		e.must(http.StatusCreated, "POST", path, b, key(fmt.Sprintf("list-%d", i)))
	}
	var page struct {
		Items      []orderView `json:"items"`
		NextCursor string      `json:"next_cursor"`
	}
	e.must(http.StatusOK, "GET", path+"?limit=3", nil).decode(t, &page)
	if len(page.Items) != 3 || page.NextCursor == "" || page.Items[0].Code != "SO-1001" || page.Items[0].ProductCount != 3 {
		t.Fatalf("page 1 %+v", page)
	}
	e.must(http.StatusOK, "GET", path+"?limit=3&cursor="+page.NextCursor, nil).decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].Code != "SO-2002" || page.Items[0].ProductCount != 3 || page.NextCursor != "" {
		t.Fatalf("page 2 %+v", page)
	}
	e.must(http.StatusNotFound, "GET", "/api/v1/campaigns/nope/orders", nil)
}

// Concurrent repeats of one order make one order.
func TestOrderConcurrentRepeats(t *testing.T) {
	e := newEnv(t)
	p := e.createProduct("P1", nil)
	c := e.createCampaign(map[string]any{"go_live": true})
	path := "/api/v1/campaigns/" + c.ID + "/orders"
	body := map[string]any{"code": "SO-1", "customer_name": "Ada", "total": "10", "currency": "EUR",
		"items": []map[string]any{{"product_id": p.ID, "quantity": 1}}}
	e.notes.reset()

	const n = 16
	ids := make([]string, n)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := e.do("POST", path, body, withHeader("Idempotency-Key", "same"))
			statuses[i] = r.Status
			var o orderView
			if r.Status < 300 {
				r.decode(t, &o)
			}
			ids[i] = o.ID
		})
	}
	wg.Wait()
	created := 0
	for i := range n {
		switch statuses[i] {
		case http.StatusCreated:
			created++
		case http.StatusOK:
		default:
			t.Fatalf("request %d: status %d", i, statuses[i])
		}
		if ids[i] != ids[0] || ids[i] == "" {
			t.Fatalf("different orders: %v", ids)
		}
	}
	if created != 1 {
		t.Fatalf("%d requests created an order", created)
	}
	var page struct {
		Items []orderView `json:"items"`
	}
	e.must(http.StatusOK, "GET", path, nil).decode(t, &page)
	if len(page.Items) != 1 || len(e.notes.types()) != 1 {
		t.Fatalf("%d orders, notifications %v", len(page.Items), e.notes.types())
	}
}
