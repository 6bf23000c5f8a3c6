package cors

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCORS(t *testing.T) {
	c, err := New([]string{"https://shop.example", "http://localhost:3000/"}, Policy{Methods: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	for origin, want := range map[string]string{
		"https://shop.example":  "https://shop.example",
		"https://SHOP.example":  "https://SHOP.example",
		"http://localhost:3000": "http://localhost:3000",
		"https://evil.example":  "",
		"":                      "",
	} {
		r := httptest.NewRequest(http.MethodOptions, "/live/s1/index.m3u8", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		h := http.Header{}
		c.Apply(h, r)
		c.Preflight(h)
		if got := h.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("origin %q: Allow-Origin %q, want %q", origin, got, want)
		}
		if h.Get("Vary") != "Origin" {
			t.Errorf("origin %q: Vary %q", origin, h.Get("Vary"))
		}
		if (h.Get("Access-Control-Allow-Methods") != "") != (want != "") {
			t.Errorf("origin %q: preflight headers %v", origin, h)
		}
	}
	for _, bad := range []string{"shop.example", "https://shop.example/path", "ftp://x", "https://"} {
		if _, err := New([]string{bad}, Policy{}); err == nil {
			t.Errorf("origin %q accepted", bad)
		}
	}
	none, _ := New([]string{}, Policy{})
	h := http.Header{}
	none.Apply(h, httptest.NewRequest(http.MethodGet, "/", nil))
	if len(h) != 0 {
		t.Errorf("no origins allowed, headers %v", h)
	}
}
