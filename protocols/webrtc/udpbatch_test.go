package webrtc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

func udpPair(t testing.TB) (send *net.UDPConn, recv *net.UDPConn) {
	t.Helper()
	s, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = r.SetReadBuffer(8 << 20)
	t.Cleanup(func() { _ = s.Close(); _ = r.Close() })
	return s, r
}

// TestBatchConnDelivers: datagrams from concurrent writers all arrive,
// each writer's in order and intact, an oversized one too; Close sends
// what is queued, and a write after it fails.
func TestBatchConnDelivers(t *testing.T) {
	s, r := udpPair(t)
	b := newBatchConn(s)
	const writers, each = 4, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			p := make([]byte, 1100)
			for i := range each {
				binary.BigEndian.PutUint16(p, uint16(w))
				binary.BigEndian.PutUint32(p[2:], uint32(i))
				if _, err := b.WriteTo(p, r.LocalAddr()); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					time.Sleep(time.Millisecond) // let the receiver keep up
				}
			}
		})
	}
	wg.Wait()
	big := bytes.Repeat([]byte{7}, batchMTU+100)
	if n, err := b.WriteTo(big, r.LocalAddr()); err != nil || n != len(big) {
		t.Fatalf("oversized datagram: %d, %v", n, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WriteTo([]byte{1}, r.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}

	next := make([]int, writers)
	buf := make([]byte, 4096)
	gotBig := false
	_ = r.SetReadDeadline(time.Now().Add(2 * time.Second))
	for total := 0; total < writers*each+1; total++ {
		n, _, err := r.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after %d datagrams: %v", total, err)
		}
		if n == len(big) {
			gotBig = true
			continue
		}
		w, i := int(binary.BigEndian.Uint16(buf)), int(binary.BigEndian.Uint32(buf[2:]))
		if n != 1100 || w >= writers || i != next[w] {
			t.Fatalf("datagram %d bytes from writer %d, #%d; want #%d", n, w, i, next[w])
		}
		next[w]++
	}
	if !gotBig {
		t.Error("the oversized datagram did not arrive")
	}
}

// BenchmarkUDPWrite: one SRTP-sized datagram to a viewer, with sendto(2)
// each (pion's own path) and batched into sendmmsg(2).
func BenchmarkUDPWrite(b *testing.B) {
	p := make([]byte, 1200)
	b.Run("sendto", func(b *testing.B) {
		s, r := udpPair(b)
		go drainUDP(r)
		b.ReportAllocs()
		for b.Loop() {
			_, _ = s.WriteTo(p, r.LocalAddr())
		}
	})
	b.Run("batched", func(b *testing.B) {
		s, r := udpPair(b)
		go drainUDP(r)
		bc := newBatchConn(s)
		b.ReportAllocs()
		for b.Loop() {
			_, _ = bc.WriteTo(p, r.LocalAddr())
		}
		_ = bc.Close() // the last batch is part of the work
	})
}

func drainUDP(r *net.UDPConn) {
	buf := make([]byte, 2048)
	for {
		if _, _, err := r.ReadFrom(buf); err != nil {
			return
		}
	}
}

// TestBatchConnCoalesces: a batch of datagrams of several sizes to two
// viewers, interleaved as their writers interleave, each arrive whole and
// in their viewer's order, however GSO joined and the kernel cut them.
func TestBatchConnCoalesces(t *testing.T) {
	s, r1 := udpPair(t)
	_, r2 := udpPair(t)
	sizes := []int{1200, 1200, 1200, 800, 1200, 1200, 1300, 1300, 100, 1200, 60, 60, 60}
	b := newBatchConn(s)
	var want [2][][]byte
	var msgs []ipv4.Message
	for i, n := range sizes {
		for k, r := range []*net.UDPConn{r1, r2} {
			p := bytes.Repeat([]byte{byte(i*2 + k)}, n)
			want[k] = append(want[k], p)
			msgs = append(msgs, ipv4.Message{Buffers: [][]byte{p}, Addr: r.LocalAddr()})
		}
	}
	if out := b.coalesce(msgs); gsoAvailable && len(out) >= len(msgs) {
		t.Errorf("%d datagrams coalesced into %d messages", len(msgs), len(out))
	}
	b.write(msgs) // as the sender goroutine does with a batch
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for k, r := range []*net.UDPConn{r1, r2} {
		buf := make([]byte, 2048)
		_ = r.SetReadDeadline(time.Now().Add(2 * time.Second))
		for i, w := range want[k] {
			n, _, err := r.ReadFrom(buf)
			if err != nil {
				t.Fatalf("viewer %d, datagram %d: %v", k, i, err)
			}
			if !bytes.Equal(buf[:n], w) {
				t.Fatalf("viewer %d, datagram %d: %d bytes of %d, want %d of %d", k, i, n, buf[0], len(w), w[0])
			}
		}
	}
	t.Logf("GSO in use after the batch: %v", !b.noGSO)
}

// TestBatchConnDualStack: from a socket bound to the unspecified address
// (AF_INET6, as the ICE socket is with the default listen address),
// batches reach IPv4 viewers (as ::ffff:a.b.c.d) and IPv6 ones.
func TestBatchConnDualStack(t *testing.T) {
	s, err := net.ListenUDP("udp", &net.UDPAddr{})
	if err != nil {
		t.Fatal(err)
	}
	_, r4 := udpPair(t)
	recv := []*net.UDPConn{r4}
	if r6, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err == nil {
		t.Cleanup(func() { _ = r6.Close() })
		recv = append(recv, r6)
	} else {
		t.Logf("no IPv6 loopback: %v", err)
	}
	b := newBatchConn(s)
	for i := range 3 {
		for _, r := range recv {
			p := bytes.Repeat([]byte{byte(i)}, 1000)
			if _, err := b.WriteTo(p, r.LocalAddr()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for _, r := range recv {
		_ = r.SetReadDeadline(time.Now().Add(2 * time.Second))
		for i := range 3 {
			n, _, err := r.ReadFrom(buf)
			if err != nil {
				t.Fatalf("%v: datagram %d: %v", r.LocalAddr(), i, err)
			}
			if n != 1000 || buf[0] != byte(i) {
				t.Fatalf("%v: datagram %d: %d bytes of %d", r.LocalAddr(), i, n, buf[0])
			}
		}
	}
}
