package transport

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"vitrine/events"
	"vitrine/internal/wsproto"
	"vitrine/overlay"
)

// rawWS is a minimal WebSocket client over a bare TCP connection: it has
// no goroutine of its own (so the server's can be counted), and it can
// send what a well-behaved library never would (unmasked frames, bad
// UTF-8, odd fragments).
type rawWS struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(t testing.TB, e *wsEnv, query string) *rawWS {
	t.Helper()
	conn, r, resp := rawHandshake(t, e, query, "")
	c := &rawWS{t: t, conn: conn, r: r}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	if op, p := c.frame(); op != wsproto.OpText || !bytes.Contains(p, []byte(`"type":"hello"`)) {
		t.Fatalf("first frame %d %s, want hello", op, p)
	}
	return c
}

// rawHandshake sends an events socket's upgrade request (with header, a
// "Name: value\r\n" line or more, if any) on a new connection, closed
// when the test ends, and reads the answer's head.
func rawHandshake(t testing.TB, e *wsEnv, query, header string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	fmt.Fprintf(conn, "GET /live/%s/events%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n", e.id, query, addr, base64.StdEncoding.EncodeToString(key), header)
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	return conn, r, resp
}

// frame reads the server's next frame (unmasked, unfragmented).
func (c *rawWS) frame() (byte, []byte) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	if h[0]&0x80 == 0 || h[1]&0x80 != 0 {
		c.t.Fatalf("server frame %x: want final and unmasked", h)
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		_, _ = io.ReadFull(c.r, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, _ = io.ReadFull(c.r, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.r, p); err != nil {
		c.t.Fatalf("read payload: %v", err)
	}
	return h[0] & 0x0F, p
}

// drain reads whatever has arrived, until the line is quiet.
func (c *rawWS) drain() int {
	n := 0
	buf := make([]byte, 64<<10)
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
		m, err := c.r.Read(buf)
		n += m
		if err != nil {
			return n
		}
	}
}

// event reads frames until a text message, skipping pings.
func (c *rawWS) event() events.Envelope {
	c.t.Helper()
	for {
		op, p := c.frame()
		if op == wsproto.OpPing {
			continue
		}
		if op != wsproto.OpText {
			c.t.Fatalf("frame %d %q, want text", op, p)
		}
		var env events.Envelope
		if err := json.Unmarshal(p, &env); err != nil {
			c.t.Fatal(err)
		}
		return env
	}
}

