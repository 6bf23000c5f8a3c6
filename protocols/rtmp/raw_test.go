package rtmp

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"vitrine/internal/testenv"
)

// rawHandshake performs the client side of the plain RTMP handshake.
func rawHandshake(t *testing.T, c net.Conn) {
	t.Helper()
	c0c1 := make([]byte, 1+1536)
	c0c1[0] = 3
	if _, err := c.Write(c0c1); err != nil {
		t.Fatal(err)
	}
	s := make([]byte, 1+1536+1536)
	if _, err := io.ReadFull(c, s); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(s[1 : 1+1536]); err != nil { // C2 echoes S1
		t.Fatal(err)
	}
}

// waitClosed reads until the server closes c, at most d.
func waitClosed(t *testing.T, c net.Conn, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", d)
	}
	return time.Since(start)
}

// TestRawGarbage: malformed input over raw TCP ends that connection only,
// promptly when the input is wrong and at the setup deadline when it stops;
// the server goes on accepting publishers.
func TestRawGarbage(t *testing.T) {
	testenv.RequireFFmpeg(t)
	t.Parallel()
	const setup = 2 * time.Second
	e := newEnv(t, envOptions{setupTimeout: setup})
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	connect := newChunker(true)
	connect.b = nil
	connect.msg(0, 3, 0, msgCommandAMF0, 0, amf0("connect", 1.0, map[string]any{"app": "live", "tcUrl": "rtmp://x/live"}), 0)

	bomb := newChunker(true)
	bomb.b = nil
	bomb.msg(0, 3, 0, msgCommandAMF0, 0, amf0("connect", 1.0, []byte{0x0a, 0x7f, 0xff, 0xff, 0xff, 0}), 0)

	cases := []struct {
		name      string
		handshake bool
		send      []byte
		immediate bool // closed at once, not at the setup deadline
	}{
		{name: "garbage instead of a handshake", send: garbage},
		{name: "HTTP request", send: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{name: "truncated handshake", send: append([]byte{3}, garbage[:700]...)},
		{name: "garbage chunks", handshake: true, send: garbage, immediate: true},
		{name: "truncated chunk header", handshake: true, send: []byte{0x03, 0, 0, 0, 0, 0}},
		{name: "truncated message", handshake: true, send: connect.b[:40]},
		{name: "oversized message", handshake: true, send: []byte{0x06, 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0}, immediate: true},
		{name: "chunk without header", handshake: true, send: []byte{0xc4, 1, 2, 3, 4}, immediate: true},
		{name: "AMF0 strict array bomb", handshake: true, send: bomb.b, immediate: true},
		{name: "connect, then garbage", handshake: true, send: append(connect.b, garbage...), immediate: true},
	}
	// The group returns when its parallel subtests are done.
	t.Run("connections", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c, err := net.Dial("tcp", e.srv.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if tc.handshake {
					rawHandshake(t, c)
				}
				// The server may close before reading everything.
				_, _ = c.Write(tc.send)
				d := waitClosed(t, c, setup+2*time.Second)
				if tc.immediate && d > time.Second {
					t.Errorf("closed after %v, want at once", d)
				}
			})
		}
	})

	rec := record(t, e.hub, testStream)
	if err, stderr := testenv.Push(t, testenv.DefaultSource(2), e.url(testKey)).Wait(20 * time.Second); err != nil {
		t.Fatalf("healthy publisher after the garbage: %v\n%s", err, stderr)
	}
	rec.waitUnits(t, 100, 5*time.Second)
	for _, want := range []string{"more than the 8388608 allowed", "before any message header", "strict array", "not publishing within 2s"} {
		if !containsAny(e.logs.String(), want) {
			t.Errorf("no log line with %q", want)
		}
	}
}

// TestCloseWithConnections: Close ends publishers and half-open connections
// and returns once all their goroutines are gone. Not parallel: it counts
// goroutines.
func TestCloseWithConnections(t *testing.T) {
	testenv.RequireFFmpeg(t)
	e := newEnv(t, envOptions{setupTimeout: time.Minute})
	rec := record(t, e.hub, testStream)
	push := testenv.Push(t, testenv.DefaultSource(20), e.url(testKey))
	rec.waitUnits(t, 20, 10*time.Second)
	idle, err := net.Dial("tcp", e.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	rawHandshake(t, idle)
	if !serverGoroutines() {
		t.Fatal("no server goroutine found: the check below would prove nothing")
	}

	start := time.Now()
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	waitClosed(t, idle, time.Second)
	// Only go-rtmp's per-connection goroutine may still be returning.
	waitFor(t, "the server's goroutines to end", time.Second, func() bool {
		return !serverGoroutines()
	})
	if err, _ := push.Wait(5 * time.Second); err == nil {
		t.Error("ffmpeg did not notice the server closing")
	}
	if st, ok := e.hub.Get(testStream); !ok || st.Online() {
		t.Error("the stream should wait for its publisher to come back")
	}
	if err := e.srv.Start(); err == nil {
		t.Error("Start after Close succeeded")
	}
	if _, err := net.Dial("tcp", e.srv.Addr().String()); err == nil {
		t.Error("still accepting after Close")
	}
}

// serverGoroutines reports whether a goroutine runs code of go-rtmp or of
// this package outside tests.
func serverGoroutines() bool {
	buf := make([]byte, 1<<20)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "_test.go") {
			continue
		}
		if strings.Contains(g, "yutopp/go-rtmp") || strings.Contains(g, "vitrine/protocols/rtmp.") {
			return true
		}
	}
	return false
}

func TestNewValidates(t *testing.T) {
	hub := newEnv(t, envOptions{}).hub
	auth := newEnv(t, envOptions{}).srv.cfg.Auth
	for _, cfg := range []Config{
		{Hub: hub, Auth: auth},
		{Listen: ":0", Auth: auth},
		{Listen: ":0", Hub: hub},
		{Listen: ":0", Hub: hub, Auth: auth, ReadTimeout: -1},
		{Listen: ":0", Hub: hub, Auth: auth, MaxMessageSize: 1 << 24},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	s, err := New(Config{Listen: "127.0.0.1:0", Hub: hub, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != nil || s.cfg.ReadTimeout != DefaultReadTimeout || s.cfg.MaxMessageSize != DefaultMaxMessageSize {
		t.Errorf("defaults not applied: %+v", s.cfg)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	busy := newEnv(t, envOptions{}).srv.Addr().String()
	s, _ = New(Config{Listen: busy, Hub: hub, Auth: auth})
	if err := s.Start(); err == nil {
		t.Error("Start on a busy port succeeded")
	}
	_ = s.Close()
}
