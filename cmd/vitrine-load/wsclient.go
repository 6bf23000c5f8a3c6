package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"vitrine/internal/wsproto"
)

// wsViewerConn is a lean WebSocket client for the tool's many viewers: a
// bare TCP connection, a small buffer, frames read in place and the
// envelope's seq and type found without decoding the JSON. Ten thousand
// of them share the machine with the server under test; a heavier client
// would measure itself.
type wsViewerConn struct {
	conn net.Conn
	r    *bufio.Reader
	buf  []byte
}

// dialWSViewer opens an events socket (ws:// only: the tool measures a
// server on a network it controls).
func dialWSViewer(ctx context.Context, rawURL string) (*wsViewerConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "ws" {
		return nil, fmt.Errorf("events URL %q: the viewers speak ws:// only", rawURL)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	key := wsproto.NewKey()
	_ = conn.SetDeadline(time.Now().Add(wsproto.HandshakeTimeout))
	if err := wsproto.WriteRequest(conn, u, key); err != nil {
		conn.Close()
		return nil, err
	}
	c := &wsViewerConn{conn: conn, r: bufio.NewReaderSize(conn, 512)}
	res, err := http.ReadResponse(c.r, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	res.Body.Close()
	if err := wsproto.CheckResponse(res, key); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return c, nil
}

func (c *wsViewerConn) Close() error { return c.conn.Close() }

// errWSClosed is the server's close frame.
type errWSClosed struct {
	code   int
	reason string
}

func (e *errWSClosed) Error() string {
	return fmt.Sprintf("closed by the server: %d %s", e.code, e.reason)
}

// maxServerFrame bounds what the tool accepts from the server: envelopes
// are far smaller.
const maxServerFrame = 1 << 20

// next returns the next text message (valid until the following call),
// answering pings on the way.
func (c *wsViewerConn) next() ([]byte, error) {
	for {
		b, err := c.r.Peek(2)
		if err != nil {
			return nil, err
		}
		if b, err = c.r.Peek(wsproto.HeaderSize(b[1])); err != nil {
			return nil, err
		}
		h, err := serverHeader(b)
		if err != nil {
			return nil, err
		}
		_, _ = c.r.Discard(h.Size)
		if uint64(cap(c.buf)) < h.Length {
			c.buf = make([]byte, h.Length)
		}
		p := c.buf[:h.Length]
		if _, err := io.ReadFull(c.r, p); err != nil {
			return nil, err
		}
		text, reply, err := controlFrame(h.Opcode, p)
		if text {
			return p, nil
		}
		if reply != nil {
			if werr := c.writeFrame(reply); werr != nil && err == nil {
				return nil, werr
			}
		}
		if err != nil {
			return nil, err
		}
	}
}

// serverHeader reads a server frame's header; ErrNeedMore when b holds
// only part of it. The server sends each message in one frame.
func serverHeader(b []byte) (wsproto.Header, error) {
	h, err := wsproto.ParseHeader(b, wsproto.FromServer, maxServerFrame)
	if err == nil && !h.Fin {
		err = errors.New("unexpected fragmented frame from the server")
	}
	return h, err
}

// controlFrame handles a frame that is not a text message: the masked
// frame to send back for a ping or a close (then the close as an error).
// text says the frame is a text message.
func controlFrame(op byte, p []byte) (text bool, reply []byte, err error) {
	switch op {
	case wsproto.OpText:
		return true, nil, nil
	case wsproto.OpPing: // pong with the same payload
		return false, maskedFrame(wsproto.OpPong, p), nil
	case wsproto.OpClose:
		code, reason, perr := wsproto.ParseClose(p)
		if perr != nil {
			return false, maskedFrame(wsproto.OpClose, wsproto.ClosePayload(perr.(*wsproto.Error).Code, "")), perr
		}
		e := &errWSClosed{code: int(code), reason: reason}
		reply := wsproto.ClosePayload(code, "")
		if code == wsproto.CloseNoStatus {
			reply = nil
		}
		return false, maskedFrame(wsproto.OpClose, reply), e
	}
	return false, nil, nil
}

// write sends one masked frame (a client's frames are masked).
func (c *wsViewerConn) write(op byte, payload []byte) error {
	return c.writeFrame(maskedFrame(op, payload))
}

func (c *wsViewerConn) writeFrame(f []byte) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.conn.Write(f)
	return err
}

// maskedFrame is a client's frame: final, masked with a random key.
func maskedFrame(op byte, payload []byte) []byte {
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	return wsproto.AppendMaskedFrame(make([]byte, 0, wsproto.MaxHeader+len(payload)), op, payload, mask)
}

// envelopeHeader finds seq and type in an envelope, which the server
// writes as {"v":1,"seq":N,"at":"...","type":"..."...}.
func envelopeHeader(b []byte) (seq int64, typ []byte, ok bool) {
	i := bytes.Index(b, []byte(`"seq":`))
	if i < 0 {
		return 0, nil, false
	}
	rest := b[i+6:]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	seq, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	if err != nil {
		return 0, nil, false
	}
	i = bytes.Index(b, []byte(`"type":"`))
	if i < 0 {
		return 0, nil, false
	}
	rest = b[i+8:]
	j = bytes.IndexByte(rest, '"')
	if j < 0 {
		return 0, nil, false
	}
	return seq, rest[:j], true
}

// chatSentAt finds the send time in one of the tool's chat messages.
func chatSentAt(b []byte) (time.Time, bool) {
	i := bytes.Index(b, []byte(`"text":"`+chatPrefix))
	if i < 0 {
		return time.Time{}, false
	}
	rest := b[i+8+len(chatPrefix):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	ns, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}
