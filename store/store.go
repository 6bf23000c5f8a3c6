// Package store persists Vitrine's data behind one interface with two
// implementations: SQLite (modernc.org/sqlite, the embedded default) and
// PostgreSQL (pgx, for several nodes). Both pass the same test suite.
//
// It imports no package of the project.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Errors callers branch on. Implementations wrap them with %w.
var (
	// ErrNotFound: no row with that id (or key).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique value (sku, voucher code, stream key) is taken.
	ErrConflict = errors.New("conflict")
	// ErrInvalidCursor: a list cursor that this store did not issue.
	ErrInvalidCursor = errors.New("invalid cursor")
	// ErrInvalidSort: a CampaignFilter.Sort that is not one of the documented values.
	ErrInvalidSort = errors.New("invalid sort")
	// ErrInvalidFilter: a filter value the store cannot apply, such as an
	// unknown CampaignFilter.Status.
	ErrInvalidFilter = errors.New("invalid filter")
	// ErrStale: an optimistic write lost a race. The row changed since the
	// caller read it (its Version moved on), so the write was refused
	// rather than overwriting the other change. Read again, re-apply the
	// change, write again.
	ErrStale = errors.New("changed since read")
)

// MissingError is the store.ErrNotFound of a lookup by several ids
// (GetProducts, GetVouchers, a campaign's product and voucher lists): it
// matches ErrNotFound with errors.Is, its message names the first missing
// id, and IDs lists every missing id once, in the order they were asked
// for, so that a caller can point at each of them.
type MissingError struct {
	What string   // "product", "voucher"
	IDs  []string // may be empty when the store cannot tell which
}

func (e *MissingError) Error() string {
	switch len(e.IDs) {
	case 0:
		return fmt.Sprintf("a %s: %v", e.What, ErrNotFound)
	case 1:
		return fmt.Sprintf("%s %q: %v", e.What, e.IDs[0], ErrNotFound)
	}
	return fmt.Sprintf("%s %q (and %d more): %v", e.What, e.IDs[0], len(e.IDs)-1, ErrNotFound)
}

// Unwrap makes errors.Is(err, ErrNotFound) hold.
func (e *MissingError) Unwrap() error { return ErrNotFound }

