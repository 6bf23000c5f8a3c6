// Package overlay is Vitrine's shopping data channel: typed events, one
// Room per campaign (an ordered, durable log and the current state), the
// bus that carries events between nodes, and the transports: the WebSocket
// (Handler.ServeHTTP) and a WHEP session's WebRTC data channel
// (Handler.ServeDataChannel).
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
package overlay

import (
	"encoding/base32"
	"encoding/json"
	"fmt"
	"time"
)

// Version is the envelope version, the "v" field.
const Version = 1

// Event types.
const (
	TypeProductPinned   = "product.pinned"
	TypeProductUnpinned = "product.unpinned"
	TypeVoucherPinned   = "voucher.pinned"
	TypeVoucherUnpinned = "voucher.unpinned"
	TypeChatMessage     = "chat.message"
	TypeLikeCount       = "like.count"
	TypeStreamLive      = "stream.live"
	TypeStreamEnded     = "stream.ended"
	TypeViewerCount     = "viewer.count"

	// TypeSnapshot is not logged: the state sent to a client joining
	// without since.
	TypeSnapshot = "snapshot"
)

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
		return nil, fmt.Errorf("overlay: envelope: %w", err)
	}
	if env.V != Version || env.Seq <= 0 || env.Type == "" || len(env.Data) == 0 {
		return nil, fmt.Errorf("overlay: envelope: want v %d, a positive seq, a type and data", Version)
	}
	return &Message{Envelope: env, JSON: b}, nil
}

// ProductRef is a pinned product as viewers see it.
type ProductRef struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Price    string `json:"price"`    // decimal string, "129.00"
	Currency string `json:"currency"` // ISO 4217
	ImageURL string `json:"image_url"`
	URL      string `json:"url"` // the product page on the seller's shop
}

// VoucherRef is a pinned voucher as viewers see it.
type VoucherRef struct {
	ID            string    `json:"id"`
	Code          string    `json:"code"`
	Name          string    `json:"name"`
	DiscountType  string    `json:"discount_type"`  // "percent" or "amount"
	DiscountValue string    `json:"discount_value"` // "10" (%) or "5.00"
	Currency      string    `json:"currency"`
	MinSpend      string    `json:"min_spend"`
	EndsAt        time.Time `json:"ends_at"`
}

// ProductPinned is the data of product.pinned: the product now shows on
// the video, after those already pinned.
type ProductPinned struct {
	Product ProductRef `json:"product"`
}

// ProductUnpinned is the data of product.unpinned.
type ProductUnpinned struct {
	ProductID string `json:"product_id"`
}

// VoucherPinned is the data of voucher.pinned: it replaces the pinned
// voucher, if any (one voucher shows at a time).
type VoucherPinned struct {
	Voucher VoucherRef `json:"voucher"`
}

// VoucherUnpinned is the data of voucher.unpinned.
type VoucherUnpinned struct {
	VoucherID string `json:"voucher_id"`
}

// ChatMessage is the data of chat.message. Text and Name are plain text.
type ChatMessage struct {
	ID       string `json:"id"`
	ViewerID string `json:"viewer_id"`
	Name     string `json:"name"`
	Text     string `json:"text"`
}

// LikeCount is the data of like.count, published at most a few times a
// second while viewers tap: Added taps since the previous like.count and
// Count the campaign's total as the publishing node knew it.
type LikeCount struct {
	Count int64 `json:"count"`
	Added int64 `json:"added"`
}

// StreamLive is the data of stream.live and StreamEnded of stream.ended.
type StreamLive struct{}

// StreamEnded is the data of stream.ended.
type StreamEnded struct{}

// ViewerCount is the data of viewer.count.
type ViewerCount struct {
	Count int64 `json:"count"`
}

// State is the data of a snapshot: what a joining viewer must show.
type State struct {
	Products []ProductRef `json:"products"` // pinned, oldest first
	Voucher  *VoucherRef  `json:"voucher"`  // null: none pinned
	Likes    int64        `json:"likes"`
	Viewers  int64        `json:"viewers"`
	Live     bool         `json:"live"`
}

