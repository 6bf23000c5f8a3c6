package transport

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"vitrine/events"
	"vitrine/overlay"
	"vitrine/store"
)

type wsEnv struct {
	st   store.Store
	hub  *overlay.Rooms
	srv  *httptest.Server
	h    *Handler
	id   string
	room *overlay.Room
}

func newWSEnv(t testing.TB, hcfg overlay.Config, cfg Config) *wsEnv {
	t.Helper()
	st := openSQLite(t)
	hcfg.Log = st
	hub := newRooms(t, hcfg)
	cfg.Rooms, cfg.Campaigns = hub, st
	h, err := NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	mux := http.NewServeMux()
	mux.Handle("GET /live/{id}/events", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	id := newCampaign(t, st)
	return &wsEnv{st: st, hub: hub, srv: srv, h: h, id: id, room: room(t, hub, id)}
}

func (e *wsEnv) dial(t *testing.T, query string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/live/" + e.id + "/events" + query
	c, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	if h := read(t, c); h.Type != events.TypeHello || h.Seq != 0 {
		t.Fatalf("first message %+v, want hello", h)
	}
	return c
}

func read(t *testing.T, c *websocket.Conn) events.Envelope {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("frame type %v", typ)
	}
	var env events.Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	return env
}

func send(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	if err := c.Write(t.Context(), websocket.MessageText, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

func (e *wsEnv) chat(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		if _, err := e.room.Chat(t.Context(), "host", "Host", fmt.Sprint(i), false); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWSSnapshotOrderAndResume(t *testing.T) {
	e := newWSEnv(t, overlay.Config{}, Config{})
	if _, err := e.room.PinProduct(t.Context(), product(1)); err != nil {
		t.Fatal(err)
	}
	c := e.dial(t, "")
	snap := read(t, c)
	var state events.State
	_ = json.Unmarshal(snap.Data, &state)
	if snap.Type != events.TypeSnapshot || snap.Seq != 1 || len(state.Products) != 1 {
		t.Fatalf("snapshot %+v", snap)
	}
	e.chat(t, 5) // seqs 2..6
	var last int64
	for want := int64(2); want <= 4; want++ {
		env := read(t, c)
		if env.Seq != want || env.Type != events.TypeChatMessage || env.V != 1 {
			t.Fatalf("got %+v, want seq %d", env, want)
		}
		last = env.Seq
	}
	// Drop the connection mid-stream, miss some events, resume.
	c.CloseNow()
	e.chat(t, 3) // seqs 7..9
	c2 := e.dial(t, fmt.Sprintf("?since=%d", last))
	go func() { time.Sleep(20 * time.Millisecond); e.chat(t, 2) }() // live: 10, 11
	for want := last + 1; want <= 11; want++ {
		if env := read(t, c2); env.Seq != want {
			t.Fatalf("resumed: seq %d, want %d", env.Seq, want)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, b, err := c2.Read(ctx); err == nil {
		t.Fatalf("extra message %s", b)
	}
}

func TestWSBadRequests(t *testing.T) {
	e := newWSEnv(t, overlay.Config{}, Config{})
	draft := &store.Campaign{Title: "Draft", StartsAt: time.Now(), EndsAt: time.Now().Add(time.Hour), Visibility: "suggested"}
	if err := e.st.CreateCampaign(t.Context(), draft); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{
		"/live/" + draft.ID + "/events":       http.StatusNotFound, // unpublished: no viewers yet
		"/live/" + e.id + "/events?since=-1":  http.StatusBadRequest,
		"/live/" + e.id + "/events?since=abc": http.StatusBadRequest,
		"/live/" + e.id + "/events?since=99":  http.StatusBadRequest,
		"/live/cmp_nope/events":               http.StatusNotFound,
	} {
		resp, err := http.Get(e.srv.URL + q)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Error struct{ Code string } }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != want || body.Error.Code == "" {
			t.Errorf("%s: %d %+v, want %d with an error body", q, resp.StatusCode, body, want)
		}
	}
}

func TestWSChatLikesAndMalformed(t *testing.T) {
	e := newWSEnv(t, overlay.Config{LikeInterval: 30 * time.Millisecond}, Config{ChatBurst: 2, ChatRate: 0.001})
	viewer := e.dial(t, "?since=0")
	watcher := e.dial(t, "?since=0")
	send(t, viewer, `{"type":"chat.send","data":{"text":"<script>alert(1)</script>","name":"Ann"}}`)
	env := read(t, watcher)
	var msg events.ChatMessage
	_ = json.Unmarshal(env.Data, &msg)
	if env.Type != events.TypeChatMessage || msg.Text != "<script>alert(1)</script>" || msg.Name != "Ann" ||
		!strings.HasPrefix(msg.ViewerID, "v_") {
		t.Fatalf("chat: %+v %+v (text is kept as plain text; renderers escape it)", env, msg)
	}
	if read(t, viewer).Seq != 1 {
		t.Fatal("the sender gets its own message too")
	}
	// Rate limit: a burst of 2, then an error to the sender only.
	send(t, viewer, `{"type":"chat.send","data":{"text":"two","name":"Ann"}}`)
	send(t, viewer, `{"type":"chat.send","data":{"text":"three","name":"Ann"}}`)
	// The error comes from the receiving side, the event from the sending
	// side: either may come first.
	a, b := read(t, viewer), read(t, viewer)
	if a.Seq == 0 {
		a, b = b, a
	}
	if a.Seq != 2 {
		t.Fatalf("second chat: %+v", a)
	}
	if b.Type != events.TypeError || b.Seq != 0 || !strings.Contains(string(b.Data), "rate_limited") {
		t.Fatalf("third chat: %+v", b)
	}
	if env := read(t, watcher); env.Seq != 2 {
		t.Fatalf("watcher: %+v", env)
	}
	for range 10 {
		send(t, viewer, `{"type":"like"}`)
	}
	if env := read(t, watcher); env.Type != events.TypeLikeCount {
		t.Fatalf("likes: %+v", env)
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.room.State().Likes != 10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := e.room.State().Likes; got != 10 {
		t.Fatalf("likes %d, want 10", got)
	}

	// A malformed frame closes that socket only.
	send(t, viewer, `{"type":"chat.send","data":{"text":"x","name":"Ann","admin":true}}`)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for {
		_, _, err := viewer.Read(ctx)
		if err == nil {
			continue // the like.count events
		}
		if got := websocket.CloseStatus(err); got != websocket.StatusInvalidFramePayloadData {
			t.Fatalf("malformed frame: %v (status %d), want 1007", err, got)
		}
		break
	}
	// Too large a frame too.
	big := e.dial(t, "?since=0")
	_ = big.Write(t.Context(), websocket.MessageText, []byte(`{"type":"like","x":"`+strings.Repeat("x", events.MaxInboundBytes)+`"}`))
	for {
		_, _, err := big.Read(ctx)
		if err == nil {
			continue
		}
		if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
			t.Fatalf("large frame: %v, want 1009", err)
		}
		break
	}
	e.chat(t, 1)
	for {
		env := read(t, watcher)
		if env.Type == events.TypeChatMessage {
			break
		}
	}
}

// smallBuffers shrinks the kernel's socket buffers of accepted
// connections, so that a viewer that stops reading blocks the server's
// writes after a few kilobytes rather than megabytes.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestWSSlowViewer: a viewer that stops reading is disconnected (its
// queue overflows or a write times out), and resumes with since, losing
// nothing.
func TestWSSlowViewer(t *testing.T) {
	e := newWSEnv(t, overlay.Config{Buffer: 8}, Config{WriteTimeout: time.Second})
	mux := http.NewServeMux()
	mux.Handle("GET /live/{id}/events", e.h)
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	e.srv = srv

	// The client's receive buffer is small too.
	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/live/" + e.id + "/events?since=0"
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: &http.Client{
		Transport: &http.Transport{DialContext: dialer.DialContext}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)

	big := strings.Repeat("x", 8<<10)
	const n = 100 // 800 kB: far more than the shrunken buffers hold
	for range n {
		if _, err := e.room.Publish(t.Context(), "test.big", map[string]string{"x": big}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1500 * time.Millisecond) // past the write timeout
	var last int64
	var closeErr error
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			closeErr = err
			break
		}
		var env events.Envelope
		_ = json.Unmarshal(b, &env)
		if env.Type == events.TypeHello {
			continue
		}
		if env.Seq != last+1 {
			t.Fatalf("seq %d after %d", env.Seq, last)
		}
		last = env.Seq
	}
	// 1008 when the close frame fits in the socket; when the socket is
	// full, the server can only drop the connection (its write timed out).
	if status := websocket.CloseStatus(closeErr); (status != websocket.StatusPolicyViolation && status != -1) || last == n {
		t.Fatalf("after %d of %d: %v, want the server to disconnect", last, n, closeErr)
	}
	t.Logf("disconnected after %d of %d events: %v", last, n, closeErr)
	if e.room.Subscribers() != 0 {
		t.Fatalf("%d subscribers left", e.room.Subscribers())
	}
	c2 := e.dial(t, fmt.Sprintf("?since=%d", last))
	c2.SetReadLimit(1 << 20)
	for want := last + 1; want <= n; want++ {
		if env := read(t, c2); env.Seq != want {
			t.Fatalf("resumed: %d, want %d", env.Seq, want)
		}
	}
}

func TestWSKeepalive(t *testing.T) {
	e := newWSEnv(t, overlay.Config{}, Config{PingInterval: 20 * time.Millisecond})
	c := e.dial(t, "?since=0")
	go func() {
		time.Sleep(300 * time.Millisecond) // some 15 pings, answered while the client reads
		e.chat(t, 1)
	}()
	// The socket outlives the pings and still delivers.
	if env := read(t, c); env.Seq != 1 {
		t.Fatalf("got %+v", env)
	}
}

// TestWSDeadPeer: a viewer that never answers pings is disconnected.
func TestWSDeadPeer(t *testing.T) {
	e := newWSEnv(t, overlay.Config{}, Config{PingInterval: 20 * time.Millisecond, PongTimeout: 100 * time.Millisecond})
	_ = e.dial(t, "?since=0") // never read: pongs are never sent
	deadline := time.Now().Add(5 * time.Second)
	for e.room.Subscribers() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := e.room.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers left, want the silent viewer dropped", n)
	}
}
