// Package notify sends webhook notifications the Standard Webhooks way
// (https://www.standardwebhooks.com): Publish writes one durable delivery
// per subscribed endpoint into the store's outbox, and Run delivers them,
// signed, with retries and backoff, recording every outcome.
//
// It imports notify/payload, store and internal helpers.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"vitrine/store"
)

// Event types. The data of campaign.* events is a payload.Campaign,
// whichever package sends them (the stream key is never included), of
// order.created the order, and of reminder.created the reminder
// (campaign_id, phone, opt_in), for the seller's SMS provider.
const (
	EventCampaignCreated      = "campaign.created"
	EventCampaignPublished    = "campaign.published"
	EventCampaignStartingSoon = "campaign.starting_soon"
	EventCampaignLive         = "campaign.live"
	EventCampaignEnded        = "campaign.ended"
	EventOrderCreated         = "order.created"
	EventReminderCreated      = "reminder.created"

	// EventAll subscribes a webhook to every event type.
	EventAll = "*"
)

// EventTypes lists every type a webhook may subscribe to, EventAll aside.
var EventTypes = []string{
	EventCampaignCreated, EventCampaignPublished, EventCampaignStartingSoon,
	EventCampaignLive, EventCampaignEnded, EventOrderCreated, EventReminderCreated,
}

// ValidEventType reports whether a webhook may subscribe to t.
func ValidEventType(t string) bool {
	return t == EventAll || slices.Contains(EventTypes, t)
}

// Config configures a Notifier. Zero values take the defaults.
type Config struct {
	Store store.Store
	// HTTPClient sends deliveries. Default: NewTransport(AllowPrivate)
	// with a 10 s timeout, which also applies to a client without one.
	// Redirects are never followed, whatever the client says (a copy is
	// modified); a client with its own Transport must do its own address
	// filtering.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// PollInterval is how often the outbox and the campaign schedule are
	// checked when nothing wakes the dispatcher. Default 1 s.
	PollInterval time.Duration
	// MaxAttempts per delivery before it is marked failed. Default 8.
	MaxAttempts int
	// Backoff is the delay after the attempt-th failed attempt (1-based).
	// Default: 5 s, 30 s, 2 m, 10 m, 30 m, then 1 h, each with ±20 % jitter.
	Backoff func(attempt int) time.Duration
	// Concurrency bounds parallel attempts. Default 4.
	Concurrency int
	// DrainTimeout bounds how long Run waits, once its context is done,
	// for attempts in flight before cancelling them. Default 5 s.
	DrainTimeout time.Duration
	// Lease is how long a delivery this notifier claimed stays reserved
	// for its attempt: other dispatchers on the same store (other nodes)
	// leave it alone that long, and if this node dies mid-attempt, they
	// retry it once the lease has run out. Default twice the HTTP timeout;
	// never less than the HTTP timeout plus the time allowed to load the
	// webhook and record the outcome (so that a live attempt is never
	// taken over).
	Lease time.Duration
	// PublicURL is where viewers reach this server (the API's public URL,
	// e.g. https://live.example.com), for the watch, calendar and image URLs
	// in campaign.starting_soon, which no request triggers. Empty: those
	// URLs are root-relative paths (/watch/{id}).
	PublicURL string
	// AllowPrivate lets deliveries reach loopback, private and link-local
	// addresses: for tests and installations whose receivers are internal.
	AllowPrivate bool
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
}

const (
	defaultTimeout      = 10 * time.Second
	defaultPollInterval = time.Second
	defaultMaxAttempts  = 8
	defaultConcurrency  = 4
	defaultDrainTimeout = 5 * time.Second
	userAgent           = "Vitrine-Webhooks/1"
)

// Notifier publishes events into the outbox and delivers them.
type Notifier struct {
	cfg    Config
	st     store.Store
	client *http.Client
	lease  time.Duration
	base   string // PublicURL without a trailing slash
	log    *slog.Logger
	// wake nudges Run after Publish so a new delivery leaves at once
	// rather than at the next poll; one pending nudge is enough.
	wake    chan struct{}
	running atomic.Bool
}

