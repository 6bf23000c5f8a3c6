package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"vitrine/internal/browser"
)

// TestWebRTCGlassToGlass measures, in headless Chromium, the latency from a
// frame drawn on a canvas published over WHIP to the same frame shown by a
// WHEP player, and the new viewer's time to first frame. Sender and
// receiver share the page's clock; the frame carries its drawing time as a
// barcode (testdata/glass.html). The page comes from another origin, as a
// seller's site would, so WHIP/WHEP CORS is on the path. Figures are
// reported, never asserted (README, Performance).
func TestWebRTCGlassToGlass(t *testing.T) {
	s := startServer(t, nil)
	b := browser.Launch(t)
	site := httptest.NewServer(http.FileServer(http.Dir("testdata")))
	t.Cleanup(site.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := b.NewPage(ctx, site.URL+"/glass.html")
	if err != nil {
		t.Fatal(err)
	}
	browser.ScreenshotOnFailure(t, p, browser.ArtifactsDir())
	base := "http://" + s.HTTPAddr().String()
	if err := p.Eval(ctx, `publish("`+base+`/whip/demo", "`+testKey+`")`, nil); err != nil {
		t.Fatalf("publish: %v", err)
	}
	// Let the publisher settle (first keyframe, bitrate ramp) before the
	// viewer joins, as a viewer of a running live would.
	time.Sleep(2 * time.Second)
	if err := p.Eval(ctx, `play("`+base+`/live/demo/whep")`, nil); err != nil {
		t.Fatalf("play: %v", err)
	}
	time.Sleep(8 * time.Second)
	var res struct {
		Lat        []float64 `json:"lat"`
		FirstFrame float64   `json:"firstFrame"`
	}
	if err := p.Eval(ctx, `({lat: window.__lat, firstFrame: window.__firstFrame})`, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Lat) < 60 {
		t.Fatalf("only %d frames decoded with a readable timestamp in 8 s", len(res.Lat))
	}
	slices.Sort(res.Lat)
	q := func(f float64) float64 { return res.Lat[int(f*float64(len(res.Lat)-1))] }
	t.Logf("WebRTC WHIP -> WHEP in Chromium: first frame %.0f ms after the viewer's offer; "+
		"glass-to-glass over %d frames: p50 %.0f ms, p95 %.0f ms, max %.0f ms",
		res.FirstFrame, len(res.Lat), q(0.5), q(0.95), q(1))
}
