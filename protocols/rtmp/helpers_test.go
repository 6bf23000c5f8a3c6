package rtmp

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"vitrine/internal/testenv"
	"vitrine/stream"
	"vitrine/stream/streamtest"
)

const (
	testKey    = streamtest.TestKey
	testStream = streamtest.TestStream
)

// env is a hub and an RTMP server on a loopback port, with logs captured.
type env struct {
	hub  *stream.Hub
	srv  *Server
	logs *testenv.LogBuffer
}

type envOptions struct {
	reconnectWindow time.Duration
	setupTimeout    time.Duration
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	if o.reconnectWindow == 0 {
		o.reconnectWindow = 2 * time.Second
	}
	if o.setupTimeout == 0 {
		o.setupTimeout = 3 * time.Second
	}
	logs := &testenv.LogBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	hub, err := stream.NewHub(stream.Config{ReaderQueue: 1024, ReconnectWindow: o.reconnectWindow, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	auth := streamtest.Authorizer("rtmp")
	srv, err := New(Config{Listen: "127.0.0.1:0", Hub: hub, Auth: auth, Logger: logger, SetupTimeout: o.setupTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		hub.Close()
		if t.Failed() {
			t.Logf("server logs:\n%s", logs.String())
		}
	})
	return &env{hub: hub, srv: srv, logs: logs}
}

func (e *env) url(key string) string {
	return fmt.Sprintf("rtmp://%s/live/%s", e.srv.Addr(), key)
}

// got is a unit as a reader received it.
type got struct {
	video    bool
	key      bool
	dts, pts time.Duration
	ntp      time.Time
	at       time.Time
	payload  [][]byte
}

// recorder reads stream id from every EventReady on, like a muxer would.
type recorder struct {
	mu      sync.Mutex
	units   []got
	events  []stream.EventKind
	streams []*stream.Stream
	tracks  []*stream.Track
	stopped bool
	wg      sync.WaitGroup
}

func record(t *testing.T, hub *stream.Hub, id string) *recorder {
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{}
	hub.Listen(func(ev stream.Event) {
		if ev.Stream.ID() != id {
			return
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.events = append(rec.events, ev.Kind)
		rec.streams = append(rec.streams, ev.Stream)
		if ev.Kind != stream.EventReady || rec.stopped {
			return
		}
		r, err := ev.Stream.AddReader("test")
		if err != nil {
			return
		}
		tracks := ev.Stream.Tracks()
		rec.tracks = tracks
		rec.wg.Add(1)
		go func() {
			defer rec.wg.Done()
			_ = r.Run(ctx, func(u *stream.Unit) error {
				rec.mu.Lock()
				defer rec.mu.Unlock()
				rec.units = append(rec.units, got{
					video: tracks[u.Track].Codec.IsVideo(), key: u.Key, dts: u.DTS, pts: u.PTS,
					ntp: u.NTP, at: time.Now(), payload: u.Payload,
				})
				return nil
			})
		}()
	})
	t.Cleanup(func() {
		rec.mu.Lock()
		rec.stopped = true
		rec.mu.Unlock()
		cancel()
		rec.wg.Wait()
	})
	return rec
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.units)
}

func (r *recorder) snapshot() ([]got, []stream.EventKind, []*stream.Stream, []*stream.Track) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]got(nil), r.units...), append([]stream.EventKind(nil), r.events...),
		append([]*stream.Stream(nil), r.streams...), r.tracks
}

// waitUnits waits until the recorder holds at least n units.
func (r *recorder) waitUnits(t *testing.T, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for r.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d units after %v, want %d", r.count(), d, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settle waits until no unit arrived for a while (the reader drained).
func (r *recorder) settle() {
	last := -1
	for n := r.count(); n != last; n = r.count() {
		last = n
		time.Sleep(300 * time.Millisecond)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
