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

func TestHandler(t *testing.T) {
	c, err := New([]string{"https://shop.example"}, Policy{Methods: "GET, POST, OPTIONS", AllowHeaders: "Content-Type", ExposeHeaders: "Retry-After"})
	if err != nil {
		t.Fatal(err)
	}
	reached := 0
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		http.Error(w, "refused", http.StatusUnprocessableEntity)
	}))
	// The preflight is answered without reaching the route, listing POST.
	r := httptest.NewRequest(http.MethodOptions, "/live/c1/track", nil)
	r.Header.Set("Origin", "https://shop.example")
	r.Header.Set("Access-Control-Request-Method", "POST")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent || reached != 0 || w.Header().Get("Access-Control-Allow-Origin") != "https://shop.example" ||
		w.Header().Get("Access-Control-Allow-Methods") != "GET, POST, OPTIONS" || w.Header().Get("Access-Control-Allow-Headers") != "Content-Type" {
		t.Errorf("preflight: %d %v (reached %d)", w.Code, w.Header(), reached)
	}
	// The request itself, an error included, carries the origin.
	r = httptest.NewRequest(http.MethodPost, "/live/c1/track", nil)
	r.Header.Set("Origin", "https://shop.example")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnprocessableEntity || reached != 1 || w.Header().Get("Access-Control-Allow-Origin") != "https://shop.example" ||
		w.Header().Get("Access-Control-Expose-Headers") != "Retry-After" || w.Header().Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("request: %d %v", w.Code, w.Header())
	}
	// Another origin gets nothing to read.
	r = httptest.NewRequest(http.MethodOptions, "/live/c1/track", nil)
	r.Header.Set("Origin", "https://evil.example")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Header().Get("Access-Control-Allow-Origin") != "" || w.Header().Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("refused origin: %v", w.Header())
	}
}
