package hls

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// BenchmarkServe is the LL-HLS request path of one client's request:
// Server.ServeHTTP into a writer that discards, without a socket, so what
// it reports is the server's own work per request (go test -run '^$'
// -bench Serve -benchmem ./protocols/hls/). A low-latency client reloads
// the media playlist (blocking, on a part that exists once it is
// answered) and fetches the part, every part; segments are for players
// that do not do low latency.
func BenchmarkServe(b *testing.B) {
	f := newFixture(b, Config{})
	src := testSource(b)
	publish(b, f.hub, "s1", src, src.tracks(), false, 0).wait()
	name, media := f.settled(b, "s1")
	var part string
	for _, seg := range media.Segments {
		for _, p := range seg.Parts {
			part = p.URI
		}
	}
	msn := media.MediaSequence + len(media.Segments) - 1
	cases := []struct{ name, path string }{
		{"playlist", "/live/s1/" + name},
		{"blocking_playlist", "/live/s1/" + name + "?_HLS_msn=" + strconv.Itoa(msn) + "&_HLS_part=0"},
		{"part", "/live/s1/" + part},
		{"segment", "/live/s1/" + media.Segments[len(media.Segments)-1].URI},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, c.path, nil)
			w := &discardWriter{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.header)
				w.status, w.n = 0, 0
				f.srv.ServeHTTP(w, req)
				if w.status != http.StatusOK || w.n == 0 {
					b.Fatalf("%s: %d, %d bytes", c.path, w.status, w.n)
				}
			}
		})
	}
}

type discardWriter struct {
	header http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(p)
	return len(p), nil
}
