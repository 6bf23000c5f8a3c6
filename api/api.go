// Package api is Vitrine's HTTP surface for people and programs other than
// players: the admin API under /api/v1 (campaigns, catalog, live control,
// orders, webhooks), the viewer endpoints that are not media (calendar file,
// SMS reminders), uploaded images, and the OpenAPI document describing all
// of it.
//
// Every route is declared once, in routes.go, with its handler and its
// documentation; Register and OpenAPI both read that table, so the document
// cannot drift from the router.
//
// It imports analytics, overlay (the rooms it publishes pins to), events,
// stream, store, notify/payload and internal helpers; never a media protocol
// or a transport.
package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"vitrine/internal/cors"
	"vitrine/overlay"
	"vitrine/store"
	"vitrine/stream"
)

// Notifier hands a notification to the webhook outbox. Publish must be
// durable when it returns nil. It is an interface so that api does not
// depend on the notify package's internals.
type Notifier interface {
	Publish(ctx context.Context, eventType string, data any) error
}

// Config wires the API to the rest of the server.
type Config struct {
	Store      store.Store
	Hub        *stream.Hub
	Notifier   Notifier // nil: no notifications (tests)
	AdminToken string   // required, at least 16 characters
	DataDir    string   // uploaded images live in DataDir/images
	// PublicURL is how viewers and encoders reach this server, e.g.
	// https://live.example.com. Empty: derived from each request.
	PublicURL string
	// TrustProxy honours X-Forwarded-Proto and X-Forwarded-Host when
	// PublicURL is empty, and takes the client address for rate limits
	// from X-Forwarded-For (its last entry). Only set it behind a proxy
	// that overwrites the first two and appends to the last; behind a
	// proxy without it, every client shares the proxy's address, and so
	// its rate limits.
	TrustProxy bool
	// ReminderLimit bounds POST /live/{id}/reminders per client address
	// (429 past it). Zero: DefaultReminderLimit, 10 per minute; a negative
	// Burst disables it.
	ReminderLimit RateLimit
	// AuthFailureLimit bounds failed admin authentications (a missing or
	// wrong token) per client address. Past it, the address gets 429 on
	// every admin route, whatever token it sends, until the bucket refills:
	// checking the token then would let guessing go on at full speed.
	// Successful authentications cost nothing. Zero:
	// DefaultAuthFailureLimit, 20 per minute; a negative Burst disables it.
	// Both limits are counted in this process only.
	AuthFailureLimit RateLimit
	// TrackLimit bounds POST /live/{id}/track per client address. Zero:
	// DefaultTrackLimit, 600 batches a minute; a negative Burst disables it.
	TrackLimit RateLimit
	// RTMPPort and RTSPPort go into ingest URLs; 0 leaves that URL out
	// (the protocol is disabled).
	RTMPPort, RTSPPort int
	// WebRTCInfo, when set, describes a stream's WebRTC playback for the
	// campaign view (the media side owns that knowledge).
	WebRTCInfo func(streamID string) *WebRTCView
	Logger     *slog.Logger
	Now        func() time.Time // default time.Now; also the rate limits' clock
	// Overlay is the shopping data channel the pin routes publish to;
	// nil: they answer 503 overlay_unavailable.
	Overlay *overlay.Rooms
	// Identity issues and checks viewer ids for the viewer routes.
	Identity *overlay.Identity
	// HostEvents serves the host's events socket (transport.Handler.ServeHost)
	// once the admin token is checked; nil: 503.
	HostEvents http.HandlerFunc
	// ActionLimit bounds viewer ids and actions per client address.
	// Zero: DefaultActionLimit; a negative Burst disables it.
	ActionLimit RateLimit
	// Recordings serves recordings, sequences, downloads and resets;
	// nil: their routes answer 404 recording_not_found (reset still works).
	Recordings Recordings
	// SessionTTL is how long a console session lasts without use
	// (session.go); 0: DefaultSessionTTL, 12 h.
	SessionTTL time.Duration
	// WebhookURL vets a webhook's URL at creation (notify.ValidateURL):
	// one the deliveries would never reach, or that carries credentials,
	// is refused with a 422 there rather than failing at every delivery;
	// nil: only the API's own URL checks.
	WebhookURL func(raw string) error
	// AllowOrigins are the origins of the pages (a seller's shop) whose
	// scripts may call the viewer routes (the widget's and the player's:
	// tag Viewers): "*" or scheme://host[:port] each (http.allow_origins).
	// nil: any ("*"); empty: none.
	AllowOrigins []string
}

// MinTokenLength is the shortest admin token New accepts.
const MinTokenLength = 16

// API serves the admin API and the viewer endpoints.
type API struct {
	st       store.Store
	hub      *stream.Hub
	notifier Notifier
	log      *slog.Logger
	now      func() time.Time

	tokenHash  [sha256.Size]byte
	imageDir   string
	publicURL  *url.URL // nil: derive from the request
	trustProxy bool
	rtmpPort   atomic.Int32
	rtspPort   atomic.Int32
	webrtcInfo func(streamID string) *WebRTCView

	routes  []*route
	locks   keyedMutex
	openapi []byte

	reminderLimit *limiter // nil: no limit
	authLimit     *limiter // nil: no limit
	trackLimit    *limiter // nil: no limit

	overlay     *overlay.Rooms // nil: pins answer 503
	identity    *overlay.Identity
	hostEvents  http.HandlerFunc
	actionLimit *limiter
	recordings  Recordings // nil: no recorder
	webhookURL  func(raw string) error
	sessions    *sessionStore // the console's sessions
	origins     []string      // Config.AllowOrigins, for the viewer routes' CORS
}