// New validates cfg and fills in the defaults.
func New(cfg Config) (*Notifier, error) {
	if cfg.Store == nil {
		return nil, errors.New("notify: a store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = defaultPollInterval
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = defaultMaxAttempts
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = defaultConcurrency
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = defaultDrainTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var client http.Client
	if cfg.HTTPClient != nil {
		client = *cfg.HTTPClient
	}
	if client.Timeout <= 0 {
		// An attempt without a deadline would hold a dispatch slot forever.
		client.Timeout = defaultTimeout
	}
	if client.Transport == nil {
		client.Transport = NewTransport(cfg.AllowPrivate)
	}
	// A redirect is a failed attempt: following it would bypass the URL the
	// seller registered (and, to a private address, the guard's intent).
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	lease := cfg.Lease
	if lease <= 0 {
		lease = 2 * client.Timeout
	}
	lease = max(lease, client.Timeout+2*storeTimeout)
	base := strings.TrimRight(cfg.PublicURL, "/")
	if base != "" {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("notify: public URL %q must be an absolute http(s) URL without query", cfg.PublicURL)
		}
	}
	return &Notifier{
		cfg:    cfg,
		st:     cfg.Store,
		client: &client,
		lease:  lease,
		base:   base,
		log:    cfg.Logger.With("component", "notify"),
		wake:   make(chan struct{}, 1),
	}, nil
}

// backoffSteps is the default retry schedule, in the spirit of the spec's
// example: quick first retries for blips, then hourly for outages.
var backoffSteps = []time.Duration{
	5 * time.Second, 30 * time.Second, 2 * time.Minute,
	10 * time.Minute, 30 * time.Minute, time.Hour,
}

// DefaultBackoff is the default Config.Backoff. The jitter spreads retries
// so that endpoints recovering from an outage are not hit all at once.
func DefaultBackoff(attempt int) time.Duration {
	d := backoffSteps[min(max(attempt, 1), len(backoffSteps))-1]
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// envelope is the Standard Webhooks body.
type envelope struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

// timeLayout is RFC 3339 with milliseconds in UTC, as in the overlay
// events' "at".
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// Publish records eventType with data for every webhook subscribed to it
// (or to "*") and wakes the dispatcher. When it returns nil the deliveries
// are in the store and will be attempted even if the process stops now.
// On error some deliveries may already be recorded; retrying the call can
// duplicate those (see the store's missing batch insert).
func (n *Notifier) Publish(ctx context.Context, eventType string, data any) error {
	if eventType == "" || eventType == EventAll {
		return fmt.Errorf("notify: cannot publish event type %q", eventType)
	}
	now := n.cfg.Now().UTC()
	body, err := json.Marshal(envelope{Type: eventType, Timestamp: now.Format(timeLayout), Data: data})
	if err != nil {
		return fmt.Errorf("notify: encode %s payload: %w", eventType, err)
	}
	hooks, err := n.subscribers(ctx, eventType)
	if err != nil {
		return err
	}
	for _, wh := range hooks {
		d := &store.Delivery{
			WebhookID:     wh.ID,
			Type:          eventType,
			Payload:       body,
			Status:        store.DeliveryPending,
			NextAttemptAt: now,
		}
		if err := n.st.CreateDelivery(ctx, d); err != nil {
			return fmt.Errorf("notify: record %s delivery to webhook %s: %w", eventType, wh.ID, err)
		}
	}
	if len(hooks) > 0 {
		n.Wake()
		n.log.Debug("published", "type", eventType, "deliveries", len(hooks))
	}
	return nil
}

// subscribers returns every webhook subscribed to eventType or to "*".
func (n *Notifier) subscribers(ctx context.Context, eventType string) ([]store.Webhook, error) {
	var out []store.Webhook
	page := store.Page{Limit: 200}
	for {
		hooks, next, err := n.st.ListWebhooks(ctx, page)
		if err != nil {
			return nil, fmt.Errorf("notify: list webhooks: %w", err)
		}
		for _, wh := range hooks {
			if slices.Contains(wh.Events, eventType) || slices.Contains(wh.Events, EventAll) {
				out = append(out, wh)
			}
		}
		if next == "" {
			return out, nil
		}
		page.Cursor = next
	}
}

// Wake makes Run check the outbox now instead of at the next poll.
func (n *Notifier) Wake() {
	select {
	case n.wake <- struct{}{}:
	default: // a wake-up is already pending; it will see this work too
	}
}
