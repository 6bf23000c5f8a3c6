package hls

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"vitrine/internal/httperr"
	"vitrine/stream"
)

type fixture struct {
	hub    *stream.Hub
	srv    *Server
	web    *httptest.Server
	active atomic.Int64 // requests inside ServeHTTP
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	hub, err := stream.NewHub(stream.Config{ReaderQueue: 2048, ReconnectWindow: time.Minute, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Hub, cfg.Logger = hub, log
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	f := &fixture{hub: hub, srv: srv}
	mux := http.NewServeMux()
	mux.HandleFunc("/live/", func(w http.ResponseWriter, r *http.Request) {
		f.active.Add(1)
		defer f.active.Add(-1)
		srv.ServeHTTP(w, r)
	})
	f.web = httptest.NewServer(mux)
	t.Cleanup(func() {
		// Clients first: httptest's Close waits for active requests.
		f.web.CloseClientConnections()
		srv.Close()
		f.web.Close()
		hub.Close()
	})
	return f
}

func (f *fixture) url(path string) string { return f.web.URL + path }

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(t testing.TB, ctx context.Context, method, path string, hdr http.Header) (reply, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, f.url(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return reply{status: res.StatusCode, header: res.Header, body: body}, err
}

func (f *fixture) get(t testing.TB, path string) reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := f.do(t, ctx, http.MethodGet, path, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return r
}

// wantError checks the JSON error envelope.
func wantError(t testing.TB, r reply, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (body %s)", r.status, status, r.body)
	}
	var b httperr.Body
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if b.Error.Code != code || b.Error.Message == "" {
		t.Fatalf("error %+v, want code %q", b.Error, code)
	}
}

// mediaPlaylist fetches the multivariant playlist of stream id, then the
// media playlist of its video (or first) variant.
func (f *fixture) mediaPlaylist(t testing.TB, id string) (string, *playlist.Media, []byte) {
	t.Helper()
	r := f.get(t, "/live/"+id+"/index.m3u8")
	if r.status != http.StatusOK {
		t.Fatalf("index.m3u8: %d %s", r.status, r.body)
	}
	pl, err := playlist.Unmarshal(r.body)
	if err != nil {
		t.Fatalf("index.m3u8: %v\n%s", err, r.body)
	}
	mv, ok := pl.(*playlist.Multivariant)
	if !ok || len(mv.Variants) == 0 {
		t.Fatalf("index.m3u8 is not a multivariant playlist:\n%s", r.body)
	}
	name := mv.Variants[0].URI
	r = f.get(t, "/live/"+id+"/"+name)
	if r.status != http.StatusOK {
		t.Fatalf("%s: %d %s", name, r.status, r.body)
	}
	pl, err = playlist.Unmarshal(r.body)
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, r.body)
	}
	return name, pl.(*playlist.Media), r.body
}

// realSegments counts the segments that are not the initial gaps.
func realSegments(m *playlist.Media) int {
	n := 0
	for _, s := range m.Segments {
		if !s.Gap {
			n++
		}
	}
	return n
}

// waitSegments polls until the media playlist lists n real segments.
func (f *fixture) waitSegments(t testing.TB, id string, n int) (string, *playlist.Media, []byte) {
	t.Helper()
	deadline := time.Now().Add(time.Duration(n+5) * time.Second)
	for {
		name, m, raw := f.mediaPlaylist(t, id)
		if realSegments(m) >= n {
			return name, m, raw
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d segments after %v, want %d:\n%s", realSegments(m), time.Duration(n+5)*time.Second, n, raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// settled waits until the media playlist stops changing: the muxer has
// taken in everything a fast publisher wrote.
func (f *fixture) settled(t testing.TB, id string) (string, *playlist.Media) {
	t.Helper()
	_, _, prev := f.waitSegments(t, id, 1)
	for range 50 {
		time.Sleep(100 * time.Millisecond)
		name, m, raw := f.mediaPlaylist(t, id)
		if string(raw) == string(prev) {
			return name, m
		}
		prev = raw
	}
	t.Fatal("the media playlist keeps changing")
	return "", nil
}

func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hasLine(body []byte, prefix string) bool {
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
