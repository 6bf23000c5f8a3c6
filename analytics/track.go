package analytics

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"vitrine/store"
)

// Tracked event types sent by players and widgets (POST /live/{id}/track).
const (
	// TypePageView: the event's page (prelive page, live player, replay)
	// was opened. With the batch's session id it starts a visit.
	TypePageView = "page.view"
	// TypeWidgetView and TypeWidgetClick: a widget on the seller's site
	// (widget: product, player — the floating player — or gallery) was
	// shown, or clicked to open the event.
	TypeWidgetView  = "widget.view"
	TypeWidgetClick = "widget.click"
	// TypeSessionStart, TypeSessionHeartbeat, TypeSessionEnd: the page's
	// presence, a heartbeat every HeartbeatInterval while it is open.
	TypeSessionStart     = "session.start"
	TypeSessionHeartbeat = "session.heartbeat"
	TypeSessionEnd       = "session.end"
	// TypeTeaserWatch: the prelive's teasing video was watched for
	// duration_ms (one event per watch, sent when it stops).
	TypeTeaserWatch = "teaser.watch"
	// TypeCatalogOpen: the product catalog was opened.
	TypeCatalogOpen = "catalog.open"
	// TypeProductClick: a product (product_id) was clicked.
	TypeProductClick = "product.click"
	// TypeCartAdd: a product (product_id, quantity) was added to the cart.
	TypeCartAdd = "cart.add"
	// TypeCartCreate: a cart was created, worth amount.
	TypeCartCreate = "cart.create"
	// TypePurchase: a purchase was validated: amount, product_ids, and
	// the shop's order code as order_id when known (an order reported by
	// the shop with that code is the same purchase, counted once).
	TypePurchase = "purchase"
	// TypeShare: the event was shared (network) from a widget or a page
	// without the events socket (the player shares on the socket).
	TypeShare = "share"
	// TypeLike: a like tap, for the engagement rate only: the like count
	// is the data channel's.
	TypeLike = "like"
	// TypeAlertOpen: the alerting call to action was clicked (the modal).
	TypeAlertOpen = "alert.open"
	// TypeAlertSubscribe: the viewer subscribed to be alerted (channel sms
	// or calendar), with what they left: name, phone, email, opt_in.
	TypeAlertSubscribe = "alert.subscribe"
	// TypeSurveyView: the satisfaction survey was shown.
	TypeSurveyView = "survey.view"
)

// Types the server records itself; a batch may not send them.
const (
	TypeHLSStart      = "hls.start"
	TypeHLSHeartbeat  = "hls.heartbeat"
	TypeHLSEnd        = "hls.end"
	TypeWHEPStart     = "whep.start"
	TypeWHEPHeartbeat = "whep.heartbeat"
	TypeWHEPEnd       = "whep.end"
)

// ClientTypes are the types a batch may carry.
var ClientTypes = []string{TypePageView, TypeWidgetView, TypeWidgetClick, TypeSessionStart, TypeSessionHeartbeat,
	TypeSessionEnd, TypeTeaserWatch, TypeCatalogOpen, TypeProductClick, TypeCartAdd, TypeCartCreate, TypePurchase,
	TypeShare, TypeLike, TypeAlertOpen, TypeAlertSubscribe, TypeSurveyView}

// Widgets and alert channels.
const (
	WidgetProduct = "product"
	WidgetPlayer  = "player"
	WidgetGallery = "gallery"

	ChannelSMS      = "sms"
	ChannelCalendar = "calendar"
)

// Bounds of a batch.
const (
	MaxBatchBytes   = 64 << 10
	MaxBatchEvents  = 100
	MaxIDLength     = 64
	MaxURLLength    = 2048
	MaxTextRunes    = 200
	MaxProductIDs   = 50
	MaxDuration     = 24 * time.Hour
	MaxQuantity     = 100_000
	HeartbeatEvery  = 30 * time.Second
	maxPastSkew     = time.Hour
	maxFutureSkew   = time.Minute
	minEventIDBytes = 8
)

var idPattern = regexp.MustCompile(IDPattern)

// IDPattern is what a viewer id or a session id looks like: 1 to 64
// letters, digits, _ or -.
const IDPattern = `^[A-Za-z0-9_-]{1,64}$`

