package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"vitrine/events"
	"vitrine/overlay"
)

// memDC is an in-memory DataChannel: in carries what the viewer sends,
// out what the server sends.
type memDC struct {
	in     chan []byte
	out    chan []byte
	closed chan struct{}
	once   sync.Once
}

func newMemDC() *memDC {
	return &memDC{in: make(chan []byte, 16), out: make(chan []byte, 1024), closed: make(chan struct{})}
}

var errMemClosed = errors.New("closed")

func (d *memDC) Send(ctx context.Context, b []byte) error {
	select {
	case <-d.closed:
		return errMemClosed
	default:
	}
	select {
	case d.out <- bytes.Clone(b):
		return nil
	case <-d.closed:
		return errMemClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *memDC) Receive(ctx context.Context) ([]byte, error) {
	select {
	case b := <-d.in:
		return b, nil
	case <-d.closed:
		return nil, errMemClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (d *memDC) Close() error {
	d.once.Do(func() { close(d.closed) })
	return nil
}

// serveDC runs DataChannels.Serve, configured as the WebSocket handler
// (the same rooms and identity), on a new memDC; the returned channel
// closes when it returns.
func (e *wsEnv) serveDC(t *testing.T, campaignID string) (*memDC, chan struct{}) {
	t.Helper()
	dcs, err := NewDataChannels(e.h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := newMemDC()
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(done)
		dcs.Serve(ctx, campaignID, d)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return d, done
}

func (d *memDC) send(s string) { d.in <- []byte(s) }

// read returns the next message after the hello every connection starts with.
func (d *memDC) read(t *testing.T) events.Envelope {
	t.Helper()
	select {
	case b := <-d.out:
		var env events.Envelope
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		if env.Type == events.TypeHello {
			return d.read(t)
		}
		return env
	case <-time.After(5 * time.Second):
		t.Fatal("no message on the data channel")
	}
	panic("unreachable")
}

func (d *memDC) quiet(t *testing.T) {
	t.Helper()
	select {
	case b := <-d.out:
		t.Fatalf("extra message %s", b)
	case <-time.After(100 * time.Millisecond):
	}
}

func waitDone(t *testing.T, done chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func TestDataChannelSnapshotChatAndResume(t *testing.T) {
	e := newWSEnv(t, overlay.Config{}, Config{ResumeWait: 50 * time.Millisecond})
	if _, err := e.room.PinProduct(t.Context(), product(1)); err != nil {
		t.Fatal(err)
	}
	// Silent viewer: the snapshot after ResumeWait, then the live tail.
	silent, _ := e.serveDC(t, e.id)
	if env := silent.read(t); env.Type != events.TypeSnapshot || env.Seq != 1 {
		t.Fatalf("snapshot %+v", env)
	}
	// A viewer whose first message is a chat: snapshot, then its chat.
	talker, _ := e.serveDC(t, e.id)
	talker.send(`{"type":"chat.send","data":{"text":"hi","name":"Ann"}}`)
	if env := talker.read(t); env.Type != events.TypeSnapshot || env.Seq != 1 {
		t.Fatalf("talker snapshot %+v", env)
	}
	for _, d := range []*memDC{talker, silent} {
		env := d.read(t)
		var msg events.ChatMessage
		_ = json.Unmarshal(env.Data, &msg)
		if env.Type != events.TypeChatMessage || env.Seq != 2 || msg.Text != "hi" || !strings.HasPrefix(msg.ViewerID, "v_") {
			t.Fatalf("chat %+v %+v", env, msg)
		}
	}
	e.chat(t, 3) // 3..5
	for want := int64(3); want <= 5; want++ {
		if env := silent.read(t); env.Seq != want {
			t.Fatalf("seq %d, want %d", env.Seq, want)
		}
	}
	// resume since=3: 4, 5, then live 6, without a snapshot.
	resumed, _ := e.serveDC(t, e.id)
	resumed.send(`{"type":"resume","data":{"since":3}}`)
	for want := int64(4); want <= 5; want++ {
		if env := resumed.read(t); env.Seq != want || env.Type != events.TypeChatMessage {
			t.Fatalf("resumed: %+v, want seq %d", env, want)
		}
	}
	e.chat(t, 1)
	if env := resumed.read(t); env.Seq != 6 {
		t.Fatalf("resumed live: %+v", env)
	}
	resumed.quiet(t)
	// {"type":"resume"} asks for the snapshot at once.
	e2 := newWSEnv(t, overlay.Config{}, Config{ResumeWait: time.Hour})
	hello, _ := e2.serveDC(t, e2.id)
	hello.send(`{"type":"resume"}`)
	if env := hello.read(t); env.Type != events.TypeSnapshot || env.Seq != 0 {
		t.Fatalf("resume without since: %+v", env)
	}
}

func TestDataChannelRefusals(t *testing.T) {
	e := newWSEnv(t, overlay.Config{}, Config{ResumeWait: time.Hour})
	for _, c := range []struct {
		name, campaign, first, code string
	}{
		{"unknown campaign", "cmp_nope", "", "not_found"},
		{"future since", e.id, `{"type":"resume","data":{"since":99}}`, "invalid_since"},
		{"negative since", e.id, `{"type":"resume","data":{"since":-1}}`, "bad_message"},
		{"unknown resume field", e.id, `{"type":"resume","data":{"since":0,"x":1}}`, "bad_message"},
		{"malformed first", e.id, `{"type":"chat.send"}`, "bad_message"},
		{"second resume", e.id, `{"type":"resume","data":{"since":0}}` + "\n" + `{"type":"resume","data":{"since":0}}`, "bad_message"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, done := e.serveDC(t, c.campaign)
			for _, m := range strings.Split(c.first, "\n") {
				if m != "" {
					d.send(m)
				}
			}
			env := d.read(t)
			if env.Type != events.TypeError || env.Seq != 0 || !strings.Contains(string(env.Data), fmt.Sprintf("%q", c.code)) {
				t.Fatalf("got %+v %s, want error %s", env, env.Data, c.code)
			}
			waitDone(t, done)
			select {
			case <-d.closed:
			default:
				t.Fatal("the channel is not closed")
			}
		})
	}
	// The other viewers are unaffected.
	d, _ := e.serveDC(t, e.id)
	d.send(`{"type":"resume","data":{"since":0}}`)
	e.chat(t, 1)
	if env := d.read(t); env.Seq != 1 {
		t.Fatalf("%+v", env)
	}
}

// A viewer that does not take its messages is closed as too slow, with
// the since to resume from.
func TestDataChannelSlowViewer(t *testing.T) {
	e := newWSEnv(t, overlay.Config{Buffer: 4}, Config{WriteTimeout: 50 * time.Millisecond})
	dcs, err := NewDataChannels(e.h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := newMemDC()
	d.out = make(chan []byte) // nobody reads
	done := make(chan struct{})
	go func() {
		defer close(done)
		dcs.Serve(t.Context(), e.id, d)
	}()
	d.send(`{"type":"resume","data":{"since":0}}`)
	e.chat(t, 10)
	waitDone(t, done)
}

// An event reaches a WebSocket viewer and a data channel viewer of the
// same campaign with the same seq and bytes.
func TestDataChannelAndWebSocketSameSequence(t *testing.T) {
	e := newWSEnv(t, overlay.Config{}, Config{})
	e.chat(t, 2)
	ws := e.dial(t, "?since=2")
	d, _ := e.serveDC(t, e.id)
	d.send(`{"type":"resume","data":{"since":2}}`)
	time.Sleep(50 * time.Millisecond) // both subscribed
	d.send(`{"type":"chat.send","data":{"text":"from the data channel","name":"Ann"}}`)
	send(t, ws, `{"type":"chat.send","data":{"text":"from the socket","name":"Bob"}}`)
	got := map[string]int64{}
	for range 2 {
		a, b := read(t, ws), d.read(t)
		if a.Seq != b.Seq || a.Type != b.Type || string(a.Data) != string(b.Data) || a.Time() != b.Time() {
			t.Fatalf("socket %+v, data channel %+v", a, b)
		}
		var m events.ChatMessage
		_ = json.Unmarshal(a.Data, &m)
		got[m.Text] = a.Seq
	}
	if len(got) != 2 || got["from the data channel"] < 3 || got["from the socket"] < 3 {
		t.Fatalf("seqs %v", got)
	}
}
