package overlay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Inbound message types, sent by viewers on the events socket, the data
// channel, or POST /live/{id}/actions:
//
//	{"type": "chat.send", "data": {"text": "Is it waterproof?", "name": "Ann", "question": true}}
//	{"type": "like"}
//	{"type": "poll.vote", "data": {"poll_id": "poll_...", "option": 0}}
//	{"type": "instant_win.enter", "data": {"instant_win_id": "iw_...", "name": "Ann"}}
//	{"type": "survey.answer", "data": {"rating": 5, "comment": "Great show"}}
//	{"type": "share", "data": {"network": "whatsapp"}}
const (
	InChatSend        = "chat.send"
	InLike            = "like"
	InPollVote        = "poll.vote"
	InInstantWinEnter = "instant_win.enter"
	InSurveyAnswer    = "survey.answer"
	InShare           = "share"
)

// Limits of inbound messages.
const (
	MaxInboundBytes = 4 << 10 // a frame larger than this closes the socket
	MaxChatRunes    = 500
	MaxNameRunes    = 40
)

// Inbound is a decoded, validated viewer message.
type Inbound struct {
	Type string
	Text string // chat.send: plain text, 1..MaxChatRunes characters
	Name string // chat.send: plain text, 1..MaxNameRunes characters
}

// ErrBadInbound wraps every reason DecodeInbound refuses a frame.
var ErrBadInbound = errors.New("bad message")

type inboundFrame struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

type chatSend struct {
	Text string `json:"text"`
	Name string `json:"name"`
}

// DecodeInbound reads one viewer frame strictly: one JSON object, no
// unknown fields, nothing after it, at most MaxInboundBytes, a known type,
// valid UTF-8 text without control characters (a newline is allowed in
// chat text), trimmed, within the length limits. Text is kept as plain
// text, not escaped: the renderer escapes it.
func DecodeInbound(b []byte) (Inbound, error) {
	if len(b) > MaxInboundBytes {
		return Inbound{}, fmt.Errorf("%w: larger than %d bytes", ErrBadInbound, MaxInboundBytes)
	}
	if !utf8.Valid(b) {
		return Inbound{}, fmt.Errorf("%w: not UTF-8", ErrBadInbound)
	}
	var f inboundFrame
	if err := strictJSON(b, &f); err != nil {
		return Inbound{}, err
	}
	switch f.Type {
	case InLike:
		if len(f.Data) > 0 && !bytes.Equal(bytes.TrimSpace(f.Data), []byte("{}")) && !bytes.Equal(f.Data, []byte("null")) {
			return Inbound{}, fmt.Errorf("%w: like takes no data", ErrBadInbound)
		}
		return Inbound{Type: InLike}, nil
	case InChatSend:
		if len(f.Data) == 0 || bytes.Equal(f.Data, []byte("null")) {
			return Inbound{}, fmt.Errorf("%w: chat.send needs data", ErrBadInbound)
		}
		var d chatSend
		if err := strictJSON(f.Data, &d); err != nil {
			return Inbound{}, err
		}
		text, err := cleanText("text", d.Text, MaxChatRunes, true)
		if err != nil {
			return Inbound{}, err
		}
		name, err := cleanText("name", d.Name, MaxNameRunes, false)
		if err != nil {
			return Inbound{}, err
		}
		return Inbound{Type: InChatSend, Text: text, Name: name}, nil
	case "":
		return Inbound{}, fmt.Errorf("%w: no type", ErrBadInbound)
	}
	return Inbound{}, fmt.Errorf("%w: unknown type %q", ErrBadInbound, truncate(f.Type, 40))
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadInbound, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", ErrBadInbound)
	}
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("null")) {
		return fmt.Errorf("%w: null", ErrBadInbound)
	}
	return nil
}

func cleanText(field, s string, maxRunes int, newlines bool) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: empty %s", ErrBadInbound, field)
	}
	if n := utf8.RuneCountInString(s); n > maxRunes {
		return "", fmt.Errorf("%w: %s of %d characters, at most %d", ErrBadInbound, field, n, maxRunes)
	}
	for _, r := range s {
		if r == utf8.RuneError || (unicode.IsControl(r) && !(newlines && r == '\n')) ||
			r == '\u2028' || r == '\u2029' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
			return "", fmt.Errorf("%w: %s holds a control character (%U)", ErrBadInbound, field, r)
		}
	}
	return s, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
