package api

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestViewerInfo(t *testing.T) {
	e := newEnv(t)
	p1 := e.createProduct("V-1", map[string]any{"url": "https://shop.example.com/v1", "image_url": "https://cdn.example.com/v1.jpg"})
	p2 := e.createProduct("V-2", nil)
	c := e.createCampaign(map[string]any{"published": true, "product_ids": []string{p2.ID, p1.ID}})
	hidden := e.createCampaign(map[string]any{"product_ids": []string{p1.ID}})

	r := e.must(http.StatusOK, "GET", "/live/"+c.ID+"/info", nil, noAuth)
	if r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("CORS %q", r.Header.Get("Access-Control-Allow-Origin"))
	}
	var v viewerInfo
	r.decode(t, &v)
	if v.ID != c.ID || v.Status != "upcoming" || v.Title != "Winter sale" || v.Now.IsZero() || v.Online {
		t.Fatalf("info %+v", v)
	}
	if len(v.Products) != 2 || v.Products[0].ID != p2.ID || v.Products[1].URL != "https://shop.example.com/v1" ||
		v.Products[1].ImageURL != "https://cdn.example.com/v1.jpg" || v.Products[1].Price != "129.00" {
		t.Fatalf("products %+v", v.Products)
	}
	pb := v.Playback
	if pb.WHEP == "" || pb.HLS == "" || pb.Events[:5] != "ws://" || pb.Replay == "" || pb.Track == "" {
		t.Fatalf("playback %+v", pb)
	}
	e.must(http.StatusNotFound, "GET", "/live/"+hidden.ID+"/info", nil, noAuth).errCode(t)
	e.must(http.StatusNotFound, "GET", "/live/nope/info", nil, noAuth).errCode(t)

	// The product widget finds the published campaign featuring a product.
	var pl productLiveView
	e.must(http.StatusOK, "GET", "/embed/products/"+p1.ID, nil, noAuth).decode(t, &pl)
	if pl.Product.ID != p1.ID || pl.Campaign.ID != c.ID {
		t.Fatalf("product live %+v", pl)
	}
	lone := e.createProduct("V-3", nil)
	e.must(http.StatusNotFound, "GET", "/embed/products/"+lone.ID, nil, noAuth).errCode(t)
	e.must(http.StatusNotFound, "GET", "/embed/products/nope", nil, noAuth).errCode(t)
}

// The widget and the player call the viewer routes from a seller's pages:
// each answers the allowed origins, its preflight lists its methods, and
// a refusal is readable too. The admin API stays closed to other origins.
func TestViewerRoutesCORS(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowOrigins = []string{"https://shop.example"} })
	c := e.createCampaign(map[string]any{"published": true})
	shop := withHeader("Origin", "https://shop.example")
	for _, tc := range []struct{ path, method string }{
		{"/live/" + c.ID + "/track", "POST"},
		{"/live/" + c.ID + "/info", "GET"},
		{"/live/" + c.ID + "/viewer", "POST"},
		{"/live/" + c.ID + "/actions", "POST"},
		{"/live/" + c.ID + "/reminders", "POST"},
		{"/embed/products/prd_x", "GET"},
	} {
		r := e.do("OPTIONS", tc.path, nil, noAuth, shop, withHeader("Access-Control-Request-Method", tc.method),
			withHeader("Access-Control-Request-Headers", "content-type"))
		h := r.Header
		if r.Status != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), tc.method) ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Content-Type") {
			t.Errorf("OPTIONS %s: %d %v", tc.path, r.Status, h)
		}
		other := e.do("OPTIONS", tc.path, nil, noAuth, withHeader("Origin", "https://evil.example"))
		if other.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("OPTIONS %s from another origin: %v", tc.path, other.Header)
		}
	}
	// The beacon itself, and a refusal (an empty batch), carry the origin.
	e.clock.Set(time.Now().UTC().Add(time.Minute).Truncate(time.Second))
	batch := `{"viewer_id":"v1","events":[{"id":"e0000001","type":"page.view"}]}`
	r := e.must(http.StatusAccepted, "POST", "/live/"+c.ID+"/track", batch, noAuth, shop)
	if r.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("track: %v", r.Header)
	}
	r = e.do("POST", "/live/"+c.ID+"/track", map[string]any{}, noAuth, shop)
	if r.Status < 400 || r.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("refused track: %d %v", r.Status, r.Header)
	}
	r = e.must(http.StatusOK, "GET", "/live/"+c.ID+"/info", nil, noAuth, shop)
	if r.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("info: %v", r.Header)
	}
	r = e.do("GET", "/api/v1/campaigns/"+c.ID, nil, shop)
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("the admin API answers other origins: %v", r.Header)
	}
}