// ValidID reports whether s is a viewer id or a session id as tracking
// batches carry them.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// TrackBatch is what a player or widget sends: events of one viewer.
type TrackBatch struct {
	ViewerID  string       `json:"viewer_id" required:"true" pattern:"^[A-Za-z0-9_-]{1,64}$" doc:"the viewer's anonymous id (from POST /live/{id}/viewer, or one the widget keeps)"`
	SessionID string       `json:"session_id" pattern:"^[A-Za-z0-9_-]{1,64}$" doc:"the page's session: a new one per page load, and after a pause longer than 5 minutes. Widgets on the seller's site send none."`
	Referrer  string       `json:"referrer" maxLength:"2048" doc:"document.referrer of the page, for the traffic source"`
	PageURL   string       `json:"page_url" maxLength:"2048" doc:"the page's URL; its utm_source names the traffic source"`
	UTMSource string       `json:"utm_source" maxLength:"64" doc:"traffic source, if the page knows it better than its URL"`
	SentAt    *time.Time   `json:"sent_at" doc:"the sender's clock when sending: event times are corrected by its offset from the server's clock"`
	Events    []TrackEvent `json:"events" required:"true" maxItems:"100" doc:"1 to 100 events"`
}

// TrackEvent is one event of a batch.
type TrackEvent struct {
	ID         string     `json:"id" required:"true" pattern:"^[A-Za-z0-9_-]{8,64}$" doc:"unique per event (a random id): an event sent again is counted once"`
	Type       string     `json:"type" required:"true" enum:"page.view,widget.view,widget.click,session.start,session.heartbeat,session.end,teaser.watch,catalog.open,product.click,cart.add,cart.create,purchase,share,like,alert.open,alert.subscribe,survey.view"`
	At         *time.Time `json:"at" doc:"when it happened on the sender's clock, at most an hour ago; default: when received"`
	Widget     string     `json:"widget" enum:"product,player,gallery" doc:"widget.view, widget.click: which widget (required)"`
	ProductID  string     `json:"product_id" pattern:"^[A-Za-z0-9_-]{1,64}$" doc:"product.click, cart.add: the product (required)"`
	ProductIDs []string   `json:"product_ids" maxItems:"50" doc:"purchase: the products bought"`
	Quantity   int        `json:"quantity" doc:"cart.add: how many (default 1)"`
	Amount     string     `json:"amount" pattern:"^\\d{1,10}(\\.\\d{1,4})?$" doc:"cart.create, purchase: the amount, a decimal string (required)"`
	Currency   string     `json:"currency" pattern:"^[A-Z]{3}$" doc:"cart.create, purchase: ISO 4217 (required)"`
	OrderID    string     `json:"order_id" maxLength:"64" doc:"purchase: the shop's order code, which an order reported to the API also carries"`
	DurationMS int64      `json:"duration_ms" doc:"teaser.watch: how long it was watched (required)"`
	Channel    string     `json:"channel" enum:"sms,calendar" doc:"alert.open, alert.subscribe: the alert's channel (required for alert.subscribe)"`
	Network    string     `json:"network" maxLength:"32" doc:"share: where (link, facebook, x, whatsapp, email, other)"`
	Name       string     `json:"name" maxLength:"200" doc:"alert.subscribe: the subscriber's name, if given"`
	Email      string     `json:"email" maxLength:"200" doc:"alert.subscribe: the subscriber's email, if given"`
	Phone      string     `json:"phone" pattern:"^\\+[1-9]\\d{6,14}$" doc:"alert.subscribe: the subscriber's phone (E.164), if given"`
	OptIn      bool       `json:"opt_in" doc:"alert.subscribe: commercial use of the contact accepted"`
}

// FieldError names one invalid field of a batch.
type FieldError struct {
	Field   string
	Message string
}

// BatchError is every reason a batch is refused.
type BatchError struct {
	// Malformed: not a JSON batch at all (as opposed to invalid fields).
	Malformed bool
	Fields    []FieldError
}

func (e *BatchError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid batch: " + strings.Join(parts, "; ")
}

func (e *BatchError) add(field, format string, args ...any) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// ErrTooLarge: the batch is larger than MaxBatchBytes.
var ErrTooLarge = errors.New("batch too large")

