package overlay

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"vitrine/events"
	"vitrine/store"
)

// Errors of Room operations. Pin errors are the caller's mistake (4xx).
var (
	ErrPinLimit      = errors.New("pin limit reached")
	ErrAlreadyPinned = errors.New("already pinned")
	ErrNotPinned     = errors.New("not pinned")
	// ErrSlow ends a subscription whose buffer overflowed: the subscriber
	// did not keep up. It may subscribe again with since = the last seq
	// it received.
	ErrSlow = errors.New("subscriber too slow")
	// ErrClosed ends subscriptions when the room or hub closes.
	ErrClosed = errors.New("room closed")
	// ErrFutureSince: a resume from a seq the log has not reached.
	ErrFutureSince = errors.New("since is beyond the last event")
)

// Log is the durable event log, the store's methods of that name.
type Log interface {
	AppendEvent(ctx context.Context, campaignID, eventType string, at time.Time, data []byte) (int64, error)
	ListEvents(ctx context.Context, campaignID string, afterSeq int64, limit int) ([]store.Event, error)
	LastEventSeq(ctx context.Context, campaignID string) (int64, error)
}

// Config configures Rooms.
type Config struct {
	Log Log // required: store.Store fits
	Bus Bus // nil: a LocalBus of the hub's own
	// MaxPins is how many products can be pinned at once (0: DefaultMaxPins).
	MaxPins int
	// Buffer is each subscriber's queue of events not yet taken; past it
	// the subscription ends with ErrSlow (0: 256).
	Buffer int
	// LikeInterval is the shortest time between two like.count events of
	// a room (0: 250 ms, four a second at most).
	LikeInterval time.Duration
	// SyncInterval is how often every room reads the log for events the
	// bus did not bring (a message lost while Redis reconnected). 0: 5 s;
	// negative: never.
	SyncInterval time.Duration
	// CountInterval is how often each room's viewer count is checked and,
	// when it changed, published as viewer.count (0: 5 s; negative: never).
	CountInterval time.Duration
	Logger        *slog.Logger
	// Now is the media clock (default MediaNow); tests set it.
	Now func() time.Time
	// OnLike, if set, hears of each like tap a viewer made (not banned):
	// likes travel as aggregated counts, so this is how analytics learns
	// who engaged. It must not block.
	OnLike func(campaignID, viewerID string)
}

// Rooms holds this node's Rooms, one per campaign, created on first use.
type Rooms struct {
	cfg     Config
	ownBus  bool
	log     *slog.Logger
	mu      sync.Mutex
	rooms   map[string]*Room
	loading map[string]chan struct{}
	closed  bool
	started bool
	node    string // this node in viewer.count
	stop    chan struct{}
	wg      sync.WaitGroup
}

// NewRooms returns a hub; it starts nothing (see Start). Close it to
// release its rooms.
func NewRooms(cfg Config) (*Rooms, error) {
	if cfg.Log == nil {
		return nil, errors.New("overlay: a log (the store) is required")
	}
	h := &Rooms{rooms: map[string]*Room{}, loading: map[string]chan struct{}{},
		stop: make(chan struct{}), node: newID("node_")}
	if cfg.Bus == nil {
		cfg.Bus, h.ownBus = NewLocalBus(), true
	}
	if cfg.MaxPins <= 0 {
		cfg.MaxPins = DefaultMaxPins
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 256
	}
	if cfg.LikeInterval <= 0 {
		cfg.LikeInterval = 250 * time.Millisecond
	}
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = 5 * time.Second
	}
	if cfg.CountInterval == 0 {
		cfg.CountInterval = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = events.MediaNow
	}
	h.cfg = cfg
	h.log = cfg.Logger.With("component", "overlay")
	return h, nil
}

// Start starts the hub's loops: reading the log for events the bus did
// not bring, and publishing this node's viewer counts. Rooms work without
// them (a test may leave them off); Close stops them.
func (h *Rooms) Start() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.started {
		return
	}
	h.started = true
	h.wg.Add(1)
	go h.syncLoop()
	if h.cfg.CountInterval > 0 {
		h.wg.Add(1)
		go h.countLoop(h.cfg.CountInterval)
	}
}

