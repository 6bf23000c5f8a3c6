//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"vitrine/internal/wsproto"
)

// wsReaders read the viewers' sockets from a few epoll loops instead of
// a goroutine each. The tool shares the machine with the server it
// measures: with a goroutine per socket every message costs a wakeup, a
// read and a second read that finds nothing; here a loop takes a batch
// of ready sockets from one epoll_wait and reads each once, so the
// measure leaves the server more of the CPU.
//
// A measured viewer's messages are timed at their arrival (the kernel's
// receive timestamps, stampArrivals), so its loop reads in batches, a few
// milliseconds apart: fewer wakeups, each taking the core from the server
// once, and a latency that counts none of the tool's own delays.
//
// A viewer that is not measured is read by the idle loop, once a second:
// the server still writes every event to its socket as it comes, and the
// tool spends its CPU on the viewers whose latency it reports.
type wsReaders struct {
	st    *wsStats
	loops []*wsLoop
	idle  *wsLoop
	mu    sync.Mutex
	next  int
}

// wsLoop is one epoll set and the sockets in it; run owns it.
type wsLoop struct {
	epfd int
	st   *wsStats

	every time.Duration // the idle loop's pause between two reads

	mu     sync.Mutex
	conns  map[int]*loopConn
	closed bool

	buf []byte
	oob []byte // a read's control message: the arrival stamp
	t   tally
}

// readPause is the measured loops' wait between two batches of reads:
// what arrives meanwhile is timed by the kernel and read in the next
// batch, without a wakeup of its own.
const readPause = 5 * time.Millisecond

// loopConn is a viewer's socket in a loop.
type loopConn struct {
	fd      int
	pending []byte // the start of a frame, until its end arrives
	stamped bool   // the kernel times its arrivals (stampArrivals)
	since   *int64 // the last seq received; the loop's until done
	done    chan error
}

// newWSReaders starts n loops; they stop, closing their sockets, when
// ctx ends.
func newWSReaders(ctx context.Context, n int, st *wsStats) (*wsReaders, error) {
	r := &wsReaders{st: st}
	for i := range n + 1 {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			for _, l := range r.loops {
				unix.Close(l.epfd)
			}
			return nil, fmt.Errorf("epoll: %w", err)
		}
		l := &wsLoop{epfd: epfd, st: st, conns: map[int]*loopConn{}, buf: make([]byte, 64<<10), oob: make([]byte, stampSpace)}
		if i == n {
			l.every, l.t.unmeasured = time.Second, true
			r.idle = l
			break
		}
		r.loops = append(r.loops, l)
	}
	for _, l := range append(r.loops, r.idle) {
		go l.run(ctx)
	}
	return r, nil
}

// follow hands c's socket to a loop (the idle one unless measured) and
// waits until it ends; since is updated with every event received.
func (r *wsReaders) follow(c *wsViewerConn, since *int64, measured bool) error {
	fd, err := detach(c)
	if err != nil {
		return err
	}
	lc := &loopConn{fd: fd, since: since, done: make(chan error, 1)}
	// What the handshake's reader already holds (hello, often more).
	t := tally{unmeasured: !measured}
	buffered, _ := c.r.Peek(c.r.Buffered())
	rest, err := lc.consume(buffered, time.Now(), &t)
	t.flush(r.st)
	if err != nil {
		unix.Close(fd)
		return err
	}
	lc.pending = append(lc.pending, rest...)
	l := r.idle
	if measured {
		r.mu.Lock()
		l = r.loops[r.next%len(r.loops)]
		r.next++
		r.mu.Unlock()
	}
	if err := l.add(lc); err != nil {
		unix.Close(fd)
		return err
	}
	return <-lc.done
}

// detach takes the socket's descriptor from the runtime: a copy of it,
// then the connection is closed (out of the runtime's poller).
func detach(c *wsViewerConn) (int, error) {
	sc, ok := c.conn.(syscall.Conn)
	if !ok {
		return -1, errors.New("not a socket")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := raw.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, derr
	}
	c.conn.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (l *wsLoop) add(lc *loopConn) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return context.Canceled
	}
	if l.every > 0 {
		l.conns[lc.fd] = lc // read in turn; no epoll
		return nil
	}
	// Without stamps (an old kernel) the read's own time is taken.
	lc.stamped = stampArrivals(lc.fd) == nil
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(lc.fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, lc.fd, &ev); err != nil {
		return fmt.Errorf("epoll add: %w", err)
	}
	l.conns[lc.fd] = lc
	return nil
}

