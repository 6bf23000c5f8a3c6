package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"vitrine/events"
	"vitrine/internal/clientaddr"
	"vitrine/internal/httperr"
	"vitrine/internal/netpoll"
	"vitrine/internal/wsproto"
	"vitrine/overlay"
	"vitrine/store"
)

// Campaigns tells the handler whether a campaign exists (store.Store fits).
type Campaigns interface {
	GetCampaign(ctx context.Context, id string) (*store.Campaign, error)
}

// Config configures the WebSocket transport.
type Config struct {
	Rooms     *overlay.Rooms // required
	Campaigns Campaigns      // required
	// OriginPatterns are the origins (host patterns, path.Match) allowed
	// besides the server's own, for the player embedded in a seller's
	// shop. nil: any origin; the events socket is public and needs no
	// cookie, so a cross-site page gains nothing a viewer does not have.
	OriginPatterns []string
	// PingInterval is the keepalive: a ping every interval (0: 20 s); a
	// viewer that does not answer within PongTimeout (0: 10 s) is
	// disconnected.
	PingInterval time.Duration
	PongTimeout  time.Duration
	// WriteTimeout bounds one send (0: 10 s).
	WriteTimeout time.Duration
	// ChatRate and ChatBurst limit each connection's chat messages (0:
	// one a second, bursts of 5); past them the viewer gets an error
	// message and the chat is dropped.
	ChatRate  float64
	ChatBurst int
	// LikeRate and LikeBurst limit each connection's likes (0: 10 a
	// second, bursts of 20); taps past them are not counted.
	LikeRate  float64
	LikeBurst int
	// ResumeWait is how long a data channel waits for the viewer's first
	// message, a "resume" (0: 500 ms); then it sends the snapshot.
	ResumeWait time.Duration
	// Identity issues and checks viewer ids (nil: a random key of this
	// process, so tokens do not survive a restart nor cross nodes).
	Identity *overlay.Identity
	Logger   *slog.Logger
	// NoParking keeps a goroutine on every viewer's socket, as on
	// platforms without epoll, instead of parking the idle ones.
	NoParking bool
	// MaxSockets bounds the events sockets open at once; past it a new
	// one is refused with 503, so that viewers cannot take the file
	// descriptors the rest of the server needs. 0: the process's
	// open-file limit less 1,024; negative: no bound.
	MaxSockets int
	// MaxPerAddress bounds the viewer sockets of one client address
	// (429 past it); loopback is exempt (a local proxy without
	// TrustProxy, a load test). 0: DefaultMaxPerAddress; negative: no
	// bound.
	MaxPerAddress int
	// TrustProxy takes the client's address from X-Forwarded-For
	// (clientaddr.Key).
	TrustProxy bool
}

// DefaultMaxPerAddress is Config.MaxPerAddress's default: more
// tabs and devices than a household holds, and what an office or a
// school behind one address would open for one live.
const DefaultMaxPerAddress = 100

// Handler serves GET /live/{id}/events. On Linux a viewer's socket is
// parked once it has caught up: no goroutine stays with it; its room's
// fanout writes each event to every socket, an epoll poller wakes a
// goroutine when it sends something. Host consoles (and sockets over TLS)
// keep a goroutine each. Close stops it all.
type Handler struct {
	*viewers

	poller *netpoll.Poller // nil: no parking
	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	fanouts map[*overlay.Room]*fanout
	closed  bool

	// What the fanouts did: events written to parked sockets, the time their
	// passes took (nanoseconds), and the frames written or queued.
	broadcasts, broadcastNanos, framesOut atomic.Int64

	parkedSeq atomic.Int64 // sockets parked so far: their ping slots

	slots socketSlots
}

// BroadcastStats are the fanouts' totals: events broadcast to parked sockets,
// the seconds spent writing them, and the frames written.
func (h *Handler) BroadcastStats() (events int64, seconds float64, frames int64) {
	return h.broadcasts.Load(), float64(h.broadcastNanos.Load()) / 1e9, h.framesOut.Load()
}

