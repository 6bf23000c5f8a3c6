package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func fakeBuild() fstest.MapFS {
	js := []byte("console.log('player');" + strings.Repeat("/* padding */", 100))
	return fstest.MapFS{
		"manifest.json":           {Data: []byte(`{"player.js":"static/player-AB.js","player.css":"static/player-CD.css","embed.js":"embed.js","hls.js":"static/chunks/hls-EF.js","console.js":"static/console-GH.js","console.css":"static/console-IJ.css"}`)},
		"static/console-GH.js":    {Data: []byte("console.log('console')")},
		"static/console-IJ.css":   {Data: []byte("main{}")},
		"static/player-AB.js":     {Data: js},
		"static/player-CD.css":    {Data: []byte("body{}")},
		"static/chunks/hls-EF.js": {Data: []byte("export default 1")},
		"embed.js":                {Data: []byte("(()=>{})()")},
		".gitkeep":                {Data: nil},
	}
}

func serve(t *testing.T, h *Handler, method, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	h.Register(mux)
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	return w
}

func TestNotBuilt(t *testing.T) {
	h, err := New(Config{FS: fstest.MapFS{".gitkeep": {}}})
	if err != nil {
		t.Fatal(err)
	}
	w := serve(t, h, "GET", "/watch/cmp_1")
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "make web") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if w := serve(t, h, "GET", "/embed.js"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("embed.js %d", w.Code)
	}
	if w := serve(t, h, "GET", "/static/player-AB.js"); w.Code != http.StatusNotFound {
		t.Fatalf("static %d", w.Code)
	}
}

func TestPage(t *testing.T) {
	h, err := New(Config{FS: fakeBuild(), Lookup: func(_ context.Context, id string) (Campaign, error) {
		if id != "cmp_1" {
			return Campaign{}, ErrNotFound
		}
		return Campaign{Title: `Bags <script>alert(1)</script>`, ImageURL: "https://cdn.example.com/c.jpg"}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	w := serve(t, h, "GET", "/watch/cmp_1")
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, `src="/static/player-AB.js"`) || !strings.Contains(body, `href="/static/player-CD.css"`) ||
		!strings.Contains(body, `data-campaign="cmp_1"`) || strings.Contains(body, "<script>alert") ||
		!strings.Contains(body, "Bags &lt;script&gt;") {
		t.Fatalf("%d %s", w.Code, body)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors") {
		t.Fatalf("CSP %q", csp)
	}
	if w := serve(t, h, "GET", "/watch/nope"); w.Code != http.StatusNotFound || strings.Contains(w.Body.String(), "player-AB.js") {
		t.Fatalf("unknown campaign: %d", w.Code)
	}
	if w := serve(t, h, "GET", `/watch/"><x`); w.Code != http.StatusNotFound || strings.Contains(w.Body.String(), `"><x`) {
		t.Fatalf("odd id: %d %s", w.Code, w.Body)
	}
}

func TestAssets(t *testing.T) {
	h, err := New(Config{FS: fakeBuild()})
	if err != nil {
		t.Fatal(err)
	}
	w := serve(t, h, "GET", "/static/player-AB.js", "Accept-Encoding", "gzip, br")
	if w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(w.Header().Get("Cache-Control"), "immutable") ||
		!strings.HasPrefix(w.Header().Get("Content-Type"), "text/javascript") {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	zr, err := gzip.NewReader(bytes.NewReader(w.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.HasPrefix(plain, []byte("console.log('player');")) {
		t.Fatalf("gunzipped %q", plain[:20])
	}
	etag := w.Header().Get("ETag")
	if w := serve(t, h, "GET", "/static/player-AB.js", "If-None-Match", etag); w.Code != http.StatusNotModified {
		t.Fatalf("revalidation %d", w.Code)
	}
	if w := serve(t, h, "GET", "/static/player-AB.js"); w.Header().Get("Content-Encoding") != "" {
		t.Fatal("gzip without Accept-Encoding")
	}
	w = serve(t, h, "GET", "/embed.js")
	if w.Code != 200 || w.Header().Get("Cache-Control") != "public, max-age=300" || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("embed.js %d %v", w.Code, w.Header())
	}
	for _, p := range []string{"/static/", "/static/manifest.json", "/static/../manifest.json", "/static/nope.js"} {
		if w := serve(t, h, "GET", p); w.Code == 200 {
			t.Errorf("%s served", p)
		}
	}
}

// The embedded build, when there is one, is consistent.
func TestEmbeddedBuild(t *testing.T) {
	if !Built() {
		t.Skip("web/dist not built")
	}
	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := h.Manifest()
	for _, p := range []string{m.PlayerJS, m.PlayerCSS, m.HLSJS} {
		if w := serve(t, h, "GET", "/"+p); w.Code != 200 {
			t.Errorf("%s: %d", p, w.Code)
		}
	}
}

// TestBundleSize reports the gzip size of what the page loads before it
// needs hls.js (the player's JavaScript, its chunks and CSS), and of
// hls.js and embed.js; over 100 KB for the page is a failure.
func TestBundleSize(t *testing.T) {
	if !Built() {
		t.Skip("web/dist not built")
	}
	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := h.Manifest()
	page, hls := 0, 0
	for p, a := range h.files {
		n := len(a.body)
		if a.gz != nil {
			n = len(a.gz)
		}
		switch {
		case strings.Contains(p, "console-"):
			continue // the console's bundle has its own budget (build.mjs)
		case p == "/"+m.HLSJS:
			hls = n
		case p == "/"+m.EmbedJS:
			t.Logf("embed.js: %.1f KB gzip", float64(n)/1024)
		default:
			page += n
		}
	}
	t.Logf("player page JS+CSS without hls.js: %.1f KB gzip; hls.js (loaded for LL-HLS only): %.1f KB gzip", float64(page)/1024, float64(hls)/1024)
	if page > 100<<10 {
		t.Errorf("the page's JS and CSS weigh %d bytes gzipped, budget 100 KB", page)
	}
}

// TestConsolePage: every path under /console/ gets the app's page (it
// routes in the browser), with its scripts, a CSP that keeps it unframed,
// and /console redirects to it.
func TestConsolePage(t *testing.T) {
	h, err := New(Config{FS: fakeBuild()})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/console/", "/console/campaigns/cmp_1/edit", "/console/products"} {
		w := serve(t, h, "GET", p)
		body := w.Body.String()
		if w.Code != 200 || !strings.Contains(body, `src="/static/console-GH.js"`) || !strings.Contains(body, `href="/static/console-IJ.css"`) {
			t.Fatalf("%s: %d %s", p, w.Code, body)
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") {
			t.Fatalf("%s: CSP %q", p, csp)
		}
	}
	if w := serve(t, h, "GET", "/console"); w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/console/" {
		t.Fatalf("/console: %d %v", w.Code, w.Header())
	}
	unbuilt, _ := New(Config{FS: fstest.MapFS{".gitkeep": {}}})
	if w := serve(t, unbuilt, "GET", "/console/"); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "make web") {
		t.Fatalf("unbuilt console: %d %s", w.Code, w.Body)
	}
}