// New validates cfg, creates the image directory and builds the route
// table and the OpenAPI document.
func New(cfg Config) (*API, error) {
	if cfg.Store == nil {
		return nil, errors.New("api: a store is required")
	}
	if cfg.Hub == nil {
		return nil, errors.New("api: a stream hub is required")
	}
	if len(cfg.AdminToken) < MinTokenLength {
		return nil, fmt.Errorf("api: the admin token must have at least %d characters", MinTokenLength)
	}
	if strings.TrimSpace(cfg.AdminToken) != cfg.AdminToken || strings.ContainsAny(cfg.AdminToken, " \t\r\n") {
		return nil, errors.New("api: the admin token must not contain white space")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("api: a data directory is required")
	}
	for name, p := range map[string]int{"rtmp": cfg.RTMPPort, "rtsp": cfg.RTSPPort} {
		if p < 0 || p > 65535 {
			return nil, fmt.Errorf("api: %s port %d out of range", name, p)
		}
	}
	if cfg.SessionTTL < 0 || (cfg.SessionTTL > 0 && cfg.SessionTTL < time.Minute) {
		return nil, fmt.Errorf("api: session lifetime %s is shorter than a minute", cfg.SessionTTL)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &API{
		st:         cfg.Store,
		hub:        cfg.Hub,
		notifier:   cfg.Notifier,
		log:        cfg.Logger.With("component", "api"),
		now:        func() time.Time { return cfg.Now().UTC().Truncate(time.Microsecond) }, // the store keeps microseconds
		tokenHash:  sha256.Sum256([]byte(cfg.AdminToken)),
		imageDir:   filepath.Join(cfg.DataDir, "images"),
		trustProxy: cfg.TrustProxy,
		overlay:    cfg.Overlay,
		identity:   cfg.Identity,
		hostEvents: cfg.HostEvents,
		webrtcInfo: cfg.WebRTCInfo,
		recordings: cfg.Recordings,
		webhookURL: cfg.WebhookURL,
		sessions:   newSessionStore(cfg.SessionTTL),
	}
	if isNilInterface(cfg.Recordings) {
		a.recordings = nil
	}
	a.origins = cfg.AllowOrigins
	if a.origins == nil {
		a.origins = []string{"*"}
	}
	if _, err := cors.New(a.origins, cors.Policy{}); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	a.reminderLimit = newLimiter(cfg.ReminderLimit, DefaultReminderLimit, cfg.Now)
	a.authLimit = newLimiter(cfg.AuthFailureLimit, DefaultAuthFailureLimit, cfg.Now)
	a.actionLimit = newLimiter(cfg.ActionLimit, DefaultActionLimit, cfg.Now)
	a.trackLimit = newLimiter(cfg.TrackLimit, DefaultTrackLimit, cfg.Now)
	a.SetIngestPorts(cfg.RTMPPort, cfg.RTSPPort)
	if isNilInterface(cfg.Notifier) {
		a.notifier = nil
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("api: public URL %q must be an absolute http(s) URL without query", cfg.PublicURL)
		}
		a.publicURL = u
	}
	if err := os.MkdirAll(a.imageDir, 0o750); err != nil {
		return nil, fmt.Errorf("api: image directory: %w", err)
	}
	a.routes = a.routeTable()
	doc, err := a.buildOpenAPI()
	if err != nil {
		return nil, fmt.Errorf("api: openapi document: %w", err)
	}
	a.openapi = doc
	return a, nil
}

// SetIngestPorts changes the ports put in ingest URLs, for a server that
// learns them only once its listeners are open (":0" in tests). 0 leaves
// that protocol's URL out.
func (a *API) SetIngestPorts(rtmp, rtsp int) {
	a.rtmpPort.Store(int32(rtmp))
	a.rtspPort.Store(int32(rtsp))
}

// OpenAPI returns the OpenAPI 3.1 document served at /api/v1/openapi.json.
func (a *API) OpenAPI() []byte { return a.openapi }

// notify publishes a notification. The change it reports is already
// committed, so a failure is logged rather than turned into an error: the
// client retrying would create a second campaign or order. The context is
// detached from the request so that a client hanging up does not abort
// the outbox write.
func (a *API) notify(ctx context.Context, eventType string, data any) {
	if a.notifier == nil {
		return
	}
	if err := a.notifier.Publish(context.WithoutCancel(ctx), eventType, data); err != nil {
		a.log.ErrorContext(ctx, "notification not recorded", "type", eventType,
			"request_id", requestIDFrom(ctx), "err", err)
	}
}

// isNilInterface catches a typed nil pointer stored in an interface, which
// would pass a plain != nil check and panic on first use.
func isNilInterface(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Interface, reflect.Slice, reflect.Chan:
		return rv.IsNil()
	}
	return false
}