func (l *wsLoop) run(ctx context.Context) {
	if l.every > 0 {
		l.runIdle(ctx)
	} else {
		l.runReady(ctx)
	}
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	for _, lc := range conns {
		unix.Close(lc.fd)
		lc.done <- ctx.Err()
	}
	unix.Close(l.epfd)
}

// runReady reads the sockets epoll says are readable.
func (l *wsLoop) runReady(ctx context.Context) {
	events := make([]unix.EpollEvent, 512)
	for ctx.Err() == nil {
		n, err := unix.EpollWait(l.epfd, events, 100)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			break
		}
		for _, ev := range events[:n] {
			l.mu.Lock()
			lc := l.conns[int(ev.Fd)]
			l.mu.Unlock()
			if lc != nil {
				l.read(lc)
			}
		}
		l.t.flush(l.st)
		if n > 0 {
			sleep(ctx, readPause)
		}
	}
}

// runIdle reads every socket once each period, a tenth of them every
// tenth of it (not all at once, which would take a core from the server
// for a while). Its sockets are in no epoll set: a frame the server
// writes to one wakes nothing, as with a viewer on another machine.
func (l *wsLoop) runIdle(ctx context.Context) {
	const slices = 10
	var conns []*loopConn
	for slice := 0; ctx.Err() == nil; slice = (slice + 1) % slices {
		conns = conns[:0]
		l.mu.Lock()
		for fd, lc := range l.conns {
			if fd%slices == slice {
				conns = append(conns, lc)
			}
		}
		l.mu.Unlock()
		for _, lc := range conns {
			l.read(lc)
		}
		l.t.flush(l.st)
		clear(conns)
		sleep(ctx, l.every/slices)
	}
}

// read takes what the socket holds: one read when it all fits.
func (l *wsLoop) read(lc *loopConn) {
	for {
		if len(lc.pending) > len(l.buf)/2 {
			l.buf = make([]byte, 2*len(lc.pending))
		}
		k := copy(l.buf, lc.pending)
		var m int
		var err error
		var at time.Time
		if lc.stamped {
			m, at, err = recvStamped(lc.fd, l.buf[k:], l.oob)
		} else {
			m, err = recvNow(lc.fd, l.buf[k:])
		}
		if at.IsZero() {
			at = time.Now()
		}
		if m > 0 {
			rest, cerr := lc.consume(l.buf[:k+m], at, &l.t)
			if cerr != nil {
				l.end(lc, cerr)
				return
			}
			lc.pending = append(lc.pending[:0], rest...)
			if k+m < len(l.buf) {
				return // a short read: the socket is empty, the next bytes bring a new edge
			}
			continue
		}
		switch {
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR:
			continue
		case err == nil:
			l.end(lc, io.EOF)
		default:
			l.end(lc, err)
		}
		return
	}
}

func (l *wsLoop) end(lc *loopConn, err error) {
	l.mu.Lock()
	delete(l.conns, lc.fd)
	l.mu.Unlock()
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, lc.fd, nil)
	unix.Close(lc.fd)
	l.t.flush(l.st) // what it received is counted before it is gone
	lc.done <- err
}

// consume handles the whole frames at the start of b and returns the
// rest (the start of a frame).
func (lc *loopConn) consume(b []byte, now time.Time, t *tally) ([]byte, error) {
	for len(b) >= 2 {
		h, err := serverHeader(b)
		if errors.Is(err, wsproto.ErrNeedMore) {
			break
		}
		if err != nil {
			return nil, err
		}
		if uint64(len(b)-h.Size) < h.Length {
			break
		}
		p := b[h.Size : h.Size+int(h.Length)]
		b = b[h.Size+int(h.Length):]
		text, reply, err := controlFrame(h.Opcode, p)
		if text {
			seq, err := t.envelope(p, now)
			if err != nil {
				return nil, err
			}
			if seq > 0 {
				*lc.since = seq
			}
			continue
		}
		if reply != nil {
			// Small and rare (a pong every ping interval): the socket's
			// buffer takes it.
			_, _ = unix.Write(lc.fd, reply)
		}
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// recvNow is recv(2) without waiting.
func recvNow(fd int, b []byte) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
