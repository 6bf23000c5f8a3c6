package api

import (
	"net/http"
	"testing"
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
