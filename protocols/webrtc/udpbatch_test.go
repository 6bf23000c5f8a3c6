package webrtc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
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