// Schemas documents data for each type as JSON Schema (draft 2020-12, the
// dialect of OpenAPI 3.1), for the OpenAPI document and for clients.
var Schemas = map[string]map[string]any{
	TypeProductPinned:   object(props{"product": productSchema}, "product"),
	TypeProductUnpinned: object(props{"product_id": str("id of the product")}, "product_id"),
	TypeVoucherPinned:   object(props{"voucher": voucherSchema}, "voucher"),
	TypeVoucherUnpinned: object(props{"voucher_id": str("id of the voucher")}, "voucher_id"),
	TypeChatMessage: object(props{
		"id":        str("id of the message"),
		"viewer_id": str("id of the viewer who sent it"),
		"name":      str("display name, plain text"),
		"text":      str("the message, plain text: escape it when rendering"),
	}, "id", "viewer_id", "name", "text"),
	TypeLikeCount: object(props{
		"count": integer("the campaign's total likes"),
		"added": integer("likes since the previous like.count"),
	}, "count", "added"),
	TypeStreamLive:  object(props{}),
	TypeStreamEnded: object(props{}),
	TypeViewerCount: object(props{"count": integer("viewers watching")}, "count"),
	TypeSnapshot: object(props{
		"products": map[string]any{"type": "array", "items": productSchema, "description": "pinned products, oldest first"},
		"voucher":  map[string]any{"oneOf": []any{voucherSchema, map[string]any{"type": "null"}}},
		"likes":    integer("total likes"),
		"viewers":  integer("viewers watching"),
		"live":     map[string]any{"type": "boolean"},
	}, "products", "voucher", "likes", "viewers", "live"),
	TypeError: object(props{
		"code":    map[string]any{"type": "string", "enum": []string{"rate_limited", "unavailable", "too_slow", "going_away", "bad_message", "invalid_since", "not_found"}},
		"message": str("for people"),
	}, "code", "message"),
}

// EnvelopeSchema is the JSON Schema of the envelope.
var EnvelopeSchema = object(props{
	"v":    map[string]any{"type": "integer", "const": Version},
	"seq":  map[string]any{"type": "integer", "minimum": 0, "description": "per campaign, gap-free"},
	"at":   map[string]any{"type": "string", "format": "date-time", "description": "media clock, UTC, milliseconds"},
	"type": map[string]any{"type": "string", "enum": typeNames()},
	"data": map[string]any{"type": "object", "description": "shape given by type"},
}, "v", "seq", "at", "type", "data")

type props = map[string]any

var productSchema = object(props{
	"id": str(""), "name": str(""), "price": str("decimal, e.g. 129.00"), "currency": str("ISO 4217"),
	"image_url": str(""), "url": str("product page"),
}, "id", "name", "price", "currency", "image_url", "url")

var voucherSchema = object(props{
	"id": str(""), "code": str(""), "name": str(""),
	"discount_type":  map[string]any{"type": "string", "enum": []string{"percent", "amount"}},
	"discount_value": str("decimal"), "currency": str("ISO 4217"), "min_spend": str("decimal"),
	"ends_at": map[string]any{"type": "string", "format": "date-time"},
}, "id", "code", "name", "discount_type", "discount_value", "currency", "min_spend", "ends_at")

func object(p props, required ...string) map[string]any {
	m := map[string]any{"type": "object", "properties": p, "additionalProperties": false}
	if len(required) > 0 {
		m["required"] = required
	}
	return m
}

func str(doc string) map[string]any {
	m := map[string]any{"type": "string"}
	if doc != "" {
		m["description"] = doc
	}
	return m
}

func integer(doc string) map[string]any {
	return map[string]any{"type": "integer", "minimum": 0, "description": doc}
}

func typeNames() []string {
	return []string{TypeProductPinned, TypeProductUnpinned, TypeVoucherPinned, TypeVoucherUnpinned,
		TypeChatMessage, TypeLikeCount, TypeStreamLive, TypeStreamEnded, TypeViewerCount, TypeSnapshot, TypeError}
}

// idEncoding is the store's id alphabet: lower-case Crockford base32.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)
