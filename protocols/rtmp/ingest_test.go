package rtmp

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"vitrine/stream"
)

// newTestSession is a session on a hub, without a network connection.
func newTestSession(t testing.TB) (*session, *stream.Hub) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub, err := stream.NewHub(stream.Config{ReaderQueue: 1024, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{cfg: Config{Hub: hub}, log: log}
	c := &conn{srv: srv, log: log, closing: make(chan struct{})}
	s := newSession(&handler{c: c}, "s", 1)
	t.Cleanup(func() {
		s.close()
		close(c.closing)
		srv.wg.Wait()
		hub.Close()
	})
	return s, hub
}

// TestSessionSetup covers the wait for codec configurations.
func TestSessionSetup(t *testing.T) {
	vcfg := firstTag(t, 9, isAVCConfig)
	acfg := firstTag(t, 8, isAACConfig)
	inter := firstTag(t, 9, isAVCInter)
	frame := firstTag(t, 8, isAACFrame)
	meta := func(video, audio bool) []byte {
		m := map[string]any{}
		if video {
			m["videocodecid"] = 7.0
		}
		if audio {
			m["audiocodecid"] = 10.0
		}
		return amf0("onMetaData", m)
	}
	type msg struct {
		video bool
		ts    uint32
		body  []byte
	}
	// frames returns n messages every step ms from start.
	frames := func(video bool, body []byte, start, step uint32, n int) []msg {
		var out []msg
		for i := range n {
			out = append(out, msg{video, start + uint32(i)*step, body})
		}
		return out
	}
	cat := func(parts ...[]msg) []msg {
		var out []msg
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		meta   []byte
		msgs   []msg
		tracks string // codecs published, "" when not published
		err    string
	}{
		{name: "both configurations", msgs: cat(
			[]msg{{true, 0, vcfg}, {false, 0, acfg}}, frames(true, inter, 0, 33, 3)),
			tracks: "H264,AAC"},
		{name: "video only, metadata says so", meta: meta(true, false),
			msgs: cat([]msg{{true, 0, vcfg}}, frames(true, inter, 0, 33, 3)), tracks: "H264"},
		{name: "video only without metadata waits a second", msgs: cat(
			[]msg{{true, 0, vcfg}}, frames(true, inter, 0, 100, 10)), tracks: ""},
		{name: "video only without metadata, then published", msgs: cat(
			[]msg{{true, 0, vcfg}}, frames(true, inter, 0, 100, 11)), tracks: "H264"},
		{name: "announced audio never comes", meta: meta(true, true), msgs: cat(
			[]msg{{true, 0, vcfg}}, frames(true, inter, 0, 100, 11)), tracks: "H264"},
		{name: "audio first, video late", msgs: cat(
			[]msg{{false, 0, acfg}}, frames(false, frame, 0, 21, 60), []msg{{true, 1300, vcfg}}), tracks: "AAC"},
		{name: "no configuration at all", msgs: frames(true, inter, 0, 100, 51),
			err: "no H.264 or AAC sequence header in the first 5000 ms"},
		{name: "too much before the configuration", msgs: frames(false, frame, 0, 0, maxPending+1),
			err: "without the codec configurations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, hub := newTestSession(t)
			if tc.meta != nil {
				s.onMetadata(tc.meta)
			}
			var err error
			for _, m := range tc.msgs {
				if m.video {
					err = s.onVideo(m.ts, m.body)
				} else {
					err = s.onAudio(m.ts, m.body)
				}
				if err != nil {
					break
				}
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st, ok := hub.Get("s")
			if tc.tracks == "" {
				if ok {
					t.Fatal("published too early")
				}
				return
			}
			if !ok {
				t.Fatal("not published")
			}
			var codecs []string
			for _, tr := range st.Tracks() {
				codecs = append(codecs, tr.Codec.String())
			}
			if got := strings.Join(codecs, ","); got != tc.tracks {
				t.Fatalf("tracks %s, want %s", got, tc.tracks)
			}
			if st.Stats().UnitsIn == 0 {
				t.Fatal("the held-back frames were not written")
			}
		})
	}
}