// closeCode reads until the server's close frame and returns its code,
// then checks that the server closes the connection.
func (c *rawWS) closeCode() int {
	c.t.Helper()
	for {
		op, p := c.frame()
		if op != wsproto.OpClose {
			continue
		}
		if len(p) < 2 {
			c.t.Fatalf("close frame without a code: %q", p)
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.r.Read(make([]byte, 1)); err != io.EOF {
			c.t.Fatalf("after the close frame: %d bytes, %v; want the server to close", n, err)
		}
		return int(binary.BigEndian.Uint16(p))
	}
}

// closePayload is a close frame's payload: code and reason.
func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// clientFrame is a frame as a client sends it: masked unless unmasked.
func clientFrame(fin bool, op byte, payload []byte, unmasked bool) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	mask := byte(0x80)
	if unmasked {
		mask = 0
	}
	switch n := len(payload); {
	case n <= 125:
		out = append(out, mask|byte(n))
	case n <= 0xFFFF:
		out = append(out, mask|126, byte(n>>8), byte(n))
	default:
		out = append(out, mask|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if unmasked {
		return append(out, payload...)
	}
	key := []byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, key...)
	for i, b := range payload {
		out = append(out, b^key[i&3])
	}
	return out
}

func (c *rawWS) send(b ...[]byte) {
	c.t.Helper()
	if _, err := c.conn.Write(bytes.Join(b, nil)); err != nil {
		c.t.Fatal(err)
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWSParkedNoGoroutinePerViewer: viewers that have caught up hold no
// goroutine; each event still reaches every one of them, in order, and
// they are counted as viewers until they leave.
func TestWSParkedNoGoroutinePerViewer(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("parking needs epoll")
	}
	e := newWSEnv(t, overlay.Config{}, Config{})
	if _, err := e.room.PinProduct(t.Context(), product(1)); err != nil {
		t.Fatal(err)
	}
	const n = 300
	var m0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	before := runtime.NumGoroutine()
	clients := make([]*rawWS, n)
	for i := range clients {
		clients[i] = dialRaw(t, e, "")
		if env := clients[i].event(); env.Type != events.TypeSnapshot || env.Seq != 1 {
			t.Fatalf("viewer %d: %+v, want the snapshot at seq 1", i, env)
		}
	}
	waitFor(t, "every socket parked", func() bool { return e.h.Parked() == n })
	var m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m1)
	// Both ends are in this process: the clients' buffered readers (4 KiB
	// each) are in the figure.
	t.Logf("heap per parked viewer, server and test client together: %.1f KiB",
		float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/n/1024)
	// The server's own goroutines for n viewers: the fanout, the poller, the
	// pinger and a few of the test server's, not one per viewer.
	if grown := runtime.NumGoroutine() - before; grown > 20 {
		t.Fatalf("%d goroutines more for %d parked viewers", grown, n)
	}
	if got := e.room.Subscribers(); got != n {
		t.Fatalf("room counts %d viewers, want %d", got, n)
	}
	for seq := int64(2); seq <= 4; seq++ {
		e.chat(t, 1)
		for i, c := range clients {
			if env := c.event(); env.Seq != seq || env.Type != events.TypeChatMessage {
				t.Fatalf("viewer %d: %+v, want chat at seq %d", i, env, seq)
			}
		}
	}
	for _, c := range clients {
		c.conn.Close()
	}
	waitFor(t, "every viewer gone", func() bool { return e.h.Parked() == 0 && e.room.Subscribers() == 0 })
}

// TestWSParkedResumeAcrossParking: a viewer resuming with since gets the
// backlog from the log while events keep coming, then the live tail from
// the fanout: every seq once, in order.
func TestWSParkedResumeAcrossParking(t *testing.T) {
	e := newWSEnv(t, overlay.Config{}, Config{})
	e.chat(t, 300)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 100 {
			if _, err := e.room.Chat(t.Context(), "host", "Host", fmt.Sprint("live ", i), false); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	c := dialRaw(t, e, "?since=0")
	for want := int64(1); want <= 400; want++ {
		if env := c.event(); env.Seq != want {
			t.Fatalf("got seq %d, want %d", env.Seq, want)
		}
	}
	<-done
}

// TestWSProtocol: what a socket does with each kind of frame a client
// may send, right or wrong (RFC 6455 sections 5 and 7.4), the same on both
// server paths: parked, and with a goroutine of its own (NoParking, as
// host consoles and TLS); a bad socket ends alone.
func TestWSProtocol(t *testing.T) {
	for _, path := range []string{"parked", "goroutine"} {
		t.Run(path, func(t *testing.T) {
			testWSProtocol(t, Config{NoParking: path == "goroutine"})
		})
	}
}

func testWSProtocol(t *testing.T, cfg Config) {
	e := newWSEnv(t, overlay.Config{}, cfg)
	watcher := dialRaw(t, e, "?since=0")
	chat := func(text string) []byte {
		return []byte(`{"type":"chat.send","data":{"text":"` + text + `","name":"Ann"}}`)
	}

	t.Run("ping", func(t *testing.T) {
		c := dialRaw(t, e, "?since=0")
		c.send(clientFrame(true, wsproto.OpPing, []byte("abc"), false))
		for {
			op, p := c.frame()
			if op == wsproto.OpPong {
				if string(p) != "abc" {
					t.Fatalf("pong %q", p)
				}
				return
			}
		}
	})
	t.Run("fragmented and split across writes", func(t *testing.T) {
		c := dialRaw(t, e, "?since=0")
		msg := chat("hello in parts")
		all := append(clientFrame(false, wsproto.OpText, msg[:10], false), clientFrame(true, wsproto.OpContinuation, msg[10:], false)...)
		for i := range all { // one byte at a time
			c.send(all[i : i+1])
			if i%16 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		env := watcher.event()
		if env.Type != events.TypeChatMessage || !bytes.Contains(env.Data, []byte("hello in parts")) {
			t.Fatalf("watcher got %+v", env)
		}
	})
	for _, tc := range []struct {
		name  string
		frame []byte
		code  int
	}{
		{"unmasked", clientFrame(true, wsproto.OpText, chat("x"), true), wsproto.CloseProtocolError},
		{"binary", clientFrame(true, wsproto.OpBinary, []byte{1, 2, 3}, false), wsproto.CloseUnsupportedData},
		{"too big", clientFrame(true, wsproto.OpText, bytes.Repeat([]byte("a"), events.MaxInboundBytes+1), false), wsproto.CloseTooBig},
		{"not UTF-8", clientFrame(true, wsproto.OpText, []byte{'"', 0xff, '"'}, false), wsproto.CloseInvalidPayload},
		{"not an action", clientFrame(true, wsproto.OpText, []byte(`{"type":"teleport"}`), false), wsproto.CloseInvalidPayload},
		{"reserved bits", append([]byte{0xC1}, clientFrame(true, wsproto.OpText, chat("x"), false)[1:]...), wsproto.CloseProtocolError},
		{"unknown opcode", clientFrame(true, 0x3, nil, false), wsproto.CloseProtocolError},
		{"continuation first", clientFrame(true, wsproto.OpContinuation, chat("x"), false), wsproto.CloseProtocolError},
		{"long ping", clientFrame(true, wsproto.OpPing, bytes.Repeat([]byte("p"), 126), false), wsproto.CloseProtocolError},
		{"close", clientFrame(true, wsproto.OpClose, []byte{0x03, 0xE8}, false), wsproto.CloseNormal},
		{"close going away", clientFrame(true, wsproto.OpClose, []byte{0x03, 0xE9, 'b', 'y', 'e'}, false), wsproto.CloseGoingAway},
		{"close without a code", clientFrame(true, wsproto.OpClose, nil, false), wsproto.CloseNormal},
		{"close application code", clientFrame(true, wsproto.OpClose, closePayload(4000, "bye"), false), 4000},
		{"close one byte", clientFrame(true, wsproto.OpClose, []byte{0x03}, false), wsproto.CloseProtocolError},
		{"close reason not UTF-8", clientFrame(true, wsproto.OpClose, append(closePayload(1000, ""), 0xff, 0xfe), false), wsproto.CloseInvalidPayload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, e, "?since=0")
			c.send(tc.frame)
			if got := c.closeCode(); got != tc.code {
				t.Fatalf("close code %d, want %d", got, tc.code)
			}
		})
	}
	// Codes a peer may not send (section 7.4.1 and 7.4.2): out of range,
	// reserved never to be sent, reserved for the protocol.
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		t.Run(fmt.Sprintf("close code %d", code), func(t *testing.T) {
			c := dialRaw(t, e, "?since=0")
			c.send(clientFrame(true, wsproto.OpClose, closePayload(code, ""), false))
			if got := c.closeCode(); got != wsproto.CloseProtocolError {
				t.Fatalf("close code %d, want %d", got, wsproto.CloseProtocolError)
			}
		})
	}
	// The watcher saw none of it but the chat, and still gets events.
	e.chat(t, 1)
	if env := watcher.event(); env.Type != events.TypeChatMessage || !bytes.Contains(env.Data, []byte(`"text":"0"`)) {
		t.Fatalf("watcher after the bad sockets: %+v", env)
	}
}