// Store is everything Vitrine keeps. Every method is safe for concurrent use.
// Times are stored and returned in UTC with microsecond precision.
type Store interface {
	Close() error

	CreateProduct(ctx context.Context, p *Product) error // sets ID, CreatedAt, UpdatedAt
	GetProduct(ctx context.Context, id string) (*Product, error)
	// GetProducts returns the products with those ids, in the order asked
	// (a repeated id is repeated). If any is missing it returns a
	// *MissingError (ErrNotFound) naming them and no products.
	GetProducts(ctx context.Context, ids []string) ([]Product, error)
	UpdateProduct(ctx context.Context, p *Product) error // sets UpdatedAt
	DeleteProduct(ctx context.Context, id string) error  // also detaches it from campaigns (their Version moves on)
	ListProducts(ctx context.Context, f ProductFilter) ([]Product, string, error)

	CreateVoucher(ctx context.Context, v *Voucher) error
	GetVoucher(ctx context.Context, id string) (*Voucher, error)
	// GetVouchers is GetProducts for vouchers.
	GetVouchers(ctx context.Context, ids []string) ([]Voucher, error)
	UpdateVoucher(ctx context.Context, v *Voucher) error
	DeleteVoucher(ctx context.Context, id string) error // like DeleteProduct
	ListVouchers(ctx context.Context, f VoucherFilter) ([]Voucher, string, error)

	// CreateCampaign and UpdateCampaign write the campaign and its product
	// and voucher lists in one transaction; unknown product or voucher ids
	// fail with a *MissingError (ErrNotFound) and change nothing.
	CreateCampaign(ctx context.Context, c *Campaign) error // sets ID, Version 1, CreatedAt, UpdatedAt
	GetCampaign(ctx context.Context, id string) (*Campaign, error)
	GetCampaignByStreamKey(ctx context.Context, key string) (*Campaign, error)
	// UpdateCampaign is optimistic: it writes only if the stored campaign
	// still has c.Version, the version c was read at, and then sets
	// c.Version to the next one. If another write came first it changes
	// nothing and fails with ErrStale (wrapped): read the campaign again,
	// re-apply the change and retry. A missing campaign is ErrNotFound.
	UpdateCampaign(ctx context.Context, c *Campaign) error
	// DeleteCampaign deletes the campaign with its links, orders and
	// reminders (and everything else of it), provided it is still at
	// version, the Version it was read at: it is optimistic as
	// UpdateCampaign is, so that a delete decided on a read (the campaign
	// was upcoming) cannot delete a campaign changed meanwhile (gone live
	// on another node). If another write came first it deletes nothing and
	// fails with ErrStale (wrapped): read the campaign again, check it
	// again and retry. A missing campaign is ErrNotFound.
	DeleteCampaign(ctx context.Context, id string, version int64) error
	ListCampaigns(ctx context.Context, f CampaignFilter) ([]Campaign, string, error)

	// CreateOrder is idempotent on (CampaignID, IdempotencyKey): a repeat
	// returns the first order with created == false. An empty key is never
	// deduplicated. A non-empty Code is unique within the campaign: the same
	// code under another key fails with ErrConflict.
	CreateOrder(ctx context.Context, o *Order) (created bool, err error)
	ListOrders(ctx context.Context, campaignID string, p Page) ([]Order, string, error)

	CreateWebhook(ctx context.Context, w *Webhook) error
	GetWebhook(ctx context.Context, id string) (*Webhook, error)
	ListWebhooks(ctx context.Context, p Page) ([]Webhook, string, error)
	DeleteWebhook(ctx context.Context, id string) error

	// Deliveries are the durable outbox of webhook notifications.
	CreateDelivery(ctx context.Context, d *Delivery) error
	// ClaimDueDeliveries atomically takes up to limit (clamped like a page)
	// pending deliveries due at now (NextAttemptAt <= now), the
	// longest-waiting first, and moves their NextAttemptAt to now+lease,
	// which it returns them with. A delivery is therefore claimed by one
	// caller only, across processes and nodes sharing the store, until the
	// lease runs out: the claimer records the outcome (UpdateDelivery)
	// before then, or, if it died, the delivery is due again and another
	// claimer retries it. The result is sorted by CreatedAt, then ID.
	ClaimDueDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Delivery, error)
	UpdateDelivery(ctx context.Context, d *Delivery) error
	ListDeliveries(ctx context.Context, webhookID string, p Page) ([]Delivery, string, error)

	// CreateReminder is idempotent on (CampaignID, Phone): a repeat updates
	// the opt-in flag, keeps the first ID and CreatedAt (r is filled with
	// them) and returns created == false.
	CreateReminder(ctx context.Context, r *Reminder) (created bool, err error)
	ListReminders(ctx context.Context, campaignID string, p Page) ([]Reminder, string, error)

	// AppendEvent appends an overlay event to the campaign's durable log
	// and returns its sequence number: 1 for the campaign's first event,
	// then one more per event, without gaps or repeats even when several
	// nodes append at once (the number is assigned in the transaction that
	// writes the event). at is kept like every time (UTC, microseconds);
	// data must be valid JSON and is returned byte for byte. An unknown
	// campaign is ErrNotFound. Deleting the campaign deletes its log.
	AppendEvent(ctx context.Context, campaignID, eventType string, at time.Time, data []byte) (seq int64, err error)
	// ListEvents returns the campaign's events with Seq > afterSeq in
	// order, at most limit (<= 0 or more than MaxEventPage: MaxEventPage).
	// Fewer than limit means the end of the log was reached. An unknown
	// campaign has no events.
	ListEvents(ctx context.Context, campaignID string, afterSeq int64, limit int) ([]Event, error)
	// LastEventSeq is the Seq of the campaign's last event, 0 if none.
	LastEventSeq(ctx context.Context, campaignID string) (int64, error)

	// The recorder's index (see Recording). SaveRecording inserts or
	// updates the campaign's recording row; an unknown campaign is
	// ErrNotFound. GetRecording of a campaign never recorded is ErrNotFound.
	SaveRecording(ctx context.Context, r *Recording) error
	GetRecording(ctx context.Context, campaignID string) (*Recording, error)
	// ListRecordings returns every recording row, by campaign id.
	ListRecordings(ctx context.Context) ([]Recording, error)
	// SaveRecordingSession inserts or updates a session (its recording
	// must exist: ErrNotFound otherwise).
	SaveRecordingSession(ctx context.Context, s *RecordingSession) error
	ListRecordingSessions(ctx context.Context, campaignID string) ([]RecordingSession, error)
	// SaveRecordingSegment inserts or updates a segment by (campaign, Seq).
	SaveRecordingSegment(ctx context.Context, s *RecordingSegment) error
	// ListRecordingSegments returns the campaign's segments by Seq.
	ListRecordingSegments(ctx context.Context, campaignID string) ([]RecordingSegment, error)
	// DeleteRecordingSegments deletes the campaign's segments with
	// Seq >= fromSeq (a tail that lost its file).
	DeleteRecordingSegments(ctx context.Context, campaignID string, fromSeq int64) error
	// DeleteRecording deletes the campaign's recording row, sessions and
	// segments (not the files: the recorder's job). Deleting none is not
	// an error.
	DeleteRecording(ctx context.Context, campaignID string) error

	// ResetCampaignLive returns a campaign to its state before its first
	// live, in one transaction: its event log (and sequence), its orders
	// and its recording index are deleted, LiveStartedAt, LiveEndedAt (and
	// PreparingSince, LastPreparedAt) cleared, and Version moves on. Whatever else a live leaves behind
	// (statistics...) belongs here too. It returns the campaign as reset.
	ResetCampaignLive(ctx context.Context, campaignID string) (*Campaign, error)
	// Tracked events: analytics (see tracked.go).
	TrackedStore
}

