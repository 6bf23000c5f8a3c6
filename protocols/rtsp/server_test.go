package rtsp

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"

	"vitrine/stream"
)

// closedWithin reads from c until the server closes it, at most d.
func closedWithin(t *testing.T, c net.Conn, d time.Duration) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

func dial(t *testing.T, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestBadConnections: garbage, silence and floods end their own connection
// only, within a bounded time, while a publisher and the server go on.
func TestBadConnections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{readTimeout: time.Second})
	rec := record(t, e.hub, "ok-steady")
	if _, err := publishSample(t, e.url("ok-steady"), gortsplib.TransportTCP, false); err != nil {
		t.Fatal(err)
	}
	rec.waitUnits(t, 5, 5*time.Second)

	junk := make([]byte, 64<<10)
	_, _ = rand.Read(junk)
	for _, c := range []struct {
		name  string
		send  []byte
		close time.Duration
	}{
		{"malformed request", []byte("DESCRIBE garbage\r\n\r\n"), 3 * time.Second},
		{"request without CSeq", []byte("OPTIONS rtsp://x/ RTSP/1.0\r\n\r\n"), time.Second},
		{"interleaved frame before any session", []byte{'$', 0, 0, 4, 1, 2, 3, 4}, time.Second},
		{"random bytes", junk, 3 * time.Second},
		{"huge header", []byte("OPTIONS rtsp://x/ RTSP/1.0\r\nCSeq: 1\r\nX: " + strings.Repeat("a", 1<<20)), 3 * time.Second},
		{"silence", nil, 3 * time.Second}, // ReadTimeout is 1s here
	} {
		conn := dial(t, e.srv.Addr())
		if c.send != nil {
			go func() { _, _ = conn.Write(c.send) }()
		}
		start := time.Now()
		if !closedWithin(t, conn, c.close) {
			t.Errorf("%s: connection still open after %v", c.name, c.close)
		} else {
			t.Logf("%s: closed after %v", c.name, time.Since(start).Round(time.Millisecond))
		}
	}

	// gortsplib skips bytes that cannot start a request or frame one by
	// one; a stream of them that never stops is cut at maxSetupBytes.
	conn := dial(t, e.srv.Addr())
	skipped := bytes.Repeat([]byte("x"), 64<<10)
	go func() {
		for range 64 {
			if _, err := conn.Write(skipped); err != nil {
				return
			}
		}
	}()
	if !closedWithin(t, conn, 5*time.Second) {
		t.Errorf("flood: connection still open")
	}
	waitLog(t, e.logs, errTooMuchSetup.Error(), 2*time.Second)

	// The server still serves, and the publisher was never disturbed.
	before := rec.count()
	if _, err := readClient(e.url("ok-steady"), gortsplib.TransportTCP, 500*time.Millisecond); err != nil {
		t.Errorf("read after garbage: %v", err)
	}
	rec.waitUnits(t, before+10, 5*time.Second)
	if st, _ := e.hub.Get("ok-steady"); !st.Online() {
		t.Errorf("publisher dropped")
	}
}

// TestMaxConns closes connections over the limit at once.
func TestMaxConns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{maxConns: 2, noUDP: true})
	dial(t, e.srv.Addr())
	dial(t, e.srv.Addr())
	time.Sleep(100 * time.Millisecond) // accepted
	third := dial(t, e.srv.Addr())
	if !closedWithin(t, third, 2*time.Second) {
		t.Fatal("third connection kept")
	}
	waitLog(t, e.logs, "too many connections", 2*time.Second)
}

// TestMaxSessions refuses sessions over the limit with 503, readers and
// publishers alike.
func TestMaxSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{maxSessions: 1})
	if _, err := publishSample(t, e.url("ok-one"), gortsplib.TransportTCP, false); err != nil {
		t.Fatal(err)
	}
	_, err := readClient(e.url("ok-one"), gortsplib.TransportTCP, 0)
	if code, msg := statusOf(err); code != base.StatusServiceUnavailable || !strings.Contains(msg, "too many sessions") {
		t.Errorf("reader: %v, want 503", err)
	}
	_, err = publishSample(t, e.url("ok-two"), gortsplib.TransportTCP, false)
	if code, _ := statusOf(err); code != base.StatusServiceUnavailable {
		t.Errorf("publisher: %v, want 503", err)
	}
}