// TestWSUpgradeRefusals: requests that are not a WebSocket handshake get
// a JSON error, not a hung or reset connection.
func TestWSUpgradeRefusals(t *testing.T) {
	e := newWSEnv(t, overlay.Config{}, Config{OriginPatterns: []string{"shop.example.com"}})
	u := e.srv.URL + "/live/" + e.id + "/events"
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"plain GET", nil, http.StatusUpgradeRequired},
		{"old version", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "8",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, http.StatusUpgradeRequired},
		{"bad key", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
			"Sec-WebSocket-Key": "short"}, http.StatusBadRequest},
		{"foreign origin", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": "https://evil.example"}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", u, nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Error struct{ Code string } }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.want || body.Error.Code == "" {
				t.Fatalf("%d %+v, want %d with an error body", resp.StatusCode, body, tc.want)
			}
			// Section 4.4: a refused version is told the one spoken.
			if tc.want == http.StatusUpgradeRequired && resp.Header.Get("Sec-WebSocket-Version") != "13" {
				t.Fatalf("426 without Sec-WebSocket-Version: 13: %v", resp.Header)
			}
		})
	}
	if n := e.room.Subscribers(); n != 0 {
		t.Fatalf("%d subscriptions left by refused requests", n)
	}
}

// TestWSParkedOutlivesWriteTimeout: a parked socket still gets events
// long after its catch-up's writes (whose deadline must not stay).
func TestWSParkedOutlivesWriteTimeout(t *testing.T) {
	e := newWSEnv(t, overlay.Config{}, Config{WriteTimeout: 100 * time.Millisecond})
	c := dialRaw(t, e, "?since=0")
	waitFor(t, "the socket parked", func() bool { return e.h.Parked() == 1 })
	for seq := int64(1); seq <= 3; seq++ {
		time.Sleep(150 * time.Millisecond)
		e.chat(t, 1)
		if env := c.event(); env.Seq != seq {
			t.Fatalf("got %+v, want seq %d", env, seq)
		}
	}
}

