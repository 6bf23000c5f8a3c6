package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"vitrine/events"
	"vitrine/internal/wsproto"
)

// parkedSocket is a viewer's WebSocket once it has caught up with its
// room: no goroutine waits on it. The room's fanout writes each event's
// frame to it without blocking; the poller runs readable when the viewer
// sent something. Only a socket that cannot take a frame at once gets a
// goroutine, to drain its queue, until it keeps up again or overflows.
type parkedSocket struct {
	h    *Handler
	conn *net.TCPConn
	raw  syscall.RawConn
	// fd is the socket's descriptor, for the fanout's writes: they run under
	// mu while the socket is not finished, and the descriptor is closed
	// only after it is, so it cannot be another file's.
	fd int
	// release frees the socket's slot (Handler.slots) once it is closed.
	release func()
	k       *viewerConn
	fanout  *fanout
	max     int   // frames queued at most while slow
	last    int64 // the last seq written or queued; the fanout's goroutine only
	slot    int   // the pinger's slot (pingLoop)

	lastSeen atomic.Int64 // unix nanoseconds of the last bytes read

	mu       sync.Mutex
	queue    [][]byte // frames waiting for the drain goroutine
	queued   int      // their bytes
	draining bool
	closing  bool // a close frame is written or queued; nothing follows it
	finished bool // the socket is closed

	// The read side, used by one readable call at a time (the poller's
	// registration is one-shot).
	partial []byte // the start of a frame, until its end arrives
	msgs    wsproto.MessageReader
}

var (
	errSocketClosed = errors.New("socket closed")
	errSocketSlow   = errors.New("socket too slow")
)

func newParkedSocket(h *Handler, conn *net.TCPConn, maxQueued int, release func()) (*parkedSocket, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	s := &parkedSocket{h: h, conn: conn, raw: raw, fd: -1, release: release, max: maxQueued, msgs: wsproto.MessageReader{Max: events.MaxInboundBytes}}
	if err := raw.Control(func(fd uintptr) { s.fd = int(fd) }); err != nil {
		return nil, err
	}
	s.lastSeen.Store(time.Now().UnixNano())
	return s, nil
}

// sendFrame writes a frame now if the socket takes it whole, else queues
// it for the drain goroutine; errSocketSlow when the queue is full.
func (s *parkedSocket) sendFrame(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sendLocked(b)
}

func (s *parkedSocket) sendLocked(b []byte) error {
	if s.closing || s.finished {
		return errSocketClosed
	}
	if s.draining {
		if len(s.queue) >= s.max || s.queued+len(b) > maxQueuedBytes {
			return errSocketSlow
		}
		s.queue = append(s.queue, b)
		s.queued += len(b)
		return nil
	}
	n, err := s.writeNow(b)
	if err != nil {
		return err
	}
	if n < len(b) {
		s.queue = append(s.queue, b[n:])
		s.queued += len(b) - n
		s.draining = true
		go s.drain()
	}
	return nil
}

// maxQueuedBytes bounds what a slow socket's queue holds, whatever its
// number of frames (a frame from the fanout may carry many events).
const maxQueuedBytes = 1 << 20

// send writes a frame (sendFrame), closing the socket if it cannot: a
// close frame for a viewer too slow, nothing more if the connection
// failed. It says whether the socket is still open.
func (s *parkedSocket) send(frame []byte) bool {
	switch err := s.sendFrame(frame); {
	case err == nil:
		return true
	case errors.Is(err, errSocketClosed):
	case errors.Is(err, errSocketSlow):
		s.k.close(endSlow, "too slow; reconnect with since (the seq of the last event received)")
	default:
		s.finish()
	}
	return false
}

// writeNow writes what the socket's buffer takes without waiting. It is
// called under mu on a socket not finished. It calls send(2) on the
// descriptor itself rather than through the runtime's poller: a pass
// writes to thousands of sockets, and the poller's locking and the file
// layer of write(2) are a tenth of the cost of each write.
func (s *parkedSocket) writeNow(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := sendNow(s.fd, b[n:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return n, nil
		case err != nil:
			return n, err
		}
		n += m
	}
	return n, nil
}

// drain writes the queue with blocking writes, each bounded by the
// handler's WriteTimeout; a viewer that does not take them in time is
// dropped.
func (s *parkedSocket) drain() {
	for {
		s.mu.Lock()
		q := s.queue
		s.queue, s.queued = nil, 0
		if len(q) == 0 {
			// Back to writes that do not wait; they honour the deadline.
			_ = s.conn.SetWriteDeadline(time.Time{})
			s.draining = false
			closing := s.closing
			s.mu.Unlock()
			if closing {
				s.finish()
			}
			return
		}
		s.mu.Unlock()
		for _, b := range q {
			_ = s.conn.SetWriteDeadline(time.Now().Add(s.h.cfg.WriteTimeout))
			if _, err := s.conn.Write(b); err != nil {
				// Nothing more can be written, not even a close frame.
				s.mu.Lock()
				s.queue, s.queued, s.draining, s.closing = nil, 0, false, true
				s.mu.Unlock()
				s.finish()
				return
			}
		}
	}
}

