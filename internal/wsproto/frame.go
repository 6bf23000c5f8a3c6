// Package wsproto is Vitrine's one WebSocket codec and policy (RFC 6455):
// frames read in place from whatever bytes arrived and written in one
// piece, the close handshake's rules, the upgrade's checks (version,
// key, origin), and a goroutine-per-socket connection for the sockets
// that are not parked. The events sockets' two server paths (parked, and
// a goroutine each) and the load tool's viewers all use it, so that the
// close codes, the origin check and the pings cannot drift apart.
//
// It is our own rather than a library's because the parked sockets need
// frames parsed from a non-blocking read's bytes and written with one
// send(2) to many sockets, which the usual libraries (coder/websocket,
// gorilla) do not expose; gobwas/ws does, but for the few hundred lines
// here a dependency would not earn its place. It imports nothing of the
// project.
package wsproto

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Opcodes (section 5.2).
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA
)

// MaxControlPayload is the largest payload of a control frame.
const MaxControlPayload = 125

// MaxHeader is the longest frame header: 2 bytes, a 64-bit length and a
// mask.
const MaxHeader = 14

// AppendFrame appends a final, unmasked frame (a server's) of opcode with
// payload.
func AppendFrame(dst []byte, opcode byte, payload []byte) []byte {
	dst = appendHeader(dst, opcode, len(payload), 0)
	return append(dst, payload...)
}

// AppendMaskedFrame appends a final frame masked with mask (a client's).
func AppendMaskedFrame(dst []byte, opcode byte, payload []byte, mask [4]byte) []byte {
	dst = appendHeader(dst, opcode, len(payload), 0x80)
	dst = append(dst, mask[:]...)
	for i, b := range payload {
		dst = append(dst, b^mask[i&3])
	}
	return dst
}

func appendHeader(dst []byte, opcode byte, n int, maskBit byte) []byte {
	dst = append(dst, 0x80|opcode)
	switch {
	case n <= 125:
		dst = append(dst, maskBit|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, maskBit|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, maskBit|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return dst
}

// Error is a violation of the protocol by the peer: the connection is
// closed with Code.
type Error struct {
	Code   uint16
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("websocket %d: %s", e.Code, e.Reason) }

func protocolError(format string, a ...any) error {
	return &Error{Code: CloseProtocolError, Reason: fmt.Sprintf(format, a...)}
}

// ErrNeedMore: the bytes end inside a frame.
var ErrNeedMore = errors.New("incomplete frame")

// Side says whose frames are read: a server reads a client's (masked), a
// client a server's (unmasked).
type Side bool

const (
	FromClient Side = true  // frames must be masked
	FromServer Side = false // frames must not be masked
)

// Header is a frame's header.
type Header struct {
	Fin    bool
	Opcode byte
	Length uint64 // the payload's
	Masked bool
	Mask   [4]byte
	Size   int // the header's own length
}

// HeaderSize is the length of the header that starts with b0 b1.
func HeaderSize(b1 byte) int {
	n := 2
	switch b1 & 0x7F {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// ParseHeader reads the header at the start of b: ErrNeedMore if b holds
// only part of it, an *Error for what the protocol forbids (reserved
// bits, a wrong mask for from, an unknown opcode, a fragmented or long
// control frame, a payload over maxPayload).
func ParseHeader(b []byte, from Side, maxPayload int) (Header, error) {
	if len(b) < 2 {
		return Header{}, ErrNeedMore
	}
	h := Header{Fin: b[0]&0x80 != 0, Opcode: b[0] & 0x0F, Masked: b[1]&0x80 != 0, Size: HeaderSize(b[1])}
	if b[0]&0x70 != 0 {
		return Header{}, protocolError("reserved bits set without an extension")
	}
	if h.Masked != bool(from) {
		if from == FromClient {
			return Header{}, protocolError("client frames must be masked")
		}
		return Header{}, protocolError("server frames must not be masked")
	}
	switch h.Opcode {
	case OpContinuation, OpText, OpBinary:
	case OpClose, OpPing, OpPong:
		if !h.Fin {
			return Header{}, protocolError("fragmented control frame")
		}
	default:
		return Header{}, protocolError("unknown opcode %d", h.Opcode)
	}
	if len(b) < h.Size {
		return Header{}, ErrNeedMore
	}
	h.Length = uint64(b[1] & 0x7F)
	pos := 2
	switch h.Length {
	case 126:
		h.Length, pos = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		h.Length, pos = binary.BigEndian.Uint64(b[2:]), 10
	}
	if h.Opcode >= OpClose && h.Length > MaxControlPayload {
		return Header{}, protocolError("control frame over %d bytes", MaxControlPayload)
	}
	if h.Length > uint64(maxPayload) {
		return Header{}, &Error{Code: CloseTooBig, Reason: fmt.Sprintf("message over %d bytes", maxPayload)}
	}
	if h.Masked {
		copy(h.Mask[:], b[pos:pos+4])
	}
	return h, nil
}

// Frame is one frame read, its payload unmasked.
type Frame struct {
	Fin     bool
	Opcode  byte
	Payload []byte
}

// ParseFrame reads the frame at the start of b: the frame, the number of
// bytes it took, ErrNeedMore if b holds only part of it, or an *Error.
// The payload aliases b, unmasked in place.
func ParseFrame(b []byte, from Side, maxPayload int) (Frame, int, error) {
	h, err := ParseHeader(b, from, maxPayload)
	if err != nil {
		return Frame{}, 0, err
	}
	end := h.Size + int(h.Length)
	if len(b) < end {
		return Frame{}, 0, ErrNeedMore
	}
	p := b[h.Size:end]
	if h.Masked {
		Unmask(p, h.Mask)
	}
	return Frame{Fin: h.Fin, Opcode: h.Opcode, Payload: p}, end, nil
}

// Unmask applies mask to p in place (masking and unmasking are one).
func Unmask(p []byte, mask [4]byte) {
	for i := range p {
		p[i] ^= mask[i&3]
	}
}
