package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
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
	Type     string
	Text     string // chat.send: plain text, 1..MaxChatRunes characters
	Name     string // chat.send, instant_win.enter: plain text, 1..MaxNameRunes characters
	Question bool   // chat.send: a question
	ID       string // poll.vote: the poll; instant_win.enter: the instant win
	Option   int    // poll.vote: the option's index
	Rating   int    // survey.answer: 1..5
	Comment  string // survey.answer: plain text, at most MaxChatRunes ("" for none)
	Network  string // share: one of Networks
}

// Networks are the values of a share's network.
var Networks = []string{"link", "facebook", "x", "instagram", "whatsapp", "messenger", "telegram", "email", "sms", "other"}

// ErrBadInbound wraps every reason DecodeInbound refuses a frame.
var ErrBadInbound = errors.New("bad message")

type inboundFrame struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

type chatSend struct {
	Text     string `json:"text"`
	Name     string `json:"name"`
	Question bool   `json:"question"`
}

type pollVote struct {
	PollID string `json:"poll_id"`
	Option *int   `json:"option"`
}

type instantWinEnter struct {
	InstantWinID string `json:"instant_win_id"`
	Name         string `json:"name"`
}

type surveyAnswer struct {
	Rating  int    `json:"rating"`
	Comment string `json:"comment"`
}

type shareData struct {
	Network string `json:"network"`
}

// DecodeInbound reads one viewer frame strictly: one JSON object, no
// unknown fields, nothing after it, at most MaxInboundBytes, a known type,
// valid UTF-8 text without control characters (a newline is allowed in
// chat text; a tab becomes a space, CR LF a newline), trimmed, within
// the length limits. Text is kept as plain
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
		var d chatSend
		if err := inboundData(f, &d); err != nil {
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
		return Inbound{Type: InChatSend, Text: text, Name: name, Question: d.Question}, nil
	case InPollVote:
		var d pollVote
		if err := inboundData(f, &d); err != nil {
			return Inbound{}, err
		}
		if err := checkID("poll_id", d.PollID); err != nil {
			return Inbound{}, err
		}
		if d.Option == nil || *d.Option < 0 || *d.Option > 100 {
			return Inbound{}, fmt.Errorf("%w: option must be the index of an option", ErrBadInbound)
		}
		return Inbound{Type: InPollVote, ID: d.PollID, Option: *d.Option}, nil
	case InInstantWinEnter:
		var d instantWinEnter
		if err := inboundData(f, &d); err != nil {
			return Inbound{}, err
		}
		if err := checkID("instant_win_id", d.InstantWinID); err != nil {
			return Inbound{}, err
		}
		name, err := cleanText("name", d.Name, MaxNameRunes, false)
		if err != nil {
			return Inbound{}, err
		}
		return Inbound{Type: InInstantWinEnter, ID: d.InstantWinID, Name: name}, nil
	case InSurveyAnswer:
		var d surveyAnswer
		if err := inboundData(f, &d); err != nil {
			return Inbound{}, err
		}
		if d.Rating < 1 || d.Rating > 5 {
			return Inbound{}, fmt.Errorf("%w: rating must be 1 to 5", ErrBadInbound)
		}
		var comment string
		if strings.TrimSpace(d.Comment) != "" {
			var err error
			if comment, err = cleanText("comment", d.Comment, MaxChatRunes, true); err != nil {
				return Inbound{}, err
			}
		}
		return Inbound{Type: InSurveyAnswer, Rating: d.Rating, Comment: comment}, nil
	case InShare:
		var d shareData
		if err := inboundData(f, &d); err != nil {
			return Inbound{}, err
		}
		if !slices.Contains(Networks, d.Network) {
			return Inbound{}, fmt.Errorf("%w: network must be one of %s", ErrBadInbound, strings.Join(Networks, ", "))
		}
		return Inbound{Type: InShare, Network: d.Network}, nil
	case "":
		return Inbound{}, fmt.Errorf("%w: no type", ErrBadInbound)
	}
	return Inbound{}, fmt.Errorf("%w: unknown type %q", ErrBadInbound, Truncate(f.Type, 40))
}

// inboundData decodes a frame's data strictly; data is required.
func inboundData(f inboundFrame, v any) error {
	if len(f.Data) == 0 || bytes.Equal(f.Data, []byte("null")) {
		return fmt.Errorf("%w: %s needs data", ErrBadInbound, f.Type)
	}
	return strictJSON(f.Data, v)
}

// checkID accepts the ids the server issues: a short run of letters,
// digits and underscores.
func checkID(field, id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("%w: %s must be an id", ErrBadInbound, field)
	}
	for _, c := range id {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fmt.Errorf("%w: %s must be an id", ErrBadInbound, field)
		}
	}
	return nil
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

// pastedSpace turns what pasted text commonly carries (a tab, a Windows
// line end) into a space and a newline, rather than refusing the message
// and closing the viewer's socket for it.
var pastedSpace = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\t", " ")

func cleanText(field, s string, maxRunes int, newlines bool) (string, error) {
	s = strings.TrimSpace(pastedSpace.Replace(s))
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

// Truncate cuts s to at most n bytes on a character boundary, marking the cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// InResume is the message a viewer may send first on a data channel, the
// channel's ?since:
//
//	{"type": "resume", "data": {"since": 41}}
//
// since is the seq of the last event the viewer received: it gets every
// event after it, then the live tail. {"type": "resume"} (no since) asks
// for the snapshot at once. Anything else first, or nothing within
// HandlerConfig.ResumeWait, and the viewer gets the snapshot; a message
// other than resume is then handled as usual. resume is refused anywhere
// else, and on the WebSocket (use ?since=).
const InResume = "resume"

// Resume is the data of a resume message.
type Resume struct {
	Since  *int64 `json:"since"`
	Viewer string `json:"viewer"` // the token of hello, to keep the viewer id
}

// DecodeResume reads a resume message: ok false if b is not one (it is
// then an ordinary message, or a bad one); since -1 for the snapshot.
func DecodeResume(b []byte) (r Resume, ok bool, err error) {
	since, ok, err := decodeResumeSince(b, &r)
	r.Since = &since
	return r, ok, err
}

func decodeResumeSince(b []byte, d *Resume) (since int64, ok bool, err error) {
	if len(b) > MaxInboundBytes {
		return 0, false, nil
	}
	var f inboundFrame
	if json.Unmarshal(b, &f) != nil || f.Type != InResume {
		return 0, false, nil
	}
	if err := strictJSON(b, &f); err != nil {
		return 0, true, err
	}
	if len(f.Data) > 0 && string(f.Data) != "null" {
		if err := strictJSON(f.Data, d); err != nil {
			return 0, true, err
		}
	}
	if d.Since == nil {
		return -1, true, nil
	}
	if *d.Since < 0 {
		return 0, true, errors.Join(ErrBadInbound, errors.New("since must be the seq of the last event received, an integer >= 0"))
	}
	return *d.Since, true, nil
}