// MaxEventPage is the most events one ListEvents call returns.
const MaxEventPage = 1000

// Event is one entry of a campaign's overlay event log.
type Event struct {
	CampaignID string          `json:"campaign_id"`
	Seq        int64           `json:"seq"`
	Type       string          `json:"type"`
	At         time.Time       `json:"at"`
	Data       json.RawMessage `json:"data"`
}

// Recording states.
const (
	RecordingActive     = "recording"  // a publisher session is being written
	RecordingFinalising = "finalising" // the live ended; the last fragments are being checked
	RecordingReady      = "ready"      // complete: replay and downloads available
	RecordingFailed     = "failed"     // a write error stopped it; what was written before plays
	RecordingDeleted    = "deleted"    // files removed by retention
)

// Recording is the recorder's state for one campaign: every live session
// of the campaign goes into the same recording.
type Recording struct {
	CampaignID string     `json:"campaign_id"`
	State      string     `json:"state"`
	Error      string     `json:"error"`    // the last write error, "" if none
	ErrorAt    *time.Time `json:"error_at"` // when it happened
	StartedAt  time.Time  `json:"started_at"`
	EndedAt    *time.Time `json:"ended_at"` // when the last session ended
	UpdatedAt  time.Time  `json:"updated_at"`
}

// RecordingSession is one publisher session: one init segment, then the
// segments that use it.
type RecordingSession struct {
	CampaignID string     `json:"campaign_id"`
	Session    int        `json:"session"`   // 1, 2, 3...
	InitPath   string     `json:"init_path"` // relative to the recordings directory
	Tracks     string     `json:"tracks"`    // codecs, comma-separated, for people
	StartedAt  time.Time  `json:"started_at"`
	EndedAt    *time.Time `json:"ended_at"`
}

// RecordingSegment is one fMP4 segment file: it starts on a keyframe and
// holds one or more fragments. Size counts the bytes synced to disk.
type RecordingSegment struct {
	CampaignID string        `json:"campaign_id"`
	Seq        int64         `json:"seq"` // 1, 2, 3... across sessions
	Session    int           `json:"session"`
	Path       string        `json:"path"`     // relative to the recordings directory
	StartAt    time.Time     `json:"start_at"` // media clock of its first frame (PROGRAM-DATE-TIME)
	MediaStart time.Duration `json:"media_start"`
	Duration   time.Duration `json:"duration"`
	Size       int64         `json:"size"`
	// Discontinuity marks the first segment after a publisher came back
	// (or of a new session).
	Discontinuity bool `json:"discontinuity"`
	Complete      bool `json:"complete"`
}