// NewHandler returns the WebSocket handler; it starts nothing (Start).
func NewHandler(cfg Config) (*Handler, error) {
	v, err := newViewers(cfg, "overlay.ws")
	if err != nil {
		return nil, err
	}
	cfg = v.cfg
	h := &Handler{viewers: v, fanouts: map[*overlay.Room]*fanout{},
		slots: socketSlots{max: max(cfg.MaxSockets, 0), perAddr: max(cfg.MaxPerAddress, 0)}}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h, nil
}

// Start opens the epoll poller and starts the goroutines that serve
// parked sockets (the poller's and the pinger); without epoll, or with
// NoParking, there is nothing to start. Call it once, before serving.
func (h *Handler) Start() error {
	if !netpoll.Supported || h.cfg.NoParking {
		return nil
	}
	p, err := netpoll.New()
	if err != nil {
		return fmt.Errorf("overlay: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.poller != nil {
		p.Close()
		return errors.New("overlay: the events handler is closed or started")
	}
	h.poller = p
	go p.Run() // the poller's own: its Close stops it and waits
	h.wg.Go(h.pingLoop)
	return nil
}

// Close disconnects the parked sockets (going away: reconnect with
// since) and stops the poller. Sockets with a goroutine end with their
// rooms (Rooms.Close).
func (h *Handler) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()
	h.cancel() // fanouts abort, the ping loop returns
	h.wg.Wait()
	if h.poller != nil {
		h.poller.Close() // after the fanouts: their sockets leave it first
	}
	return nil
}

// Open is the number of events sockets open (or being opened).
func (h *Handler) Open() int { return h.slots.open() }

// Parked is the number of viewer sockets held without a goroutine.
func (h *Handler) Parked() int {
	if h.poller == nil {
		return 0
	}
	return h.poller.Len()
}

// ServeHTTP upgrades GET /live/{id}/events[?since=SEQ] to a WebSocket.
// Without since the viewer first gets a snapshot; with since (the last
// seq it saw) every event after it. Then the live tail, one envelope per
// text message. Errors before the upgrade are JSON (400 for a bad since,
// 404 for an unknown or unpublished campaign).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, false)
}

