package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
	// REMOVEDIMPORT
)

// The WebSocket framing (RFC 6455, section 5) of the parked sockets: the
// server writes unmasked frames, each message in one frame; it reads the
// viewers' masked frames incrementally from whatever bytes a non-blocking
// read returned, so that no goroutine waits on an idle viewer.

// WebSocket opcodes.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// WebSocket close codes (RFC 6455, section 7.4.1).
const (
	closeNormal          = 1000
	closeGoingAway       = 1001
	closeProtocolError   = 1002
	closeUnsupportedData = 1003
	closeInvalidPayload  = 1007
	closePolicyViolation = 1008
	closeTooBig          = 1009
	closeInternalError   = 1011
)

// maxControlPayload is the largest payload of a control frame.
const maxControlPayload = 125

// appendFrame appends a final, unmasked frame of opcode with payload.
func appendFrame(dst []byte, opcode byte, payload []byte) []byte {
	dst = append(dst, 0x80|opcode)
	switch n := len(payload); {
	case n <= 125:
		dst = append(dst, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// closeFrame is a close frame with code and a reason (cut to fit a
// control frame, on a rune boundary).
func closeFrame(code uint16, reason string) []byte {
	if len(reason) > maxControlPayload-2 {
		reason = truncateBytes(reason, maxControlPayload-2)
	}
	p := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), code)
	return appendFrame(nil, opClose, append(p, reason...))
}

// truncateBytes cuts s to at most n bytes without splitting a rune.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// frameError is a violation of the protocol by the peer: the socket is
// closed with code.
type frameError struct {
	code   uint16
	reason string
}

func (e *frameError) Error() string { return fmt.Sprintf("websocket %d: %s", e.code, e.reason) }

func protocolError(format string, a ...any) error {
	return &frameError{code: closeProtocolError, reason: fmt.Sprintf(format, a...)}
}

// errNeedMore: the buffer ends inside a frame.
var errNeedMore = errors.New("incomplete frame")

// frame is one frame read from a viewer, its payload unmasked in place.
type frame struct {
	fin     bool
	opcode  byte
	payload []byte
}

// parseFrame reads the frame at the start of b: the frame, the number of
// bytes it took, errNeedMore if b holds only part of it, or a
// *frameError. A frame's payload may not exceed maxPayload (a
// *frameError with 1009). The payload aliases b, unmasked in place.
func parseFrame(b []byte, maxPayload int) (frame, int, error) {
	if len(b) < 2 {
		return frame{}, 0, errNeedMore
	}
	f := frame{fin: b[0]&0x80 != 0, opcode: b[0] & 0x0F}
	if b[0]&0x70 != 0 {
		return frame{}, 0, protocolError("reserved bits set without an extension")
	}
	if b[1]&0x80 == 0 {
		return frame{}, 0, protocolError("client frames must be masked")
	}
	switch f.opcode {
	case opContinuation, opText, opBinary:
	case opClose, opPing, opPong:
		if !f.fin {
			return frame{}, 0, protocolError("fragmented control frame")
		}
	default:
		return frame{}, 0, protocolError("unknown opcode %d", f.opcode)
	}
	n, pos := uint64(b[1]&0x7F), 2
	switch n {
	case 126:
		if len(b) < 4 {
			return frame{}, 0, errNeedMore
		}
		n, pos = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return frame{}, 0, errNeedMore
		}
		n, pos = binary.BigEndian.Uint64(b[2:]), 10
	}
	if f.opcode >= opClose && n > maxControlPayload {
		return frame{}, 0, protocolError("control frame over %d bytes", maxControlPayload)
	}
	if n > uint64(maxPayload) {
		return frame{}, 0, &frameError{code: closeTooBig, reason: fmt.Sprintf("message over %d bytes", maxPayload)}
	}
	if len(b) < pos+4+int(n) {
		return frame{}, 0, errNeedMore
	}
	mask := b[pos : pos+4]
	pos += 4
	f.payload = b[pos : pos+int(n)]
	for i := range f.payload {
		f.payload[i] ^= mask[i&3]
	}
	return f, pos + int(n), nil
}

// maxFrameOverhead is the largest header of a frame from a viewer (its
// 64-bit length and mask).
const maxFrameOverhead = 14

// message assembles the text messages of a viewer's frames: fragments
// are joined (up to the message limit), control frames answered by the
// caller.
type messageReader struct {
	max      int
	fragment []byte // a text message begun, not finished
	inText   bool
}

// next folds one frame. It returns a complete text message, or a control
// frame to handle (ping, pong, close), or neither for a fragment kept.
func (m *messageReader) next(f frame) (text []byte, control *frame, err error) {
	switch f.opcode {
	case opPing, opPong, opClose:
		return nil, &f, nil
	case opBinary:
		return nil, nil, &frameError{code: closeUnsupportedData, reason: "text frames only"}
	case opText:
		if m.inText {
			return nil, nil, protocolError("a new message inside a fragmented one")
		}
		if f.fin {
			return f.payload, nil, checkText(f.payload)
		}
		m.inText = true
		m.fragment = append(m.fragment[:0], f.payload...)
		return nil, nil, nil
	default: // continuation
		if !m.inText {
			return nil, nil, protocolError("a continuation without a message")
		}
		if len(m.fragment)+len(f.payload) > m.max {
			return nil, nil, &frameError{code: closeTooBig, reason: fmt.Sprintf("message over %d bytes", m.max)}
		}
		m.fragment = append(m.fragment, f.payload...)
		if !f.fin {
			return nil, nil, nil
		}
		text, m.fragment, m.inText = m.fragment, nil, false
		return text, nil, checkText(text)
	}
}

func checkText(b []byte) error {
	if !utf8.Valid(b) {
		return &frameError{code: closeInvalidPayload, reason: "text is not UTF-8"}
	}
	return nil
}
