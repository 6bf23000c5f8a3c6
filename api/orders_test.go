package api

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"vitrine/analytics"
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

// TestOrderCurrencyAndViewer: an order must be in the campaign's
// products' currency when they have one (422 naming it); with none or
// several, any is taken. viewer_id and session_id are optional, checked,
// kept, answered, and part of what makes a repeat the same order.
func TestOrderCurrencyAndViewer(t *testing.T) {
	e := newEnv(t)
	eur1, eur2 := e.createProduct("E1", nil), e.createProduct("E2", nil)
	usd := e.createProduct("U1", map[string]any{"currency": "USD"})
	one := e.createCampaign(map[string]any{"go_live": true, "product_ids": []string{eur1.ID, eur2.ID}})
	none := e.createCampaign(map[string]any{"go_live": true})
	mixed := e.createCampaign(map[string]any{"go_live": true, "product_ids": []string{eur1.ID, usd.ID}})
	n := 0
	post := func(c campaignView, currency string, extra map[string]any) *resp {
		t.Helper()
		n++
		body := map[string]any{"code": fmt.Sprint("C-", n), "customer_name": "Ada", "total": "1.00", "currency": currency,
			"items": []map[string]any{{"product_id": eur1.ID, "quantity": 1}}}
		for k, v := range extra {
			body[k] = v
		}
		return e.do("POST", "/api/v1/campaigns/"+c.ID+"/orders", body, withHeader("Idempotency-Key", fmt.Sprint("k-", n)))
	}

	r := post(one, "USD", nil)
	if r.Status != http.StatusUnprocessableEntity || r.errCode(t) != "validation_failed" ||
		!slices.Equal(r.fields(t), []string{"currency"}) || !strings.Contains(string(r.Body), "must be EUR") {
		t.Fatalf("a USD order on a EUR campaign: %d %s", r.Status, r.Body)
	}
	e.must(http.StatusCreated, "POST", "/api/v1/campaigns/"+one.ID+"/orders", map[string]any{"code": "OK-1",
		"customer_name": "Ada", "total": "1.00", "currency": "EUR", "items": []map[string]any{{"product_id": eur1.ID, "quantity": 1}}},
		withHeader("Idempotency-Key", "ok-1"))
	if r := post(none, "USD", nil); r.Status != http.StatusCreated {
		t.Fatalf("no products, any currency: %d %s", r.Status, r.Body)
	}
	if r := post(mixed, "GBP", nil); r.Status != http.StatusCreated {
		t.Fatalf("products in EUR and USD, any currency: %d %s", r.Status, r.Body)
	}

	// The viewer: kept and answered.
	var o orderView
	r = post(one, "EUR", map[string]any{"viewer_id": "v_abc123", "session_id": "0f6a-42"})
	if r.Status != http.StatusCreated {
		t.Fatalf("order with a viewer: %d %s", r.Status, r.Body)
	}
	r.decode(t, &o)
	if o.ViewerID != "v_abc123" || o.SessionID != "0f6a-42" {
		t.Fatalf("order's viewer: %+v", o)
	}
	var page struct {
		Items []orderView `json:"items"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+one.ID+"/orders", nil).decode(t, &page)
	if last := page.Items[len(page.Items)-1]; last.ID != o.ID || last.ViewerID != "v_abc123" || last.SessionID != "0f6a-42" {
		t.Fatalf("listed: %+v", last)
	}
	// A repeat naming another viewer is another body.
	again := map[string]any{"code": o.Code, "customer_name": "Ada", "total": "1.00", "currency": "EUR", "viewer_id": "v_other",
		"session_id": "0f6a-42", "items": []map[string]any{{"product_id": eur1.ID, "quantity": 1}}}
	if r := e.must(http.StatusUnprocessableEntity, "POST", "/api/v1/campaigns/"+one.ID+"/orders", again,
		withHeader("Idempotency-Key", fmt.Sprint("k-", n))); r.errCode(t) != "idempotency_key_reused" {
		t.Fatalf("repeat with another viewer: %s", r.Body)
	}
	r = post(one, "EUR", map[string]any{"viewer_id": "not a viewer!", "session_id": strings.Repeat("s", 65)})
	if r.Status != http.StatusUnprocessableEntity || !slices.Equal(r.fields(t), []string{"viewer_id", "session_id"}) {
		t.Fatalf("bad viewer and session ids: %d %s", r.Status, r.Body)
	}
}

// TestOrdersCountAsSales: the orders a shop posts show up in the
// analytics — Purchases, Total sales, Average purchase, the per-product
// purchases and sales — once each, in the phase they were reported in,
// the phases bounded by the real stream.live and stream.ended the live
// control puts on the campaign's log; the export says the same.
func TestOrdersCountAsSales(t *testing.T) {
	e := newEnv(t)
	// The store stamps orders, and the room the stream events, with the
	// real clock: the API's follows it.
	tick := func() {
		time.Sleep(3 * time.Millisecond)
		e.clock.Set(time.Now().UTC())
		time.Sleep(3 * time.Millisecond)
	}
	tick()
	bag := e.createProduct("BAG", map[string]any{"name": "Bag", "price": "129.00"})
	scarf := e.createProduct("SCARF", map[string]any{"name": "Scarf", "price": "39.00"})
	belt := e.createProduct("BELT", map[string]any{"name": "Belt", "price": "50.00"})
	now := e.clock.Now()
	c := e.createCampaign(map[string]any{"published": true, "product_ids": []string{bag.ID, scarf.ID, belt.ID},
		"starts_at": now.Add(time.Hour).Format(time.RFC3339), "ends_at": now.Add(3 * time.Hour).Format(time.RFC3339)})
	base := "/api/v1/campaigns/" + c.ID
	ua := withHeader("User-Agent", desktopUA)
	n := 0
	track := func(viewer, session string, evs ...string) {
		t.Helper()
		for i, ev := range evs {
			n++
			evs[i] = fmt.Sprintf(`{"id":"ev%08d",%s}`, n, ev)
		}
		e.must(http.StatusAccepted, "POST", "/live/"+c.ID+"/track", fmt.Sprintf(`{"viewer_id":%q,"session_id":%q,"events":[%s]}`,
			viewer, session, strings.Join(evs, ",")), noAuth, ua)
	}
	order := func(code, total string, extra map[string]any, items ...map[string]any) {
		t.Helper()
		body := map[string]any{"code": code, "customer_name": "Shopper " + code, "total": total, "currency": "EUR", "items": items}
		for k, v := range extra {
			body[k] = v
		}
		e.must(http.StatusCreated, "POST", base+"/orders", body, withHeader("Idempotency-Key", code))
	}
	line := func(p productView, q int) map[string]any { return map[string]any{"product_id": p.ID, "quantity": q} }

	// Prelive: a visitor.
	track("v_pia", "s-pia", `"type":"page.view"`)
	tick()
	e.must(http.StatusOK, "POST", base+"/live", nil) // stream.live
	tick()
	e.must(http.StatusCreated, "POST", base+"/pins", map[string]any{"kind": "product", "id": bag.ID})
	tick()
	// Three viewers of the live; Ann's page reports her order A-1 as a
	// purchase beacon too.
	track("v_ann", "s-ann", `"type":"page.view"`, fmt.Sprintf(`"type":"purchase","amount":"263.00","currency":"EUR","order_id":"A-1","product_ids":[%q]`, bag.ID))
	track("v_bob", "s-bob", `"type":"page.view"`)
	track("v_cleo", "s-cleo", `"type":"page.view"`)
	// The shop's orders of the live: A-1 (2 bags and 5.00 shipping; Ann's
	// by its beacon), B-1 (Bob's, by his session), D-1 (Ann's, by her
	// viewer id), Z-9 (nobody's: counted all the same).
	order("A-1", "263.00", nil, line(bag, 2))
	order("B-1", "39.00", map[string]any{"session_id": "s-bob"}, line(scarf, 1))
	order("D-1", "78.00", map[string]any{"viewer_id": "v_ann"}, line(scarf, 2))
	order("Z-9", "50.00", nil, line(belt, 1))
	tick()
	e.must(http.StatusOK, "POST", base+"/end", nil) // stream.ended
	tick()
	// The replay: Eve watches and buys.
	track("v_eve", "s-eve", `"type":"page.view"`)
	order("R-1", "50.00", map[string]any{"viewer_id": "v_eve"}, line(belt, 1))
	tick()
	e.clock.Set(e.clock.Now().Add(time.Minute))

	var evs []string
	for _, ev := range e.eventTypes(c.ID) {
		if strings.HasPrefix(ev, "stream.") {
			evs = append(evs, ev)
		}
	}
	if !slices.Equal(evs, []string{"stream.live", "stream.ended"}) {
		t.Fatalf("stream events on the log: %v", evs)
	}
	var rep analytics.Report
	e.must(http.StatusOK, "GET", base+"/analytics", nil).decode(t, &rep)
	if rep.Live == nil || rep.Replay == nil || rep.Currency != "EUR" {
		t.Fatalf("report: %+v", rep)
	}
	eq := func(what string, got, want any) {
		t.Helper()
		if g, w := toJSON(t, got), toJSON(t, want); g != w {
			t.Errorf("%s:\n got  %s\n want %s", what, g, w)
		}
	}
	live, replay := rep.Live, rep.Replay
	if live.Audience.UniqueViewers != 3 || replay.Audience.UniqueViewers != 1 {
		t.Fatalf("viewers: live %+v, replay %+v", live.Audience, replay.Audience)
	}
	eq("live business", live.Business, analytics.Business{TotalCarts: "0.00", AverageCart: "0.00", MaximumCart: "0.00", MinimumCart: "0.00",
		Purchases:       4,        // A-1 (an order and a beacon: once), B-1, D-1, Z-9
		PurchasesRate:   66.67,    // Ann and Bob of Ann, Bob, Cleo
		TotalSales:      "430.00", // 263 + 39 + 78 + 50
		ProductSales:    "258.00", // the bag, pinned: 2 x 129 of A-1
		OtherSales:      "172.00", // A-1's shipping, the scarves, the belt
		AveragePurchase: "107.50", MaximumPurchase: "263.00", MinimumPurchase: "39.00"})
	eq("live funnel", live.ConversionFunnel.Purchases, 4)
	var sum int64
	for _, p := range live.Evolution.Purchases {
		sum += p.Value
	}
	eq("live purchases series", sum, 4)
	products := map[string]analytics.ProductStats{}
	for _, p := range live.Products {
		products[p.ProductID] = p
	}
	eq("live bag", products[bag.ID], analytics.ProductStats{ProductID: bag.ID, Name: "Bag", Shown: true, Purchases: 1, Quantity: 2, Sales: "258.00"})
	eq("live scarf", products[scarf.ID], analytics.ProductStats{ProductID: scarf.ID, Name: "Scarf", Purchases: 2, Quantity: 3, Sales: "117.00"})
	eq("live belt", products[belt.ID], analytics.ProductStats{ProductID: belt.ID, Name: "Belt", Purchases: 1, Quantity: 1, Sales: "50.00"})
	eq("replay business", replay.Business, analytics.Business{TotalCarts: "0.00", AverageCart: "0.00", MaximumCart: "0.00", MinimumCart: "0.00",
		Purchases: 1, PurchasesRate: 100, TotalSales: "50.00", ProductSales: "0.00", OtherSales: "50.00",
		AveragePurchase: "50.00", MaximumPurchase: "50.00", MinimumPurchase: "50.00"})
	if len(replay.Products) != 2 { // the bag (shown), the belt (bought)
		t.Errorf("replay products: %+v", replay.Products)
	}

	// The export agrees.
	r := e.must(http.StatusOK, "GET", base+"/export.xlsx?include=metrics,users", nil)
	f, err := excelize.OpenReader(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	find := func(sheet string, cells ...string) []string {
		t.Helper()
		rows, err := f.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
	next:
		for _, r := range rows {
			for i, c := range cells {
				if i >= len(r) || r[i] != c {
					continue next
				}
			}
			return r
		}
		t.Errorf("%s: no row starting %q", sheet, cells)
		return nil
	}
	for _, ph := range []struct {
		sheet string
		b     analytics.Business
	}{{"Live", live.Business}, {"Replay", replay.Business}} {
		find(ph.sheet, "business", "purchases", fmt.Sprint(ph.b.Purchases))
		find(ph.sheet, "business", "purchases_rate", fmt.Sprint(ph.b.PurchasesRate))
		find(ph.sheet, "business", "total_sales", ph.b.TotalSales)
		find(ph.sheet, "business", "product_sales", ph.b.ProductSales)
		find(ph.sheet, "business", "other_sales", ph.b.OtherSales)
		find(ph.sheet, "business", "average_purchase", ph.b.AveragePurchase)
		find(ph.sheet, "conversion_funnel", "purchases", fmt.Sprint(ph.b.Purchases))
	}
	for _, p := range live.Products {
		find("Live", "", p.ProductID, p.Name, strings.ToUpper(fmt.Sprint(p.Shown)), fmt.Sprint(p.Clicks), fmt.Sprint(p.Purchases),
			fmt.Sprint(p.Quantity), p.Sales)
	}
	// Users: Ann's two orders (A-1 by its beacon, D-1 by her viewer id),
	// Bob's by his session, Eve's; Z-9 on its own.
	find("Users", "v_ann", "Shopper D-1", "", "", "0", "0", "FALSE", "2", "341.00")
	find("Users", "v_bob", "Shopper B-1", "", "", "0", "0", "FALSE", "1", "39.00")
	find("Users", "v_eve", "Shopper R-1", "", "", "0", "0", "FALSE", "1", "50.00")
	find("Users", "", "Shopper Z-9", "", "", "0", "0", "FALSE", "1", "50.00")
}
