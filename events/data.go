package events

import "time"

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

// ChatMessage is the data of chat.message, chat.question and chat.answer.
// Text and Name are plain text: escape them when rendering.
type ChatMessage struct {
	ID       string `json:"id"`
	ViewerID string `json:"viewer_id"` // "" for the brand's answers
	Name     string `json:"name"`
	Text     string `json:"text"`
	// ReplyTo is the id of the message a brand answer replies to ("" for
	// none), and ReplyText that message's text, so a viewer who joined
	// later can show what was answered.
	ReplyTo   string `json:"reply_to,omitempty"`
	ReplyText string `json:"reply_text,omitempty"`
}

// MessageRef is the data of chat.deleted and chat.displayed.
type MessageRef struct {
	MessageID string `json:"message_id"`
}

// ViewerRef is the data of viewer.banned and viewer.unbanned.
type ViewerRef struct {
	ViewerID string `json:"viewer_id"`
}

// Settings is the data of room.settings and part of the state: how the
// room behaves for viewers.
type Settings struct {
	// PreliveChat opens the chat before the first go-live, ReplayChat
	// keeps it open after the end. During the live it is always open.
	PreliveChat bool `json:"prelive_chat"`
	ReplayChat  bool `json:"replay_chat"`
	// SlowMode is the least time in seconds between two messages of one
	// viewer (0: off; the per-viewer rate limit still applies).
	SlowMode int `json:"slow_mode_seconds"`
	// MaxLength is the longest message in characters (1..MaxChatRunes).
	MaxLength int `json:"max_length"`
	// Survey shows the satisfaction survey to a viewer leaving the live.
	Survey bool `json:"survey"`
	// OrdersTicker shows order.placed to viewers ("Ann bought...").
	OrdersTicker bool `json:"orders_ticker"`
}

// DefaultSettings are a room's settings until a room.settings event.
var DefaultSettings = Settings{PreliveChat: true, ReplayChat: true, MaxLength: MaxChatRunes, Survey: true}

// ChatFilter is the data of chat.filter (host only): messages holding one
// of the words (case-insensitive, whole words) are refused.
type ChatFilter struct {
	Words []string `json:"words"`
}

// LikeCount is the data of like.count, published at most a few times a
// second while viewers tap: Added taps since the previous like.count and
// Count the campaign's total as the publishing node knew it.
type LikeCount struct {
	Count int64 `json:"count"`
	Added int64 `json:"added"`
}

// Share is the data of share (host only).
type Share struct {
	ViewerID string `json:"viewer_id"`
	// Network is where it was shared: "link", "facebook", "x",
	// "whatsapp", "email", "other".
	Network string `json:"network"`
}

// Poll is a poll as viewers see it, the data of poll.opened.
type Poll struct {
	ID       string   `json:"id"`
	Question string   `json:"question"`
	Options  []string `json:"options"`
}

// PollOpened is the data of poll.opened.
type PollOpened struct {
	Poll Poll `json:"poll"`
}

// PollVoted is the data of poll.voted (host only): one viewer's vote, the
// index of an option. Only a viewer's first vote counts.
type PollVoted struct {
	PollID   string `json:"poll_id"`
	ViewerID string `json:"viewer_id"`
	Option   int    `json:"option"`
}

// PollResults is the data of poll.results (published at most a few times
// a second while viewers vote) and poll.closed (the final results).
type PollResults struct {
	PollID string  `json:"poll_id"`
	Votes  []int64 `json:"votes"` // per option, in the poll's order
	Total  int64   `json:"total"`
}

// InstantWin is an instant win (a prize drawn among the viewers who
// entered), the data of instant_win.opened.
type InstantWin struct {
	ID      string `json:"id"`
	Prize   string `json:"prize"`
	Winners int    `json:"winners"` // how many will be drawn
}

// InstantWinOpened is the data of instant_win.opened.
type InstantWinOpened struct {
	InstantWin InstantWin `json:"instant_win"`
}

// InstantWinEntered is the data of instant_win.entered (host only).
type InstantWinEntered struct {
	InstantWinID string `json:"instant_win_id"`
	ViewerID     string `json:"viewer_id"`
	Name         string `json:"name"`
}

// Winner is one drawn viewer.
type Winner struct {
	ViewerID string `json:"viewer_id"`
	Name     string `json:"name"`
}

// InstantWinDrawn is the data of instant_win.drawn.
type InstantWinDrawn struct {
	InstantWinID string   `json:"instant_win_id"`
	Entrants     int64    `json:"entrants"`
	Winners      []Winner `json:"winners"`
}

// SurveyAnswered is the data of survey.answered (host only): a rating
// from 1 to 5 and an optional comment, plain text.
type SurveyAnswered struct {
	ViewerID string `json:"viewer_id"`
	Rating   int    `json:"rating"`
	Comment  string `json:"comment"`
}

// OrderPlaced is the data of order.placed, from the orders API.
type OrderPlaced struct {
	OrderID string `json:"order_id"`
	// Name is the customer's first name, for the orders ticker.
	Name  string      `json:"name"`
	Items []OrderLine `json:"items"`
}

// OrderLine is a line of an order.
type OrderLine struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

// StreamLive is the data of stream.live.
type StreamLive struct{}

// StreamEnded is the data of stream.ended.
type StreamEnded struct{}

// ViewerCount is the data of viewer.count: Count is every node's viewers
// as the publishing node knew them; Node and NodeCount are that node's
// own, which the state sums across nodes.
type ViewerCount struct {
	Count     int64  `json:"count"`
	Node      string `json:"node,omitempty"`
	NodeCount int64  `json:"node_count,omitempty"`
}

// Hello is the data of the first message a viewer receives: who the
// server knows it as. Token is sent back as ?viewer= on reconnection (or
// in a data channel's resume) to keep the same id.
type Hello struct {
	ViewerID string `json:"viewer_id"`
	Token    string `json:"token"`
}

// State is the data of a snapshot: what a joining viewer must show.
type State struct {
	Products []ProductRef `json:"products"` // pinned, oldest first
	Voucher  *VoucherRef  `json:"voucher"`  // null: none pinned
	Likes    int64        `json:"likes"`
	Viewers  int64        `json:"viewers"`
	Live     bool         `json:"live"`
	// Phase is "prelive" (never live yet), "live" or "replay" (ended).
	Phase    string   `json:"phase"`
	Settings Settings `json:"settings"`
	// Chat is the last messages, questions and answers not deleted,
	// oldest first (at most RecentChat).
	Chat        []ChatEntry      `json:"chat"`
	Poll        *PollState       `json:"poll"`         // the poll open or last closed; null: none
	InstantWins []InstantWin     `json:"instant_wins"` // open, not yet drawn
	LastDraw    *InstantWinDrawn `json:"last_draw"`    // null: none drawn yet
}

// ChatEntry is a chat line in a snapshot: the message and its type.
type ChatEntry struct {
	Type string    `json:"type"` // chat.message, chat.question or chat.answer
	At   MediaTime `json:"at"`
	ChatMessage
}

// PollState is a poll with its results.
type PollState struct {
	Poll
	Votes  []int64 `json:"votes"`
	Total  int64   `json:"total"`
	Closed bool    `json:"closed"`
}

// RecentChat is how many chat lines a snapshot carries.
const RecentChat = 50