// DecodeBatch reads one batch strictly: at most MaxBatchBytes of UTF-8,
// one JSON object, no unknown fields, nothing after it. It does not
// validate the values (Validate does).
func DecodeBatch(b []byte) (*TrackBatch, error) {
	if len(b) > MaxBatchBytes {
		return nil, ErrTooLarge
	}
	malformed := func(msg string) error {
		return &BatchError{Malformed: true, Fields: []FieldError{{Field: "(body)", Message: msg}}}
	}
	if !utf8.Valid(b) {
		return nil, malformed("not valid UTF-8")
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, malformed("must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var batch TrackBatch
	if err := dec.Decode(&batch); err != nil {
		return nil, malformed(strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, malformed("must hold exactly one JSON value")
	}
	return &batch, nil
}

// Request is what the server knows of the request that brought a batch.
type Request struct {
	CampaignID string
	Now        time.Time
	UserAgent  string
}

// Validate checks every field of the batch and returns its events ready
// to store, with the device (from the User-Agent) and the traffic source
// (from referrer, page URL, utm_source) of the batch. A bot's batch
// returns no events and no error: it is not counted. Any invalid field
// refuses the whole batch with a *BatchError naming all of them.
func (b *TrackBatch) Validate(req Request) ([]store.TrackedEvent, error) {
	var e BatchError
	if !idPattern.MatchString(b.ViewerID) {
		e.add("viewer_id", "must be 1 to %d letters, digits, _ or -", MaxIDLength)
	}
	if b.SessionID != "" && !idPattern.MatchString(b.SessionID) {
		e.add("session_id", "must be 1 to %d letters, digits, _ or -", MaxIDLength)
	}
	checkText(&e, "referrer", b.Referrer, MaxURLLength)
	checkText(&e, "page_url", b.PageURL, MaxURLLength)
	checkText(&e, "utm_source", b.UTMSource, maxSource)
	switch {
	case len(b.Events) == 0:
		e.add("events", "must hold at least one event")
	case len(b.Events) > MaxBatchEvents:
		e.add("events", "must hold at most %d events", MaxBatchEvents)
	}
	var offset time.Duration
	if b.SentAt != nil {
		offset = req.Now.Sub(*b.SentAt)
	}
	device, human := DeviceOf(req.UserAgent)
	source := SourceOf(b.Referrer, b.PageURL, b.UTMSource)
	seen := map[string]bool{}
	out := make([]store.TrackedEvent, 0, len(b.Events))
	for i := range b.Events {
		if i >= MaxBatchEvents {
			break
		}
		ev := &b.Events[i]
		f := fmt.Sprintf("events[%d].", i)
		te := store.TrackedEvent{CampaignID: req.CampaignID, EventID: ev.ID, Type: ev.Type, At: req.Now,
			ViewerID: b.ViewerID, SessionID: b.SessionID, Device: device, Source: source}
		if !idPattern.MatchString(ev.ID) || len(ev.ID) < minEventIDBytes {
			e.add(f+"id", "must be %d to %d letters, digits, _ or -", minEventIDBytes, MaxIDLength)
		} else if seen[ev.ID] {
			e.add(f+"id", "is repeated within the batch")
		}
		seen[ev.ID] = true
		if ev.At != nil {
			at := ev.At.Add(offset)
			if at.Before(req.Now.Add(-maxPastSkew)) || at.After(req.Now.Add(maxFutureSkew)) {
				e.add(f+"at", "must be within the last hour (after correcting by sent_at)")
			} else {
				te.At = earlier(at, req.Now)
			}
		}
		if !slices.Contains(ClientTypes, ev.Type) {
			e.add(f+"type", "must be one of %s", strings.Join(ClientTypes, ", "))
			continue
		}
		ev.check(&e, f, &te)
		out = append(out, te)
	}
	if len(e.Fields) > 0 {
		return nil, &e
	}
	if !human {
		return nil, nil
	}
	return out, nil
}

// contact is the Data of alert.subscribe.
type contact struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
	OptIn bool   `json:"opt_in,omitempty"`
}

// purchaseData is the Data of purchase.
type purchaseData struct {
	OrderID    string   `json:"order_id,omitempty"`
	ProductIDs []string `json:"product_ids,omitempty"`
}

var (
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
	phonePattern    = regexp.MustCompile(`^\+[1-9]\d{6,14}$`)
)

// check validates the fields of one event's type and fills te.
func (ev *TrackEvent) check(e *BatchError, f string, te *store.TrackedEvent) {
	// Fields another type uses are refused rather than ignored: a sender
	// mixing them up would get wrong figures without knowing.
	allowed := map[string][]string{
		TypeWidgetView: {"widget"}, TypeWidgetClick: {"widget"},
		TypeTeaserWatch: {"duration_ms"}, TypeProductClick: {"product_id"}, TypeCartAdd: {"product_id", "quantity"},
		TypeCartCreate: {"amount", "currency"}, TypePurchase: {"amount", "currency", "product_ids", "order_id"},
		TypeShare: {"network"}, TypeAlertOpen: {"channel"},
		TypeAlertSubscribe: {"channel", "name", "email", "phone", "opt_in"},
	}[ev.Type]
	set := map[string]bool{"widget": ev.Widget != "", "product_id": ev.ProductID != "", "product_ids": ev.ProductIDs != nil,
		"quantity": ev.Quantity != 0, "amount": ev.Amount != "", "currency": ev.Currency != "", "order_id": ev.OrderID != "",
		"duration_ms": ev.DurationMS != 0, "channel": ev.Channel != "", "network": ev.Network != "", "name": ev.Name != "",
		"email": ev.Email != "", "phone": ev.Phone != "", "opt_in": ev.OptIn}
	for _, k := range []string{"widget", "product_id", "product_ids", "quantity", "amount", "currency", "order_id",
		"duration_ms", "channel", "network", "name", "email", "phone", "opt_in"} {
		if set[k] && !slices.Contains(allowed, k) {
			e.add(f+k, "does not apply to %s", ev.Type)
		}
	}
	switch ev.Type {
	case TypeWidgetView, TypeWidgetClick:
		if ev.Widget != WidgetProduct && ev.Widget != WidgetPlayer && ev.Widget != WidgetGallery {
			e.add(f+"widget", "must be product, player or gallery")
		}
		te.Target = ev.Widget
	case TypeTeaserWatch:
		if ev.DurationMS <= 0 || ev.DurationMS > MaxDuration.Milliseconds() {
			e.add(f+"duration_ms", "must be from 1 to %d", MaxDuration.Milliseconds())
		}
		te.Value = ev.DurationMS
	case TypeProductClick, TypeCartAdd:
		if !idPattern.MatchString(ev.ProductID) {
			e.add(f+"product_id", "must be a product id")
		}
		te.ProductID = ev.ProductID
		te.Value = 1
		if ev.Type == TypeCartAdd && ev.Quantity != 0 {
			if ev.Quantity < 1 || ev.Quantity > MaxQuantity {
				e.add(f+"quantity", "must be from 1 to %d", MaxQuantity)
			}
			te.Value = int64(ev.Quantity)
		}
	case TypeCartCreate, TypePurchase:
		amount, err := ParseAmount(ev.Amount)
		if err != nil {
			e.add(f+"amount", "must be a decimal string such as 129.00")
		}
		if !currencyPattern.MatchString(ev.Currency) {
			e.add(f+"currency", "must be an ISO 4217 code such as EUR")
		}
		te.AmountE4, te.Currency = amount, ev.Currency
		if ev.Type == TypePurchase {
			if len(ev.ProductIDs) > MaxProductIDs {
				e.add(f+"product_ids", "must hold at most %d ids", MaxProductIDs)
			}
			for j, id := range ev.ProductIDs {
				if !idPattern.MatchString(id) {
					e.add(fmt.Sprintf("%sproduct_ids[%d]", f, j), "must be a product id")
				}
			}
			checkText(e, f+"order_id", ev.OrderID, 64)
			d, _ := json.Marshal(purchaseData{OrderID: ev.OrderID, ProductIDs: ev.ProductIDs})
			te.Data = string(d)
		}
	case TypeShare:
		checkText(e, f+"network", ev.Network, 32)
		te.Target = cleanSource(ev.Network)
		if te.Target == "" {
			te.Target = "other"
		}
	case TypeAlertOpen, TypeAlertSubscribe:
		if (ev.Type == TypeAlertSubscribe || ev.Channel != "") && ev.Channel != ChannelSMS && ev.Channel != ChannelCalendar {
			e.add(f+"channel", "must be sms or calendar")
		}
		te.Target = ev.Channel
		if ev.Type == TypeAlertSubscribe {
			checkText(e, f+"name", ev.Name, MaxTextRunes)
			checkText(e, f+"email", ev.Email, MaxTextRunes)
			if ev.Email != "" {
				if a, err := mail.ParseAddress(ev.Email); err != nil || a.Address != ev.Email {
					e.add(f+"email", "must be an email address")
				}
			}
			if ev.Phone != "" && !phonePattern.MatchString(ev.Phone) {
				e.add(f+"phone", "must be an international number such as +33612345678 (E.164)")
			}
			if ev.Name != "" || ev.Email != "" || ev.Phone != "" || ev.OptIn {
				d, _ := json.Marshal(contact{Name: strings.TrimSpace(ev.Name), Email: ev.Email, Phone: ev.Phone, OptIn: ev.OptIn})
				te.Data = string(d)
			}
		}
	}
}

// checkText refuses text that is too long or holds control characters.
func checkText(e *BatchError, field, s string, maxRunes int) {
	if s == "" {
		return
	}
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxRunes {
		e.add(field, "must be at most %d characters of UTF-8", maxRunes)
		return
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			e.add(field, "must not hold control characters")
			return
		}
	}
}

// NewEventID returns a random event id for events the server records.
func NewEventID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
