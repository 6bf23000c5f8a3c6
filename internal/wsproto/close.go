package wsproto

import (
	"encoding/binary"
	"unicode/utf8"
)

// Close codes (section 7.4.1).
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseUnsupportedData = 1003
	CloseNoStatus        = 1005 // never sent: a close frame without a code
	CloseInvalidPayload  = 1007
	ClosePolicyViolation = 1008
	CloseTooBig          = 1009
	CloseInternalError   = 1011
)

// ValidCloseCode says whether a peer may send code in a close frame: the
// codes of section 7.4.1 and IANA's registry that are meant for the wire
// (1000–1003, 1007–1014) and those for libraries and applications
// (3000–4999). 1004, 1005, 1006 and 1015 are reserved and never sent,
// 1016–2999 are reserved for the protocol, the rest is out of range.
func ValidCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// ParseClose reads a close frame's payload: its code (CloseNoStatus for an
// empty payload) and reason, or an *Error saying how the peer broke the
// rules: a one-byte payload or a code it may not send (1002), a reason
// that is not UTF-8 (1007).
func ParseClose(p []byte) (code uint16, reason string, err error) {
	switch {
	case len(p) == 0:
		return CloseNoStatus, "", nil
	case len(p) == 1:
		return 0, "", protocolError("a close payload of one byte")
	}
	code = binary.BigEndian.Uint16(p)
	if !ValidCloseCode(code) {
		return 0, "", protocolError("close code %d may not be sent", code)
	}
	if !utf8.Valid(p[2:]) {
		return 0, "", &Error{Code: CloseInvalidPayload, Reason: "close reason is not UTF-8"}
	}
	return code, string(p[2:]), nil
}

// CloseReply is the code to answer a peer's close frame with: its own
// code when it sent one, 1000 when it sent none, or the error's code when
// the frame broke the rules.
func CloseReply(p []byte) uint16 {
	code, _, err := ParseClose(p)
	if err != nil {
		return err.(*Error).Code
	}
	if code == CloseNoStatus {
		return CloseNormal
	}
	return code
}

// ClosePayload is a close frame's payload: code and reason, the reason
// cut on a character boundary to fit a control frame.
func ClosePayload(code uint16, reason string) []byte {
	if len(reason) > MaxControlPayload-2 {
		n := MaxControlPayload - 2
		for n > 0 && !utf8.RuneStart(reason[n]) {
			n--
		}
		reason = reason[:n]
	}
	p := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), code)
	return append(p, reason...)
}

// CloseFrame is a server's close frame with code and reason.
func CloseFrame(code uint16, reason string) []byte {
	return AppendFrame(nil, OpClose, ClosePayload(code, reason))
}