// Room returns the campaign's room, loading its state from the log the
// first time. It does not check that the campaign exists: callers do.
func (h *Rooms) Room(ctx context.Context, campaignID string) (*Room, error) {
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return nil, ErrClosed
		}
		if r := h.rooms[campaignID]; r != nil {
			h.mu.Unlock()
			return r, nil
		}
		if wait := h.loading[campaignID]; wait != nil {
			h.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		wait := make(chan struct{})
		h.loading[campaignID] = wait
		h.mu.Unlock()

		r, err := h.open(ctx, campaignID)
		h.mu.Lock()
		delete(h.loading, campaignID)
		close(wait)
		if err == nil {
			if h.closed {
				h.mu.Unlock()
				r.close()
				return nil, ErrClosed
			}
			h.rooms[campaignID] = r
		}
		h.mu.Unlock()
		return r, err
	}
}

func (h *Rooms) open(ctx context.Context, campaignID string) (*Room, error) {
	r := &Room{id: campaignID, h: h, subs: map[*Subscription]struct{}{}, state: newRoomState(), lastChat: map[string]time.Time{}}
	r.likes = newThrottle(h.cfg.LikeInterval, r.flushLikes)
	r.results = newThrottle(h.cfg.LikeInterval, r.flushResults)
	// Subscribe first, then read the log: whatever is published meanwhile
	// either is in the log read or arrives after it; receive drops repeats.
	cancel, err := h.cfg.Bus.Subscribe(ctx, campaignID, r.fromBus)
	if err != nil {
		return nil, fmt.Errorf("overlay: subscribe to the bus: %w", err)
	}
	r.unsub = cancel
	r.deliverMu.Lock()
	err = r.catchUpLocked(ctx, 0)
	r.deliverMu.Unlock()
	if err != nil {
		cancel()
		return nil, err
	}
	return r, nil
}

// Close ends every room and subscription (with ErrClosed), after
// publishing likes still pending. A bus given in Config is not closed.
func (h *Rooms) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	rooms := h.rooms
	h.rooms = map[string]*Room{}
	h.mu.Unlock()
	close(h.stop)
	h.wg.Wait()
	for _, r := range rooms {
		r.close()
	}
	if h.ownBus {
		return h.cfg.Bus.Close()
	}
	return nil
}

// Forget closes the campaign's room on this node, if open: its
// subscribers end (ErrClosed, so they reconnect) and the next use reads
// the log afresh. For a log that was reset (the campaign's events deleted
// and its sequence started over).
func (h *Rooms) Forget(campaignID string) {
	h.mu.Lock()
	r := h.rooms[campaignID]
	delete(h.rooms, campaignID)
	h.mu.Unlock()
	if r != nil {
		r.close()
	}
}

func (h *Rooms) syncLoop() {
	defer h.wg.Done()
	if h.cfg.SyncInterval < 0 {
		<-h.stop
		return
	}
	t := time.NewTicker(h.cfg.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		h.mu.Lock()
		rooms := make([]*Room, 0, len(h.rooms))
		for _, r := range h.rooms {
			rooms = append(rooms, r)
		}
		h.mu.Unlock()
		for _, r := range rooms {
			ctx, cancel := context.WithTimeout(context.Background(), h.cfg.SyncInterval)
			if err := r.CatchUp(ctx); err != nil {
				h.log.Warn("catch up from the log", "campaign", r.id, "err", err)
			}
			cancel()
		}
	}
}

// Room is one campaign's channel on this node: the state folded from the
// log, the subscribers, the likes being counted.
type Room struct {
	id    string
	h     *Rooms
	unsub func()

	pinMu     sync.Mutex // serialises this node's check-then-append pin changes
	deliverMu sync.Mutex // serialises delivery in seq order (and log reads filling gaps)

	mu       sync.Mutex // guards what follows
	seq      int64      // the last event applied; state reflects 1..seq
	state    *roomState
	subs     map[*Subscription]struct{}
	closed   bool
	lastChat map[string]time.Time // slow mode: each viewer's last message on this node
	viewers  int64                // viewers on this node: subscriptions and those transports count (AddViewers)
	external int                  // viewers transports hold outside a subscription of their own (AddViewers)
	relays   int                  // relay subscriptions (SubscribeRelay), not counted as viewers
	visible  int64                // the last event viewers see (not HostOnly)
	counted  countMark            // what this node last published as its viewer.count

	likes        *throttle
	pendingLikes int64 // guarded by mu
	results      *throttle
	dirtyPolls   map[string]bool // polls voted since the last poll.results; guarded by mu
}

// ID is the campaign's id.
func (r *Room) ID() string { return r.id }

// Seq is the last event this node has applied.
func (r *Room) Seq() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq
}

// State returns a copy of the current state.
func (r *Room) State() events.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state.State.Clone()
}

// Subscribers is the number of subscriptions on this node.
func (r *Room) Subscribers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.subs) - r.relays + r.external
}