// TestWSParkedBurst: events published faster than a pass over the
// sockets go out batched; every viewer still gets each once, in order,
// including viewers that parked in the middle of the burst.
func TestWSParkedBurst(t *testing.T) {
	e := newWSEnv(t, overlay.Config{}, Config{})
	var clients []*rawWS
	for range 20 {
		clients = append(clients, dialRaw(t, e, "?since=0"))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 100 {
			if _, err := e.room.Chat(t.Context(), "host", "Host", fmt.Sprint(i), false); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 10 {
		clients = append(clients, dialRaw(t, e, "?since=0"))
	}
	<-done
	for i, c := range clients {
		for want := int64(1); want <= 100; want++ {
			if env := c.event(); env.Seq != want {
				t.Fatalf("viewer %d: seq %d, want %d", i, env.Seq, want)
			}
		}
	}
	events, _, frames := e.h.BroadcastStats()
	t.Logf("%d events broadcast, %d frames written", events, frames)
}

// TestWSParkedFanFallsBehind: a fanout that could not keep up with its room
// (its own queue overflowed) follows again from the log; the viewers lose
// nothing.
func TestWSParkedFanFallsBehind(t *testing.T) {
	e := newWSEnv(t, overlay.Config{Buffer: 2}, Config{})
	c := dialRaw(t, e, "?since=0")
	waitFor(t, "the socket parked", func() bool { return e.h.Parked() == 1 })
	e.h.mu.Lock()
	f := e.h.fanouts[e.room]
	e.h.mu.Unlock()
	f.mu.Lock() // the fanout stalls before its next pass
	e.chat(t, 8)
	f.mu.Unlock()
	for want := int64(1); want <= 8; want++ {
		if env := c.event(); env.Seq != want {
			t.Fatalf("seq %d, want %d", env.Seq, want)
		}
	}
	e.chat(t, 1)
	if env := c.event(); env.Seq != 9 {
		t.Fatalf("after catching up: seq %d, want 9", env.Seq)
	}
}

// TestWSParkedWindowFull: events published faster than passes end, with
// a window of a few events (the fanout waits for passes to take more), host-
// only events among them and viewers joining meanwhile, over more sockets
// than one goroutine writes: every viewer gets every visible event once,
// in order.
func TestWSParkedWindowFull(t *testing.T) {
	defer func(n int) { windowMax = n }(windowMax)
	windowMax = 3
	e := newWSEnv(t, overlay.Config{Buffer: 4096, CountInterval: -1}, Config{})
	const first, later, events = 1100, 100, 80
	var clients []*rawWS
	for range first {
		clients = append(clients, dialRaw(t, e, "?since=0"))
	}
	waitFor(t, "parked", func() bool { return e.h.Parked() == first })
	visible := make(chan int64, events)
	go func() {
		defer close(visible)
		for i := range events {
			m, err := e.room.Chat(t.Context(), "host", "Host", fmt.Sprint(i), false)
			if err != nil {
				t.Error(err)
				return
			}
			visible <- m.Seq
			if i%3 == 0 {
				if _, err := e.room.Ban(t.Context(), fmt.Sprintf("vwr_%d", i), true); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	for range later {
		clients = append(clients, dialRaw(t, e, "?since=0"))
	}
	var want []int64
	for seq := range visible {
		want = append(want, seq)
	}
	if len(want) != events {
		t.Fatalf("%d events published", len(want))
	}
	for i, c := range clients {
		for _, seq := range want {
			if env := c.event(); env.Seq != seq {
				t.Fatalf("viewer %d: seq %d (%s), want %d", i, env.Seq, env.Type, seq)
			}
		}
	}
	_, _, frames := e.h.BroadcastStats()
	t.Logf("%d frames written to parked sockets", frames)
}

// TestFanPublishFullWindow: the fanout takes a batch that alone overflows
// the window when no frame of the window is still needed, even if a
// host-only event moved the window's last seq past the floor (no pass
// would come to make room: waiting would stall the room).
func TestFanPublishFullWindow(t *testing.T) {
	defer func(n int) { windowMax = n }(windowMax)
	windowMax = 3
	e := newWSEnv(t, overlay.Config{CountInterval: -1}, Config{})
	msg := func(seq int64, typ string) *events.Message {
		m, err := events.NewMessage(events.Envelope{V: events.Version, Seq: seq, Type: typ, Data: json.RawMessage(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	f := &fanout{h: e.h, done: make(chan struct{}), wake: make(chan struct{}, 1), pass: make(chan struct{}, 1), floor: 10}
	// Frames up to 10 were swept; 11 is host-only.
	w := (&batch{last: 8}).extend(8, []*events.Message{msg(9, events.TypeChatMessage), msg(10, events.TypeChatMessage), msg(11, events.TypeViewerBanned)})
	f.win.Store(w)
	published := make(chan bool, 1)
	go func() {
		published <- f.publish([]*events.Message{msg(12, events.TypeChatMessage), msg(13, events.TypeChatMessage), msg(14, events.TypeChatMessage), msg(15, events.TypeChatMessage)})
	}()
	select {
	case ok := <-published:
		if !ok {
			t.Fatal("publish refused")
		}
	case <-time.After(5 * time.Second):
		close(f.done)
		t.Fatal("publish waited for a pass that no event would start")
	}
	got := f.win.Load()
	if p, n := got.from(10); n != 4 || got.last != 15 || len(p) == 0 {
		t.Fatalf("window after 10: %d frames, last %d", n, got.last)
	}
	// The window before it is intact (it was extended in place or copied).
	if p, n := w.from(8); n != 2 || !bytes.HasPrefix(p, wsproto.AppendFrame(nil, wsproto.OpText, msg(9, events.TypeChatMessage).JSON)) {
		t.Fatalf("the earlier window changed: %d frames", n)
	}
}

// TestWSParkedPingsSpread: parked sockets are pinged a slot at a time
// across the interval, not all at once (ten thousand pings and their
// pongs in one go would hold up the events), and each within it.
func TestWSParkedPingsSpread(t *testing.T) {
	const interval = 400 * time.Millisecond
	e := newWSEnv(t, overlay.Config{CountInterval: -1}, Config{PingInterval: interval})
	const n = 40
	clients := make([]*rawWS, n)
	for i := range clients {
		clients[i] = dialRaw(t, e, "?since=0")
	}
	waitFor(t, "parked", func() bool { return e.h.Parked() == n })
	start := time.Now()
	type ping struct {
		at  time.Time
		err error
	}
	got := make(chan ping, n)
	for _, c := range clients {
		go func() {
			_ = c.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			var h [2]byte
			_, err := io.ReadFull(c.r, h[:])
			if err == nil && (h[0] != 0x80|wsproto.OpPing || h[1] != 0) {
				err = fmt.Errorf("frame % x, want an empty ping", h)
			}
			got <- ping{time.Now(), err}
		}()
	}
	first, last := time.Time{}, time.Time{}
	for range n {
		p := <-got
		if p.err != nil {
			t.Fatal(p.err)
		}
		if first.IsZero() || p.at.Before(first) {
			first = p.at
		}
		if p.at.After(last) {
			last = p.at
		}
	}
	t.Logf("first pings from %v to %v after parking", first.Sub(start), last.Sub(start))
	if last.Sub(start) > interval+200*time.Millisecond {
		t.Errorf("a socket waited %v for its first ping (interval %v)", last.Sub(start), interval)
	}
	if last.Sub(first) < interval/2 {
		t.Errorf("the first pings came within %v of each other: not spread over the %v interval", last.Sub(first), interval)
	}
}