// TestUDPDisabled: without UDP ports, a UDP SETUP gets 461 and TCP works.
func TestUDPDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noUDP: true})
	_, err := publishSample(t, e.url("ok-tcp-only"), gortsplib.TransportUDP, false)
	if code, _ := statusOf(err); code != base.StatusUnsupportedTransport {
		t.Fatalf("UDP publish: %v, want 461", err)
	}
	if _, err := publishSample(t, e.url("ok-tcp-only"), gortsplib.TransportTCP, false); err != nil {
		t.Fatalf("TCP publish: %v", err)
	}
}

// TestCloseWithSessions closes the server under publishers (TCP and UDP),
// readers (TCP and UDP), a relay nobody reads and an idle connection: Close
// returns promptly, publishers detach from the hub, and no goroutine of the
// server or of gortsplib stays. Not parallel: it counts goroutines.
func TestCloseWithSessions(t *testing.T) {
	e := newEnv(t, envOptions{})
	var pubs []*samplePublisher
	for id, tr := range map[string]gortsplib.Transport{"ok-a": gortsplib.TransportTCP, "ok-b": gortsplib.TransportUDP} {
		p, err := publishSample(t, e.url(id), tr, false)
		if err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, p)
		waitOnline(t, e.hub, id, 5*time.Second)
	}
	var readers []*gortsplib.Client
	for _, tr := range []gortsplib.Transport{gortsplib.TransportTCP, gortsplib.TransportUDP} {
		c := &gortsplib.Client{Transport: &tr}
		u, _ := base.ParseURL(e.url("ok-a"))
		if err := c.Start(u.Scheme, u.Host); err != nil {
			t.Fatal(err)
		}
		desc, _, err := c.Describe(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Play(nil); err != nil {
			t.Fatal(err)
		}
		readers = append(readers, c)
	}
	if _, err := readClient(e.url("ok-b"), gortsplib.TransportTCP, 0); err != nil {
		t.Fatal(err) // leaves a relay without readers
	}
	dial(t, e.srv.Addr())
	time.Sleep(300 * time.Millisecond)

	start := time.Now()
	e.srv.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	t.Logf("Close took %v", time.Since(start).Round(time.Millisecond))
	for _, id := range []string{"ok-a", "ok-b"} {
		if st, _ := e.hub.Get(id); st.Online() {
			t.Errorf("%s: publisher still attached", id)
		}
	}
	for _, c := range readers {
		select {
		case <-waitErr(c):
		case <-time.After(3 * time.Second):
			t.Errorf("reader not disconnected")
		}
		c.Close()
	}
	for _, p := range pubs {
		p.close()
	}
	waitNoGoroutines(t, 3*time.Second)
	if st, _ := e.hub.Get("ok-a"); st != nil && st.Stats().Readers["rtsp"] != 0 {
		t.Errorf("relay still reads the hub")
	}
	e.srv.Close() // idempotent
	if err := e.srv.Start(); err == nil {
		t.Errorf("Start after Close succeeded")
	}
}

// TestConfig refuses incomplete configurations.
func TestConfig(t *testing.T) {
	t.Parallel()
	hub, _ := stream.NewHub(stream.Config{ReaderQueue: 64})
	auth := stream.AuthorizerFunc(nil)
	for _, c := range []Config{
		{Hub: hub, Auth: auth},
		{Listen: ":0", Auth: auth},
		{Listen: ":0", Hub: hub},
		{Listen: ":0", Hub: hub, Auth: auth, UDPRTPAddr: ":8000"},
		{Listen: ":0", Hub: hub, Auth: auth, ReadTimeout: -1},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	s, err := New(Config{Listen: "127.0.0.1:0", Hub: hub, Auth: auth, UDPRTPAddr: "127.0.0.1:8001", UDPRTCPAddr: "127.0.0.1:8002"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Errorf("odd RTP port accepted")
	}
	s.Close() // after a failed Start
	if s.Addr() != nil {
		t.Errorf("Addr after a failed Start: %v", s.Addr())
	}
}