// AddViewers counts viewers a transport holds without a subscription of
// their own, served from its relay (SubscribeRelay): +1 as one joins, -1
// as it leaves. Subscribers and the viewer count include them.
func (r *Room) AddViewers(delta int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.external += delta
	r.viewers += int64(delta)
}

// Buffer is the length of each subscription's queue: a transport that
// queues events per viewer bounds its queues the same.
func (r *Room) Buffer() int { return r.h.cfg.Buffer }

// Position is the last event applied and the last one viewers see.
func (r *Room) Position() (seq, visible int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq, r.visible
}

// Publish appends an event to the log and, once it is durable, applies it
// and broadcasts it to this node's subscribers and, through the bus, to
// the other nodes. An error means the event was not recorded.
func (r *Room) Publish(ctx context.Context, eventType string, data any) (*events.Message, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("overlay: %s data: %w", eventType, err)
	}
	at := r.h.cfg.Now().UTC().Truncate(time.Millisecond)
	seq, err := r.h.cfg.Log.AppendEvent(ctx, r.id, eventType, at, b)
	if err != nil {
		return nil, fmt.Errorf("overlay: record %s: %w", eventType, err)
	}
	msg, err := events.NewMessage(events.Envelope{V: events.Version, Seq: seq, At: events.MediaTime(at), Type: eventType, Data: b})
	if err != nil {
		return nil, err
	}
	// Durable now: what follows cannot undo it, so it must not fail the call.
	r.receive(context.WithoutCancel(ctx), msg)
	if err := r.h.cfg.Bus.Publish(context.WithoutCancel(ctx), r.id, msg.JSON); err != nil {
		r.h.log.Warn("bus publish failed; other nodes will read the log", "campaign", r.id, "seq", seq, "err", err)
	}
	return msg, nil
}

// PinProduct pins p after those already pinned. It fails with
// ErrAlreadyPinned, or ErrPinLimit when the maximum is pinned.
func (r *Room) PinProduct(ctx context.Context, p events.ProductRef) (*events.Message, error) {
	r.pinMu.Lock()
	defer r.pinMu.Unlock()
	st := r.State()
	if st.Pinned(p.ID) {
		return nil, fmt.Errorf("product %q is %w", p.ID, ErrAlreadyPinned)
	}
	if n := len(st.Products); n >= r.h.cfg.MaxPins {
		return nil, fmt.Errorf("%w: %d products are pinned, the most at once; unpin one first", ErrPinLimit, n)
	}
	return r.Publish(ctx, events.TypeProductPinned, events.ProductPinned{Product: p})
}

// UnpinProduct unpins a pinned product (ErrNotPinned otherwise).
func (r *Room) UnpinProduct(ctx context.Context, productID string) (*events.Message, error) {
	r.pinMu.Lock()
	defer r.pinMu.Unlock()
	if st := r.State(); !st.Pinned(productID) {
		return nil, fmt.Errorf("product %q is %w", productID, ErrNotPinned)
	}
	return r.Publish(ctx, events.TypeProductUnpinned, events.ProductUnpinned{ProductID: productID})
}

// PinVoucher shows v, replacing the pinned voucher if any.
func (r *Room) PinVoucher(ctx context.Context, v events.VoucherRef) (*events.Message, error) {
	r.pinMu.Lock()
	defer r.pinMu.Unlock()
	if st := r.State(); st.Voucher != nil && st.Voucher.ID == v.ID {
		return nil, fmt.Errorf("voucher %q is %w", v.ID, ErrAlreadyPinned)
	}
	return r.Publish(ctx, events.TypeVoucherPinned, events.VoucherPinned{Voucher: v})
}

// UnpinVoucher hides the pinned voucher (ErrNotPinned if it is not).
func (r *Room) UnpinVoucher(ctx context.Context, voucherID string) (*events.Message, error) {
	r.pinMu.Lock()
	defer r.pinMu.Unlock()
	if st := r.State(); st.Voucher == nil || st.Voucher.ID != voucherID {
		return nil, fmt.Errorf("voucher %q is %w", voucherID, ErrNotPinned)
	}
	return r.Publish(ctx, events.TypeVoucherUnpinned, events.VoucherUnpinned{VoucherID: voucherID})
}