// ServeHost serves the host's console: the same socket with every event
// type, HostOnly ones included (displayed messages, bans, votes...). It is
// read-only: the host acts through the admin API. The caller
// authenticates the request; {id} is the campaign.
func (h *Handler) ServeHost(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, true)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, host bool) {
	id := r.PathValue("id")
	if id == "" || len(id) > 128 || !utf8.ValidString(id) {
		httperr.Write(w, http.StatusNotFound, "not_found", "no such campaign")
		return
	}
	since := int64(-1)
	if q := r.URL.Query(); q.Has("since") {
		v, err := strconv.ParseInt(q.Get("since"), 10, 64)
		if err != nil || v < 0 {
			httperr.Write(w, http.StatusBadRequest, "invalid_query", "since must be the seq of the last event received, an integer >= 0")
			return
		}
		since = v
	}
	var viewerID, token string
	if token = r.URL.Query().Get("viewer"); token != "" && !host {
		var err error
		if viewerID, err = h.cfg.Identity.Verify(token); err != nil {
			httperr.Write(w, http.StatusBadRequest, "invalid_query", "viewer is not a token this server issued; connect without it for a new one")
			return
		}
	}
	// The slot first: a refused socket costs no store read nor log replay.
	addr := clientaddr.Key(r, h.cfg.TrustProxy)
	release, err := h.slots.take(addr, host || clientaddr.Loopback(addr))
	switch {
	case errors.Is(err, errTooManyFromAddress):
		w.Header().Set("Retry-After", "10")
		httperr.Write(w, http.StatusTooManyRequests, "rate_limited",
			fmt.Sprintf("too many events sockets from this address (at most %d); close some", h.cfg.MaxPerAddress))
		return
	case err != nil:
		h.log.Warn("events socket refused: the server holds its most", "max", h.cfg.MaxSockets)
		w.Header().Set("Retry-After", "10")
		httperr.Write(w, http.StatusServiceUnavailable, "too_many_sockets", "this server holds all the events sockets it can; retry later")
		return
	}
	// Until the socket is handed to serveParked, which frees the slot
	// when it closes, every way out of here frees it.
	parked := false
	defer func() {
		if !parked {
			release()
		}
	}()
	ctx := r.Context()
	camp, err := h.cfg.Campaigns.GetCampaign(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, err)
		return
	}
	// A draft has no viewers yet, as its page and /info say: only its
	// host's console follows it.
	if err != nil || (!host && !camp.Published) {
		httperr.Write(w, http.StatusNotFound, "not_found", "no such campaign")
		return
	}
	room, err := h.cfg.Rooms.Room(ctx, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	subscribe := room.Subscribe
	if host {
		subscribe = room.SubscribeHost
	}
	sub, err := subscribe(ctx, since)
	if errors.Is(err, overlay.ErrFutureSince) {
		httperr.Write(w, http.StatusBadRequest, "invalid_query", err.Error())
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if e := wsproto.CheckUpgrade(r, h.cfg.OriginPatterns); e != nil {
		sub.Close()
		refuseUpgrade(w, e)
		return
	}
	if h.parkable(r, host) {
		parked = true
		h.serveParked(w, r, room, sub, viewerID, token, release)
		return
	}
	defer sub.Close()
	conn, br, err := wsproto.Hijack(w, r)
	if err != nil {
		h.log.Debug("events socket not upgraded", "err", err)
		return
	}
	c := wsproto.NewConn(conn, br, events.MaxInboundBytes)
	defer c.CloseNow()
	t := &wsTransport{c: c}
	k := h.newConn(room, sub, t, viewerID, token)
	k.host = host
	k.run(context.WithoutCancel(ctx), nil, func(ctx context.Context) { t.ping(ctx, k) })
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.log.ErrorContext(r.Context(), "events socket", "path", r.URL.Path, "err", err)
	httperr.Write(w, http.StatusServiceUnavailable, "unavailable", "the events channel is unavailable; retry")
}

// wsTransport is a viewerConn's WebSocket with goroutines of its own.
type wsTransport struct {
	c *wsproto.Conn
}

// errNotText: the viewer sent a binary frame.
var errNotText = errors.New("text frames only")

func (t *wsTransport) write(ctx context.Context, b []byte) error {
	return t.c.Write(ctx, b)
}

func (t *wsTransport) read(ctx context.Context) ([]byte, error) {
	b, err := t.c.Read(ctx)
	var pe *wsproto.Error
	if errors.As(err, &pe) && pe.Code == wsproto.CloseUnsupportedData {
		return nil, errNotText
	}
	return b, err
}

// wsCodes are the close codes of each reason, on both server paths.
var wsCodes = [...]uint16{
	endNormal:     wsproto.CloseNormal,
	endSlow:       wsproto.ClosePolicyViolation,
	endGoingAway:  wsproto.CloseGoingAway,
	endInternal:   wsproto.CloseInternalError,
	endBadMessage: wsproto.CloseInvalidPayload,
	endNotText:    wsproto.CloseUnsupportedData,
}

func (t *wsTransport) close(why endReason, reason string) {
	t.c.Close(wsCodes[why], reason)
}

func (t *wsTransport) ping(ctx context.Context, k *viewerConn) {
	t0 := time.NewTicker(k.v.cfg.PingInterval)
	defer t0.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t0.C:
		}
		pctx, cancel := context.WithTimeout(ctx, k.v.cfg.PongTimeout)
		err := t.c.Ping(pctx)
		cancel()
		if err != nil {
			k.close(endGoingAway, "no pong")
			return
		}
	}
}
