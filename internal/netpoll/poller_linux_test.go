//go:build linux

package netpoll

import (
	"errors"
	"net"
	"testing"
	"time"
)

// tcpPair is a connected pair of loopback TCP sockets.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func waitCall(t *testing.T, calls <-chan struct{}, want bool, what string) {
	t.Helper()
	select {
	case <-calls:
		if !want {
			t.Fatalf("%s: the callback ran", what)
		}
	case <-time.After(300 * time.Millisecond):
		if want {
			t.Fatalf("%s: the callback did not run", what)
		}
	}
}

// A watched socket's callback runs once when it becomes readable, again
// only after Rearm; not after Remove; and a closed poller refuses work.
func TestPollerOneShot(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	go p.Run()
	local, peer := tcpPair(t)
	calls := make(chan struct{}, 8)
	if err := p.Add(local, func() { calls <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	if p.Len() != 1 {
		t.Fatalf("Len %d", p.Len())
	}
	waitCall(t, calls, false, "nothing sent")
	peer.Write([]byte("a"))
	waitCall(t, calls, true, "first bytes")
	peer.Write([]byte("b"))
	waitCall(t, calls, false, "more bytes before Rearm")
	if err := p.Rearm(local); err != nil {
		t.Fatal(err)
	}
	waitCall(t, calls, true, "unread bytes after Rearm")
	p.Remove(local)
	if p.Len() != 0 {
		t.Fatalf("Len %d after Remove", p.Len())
	}
	peer.Write([]byte("c"))
	waitCall(t, calls, false, "after Remove")

	other, _ := tcpPair(t)
	p.Close()
	p.Close() // twice is harmless
	if err := p.Add(other, func() {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
	if err := p.Rearm(other); !errors.Is(err, ErrClosed) {
		t.Fatalf("Rearm after Close: %v", err)
	}
	p.Remove(other) // no effect, no panic
}