// Page selects a page of a list. Limit 0 means the default (50); at most 200
// (a larger limit is clamped). A cursor not issued by the same list and sort
// fails with ErrInvalidCursor. Orders, reminders, webhooks and deliveries
// list oldest first.
type Page struct {
	Limit  int
	Cursor string // opaque, from a previous call; "" for the first page
}

// Product is an item of the seller's catalog. Price is a decimal string
// ("129.00") in Currency (ISO 4217).
type Product struct {
	ID        string    `json:"id"`
	SKU       string    `json:"sku"`
	Name      string    `json:"name"`
	Category  string    `json:"category"`
	Price     string    `json:"price"`
	Currency  string    `json:"currency"`
	ImageURL  string    `json:"image_url"`
	Stock     int       `json:"stock"`
	URL       string    `json:"url"` // the product page on the seller's shop
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ProductFilter: Query matches names (case-insensitive substring),
// Category matches exactly; both optional. Sorted by name, then id.
type ProductFilter struct {
	Query    string
	Category string
	Page
}

// Voucher is a discount: DiscountType "percent" (DiscountValue "10" = 10 %)
// or "amount" (DiscountValue "5.00" in Currency).
type Voucher struct {
	ID            string    `json:"id"`
	Code          string    `json:"code"`
	Name          string    `json:"name"`
	DiscountType  string    `json:"discount_type"`
	DiscountValue string    `json:"discount_value"`
	Currency      string    `json:"currency"`
	MinSpend      string    `json:"min_spend"`
	Quantity      int       `json:"quantity"`
	StartsAt      time.Time `json:"starts_at"`
	EndsAt        time.Time `json:"ends_at"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// VoucherFilter: Query matches names or codes (case-insensitive substring).
// Sorted by name, then id.
type VoucherFilter struct {
	Query string
	Page
}

// Campaign is a scheduled live show.
type Campaign struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	Images      []string  `json:"images"` // ids of uploaded images, in display order
	StartsAt    time.Time `json:"starts_at"`
	EndsAt      time.Time `json:"ends_at"`
	Visibility  string    `json:"visibility"` // "suggested" or "followers"
	ProductIDs  []string  `json:"product_ids"`
	VoucherIDs  []string  `json:"voucher_ids"`
	// NotifyAtCreation sends a notification when the campaign is created.
	NotifyAtCreation bool `json:"notify_at_creation"`
	// NotifyBeforeStart, when > 0, sends one that long before StartsAt.
	NotifyBeforeStart time.Duration `json:"-"`
	// NotifiedBeforeStart records that the "starting soon" notification went out.
	NotifiedBeforeStart bool       `json:"-"`
	Published           bool       `json:"published"`
	StreamKey           string     `json:"-"`
	LiveStartedAt       *time.Time `json:"live_started_at"` // last go-live
	LiveEndedAt         *time.Time `json:"live_ended_at"`   // last end, if after LiveStartedAt
	// PreparingSince is when the campaign's preparation began (the
	// rehearsal before its live: its stream key is accepted and its host
	// sees the picture, viewers do not). nil when it is not in
	// preparation: going live or abandoning the preparation clears it.
	PreparingSince *time.Time `json:"preparing_since"`
	// LastPreparedAt is when the campaign's last preparation began, kept
	// after it ends (as LiveStartedAt is after the live): it tells whether
	// the campaign's last stream was a live's or a preparation's.
	LastPreparedAt *time.Time `json:"last_prepared_at"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	// Version counts the writes of the campaign: 1 when created, one more
	// on every UpdateCampaign, and one more when deleting a product or
	// voucher detaches it from the campaign (its lists change). It is what
	// UpdateCampaign's optimistic check compares: an integer rather than
	// UpdatedAt, because two nodes' clocks can give two writes the same
	// (or a backwards) time, never the same version.
	Version int64 `json:"version"`

	// Transport is how the player page plays the live, as the seller
	// chose: TransportAuto (WebRTC, or LL-HLS when the stream has
	// B-frames), TransportWebRTC or TransportLLHLS. "" reads as auto.
	Transport string `json:"transport"`
	// Country is the ISO 3166-1 alpha-2 code (upper case) of the
	// campaign's audience, the default country of the national phone
	// numbers shoppers leave; "" for none.
	Country string `json:"country"`
}

// A campaign's transports (Campaign.Transport).
const (
	TransportAuto   = "auto"
	TransportWebRTC = "webrtc"
	TransportLLHLS  = "llhls"
)

// Campaign statuses, derived from the campaign's times and now.
const (
	StatusUpcoming  = "upcoming"
	StatusOngoing   = "ongoing"
	StatusEnded     = "ended"
	StatusCompleted = "completed"
)

// Campaign stages: where a campaign stands with its stream, beside its
// status (which the list tabs show, and which a preparation leaves as it
// was: a campaign in preparation is still upcoming, or ended).
const (
	StageOffAir    = "off_air"   // no encoder accepted
	StagePreparing = "preparing" // the encoder is accepted for the host only
	StageLive      = "live"      // on air: status ongoing
)

// Stage is the campaign's stage: live while it is live (status ongoing),
// preparing while PreparingSince is set and it is not live, off_air
// otherwise.
func (c *Campaign) Stage() string {
	switch {
	case c.live():
		return StageLive
	case c.PreparingSince != nil:
		return StagePreparing
	}
	return StageOffAir
}

// Preparing reports whether the campaign is in preparation (Stage
// StagePreparing).
func (c *Campaign) Preparing() bool { return c.Stage() == StagePreparing }

func (c *Campaign) live() bool {
	return c.LiveStartedAt != nil && (c.LiveEndedAt == nil || c.LiveEndedAt.Before(*c.LiveStartedAt))
}

// Status derives the campaign's status at now:
//   - ongoing: it went live and was not ended since;
//   - completed: not live, and its end time has passed;
//   - ended: not live, its live was ended, its end time not yet passed;
//   - upcoming: otherwise.
func (c *Campaign) Status(now time.Time) string {
	switch {
	case c.live():
		return StatusOngoing
	case !now.Before(c.EndsAt):
		return StatusCompleted
	case c.LiveEndedAt != nil:
		return StatusEnded
	default:
		return StatusUpcoming
	}
}

// CampaignFilter selects campaigns. Status filters on the derived status
// at Now; PublishedOnly keeps published campaigns ("active only"); From and
// To keep campaigns whose window overlaps [From, To). Sort is one of
// "starts_at" (default), "-starts_at", "created_at", "-created_at",
// "title", "-title"; ties break on id.
type CampaignFilter struct {
	Query         string
	Status        string
	Now           time.Time
	PublishedOnly bool
	From, To      *time.Time
	Sort          string
	Page
}

// Order is an order the seller's shop reports for a campaign.
type Order struct {
	ID             string      `json:"id"`
	CampaignID     string      `json:"campaign_id"`
	IdempotencyKey string      `json:"-"`
	Code           string      `json:"code"`
	Items          []OrderItem `json:"items"`
	CustomerName   string      `json:"customer_name"`
	Total          string      `json:"total"`
	Currency       string      `json:"currency"`
	// ViewerID is the viewer the order came from, when the shop names one
	// (the player's anonymous viewer id); SessionID, the player page's
	// session, when the shop names that instead. "" when not given.
	ViewerID  string    `json:"viewer_id"`
	SessionID string    `json:"session_id"`
	CreatedAt time.Time `json:"created_at"`
}

// OrderItem is a line of an order.
type OrderItem struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

// Webhook is a subscription of an endpoint to notification types.
type Webhook struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Secret    string    `json:"-"` // "whsec_" + base64, Standard Webhooks
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed" // gave up after the last retry
)

// Delivery is one notification to one webhook and its outcome.
type Delivery struct {
	ID            string     `json:"id"` // also the webhook-id header
	WebhookID     string     `json:"webhook_id"`
	Type          string     `json:"type"`
	Payload       []byte     `json:"-"` // the JSON body
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	LastStatus    int        `json:"last_status"` // HTTP status of the last attempt, 0 if none
	LastError     string     `json:"last_error"`
	CreatedAt     time.Time  `json:"created_at"`
	DeliveredAt   *time.Time `json:"delivered_at"`
}

// Reminder is a viewer's request for an SMS before a campaign starts.
type Reminder struct {
	ID         string    `json:"id"`
	CampaignID string    `json:"campaign_id"`
	Phone      string    `json:"phone"`  // E.164
	OptIn      bool      `json:"opt_in"` // commercial messages accepted
	CreatedAt  time.Time `json:"created_at"`
}
