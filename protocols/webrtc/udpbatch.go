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
}

const (
	// batchSize is sendmmsg's vector length: the kernel walks it in one
	// call; 64 keeps a batch's copy within the caches.
	batchSize = 64
	// batchMTU bounds a batched datagram; larger ones (none are expected:
	// pion's packets stay under 1,200 bytes) are written at once.
	batchMTU = 1500
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

// write hands msgs to sendmmsg. A datagram the kernel refuses (an
// unreachable address) is dropped, as sendto's error would drop it; the
// rest of the batch goes on.
func (b *batchConn) write(msgs []ipv4.Message) {
	for len(msgs) > 0 {
		n, err := b.pc.WriteBatch(msgs, 0)
		if err != nil || n <= 0 {
			n = 1 // WriteBatch fails on the first datagram it cannot send
		}
		msgs = msgs[n:]
	}
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
