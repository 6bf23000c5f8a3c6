package wsproto

import (
	"fmt"
	"unicode/utf8"
)

// MessageReader assembles text messages from frames: fragments are joined
// up to Max bytes, control frames handed back to the caller, binary
// messages refused (1003), text that is not UTF-8 refused (1007).
type MessageReader struct {
	Max      int
	fragment []byte // a text message begun, not finished
	inText   bool
}

// Next folds one frame. It returns a complete text message, or a control
// frame to handle (ping, pong, close), or neither for a fragment kept.
// The text may alias f's payload or the reader's buffer: it is valid
// until the next call.
func (m *MessageReader) Next(f Frame) (text []byte, control *Frame, err error) {
	switch f.Opcode {
	case OpPing, OpPong, OpClose:
		return nil, &f, nil
	case OpBinary:
		return nil, nil, &Error{Code: CloseUnsupportedData, Reason: "text frames only"}
	case OpText:
		if m.inText {
			return nil, nil, protocolError("a new message inside a fragmented one")
		}
		if f.Fin {
			return f.Payload, nil, checkText(f.Payload)
		}
		m.inText = true
		m.fragment = append(m.fragment[:0], f.Payload...)
		return nil, nil, nil
	default: // continuation
		if !m.inText {
			return nil, nil, protocolError("a continuation without a message")
		}
		if len(m.fragment)+len(f.Payload) > m.Max {
			return nil, nil, &Error{Code: CloseTooBig, Reason: fmt.Sprintf("message over %d bytes", m.Max)}
		}
		m.fragment = append(m.fragment, f.Payload...)
		if !f.Fin {
			return nil, nil, nil
		}
		text, m.fragment, m.inText = m.fragment, nil, false
		return text, nil, checkText(text)
	}
}

// Pending is the length of a fragmented message being assembled.
func (m *MessageReader) Pending() int { return len(m.fragment) }

func checkText(b []byte) error {
	if !utf8.Valid(b) {
		return &Error{Code: CloseInvalidPayload, Reason: "text is not UTF-8"}
	}
	return nil
}
