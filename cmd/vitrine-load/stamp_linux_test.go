//go:build linux

package main

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRecvStamped: bytes read well after they arrived are timed at their
// arrival, the newest segment's when a read takes several.
func TestRecvStamped(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer peer.Close()
	fd, err := detach(&wsViewerConn{conn: c})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := stampArrivals(fd); err != nil {
		t.Fatalf("SO_TIMESTAMPING: %v", err)
	}

	write := func(s string) (before, after time.Time) {
		before = time.Now()
		if _, err := peer.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		return before, time.Now()
	}
	read := func(want string) (time.Time, time.Time) {
		buf, oob := make([]byte, 64), make([]byte, stampSpace)
		deadline := time.Now().Add(5 * time.Second)
		for {
			readAt := time.Now()
			n, at, err := recvStamped(fd, buf, oob)
			if err == unix.EAGAIN && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
				continue
			}
			if err != nil || string(buf[:n]) != want {
				t.Fatalf("read %q, %v; want %q", buf[:n], err, want)
			}
			return at, readAt
		}
	}
	// The kernel turns stamping on a little after it is asked (and after
	// the last stamping socket closed, off); until then reads come
	// unstamped and the loops take their own time.
	for i := 0; ; i++ {
		write("warm")
		if at, _ := read("warm"); !at.IsZero() {
			break
		}
		if i == 200 {
			t.Fatal("no arrival stamp after 200 writes")
		}
		time.Sleep(10 * time.Millisecond)
	}

	before, _ := write("one")
	_, afterTwo := write("two")
	time.Sleep(100 * time.Millisecond)
	at, readAt := read("onetwo")
	if at.IsZero() {
		t.Fatal("no arrival stamp")
	}
	// Loopback delivers before write returns: the stamp falls within the
	// writes, and before the read began (the read's own time would not).
	if at.Before(before) || at.After(afterTwo) || !at.Before(readAt) {
		t.Fatalf("stamp %v: writes from %v to %v, read at %v", at.Format(time.StampMicro), before.Format(time.StampMicro),
			afterTwo.Format(time.StampMicro), readAt.Format(time.StampMicro))
	}
}
