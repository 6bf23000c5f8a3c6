package wsproto

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// The policy both server paths follow.
const (
	// DefaultPingInterval is how often an idle socket is pinged.
	DefaultPingInterval = 20 * time.Second
	// DefaultPongTimeout is how long a ping waits for its pong (or any
	// bytes) before the socket is closed as dead.
	DefaultPongTimeout = 10 * time.Second
	// CloseLinger is how long a socket stays open after its close frame
	// and the shutdown of its write side: closing it at once with input
	// unread would send a reset that may destroy the close frame.
	CloseLinger = time.Second
	// HandshakeTimeout bounds the writing of the upgrade's answer.
	HandshakeTimeout = 10 * time.Second
)

// ErrClosed is returned once the connection is closed, by either side.
var ErrClosed = errors.New("websocket closed")

// Hijack takes the connection of an upgrade request that CheckUpgrade
// accepted and answers the handshake: what net/http had buffered of the
// client's bytes is in the reader.
func Hijack(w http.ResponseWriter, r *http.Request) (net.Conn, *bufio.Reader, error) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("hijack: %w", err)
	}
	_ = conn.SetWriteDeadline(time.Now().Add(HandshakeTimeout))
	if _, err := conn.Write(AcceptResponse(r.Header.Get("Sec-WebSocket-Key"))); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("handshake: %w", err)
	}
	_ = conn.SetWriteDeadline(time.Time{})
	return conn, brw.Reader, nil
}

// Conn is a server's WebSocket served by goroutines of its own (the
// sockets that are not parked: host consoles, TLS, platforms without
// epoll). One goroutine reads; others may write, ping and close at the
// same time.
type Conn struct {
	c    net.Conn
	r    *bufio.Reader
	msgs MessageReader
	buf  []byte

	wmu       sync.Mutex
	closeOnce sync.Once
	pong      chan struct{}
}

// NewConn serves conn (after Hijack), reading text messages of at most
// maxMessage bytes.
func NewConn(conn net.Conn, r *bufio.Reader, maxMessage int) *Conn {
	if r == nil {
		r = bufio.NewReaderSize(conn, 4<<10)
	}
	return &Conn{c: conn, r: r, msgs: MessageReader{Max: maxMessage}, pong: make(chan struct{}, 1)}
}

// deadline makes ctx's end a deadline of the connection: set with its
// deadline, now when it is cancelled. The returned func clears it.
func deadline(ctx context.Context, set func(time.Time) error) func() {
	d, _ := ctx.Deadline()
	_ = set(d)
	stop := context.AfterFunc(ctx, func() { _ = set(time.Unix(1, 0)) })
	return func() {
		stop()
		_ = set(time.Time{})
	}
}

// Read returns the next text message, answering pings and noting pongs on
// the way. A frame that breaks the protocol closes the socket with its
// code; the peer's close is answered (CloseReply). Either way the error
// is then ErrClosed or the *Error; ctx's error when it ends first.
func (c *Conn) Read(ctx context.Context) ([]byte, error) {
	defer deadline(ctx, c.c.SetReadDeadline)()
	for {
		f, err := c.readFrame()
		if err != nil {
			var pe *Error
			if errors.As(err, &pe) {
				c.Close(pe.Code, pe.Reason)
				return nil, err
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("%w: %w", ErrClosed, err)
		}
		text, ctl, err := c.msgs.Next(f)
		if err != nil {
			pe := err.(*Error)
			c.Close(pe.Code, pe.Reason)
			return nil, err
		}
		if ctl != nil {
			switch ctl.Opcode {
			case OpPing:
				if err := c.write(ctx, OpPong, ctl.Payload); err != nil {
					return nil, fmt.Errorf("%w: %w", ErrClosed, err)
				}
			case OpPong:
				select {
				case c.pong <- struct{}{}:
				default:
				}
			case OpClose:
				c.Close(CloseReply(ctl.Payload), "")
				return nil, ErrClosed
			}
			continue
		}
		if text != nil {
			return append([]byte(nil), text...), nil
		}
	}
}

// readFrame reads one client frame, its payload unmasked into c.buf.
func (c *Conn) readFrame() (Frame, error) {
	b, err := c.r.Peek(2)
	if err != nil {
		return Frame{}, err
	}
	if b, err = c.r.Peek(HeaderSize(b[1])); err != nil {
		return Frame{}, err
	}
	h, err := ParseHeader(b, FromClient, c.msgs.Max)
	if err != nil {
		return Frame{}, err
	}
	_, _ = c.r.Discard(h.Size)
	if uint64(cap(c.buf)) < h.Length {
		c.buf = make([]byte, h.Length)
	}
	p := c.buf[:h.Length]
	if _, err := io.ReadFull(c.r, p); err != nil {
		return Frame{}, err
	}
	Unmask(p, h.Mask)
	return Frame{Fin: h.Fin, Opcode: h.Opcode, Payload: p}, nil
}

// Write sends one text message, within ctx.
func (c *Conn) Write(ctx context.Context, b []byte) error {
	return c.write(ctx, OpText, b)
}

func (c *Conn) write(ctx context.Context, op byte, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	defer deadline(ctx, c.c.SetWriteDeadline)()
	_, err := c.c.Write(AppendFrame(make([]byte, 0, len(b)+MaxHeader), op, b))
	return err
}

// Ping sends a ping and waits for a pong (which Read notes) until ctx
// ends.
func (c *Conn) Ping(ctx context.Context) error {
	select { // a pong from before does not answer this ping
	case <-c.pong:
	default:
	}
	if err := c.write(ctx, OpPing, nil); err != nil {
		return err
	}
	select {
	case <-c.pong:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close sends a close frame with code and reason (once), shuts the write
// side and closes the connection CloseLinger later; Read then returns.
func (c *Conn) Close(code uint16, reason string) {
	c.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), HandshakeTimeout)
		_ = c.write(ctx, OpClose, ClosePayload(code, reason))
		cancel()
		if cw, ok := c.c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		time.AfterFunc(CloseLinger, func() { _ = c.c.Close() })
	})
}

// CloseNow closes the connection without a close frame.
func (c *Conn) CloseNow() {
	c.closeOnce.Do(func() { _ = c.c.Close() })
}
