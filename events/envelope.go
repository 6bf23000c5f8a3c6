// Package events is the shopping data channel's vocabulary: the envelope,
// the event types and their data, the host-only types, the viewers'
// inbound messages with their limits, and the refusals a room answers.
// It imports no package of the project; overlay (the rooms and their
// transports), recorder, analytics and api import it.
//
// # The envelope
//
// Every message on the channel, on the WebSocket and the WebRTC data
// channel alike, is one JSON object:
//
//		{"v": 1, "seq": 42, "at": "2026-11-22T10:00:00.123Z", "type": "product.pinned", "data": {...}}
//
//	  - v: the envelope version, 1.
//	  - seq: the event's position in its campaign's log: 1, 2, 3... without
//	    gaps, assigned by the store when the event is made durable. A client
//	    that reconnects with ?since=SEQ (the last seq it saw) gets every
//	    event after it, in order, then the live tail.
//	  - at: when it happened on the media clock, RFC 3339 in UTC with
//	    milliseconds. The media clock is the server's wall clock at ingest,
//	    the same clock as the video's EXT-X-PROGRAM-DATE-TIME, so a player
//	    shows the event when the frame on screen reaches at.
//	  - type: one of the Type* constants; data's shape depends on it
//	    (Schemas documents each, as JSON Schema).
//
// Two messages are not events of the log: "snapshot", sent first to a
// client that joins without since (its seq is the last event the state
// reflects: resume with since=that seq; its data a State), and "error",
// seq 0, sent to one viewer about what it sent (rate limited...).
//
// Text in data (chat messages, names) is plain text as the viewer typed
// it: never HTML. Escaping it is the renderer's job (textContent, not
// innerHTML).
package events

import (
	"encoding/json"
	"fmt"
	"time"
)

// Version is the envelope version, the "v" field.
const Version = 1

// TimeLayout is how "at" is written: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// MediaTime is a time on the media clock as the envelope writes it.
type MediaTime time.Time

// MediaNow is the media clock now: the wall clock, in UTC, to the
// millisecond (the envelope's precision, so that an event read back from
// the log is identical to the one broadcast live).
func MediaNow() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// MarshalJSON writes t as "2026-11-22T10:00:00.123Z".
func (t MediaTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(TimeLayout) + `"`), nil
}

// UnmarshalJSON reads any RFC 3339 time.
func (t *MediaTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("at: %w", err)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("at: %w", err)
	}
	*t = MediaTime(v.UTC())
	return nil
}

// Envelope is one message of the channel.
type Envelope struct {
	V    int             `json:"v"`
	Seq  int64           `json:"seq"`
	At   MediaTime       `json:"at"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// Time is At as a time.Time.
func (e *Envelope) Time() time.Time { return time.Time(e.At) }

// Message is an envelope with its JSON encoding, encoded once and shared
// by every subscriber.
type Message struct {
	Envelope
	JSON []byte
}

// NewMessage encodes env.
func NewMessage(env Envelope) (*Message, error) {
	b, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	return &Message{Envelope: env, JSON: b}, nil
}

// ParseMessage decodes an envelope received from the bus.
func ParseMessage(b []byte) (*Message, error) {
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("events: envelope: %w", err)
	}
	if env.V != Version || env.Seq <= 0 || env.Type == "" || len(env.Data) == 0 {
		return nil, fmt.Errorf("events: envelope: want v %d, a positive seq, a type and data", Version)
	}
	return &Message{Envelope: env, JSON: b}, nil
}

// Data maps each type to its data's Go type (a zero value): the API
// derives the JSON Schema of every event from it for the OpenAPI
// document, so the documentation is what the code writes.
var Data = map[string]any{
	TypeProductPinned: ProductPinned{}, TypeProductUnpinned: ProductUnpinned{},
	TypeVoucherPinned: VoucherPinned{}, TypeVoucherUnpinned: VoucherUnpinned{},
	TypeChatMessage: ChatMessage{}, TypeChatQuestion: ChatMessage{}, TypeChatAnswer: ChatMessage{},
	TypeChatDeleted: MessageRef{}, TypeChatDisplayed: MessageRef{},
	TypeViewerBanned: ViewerRef{}, TypeViewerUnban: ViewerRef{},
	TypeRoomSettings: Settings{}, TypeChatFilter: ChatFilter{},
	TypeLikeCount: LikeCount{}, TypeShare: Share{},
	TypePollOpened: PollOpened{}, TypePollVoted: PollVoted{}, TypePollResults: PollResults{}, TypePollClosed: PollResults{},
	TypeInstantWinOpened: InstantWinOpened{}, TypeInstantWinEntered: InstantWinEntered{}, TypeInstantWinDrawn: InstantWinDrawn{},
	TypeSurveyAnswered: SurveyAnswered{}, TypeOrderPlaced: OrderPlaced{},
	TypeStreamLive: StreamLive{}, TypeStreamEnded: StreamEnded{}, TypeViewerCount: ViewerCount{},
	TypeSnapshot: State{}, TypeHello: Hello{}, TypeError: ErrorData{},
}

// ErrorData is the data of an "error" message.
type ErrorData struct {
	// Code: rate_limited, slow_mode, chat_closed, banned, blocked_word,
	// too_long, not_found, unavailable, too_slow, going_away,
	// bad_message, invalid_since, already_done.
	Code    string `json:"code"`
	Message string `json:"message"` // for people
}