// write is the viewerConn's transport: one text message.
func (s *parkedSocket) write(_ context.Context, b []byte) error {
	return s.sendFrame(wsproto.AppendFrame(make([]byte, 0, len(b)+10), wsproto.OpText, b))
}

// read is never called: the poller reads a parked socket.
func (s *parkedSocket) read(context.Context) ([]byte, error) {
	return nil, errors.ErrUnsupported
}

// close sends a close frame with the reason's code, then ends the socket
// once it is written.
func (s *parkedSocket) close(why endReason, reason string) {
	s.closeWith(wsCodes[why], reason)
}

func (s *parkedSocket) closeWith(code uint16, reason string) {
	s.mu.Lock()
	if s.closing || s.finished {
		s.mu.Unlock()
		return
	}
	cf := wsproto.CloseFrame(code, reason)
	if s.draining {
		// After the frame being written; the frames not begun are
		// dropped: the viewer resumes with since.
		s.queue, s.queued = append(s.queue[:0], cf), len(cf)
		s.closing = true
		s.mu.Unlock()
		return
	}
	s.closing = true
	if n, err := s.writeNow(cf); err == nil && n < len(cf) {
		// The rest of the close frame goes before the FIN.
		s.queue, s.queued, s.draining = [][]byte{cf[n:]}, len(cf)-n, true
		s.mu.Unlock()
		go s.drain()
		return
	}
	s.mu.Unlock()
	s.finish()
}

// finish closes the socket: out of the poller and the fanout, the write side
// shut so that the close frame goes out before the FIN, the descriptor
// closed a moment later (closing it with unread input would send a reset
// that may destroy the close frame on its way).
func (s *parkedSocket) finish() {
	s.mu.Lock()
	if s.finished {
		s.mu.Unlock()
		return
	}
	s.finished = true
	s.mu.Unlock()
	s.h.unpark(s)
	_ = s.conn.CloseWrite()
	time.AfterFunc(time.Second, func() {
		_ = s.conn.Close()
		s.release() // its descriptor is free now
	})
}

// readBufs are the buffers of readable calls.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 8<<10); return &b }}

// readable reads what the viewer sent, handles each complete message, and
// watches the socket again; it runs on a goroutine of its own, started by
// the poller.
func (s *parkedSocket) readable() {
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	buf := *bp
	for {
		n, err := s.readNow(buf)
		if n > 0 {
			s.lastSeen.Store(time.Now().UnixNano())
			if !s.consume(buf[:n]) {
				return
			}
			continue
		}
		switch {
		case errors.Is(err, unix.EAGAIN):
			if err := s.h.poller.Rearm(s.conn); err != nil {
				s.k.close(endNormal, "")
			}
			return
		case err == nil, errors.Is(err, io.EOF):
			s.k.close(endNormal, "") // the viewer left
			return
		default:
			s.finish()
			return
		}
	}
}

// readNow reads what has arrived without waiting: 0 and io.EOF when the
// viewer closed its side, EAGAIN when nothing is there.
func (s *parkedSocket) readNow(b []byte) (int, error) {
	var n int
	var rerr error
	err := s.raw.Read(func(fd uintptr) bool {
		for {
			m, err := unix.Read(int(fd), b)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				rerr = err
			} else if m == 0 {
				rerr = io.EOF
			}
			n = max(m, 0)
			return true
		}
	})
	if err != nil {
		return 0, err
	}
	return n, rerr
}

// consume parses the frames in what was read (after the partial frame
// kept from before) and handles them; false once the socket is closed.
func (s *parkedSocket) consume(b []byte) bool {
	if len(s.partial) > 0 {
		s.partial = append(s.partial, b...)
		b = s.partial
	}
	for {
		f, n, err := wsproto.ParseFrame(b, wsproto.FromClient, events.MaxInboundBytes)
		if errors.Is(err, wsproto.ErrNeedMore) {
			break
		}
		var fe *wsproto.Error
		if errors.As(err, &fe) {
			s.closeWith(fe.Code, fe.Reason)
			return false
		}
		b = b[n:]
		if !s.onFrame(f) {
			return false
		}
	}
	// Keep the start of the next frame (in a buffer of its own: b is the
	// pool's).
	if len(b) == 0 {
		s.partial = nil
	} else {
		s.partial = append([]byte(nil), b...)
	}
	return true
}

func (s *parkedSocket) onFrame(f wsproto.Frame) bool {
	text, ctl, err := s.msgs.Next(f)
	var fe *wsproto.Error
	if errors.As(err, &fe) {
		s.closeWith(fe.Code, fe.Reason)
		return false
	}
	if ctl != nil {
		switch ctl.Opcode {
		case wsproto.OpPing:
			if !s.send(wsproto.AppendFrame(nil, wsproto.OpPong, ctl.Payload)) {
				return false
			}
		case wsproto.OpClose:
			// Section 7.4: the viewer's own code when it may send it, 1000
			// for none, 1002 or 1007 for a close frame that breaks the rules.
			code := wsproto.CloseReply(ctl.Payload)
			s.closeWith(code, "")
			return false
		}
		return true
	}
	if text == nil {
		return true // a fragment
	}
	ctx, cancel := context.WithTimeout(s.h.ctx, 10*time.Second)
	defer cancel()
	return s.k.handle(ctx, text)
}
