package webrtc

import (
	"net"
	"sync"

	"golang.org/x/net/ipv4"
)

// batchConn is the ICE UDP socket with its writes batched: pion writes
// every SRTP packet of every viewer with its own WriteTo, one sendto(2)
// each, which was most of a viewer's cost. Here WriteTo copies the packet
// into a batch and returns; one goroutine sends the batch with a single
// sendmmsg(2) as soon as it runs, while the writers fill the next one.
// A video frame sent to a hundred viewers leaves in a few system calls.
// Where the kernel has UDP GSO, the same-sized packets of one viewer in a
// batch (a frame's fragments) go as one buffer the kernel cuts: the
// network stack, most of the cost once the system calls are batched, is
// crossed once for them (udpgso_linux.go).
//
// It waits for nothing but the scheduler: no timer, so an idle server
// spends nothing on it and a packet is not held back for a batch to fill.
// pion's udp.BatchConn flushes on a ticker (two thousand wakeups a second
// whether anything is sent or not, and each packet waits up to its
// interval), which is why it is not used.
type batchConn struct {
	*net.UDPConn
	pc *ipv4.PacketConn

	mu     sync.Mutex
	free   *sync.Cond // signalled when a batch is handed back empty
	fill   *udpBatch  // being filled by writers
	spare  *udpBatch  // empty; nil while the sender holds it
	closed bool

	kick chan struct{}
	done chan struct{}
	wg   sync.WaitGroup

	// The sender goroutine's own: the messages as sent (coalesced), the
	// buffers of the coalesced ones, and whether the kernel took GSO.
	out     []ipv4.Message
	segSize []int // of each message of out: its datagrams' size
	gsoBuf  []byte
	noGSO   bool
	used    []bool
}

const (
	// batchSize is sendmmsg's vector length: the kernel walks it in one
	// call; 64 keeps a batch's copy within the caches.
	batchSize = 64
	// batchMTU bounds a batched datagram; larger ones (none are expected:
	// pion's packets stay under 1,200 bytes) are written at once.
	batchMTU = 1500
	// gsoMaxSegments and gsoMaxBytes bound one GSO buffer (the kernel's
	// limits are 64 segments and 64 KiB).
	gsoMaxSegments = 40
	gsoMaxBytes    = 60000
)

type udpBatch struct {
	msgs []ipv4.Message
	n    int
}

func newUDPBatch() *udpBatch {
	b := &udpBatch{msgs: make([]ipv4.Message, batchSize)}
	buf := make([]byte, batchSize*batchMTU)
	for i := range b.msgs {
		b.msgs[i].Buffers = [][]byte{buf[i*batchMTU : (i+1)*batchMTU]}
	}
	return b
}

func newBatchConn(c *net.UDPConn) *batchConn {
	b := &batchConn{
		UDPConn: c,
		pc:      ipv4.NewPacketConn(c),
		fill:    newUDPBatch(),
		spare:   newUDPBatch(),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		out:     make([]ipv4.Message, 0, batchSize),
		segSize: make([]int, 0, batchSize),
		gsoBuf:  make([]byte, 0, batchSize*batchMTU),
		used:    make([]bool, batchSize),
		noGSO:   !gsoAvailable,
	}
	b.free = sync.NewCond(&b.mu)
	b.wg.Add(1)
	go b.send()
	return b
}