// Like counts n taps. They are published together as one like.count at
// most once per LikeInterval, never one event per tap.
func (r *Room) Like(n int64) {
	if n <= 0 {
		return
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.pendingLikes += n
	r.mu.Unlock()
	r.likes.mark()
}

// flushLikes publishes the taps counted since the last like.count; those
// it cannot record are counted again for the next.
func (r *Room) flushLikes() {
	r.mu.Lock()
	n := r.pendingLikes
	r.pendingLikes = 0
	total := r.state.Likes + n
	r.mu.Unlock()
	if n == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := r.Publish(ctx, events.TypeLikeCount, events.LikeCount{Count: total, Added: n}); err != nil {
		r.h.log.Warn("like count not recorded; retrying", "campaign", r.id, "likes", n, "err", err)
		r.mu.Lock()
		r.pendingLikes += n
		closed := r.closed
		r.mu.Unlock()
		if !closed {
			r.likes.mark()
		}
	}
}

// CatchUp applies events of the log this node has not seen.
func (r *Room) CatchUp(ctx context.Context) error {
	r.deliverMu.Lock()
	defer r.deliverMu.Unlock()
	return r.catchUpLocked(ctx, 0)
}

// catchUpLocked applies the log's events after r.seq, up to upTo (0: to
// the end). deliverMu is held.
func (r *Room) catchUpLocked(ctx context.Context, upTo int64) error {
	for {
		after := r.Seq()
		if upTo > 0 && after >= upTo {
			return nil
		}
		evs, err := r.h.cfg.Log.ListEvents(ctx, r.id, after, store.MaxEventPage)
		if err != nil {
			return fmt.Errorf("overlay: read the log: %w", err)
		}
		for _, e := range evs {
			if upTo > 0 && e.Seq > upTo {
				return nil
			}
			msg, err := messageOf(e)
			if err != nil {
				return err
			}
			r.apply(msg)
		}
		if len(evs) < store.MaxEventPage {
			return nil
		}
	}
}

func messageOf(e store.Event) (*events.Message, error) {
	return events.NewMessage(events.Envelope{V: events.Version, Seq: e.Seq, At: events.MediaTime(e.At), Type: e.Type, Data: e.Data})
}

func (r *Room) fromBus(b []byte) {
	msg, err := events.ParseMessage(b)
	if err != nil {
		r.h.log.Warn("bad message on the bus", "campaign", r.id, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.receive(ctx, msg)
}

// receive applies msg in seq order: a repeat is dropped; after a gap the
// missing events are read from the log first.
func (r *Room) receive(ctx context.Context, msg *events.Message) {
	r.deliverMu.Lock()
	defer r.deliverMu.Unlock()
	cur := r.Seq()
	if msg.Seq <= cur {
		return
	}
	if msg.Seq > cur+1 {
		if err := r.catchUpLocked(ctx, msg.Seq-1); err != nil {
			r.h.log.Warn("fill a gap from the log", "campaign", r.id, "from", cur+1, "to", msg.Seq-1, "err", err)
			return // the sync loop or the next event retries
		}
		if r.Seq() != msg.Seq-1 {
			return // the log had it all already (and msg too), or not yet
		}
	}
	r.apply(msg)
}

// apply folds msg (the next seq) into the state and queues it for every
// subscriber; a subscriber whose queue is full is dropped with ErrSlow.
func (r *Room) apply(msg *events.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if msg.Seq != r.seq+1 {
		return
	}
	r.state.apply(msg.Type, msg.Time(), msg.Data, r.h.cfg.MaxPins)
	r.seq = msg.Seq
	hostOnly := events.HostOnly[msg.Type]
	if !hostOnly {
		r.visible = msg.Seq
	}
	for s := range r.subs {
		if hostOnly && !s.host {
			continue
		}
		select {
		case s.ch <- msg:
		default:
			s.endLocked(ErrSlow)
		}
	}
}

func (r *Room) close() {
	r.likes.close() // taps and votes already counted are not lost
	r.results.close()
	r.mu.Lock()
	r.closed = true
	for s := range r.subs {
		s.endLocked(ErrClosed)
	}
	r.mu.Unlock()
	if r.unsub != nil {
		r.unsub()
	}
}

// Subscription is one subscriber's view of a room: first the snapshot or
// the missed events, then the live tail, each event once and in order.
type Subscription struct {
	r        *Room
	host     bool // receives the HostOnly types too
	relay    bool // a transport's relay, not counted by Subscribers
	ch       chan *events.Message
	err      error // why ch was closed; guarded by r.mu
	ended    bool
	snapshot *events.Message
	last     int64 // the last seq returned
	upTo     int64 // the backlog ends here; live events follow
	page     []store.Event
	atEnd    bool
}

// Subscribe starts a subscription. With since < 0 it first yields a
// snapshot message (type "snapshot") whose seq is the last event the state
// reflects; with since >= 0 it first yields every event after since, read
// from the log. Then the live tail follows, without gap or repeat. A
// viewer's subscription skips the HostOnly types; see SubscribeHost.
func (r *Room) Subscribe(ctx context.Context, since int64) (*Subscription, error) {
	return r.subscribe(ctx, since, false, false)
}

// SubscribeHost is Subscribe for the host's console: every type.
func (r *Room) SubscribeHost(ctx context.Context, since int64) (*Subscription, error) {
	return r.subscribe(ctx, since, true, false)
}

// SubscribeRelay is SubscribeHost for a transport that relays the events
// to viewers it counts itself (AddViewers): the relay is not a viewer, and
// filters the HostOnly types for its viewers.
func (r *Room) SubscribeRelay(ctx context.Context, since int64) (*Subscription, error) {
	return r.subscribe(ctx, since, true, true)
}

func (r *Room) subscribe(ctx context.Context, since int64, host, relay bool) (*Subscription, error) {
	if since > r.Seq() {
		if err := r.CatchUp(ctx); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if since > r.seq {
		return nil, fmt.Errorf("%w: since=%d, last event %d", ErrFutureSince, since, r.seq)
	}
	s := &Subscription{r: r, host: host, relay: relay, ch: make(chan *events.Message, r.h.cfg.Buffer), upTo: r.seq, last: since}
	if since < 0 {
		state := r.state.State.Clone()
		b, err := json.Marshal(state)
		if err != nil {
			return nil, err
		}
		s.snapshot, err = events.NewMessage(events.Envelope{V: events.Version, Seq: r.seq, At: events.MediaTime(r.h.cfg.Now().UTC().Truncate(time.Millisecond)),
			Type: events.TypeSnapshot, Data: b})
		if err != nil {
			return nil, err
		}
		s.last = r.seq
	}
	r.subs[s] = struct{}{}
	if !host {
		r.viewers++
	}
	if relay {
		r.relays++
	}
	return s, nil
}

// Next returns the next message. After ErrSlow or ErrClosed it keeps
// returning that error; ctx's error is returned as is.
func (s *Subscription) Next(ctx context.Context) (*events.Message, error) {
	if m := s.snapshot; m != nil {
		s.snapshot = nil
		return m, nil
	}
	for s.last < s.upTo {
		if len(s.page) == 0 {
			evs, err := s.r.h.cfg.Log.ListEvents(ctx, s.r.id, s.last, 256)
			if err != nil {
				return nil, fmt.Errorf("overlay: read the log: %w", err)
			}
			if len(evs) == 0 || evs[0].Seq != s.last+1 {
				return nil, fmt.Errorf("overlay: the log has no event %d of campaign %s", s.last+1, s.r.id)
			}
			s.page = evs
		}
		e := s.page[0]
		s.page = s.page[1:]
		s.last = e.Seq
		if events.HostOnly[e.Type] && !s.host {
			continue
		}
		return messageOf(e)
	}
	s.page = nil
	for {
		select {
		case m, ok := <-s.ch:
			if !ok {
				s.r.mu.Lock()
				err := s.err
				s.r.mu.Unlock()
				return nil, err
			}
			if m.Seq <= s.last {
				continue
			}
			s.last = m.Seq
			return m, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Ready returns the next live event if one is queued, without waiting
// (false also once the subscription ended: Next then says why).
func (s *Subscription) Ready() (*events.Message, bool) {
	if !s.CaughtUp() {
		return nil, false
	}
	for {
		select {
		case m, ok := <-s.ch:
			if !ok {
				return nil, false
			}
			if m.Seq <= s.last {
				continue
			}
			s.last = m.Seq
			return m, true
		default:
			return nil, false
		}
	}
}

// CaughtUp says whether the snapshot or the backlog read from the log
// was all returned: what follows comes from the live tail.
func (s *Subscription) CaughtUp() bool { return s.snapshot == nil && s.last >= s.upTo }

// Last is the seq of the last message returned (the since to resume with).
func (s *Subscription) Last() int64 { return s.last }

// Close ends the subscription.
func (s *Subscription) Close() {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.endLocked(ErrClosed)
}

func (s *Subscription) endLocked(err error) {
	if s.ended {
		return
	}
	s.ended, s.err = true, err
	close(s.ch)
	delete(s.r.subs, s)
	if !s.host {
		s.r.viewers--
	}
	if s.relay {
		s.r.relays--
	}
}

// newID is a random id with prefix: msg_, poll_, iw_.
func newID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return prefix + idEncoding.EncodeToString(b[:])
}

// idEncoding is the store's id alphabet: lower-case Crockford base32.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)
