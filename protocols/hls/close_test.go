package hls

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"vitrine/stream"
)

// TestOfflineAndClose: while the publisher is away nothing releases the
// requests waiting for the next part. A client that leaves must free its
// handler, and Close must answer those still waiting and return.
func TestOfflineAndClose(t *testing.T) {
	src := testSource(t)
	f := newFixture(t, Config{})
	pub := publish(t, f.hub, "s2", src, src.tracks(), false, 3*time.Second)
	pub.wait()
	pub.stop()
	name, media := f.settled(t, "s2")

	// Offline within the reconnect window: still served.
	if r := f.get(t, "/live/s2/index.m3u8"); r.status != http.StatusOK {
		t.Fatalf("offline index.m3u8: %d %s", r.status, r.body)
	}
	next := name + "?_HLS_msn=" + strconv.Itoa(media.MediaSequence+len(media.Segments)) +
		"&_HLS_part=" + strconv.Itoa(len(media.Parts))
	hint := media.PreloadHint.URI
	m := f.srv.lookup("s2")

	for _, p := range []string{next, hint} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := f.do(t, ctx, http.MethodGet, "/live/s2/"+p, nil)
		cancel()
		if err == nil {
			t.Fatalf("%s answered while the stream is offline", p)
		}
		eventually(t, time.Second, "handler of "+p+" returned", func() bool { return f.active.Load() == 0 })
	}
	if n := m.pending.Load(); n != 2 {
		t.Fatalf("%d requests waiting in the muxer, want the 2 abandoned ones", n)
	}

	results := make(chan reply, 3)
	for _, p := range []string{next, hint, "audio2_stream.m3u8?_HLS_msn=" + strconv.Itoa(media.MediaSequence+len(media.Segments)+1)} {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			r, err := f.do(t, ctx, http.MethodGet, "/live/s2/"+p, nil)
			if err != nil {
				r.status, r.body = -1, []byte(err.Error())
			}
			results <- r
		}()
	}
	// Those asking what the abandoned ones asked join their calls into
	// gohlslib (awaitShared): one more waits inside the muxer, not three.
	eventually(t, 2*time.Second, "the new ask waiting", func() bool { return m.pending.Load() == 3 })
	time.Sleep(200 * time.Millisecond)
	m.jobsMu.Lock()
	jobs := len(m.jobs)
	m.jobsMu.Unlock()
	if n := m.pending.Load(); n != 3 || jobs != 3 {
		t.Fatalf("%d requests waiting in the muxer for %d asks, want 3 and 3", n, jobs)
	}

	start := time.Now()
	f.srv.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v", d)
	}
	for range 3 {
		select {
		case r := <-results:
			wantError(t, r, http.StatusNotFound, "stream_not_found")
		case <-time.After(2 * time.Second):
			t.Fatal("a waiting request was not answered after Close")
		}
	}
	if n := m.pending.Load(); n != 0 {
		t.Fatalf("%d requests still inside the muxer after Close", n)
	}
	wantError(t, f.get(t, "/live/s2/index.m3u8"), http.StatusNotFound, "stream_not_found")

	// Events after Close start nothing.
	pub2 := publish(t, f.hub, "s3", src, src.tracks(), false, time.Second)
	pub2.wait()
	if n := f.srv.Muxers(); n != 0 {
		t.Fatalf("Muxers() = %d after Close", n)
	}
}

// TestRepublish: a publisher that comes back with other tracks gets a new
// muxer; one that comes back with the same tracks keeps its muxer.
func TestRepublish(t *testing.T) {
	src := testSource(t)
	f := newFixture(t, Config{})

	pub := publish(t, f.hub, "s4", src, src.tracks(), false, 3*time.Second)
	pub.wait()
	f.waitSegments(t, "s4", 1)
	first := f.srv.lookup("s4")
	r := f.get(t, "/live/s4/index.m3u8")
	if !strings.Contains(string(r.body), "RESOLUTION=640x360") || !strings.Contains(string(r.body), "avc1.") {
		t.Fatalf("index.m3u8 without the video:\n%s", r.body)
	}
	pub.stop()

	// Same tracks: EventResumed, the muxer continues.
	pub = publish(t, f.hub, "s4", src, src.tracks(), false, time.Second)
	pub.wait()
	if f.srv.lookup("s4") != first {
		t.Fatal("muxer replaced on a resume with the same tracks")
	}
	pub.stop()

	// Audio only: EventReady, a new muxer replaces the old one.
	audio := &source{aac: src.aac}
	for _, u := range src.units {
		if u.track == 1 {
			u.track = 0
			audio.units = append(audio.units, u)
		}
	}
	aac := src.aac
	pub = publish(t, f.hub, "s4", audio, []*stream.Track{{Index: 0, Codec: &stream.MPEG4Audio{Config: &aac}}}, false, 3*time.Second)
	pub.wait()
	if f.srv.lookup("s4") == first {
		t.Fatal("muxer kept after the tracks changed")
	}
	f.waitSegments(t, "s4", 1)
	r = f.get(t, "/live/s4/index.m3u8")
	if strings.Contains(string(r.body), "avc1.") || !strings.Contains(string(r.body), "mp4a.") {
		t.Fatalf("index.m3u8 after the tracks changed:\n%s", r.body)
	}
	eventually(t, time.Second, "old muxer gone", func() bool { return f.srv.Muxers() == 1 })
}

// TestNoMediaYet: gohlslib holds the playlist until the first segment; a
// stream that never sends media gets a 503 after maxBlock, and a client
// that leaves earlier frees its handler.
func TestNoMediaYet(t *testing.T) {
	src := testSource(t)
	f := newFixture(t, Config{})
	f.srv.maxBlock = 300 * time.Millisecond
	pub := publish(t, f.hub, "s5", src, src.tracks(), false, -1) // tracks, no units
	pub.wait()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := f.do(t, ctx, http.MethodGet, "/live/s5/index.m3u8", nil); err == nil {
		t.Fatal("index.m3u8 answered without media")
	}
	eventually(t, time.Second, "handler returned", func() bool { return f.active.Load() == 0 })

	start := time.Now()
	r := f.get(t, "/live/s5/index.m3u8")
	wantError(t, r, http.StatusServiceUnavailable, "stream_unavailable")
	if d := time.Since(start); d < 300*time.Millisecond || d > 2*time.Second {
		t.Fatalf("503 after %v", d)
	}
	if r.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
}
