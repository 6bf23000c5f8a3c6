package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
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
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", u.RequestURI(), u.Host, base64.StdEncoding.EncodeToString(key)); err != nil {
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
	if res.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("handshake: HTTP %s", res.Status)
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

// next returns the next text message (valid until the following call),
// answering pings on the way.
func (c *wsViewerConn) next() ([]byte, error) {
	for {
		h, err := c.r.Peek(2)
		if err != nil {
			return nil, err
		}
		if h, err = c.r.Peek(frameHeaderLen(h[1])); err != nil {
			return nil, err
		}
		op, hlen, n, err := parseFrameHeader(h)
		if err != nil {
			return nil, err
		}
		_, _ = c.r.Discard(hlen)
		if uint64(cap(c.buf)) < n {
			c.buf = make([]byte, n)
		}
		p := c.buf[:n]
		if _, err := io.ReadFull(c.r, p); err != nil {
			return nil, err
		}
		text, reply, err := controlFrame(op, p)
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

// frameHeaderLen is the length of a server frame's header from its second
// byte (servers do not mask).
func frameHeaderLen(b1 byte) int {
	switch b1 & 0x7F {
	case 126:
		return 4
	case 127:
		return 10
	}
	return 2
}

// parseFrameHeader reads a server frame's header: its opcode, the
// header's length and the payload's.
func parseFrameHeader(h []byte) (op byte, hlen int, n uint64, err error) {
	hlen = frameHeaderLen(h[1])
	if len(h) < hlen {
		return 0, 0, 0, errShortHeader
	}
	n = uint64(h[1] & 0x7F)
	switch hlen {
	case 4:
		n = uint64(binary.BigEndian.Uint16(h[2:4]))
	case 10:
		n = binary.BigEndian.Uint64(h[2:10])
	}
	if h[1]&0x80 != 0 || h[0]&0x80 == 0 || n > 1<<20 {
		return 0, 0, 0, errors.New("unexpected frame from the server (masked, fragmented or over 1 MiB)")
	}
	return h[0] & 0x0F, hlen, n, nil
}

var errShortHeader = errors.New("short frame header")

// control handles a frame that is not a text message: the masked frame
// to send back for a ping or a close (then the close as an error). text
// says the frame is a text message.
func controlFrame(op byte, p []byte) (text bool, reply []byte, err error) {
	switch op {
	case 0x1:
		return true, nil, nil
	case 0x9: // ping: pong with the same payload
		return false, maskedFrame(0xA, p), nil
	case 0x8:
		e := &errWSClosed{code: 1005}
		if len(p) >= 2 {
			e.code, e.reason = int(binary.BigEndian.Uint16(p)), string(p[2:])
		}
		return false, maskedFrame(0x8, p[:min(len(p), 2)]), e
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

// maskedFrame is a client's frame: final, masked.
func maskedFrame(op byte, payload []byte) []byte {
	f := make([]byte, 0, 14+len(payload))
	f = append(f, 0x80|op)
	switch n := len(payload); {
	case n <= 125:
		f = append(f, 0x80|byte(n))
	case n <= 0xFFFF:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	f = append(f, mask[:]...)
	for i, b := range payload {
		f = append(f, b^mask[i&3])
	}
	return f
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
