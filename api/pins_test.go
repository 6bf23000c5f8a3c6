package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"vitrine/events"
)

func TestPins(t *testing.T) {
	e := newEnv(t)
	hub := e.overlay
	var pids []string
	for i := range 5 {
		pids = append(pids, e.createProduct(fmt.Sprintf("P%d", i), nil).ID)
	}
	v := e.createVoucher("LIVE10")
	other := e.createVoucher("OTHER")
	c := e.createCampaign(map[string]any{"product_ids": pids[:4], "voucher_ids": []string{v.ID}})
	path := "/api/v1/campaigns/" + c.ID + "/pins"

	room, err := hub.Room(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := room.Subscribe(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	for i := range 3 {
		var out pinsView
		e.must(http.StatusCreated, "POST", path, map[string]any{"kind": "product", "id": pids[i]}).decode(t, &out)
		if out.Seq != int64(i+1) || len(out.Products) != i+1 || out.Products[i].ID != pids[i] ||
			out.Products[i].Price != "129.00" || out.At.IsZero() {
			t.Fatalf("pin %d: %+v", i, out)
		}
	}
	// The current pins.
	var now currentPinsView
	e.must(http.StatusOK, "GET", path, nil).decode(t, &now)
	if len(now.Products) != 3 || now.Products[0].ID != pids[0] || now.Products[2].ID != pids[2] || now.Voucher != nil {
		t.Fatalf("GET pins: %+v", now)
	}
	e.must(http.StatusNotFound, "GET", "/api/v1/campaigns/nope/pins", nil)
	e.must(http.StatusUnauthorized, "GET", path, nil, noAuth)
	if code := e.must(http.StatusConflict, "POST", path, map[string]any{"kind": "product", "id": pids[3]}).errCode(t); code != "pin_limit" {
		t.Fatalf("4th pin: %s", code)
	}
	if code := e.must(http.StatusConflict, "POST", path, map[string]any{"kind": "product", "id": pids[0]}).errCode(t); code != "already_pinned" {
		t.Fatalf("pin twice: %s", code)
	}
	// Not attached to the campaign (a real product, and a made-up id).
	for _, id := range []string{pids[4], "prd_nope"} {
		r := e.must(http.StatusUnprocessableEntity, "POST", path, map[string]any{"kind": "product", "id": id})
		if fs := r.fields(t); len(fs) != 1 || fs[0] != "id" {
			t.Fatalf("unattached %s: fields %v", id, fs)
		}
	}
	e.must(http.StatusUnprocessableEntity, "POST", path, map[string]any{"kind": "voucher", "id": other.ID})
	if fs := e.must(http.StatusUnprocessableEntity, "POST", path, map[string]any{"kind": "poll", "id": "x"}).fields(t); len(fs) != 1 || fs[0] != "kind" {
		t.Fatalf("bad kind: %v", fs)
	}
	e.must(http.StatusBadRequest, "POST", path, map[string]any{"kind": "product", "id": pids[0], "extra": 1})
	e.must(http.StatusNotFound, "POST", "/api/v1/campaigns/cmp_nope/pins", map[string]any{"kind": "product", "id": pids[0]})

	var out pinsView
	e.must(http.StatusOK, "DELETE", path+"/product/"+pids[1], nil).decode(t, &out)
	if out.Seq != 4 || len(out.Products) != 2 || out.Products[0].ID != pids[0] || out.Products[1].ID != pids[2] {
		t.Fatalf("unpin: %+v", out)
	}
	if code := e.must(http.StatusNotFound, "DELETE", path+"/product/"+pids[1], nil).errCode(t); code != "not_pinned" {
		t.Fatalf("unpin twice: %s", code)
	}
	e.must(http.StatusNotFound, "DELETE", path+"/poll/x", nil)
	e.must(http.StatusCreated, "POST", path, map[string]any{"kind": "product", "id": pids[3]})

	e.must(http.StatusCreated, "POST", path, map[string]any{"kind": "voucher", "id": v.ID}).decode(t, &out)
	if out.Voucher == nil || out.Voucher.Code != "LIVE10" || out.Voucher.DiscountValue != "10" {
		t.Fatalf("voucher pin: %+v", out)
	}
	e.must(http.StatusOK, "DELETE", path+"/voucher/"+v.ID, nil).decode(t, &out)
	if out.Voucher != nil || out.Seq != 7 {
		t.Fatalf("voucher unpin: %+v", out)
	}

	// Viewers got every change, in order.
	want := []string{events.TypeProductPinned, events.TypeProductPinned, events.TypeProductPinned,
		events.TypeProductUnpinned, events.TypeProductPinned, events.TypeVoucherPinned, events.TypeVoucherUnpinned}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i, typ := range want {
		m, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Seq != int64(i+1) || m.Type != typ {
			t.Fatalf("event %d: %s", i+1, m.JSON)
		}
	}
}

func TestPinsWithoutOverlay(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Overlay = nil })
	p := e.createProduct("P1", nil)
	c := e.createCampaign(map[string]any{"product_ids": []string{p.ID}})
	r := e.must(http.StatusServiceUnavailable, "POST", "/api/v1/campaigns/"+c.ID+"/pins", map[string]any{"kind": "product", "id": p.ID})
	if code := r.errCode(t); code != "overlay_unavailable" {
		t.Fatal(code)
	}
}