// WriteTo queues one datagram. It blocks only while both batches are full
// (the kernel is slower than the writers), as a full socket buffer would.
func (b *batchConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if len(p) > batchMTU {
		return b.UDPConn.WriteTo(p, addr)
	}
	b.mu.Lock()
	for b.fill.n == batchSize && !b.closed {
		b.free.Wait()
	}
	if b.closed {
		b.mu.Unlock()
		return 0, net.ErrClosed
	}
	m := &b.fill.msgs[b.fill.n]
	m.Buffers[0] = m.Buffers[0][:batchMTU]
	m.Buffers[0] = m.Buffers[0][:copy(m.Buffers[0], p)]
	m.Addr = addr
	b.fill.n++
	first := b.fill.n == 1
	b.mu.Unlock()
	if first {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// send is the one goroutine that writes batches to the kernel.
func (b *batchConn) send() {
	defer b.wg.Done()
	for {
		select {
		case <-b.kick:
		case <-b.done:
			b.drain()
			return
		}
		b.drain()
	}
}

// drain sends until no datagram is waiting.
func (b *batchConn) drain() {
	for {
		b.mu.Lock()
		if b.fill.n == 0 {
			b.mu.Unlock()
			return
		}
		full := b.fill
		b.fill, b.spare = b.spare, nil
		b.free.Broadcast()
		b.mu.Unlock()

		b.write(full.msgs[:full.n])
		full.n = 0
		b.mu.Lock()
		b.spare = full
		b.mu.Unlock()
	}
}

// write hands msgs to sendmmsg, coalesced for GSO where it can. A
// datagram the kernel refuses (an unreachable address) is dropped, as
// sendto's error would drop it; the rest of the batch goes on.
func (b *batchConn) write(msgs []ipv4.Message) {
	if b.noGSO {
		b.writePlain(msgs)
		return
	}
	out := b.coalesce(msgs)
	for len(out) > 0 {
		n, err := b.pc.WriteBatch(out, 0)
		if err == nil && n > 0 {
			out = out[n:]
			continue
		}
		// The first message failed: a refused GSO buffer is sent again
		// cut in its datagrams (and GSO given up when the kernel or the
		// interface cannot segment); a plain datagram is dropped.
		if out[0].OOB != nil {
			if gsoRefused(err) {
				b.noGSO = true
			}
			b.writePlain(split(out[0], b.segSize[len(b.segSize)-len(out)]))
		}
		out = out[1:]
	}
}

// split cuts a coalesced message back into its datagrams.
func split(m ipv4.Message, size int) []ipv4.Message {
	var msgs []ipv4.Message
	for p := m.Buffers[0]; len(p) > 0; {
		n := min(size, len(p))
		msgs = append(msgs, ipv4.Message{Buffers: [][]byte{p[:n]}, Addr: m.Addr})
		p = p[n:]
	}
	return msgs
}

func (b *batchConn) writePlain(msgs []ipv4.Message) {
	for len(msgs) > 0 {
		n, err := b.pc.WriteBatch(msgs, 0)
		if err != nil || n <= 0 {
			n = 1 // WriteBatch fails on the first datagram it cannot send
		}
		msgs = msgs[n:]
	}
}

// coalesce joins, for each destination in turn, the runs of datagrams of
// one size (the last of a run may be shorter: it ends the run) into one
// buffer with a UDP_SEGMENT control message. Each destination's datagrams
// keep their order; the order among destinations does not matter. The
// result is only valid until the next call.
func (b *batchConn) coalesce(msgs []ipv4.Message) []ipv4.Message {
	out := b.out[:0]
	sizes := b.segSize[:0]
	buf := b.gsoBuf[:0]
	used := b.used[:len(msgs)]
	clear(used)
	for i := range msgs {
		if used[i] {
			continue
		}
		used[i] = true
		first := &msgs[i]
		size := len(first.Buffers[0])
		start := len(buf)
		buf = append(buf, first.Buffers[0]...)
		n := 1
		for j := i + 1; j < len(msgs) && n < gsoMaxSegments; j++ {
			m := &msgs[j]
			if used[j] || !sameAddr(m.Addr, first.Addr) {
				continue
			}
			l := len(m.Buffers[0])
			if l > size || len(buf)-start+l > gsoMaxBytes {
				break // this destination's next datagram starts a run of its own
			}
			used[j] = true
			buf = append(buf, m.Buffers[0]...)
			n++
			if l < size {
				break // a shorter datagram can only end a run
			}
		}
		sizes = append(sizes, size)
		if n == 1 {
			out = append(out, *first)
			continue
		}
		out = append(out, ipv4.Message{Buffers: [][]byte{buf[start:len(buf):len(buf)]}, OOB: gsoControl(size), Addr: first.Addr})
	}
	b.out, b.segSize, b.gsoBuf = out, sizes, buf
	return out
}

func sameAddr(a, b net.Addr) bool {
	x, ok1 := a.(*net.UDPAddr)
	y, ok2 := b.(*net.UDPAddr)
	if !ok1 || !ok2 {
		return a == b
	}
	return x.Port == y.Port && x.IP.Equal(y.IP) && x.Zone == y.Zone
}

// Close sends what is queued and closes the socket.
func (b *batchConn) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.free.Broadcast()
	b.mu.Unlock()
	close(b.done)
	b.wg.Wait()
	return b.UDPConn.Close()
}
