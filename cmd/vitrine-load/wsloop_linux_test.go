//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// serverFrame is an unmasked frame as a server sends it.
func serverFrame(op byte, p []byte) []byte {
	f := []byte{0x80 | op}
	switch n := len(p); {
	case n <= 125:
		f = append(f, byte(n))
	case n <= 0xFFFF:
		f = append(f, 126, byte(n>>8), byte(n))
	default:
		f = append(f, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(f, p...)
}

// A loop reads frames that arrive in pieces, split anywhere (headers
// included), and frames larger than its buffer, and answers pings.
func TestWSLoopReadsSplitFrames(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	peer := os.NewFile(uintptr(fds[1]), "peer")
	defer peer.Close()
	f := os.NewFile(uintptr(fds[0]), "viewer")
	conn, err := net.FileConn(f) // a copy of the descriptor
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := newWSStats()
	r, err := newWSReaders(ctx, 1, st)
	if err != nil {
		t.Fatal(err)
	}
	var stream []byte
	stream = append(stream, serverFrame(0x1, []byte(`{"v":1,"seq":0,"type":"hello","data":{}}`))...)
	stream = append(stream, serverFrame(0x9, []byte("ping-1"))...)
	const events = 200
	for i := 1; i <= events; i++ {
		text := "x"
		if i == 100 {
			text = strings.Repeat("y", 150<<10) // over the loop's 64 KiB buffer
		}
		stream = append(stream, serverFrame(0x1, fmt.Appendf(nil, `{"v":1,"seq":%d,"at":"2026-12-01T00:00:00Z","type":"chat.message","data":{"text":%q}}`, i, text))...)
	}
	stream = append(stream, serverFrame(0x8, []byte{0x03, 0xE8})...)
	since := int64(-1)
	done := make(chan error, 1)
	go func() { done <- r.follow(&wsViewerConn{conn: conn, r: bufio.NewReader(conn)}, &since, true) }()
	rng := rand.New(rand.NewPCG(1, 2))
	for len(stream) > 0 {
		n := min(len(stream), 1+rng.IntN(700))
		if _, err := peer.Write(stream[:n]); err != nil {
			t.Fatal(err)
		}
		stream = stream[n:]
		if rng.IntN(4) == 0 {
			time.Sleep(time.Millisecond) // let the loop see a partial frame
		}
	}
	select {
	case err := <-done:
		if ce, ok := err.(*errWSClosed); !ok || ce.code != 1000 {
			t.Fatalf("follow ended with %v, want the server's close 1000", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not end the socket on the close frame")
	}
	if got := st.events.Load(); got != events || since != events {
		t.Fatalf("%d events, since %d; want %d", got, since, events)
	}
	// The pong and the close reply, masked, in that order.
	_ = peer.SetReadDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, 64)
	n, _ := peer.Read(b)
	if n < 2+4+6 || b[0] != 0x8A || b[1] != 0x80|6 {
		t.Fatalf("pong: % x", b[:n])
	}
	var pong []byte
	for i := range 6 {
		pong = append(pong, b[6+i]^b[2+i%4])
	}
	if string(pong) != "ping-1" {
		t.Fatalf("pong payload %q", pong)
	}
}
