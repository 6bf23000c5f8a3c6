package rtsp

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// maxSetupBytes bounds what a connection may send while it has no playing
// or recording session. gortsplib skips bytes that do not start a request
// one by one without failing, so a peer streaming garbage would otherwise
// hold its connection for ever. Thousands of requests fit.
const maxSetupBytes = 1 << 20

var errTooMuchSetup = errors.New("too much data without a playing or recording session")

// listener bounds the number of connections and keeps transient accept
// errors (out of file descriptors) from reaching gortsplib, which stops the
// whole server on the first one.
type listener struct {
	net.Listener
	srv *Server

	stop     chan struct{}
	stopOnce sync.Once
	n        atomic.Int64 // open connections
	// backoff and refused are only touched by the accept goroutine.
	backoff time.Duration
	refused rateLog
}

func newListener(ln net.Listener, s *Server) *listener {
	return &listener{
		Listener: ln,
		srv:      s,
		stop:     make(chan struct{}),
		refused:  rateLog{log: s.log, every: errLogInterval},
	}
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-l.stop:
				return nil, err
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			l.backoff = min(max(2*l.backoff, 5*time.Millisecond), time.Second)
			l.srv.log.Warn("rtsp accept failed", "error", err, "retry_in", l.backoff)
			select {
			case <-l.stop:
				return nil, err
			case <-time.After(l.backoff):
			}
			continue
		}
		l.backoff = 0
		if l.n.Add(1) > int64(l.srv.cfg.MaxConns) {
			l.n.Add(-1)
			l.refused.warn("rtsp connection refused", errTooManyConns)
			_ = nc.Close()
			continue
		}
		return newConn(nc, l), nil
	}
}

var errTooManyConns = errors.New("too many connections")

func (l *listener) Close() error {
	l.stopOnce.Do(func() { close(l.stop) })
	return l.Listener.Close()
}

// conn is one RTSP connection as gortsplib sees it. While it carries no
// playing or recording session, it must keep talking: every read waits at
// most ReadTimeout (gortsplib sets no deadline then, so an idle or
// half-open connection would otherwise stay for ever) and all it sends is
// bounded by maxSetupBytes. Once active, gortsplib's own deadlines apply:
// ReadTimeout for a TCP publisher, write timeouts and RTCP for readers.
type conn struct {
	net.Conn
	l    *listener
	idle time.Duration

	active atomic.Bool
	// requested is the read deadline gortsplib asked for, in Unix
	// nanoseconds, 0 for none.
	requested atomic.Int64
	setup     atomic.Int64 // bytes read while inactive
	closeOnce sync.Once
}

func newConn(nc net.Conn, l *listener) *conn {
	return &conn{Conn: nc, l: l, idle: l.srv.cfg.ReadTimeout}
}

func (c *conn) Read(p []byte) (int, error) {
	if c.active.Load() {
		return c.Conn.Read(p)
	}
	if c.setup.Load() > maxSetupBytes {
		return 0, errTooMuchSetup
	}
	dl := time.Now().Add(c.idle)
	if req := c.requested.Load(); req != 0 && req < dl.UnixNano() {
		dl = time.Unix(0, req)
	}
	_ = c.Conn.SetReadDeadline(dl)
	n, err := c.Conn.Read(p)
	c.setup.Add(int64(n))
	return n, err
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.requested.Store(unixNano(t))
	return c.Conn.SetReadDeadline(t)
}

func (c *conn) SetDeadline(t time.Time) error {
	c.requested.Store(unixNano(t))
	return c.Conn.SetDeadline(t)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// setActive is called when a session of this connection starts playing or
// recording (true) and when it ends (false). It runs on the session's
// goroutine while the connection's reader may be blocked in Read, so it
// moves the socket's deadline itself.
func (c *conn) setActive(active bool) {
	if c.active.Swap(active) == active {
		return
	}
	if active {
		c.setup.Store(0)
		var dl time.Time
		if req := c.requested.Load(); req != 0 {
			dl = time.Unix(0, req)
		}
		_ = c.Conn.SetReadDeadline(dl)
		return
	}
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() { c.l.n.Add(-1) })
	return err
}

// connOf returns our conn under a gortsplib connection (nil if gortsplib
// ever wraps it, e.g. in TLS, which this server does not configure).
func connOf(nc net.Conn) *conn {
	c, _ := nc.(*conn)
	return c
}
