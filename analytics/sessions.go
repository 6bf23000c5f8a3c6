package analytics

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"vitrine/store"
)

// SessionRecorder records what the server sees of viewers itself, as
// tracked events: WHEP sessions (whep.start when the peer connects,
// whep.end when it goes) and HLS sessions.
//
// HLS has no session: a viewer is told apart by the `viewer` query
// parameter the player appends to the playlist URL (gohlslib carries it
// to the media playlists, the replay's playlists to their segments),
// else by its address and User-Agent. Its session starts with its first
// request (hls.start), is alive while it keeps requesting (an
// hls.heartbeat every HeartbeatEvery), and ends HLSIdle after its last
// request (hls.end at that request). A player reloads a live playlist
// every part or segment (about once a second), and loads a replay's
// playlist once, then a segment every segment's duration once its buffer
// is full, so the idle time is far above a request while it plays. The
// requests only touch memory: however many a viewer makes, the store
// gets its hls.start, one hls.heartbeat every HeartbeatEvery and its
// hls.end. Bots (crawlers by their User-Agent) are not viewers.
//
// The phase of a session is not the recorder's: the report cuts the
// sessions at the phases' bounds (a replay watched after the end of the
// live is in the replay).
//
// Events are written in batches every FlushEvery by Run; one of a stream
// that is not a campaign (a declared stream such as demo) is dropped.
type SessionRecorder struct {
	st  store.TrackedStore
	log *slog.Logger
	now func() time.Time

	mu  sync.Mutex
	hls map[string]*serverSession // campaign|viewer key
	// namedByAddr counts the open HLS sessions of each campaign|address
	// that named their viewer.
	namedByAddr map[string]int
	liked       map[string]time.Time      // campaign|viewer -> its last like event
	whep        map[string]*serverSession // session id
	pending     []store.TrackedEvent
	dropped     int64
}

// Recorder timings.
const (
	HLSIdle = 30 * time.Second
	// LikeEvery is the least time between two like events the server
	// records for one viewer: the engagement rate needs one per phase,
	// not one per tap.
	LikeEvery  = 30 * time.Second
	FlushEvery = time.Second
	maxPending = 100_000
)

type serverSession struct {
	campaign, id, viewer, device string
	first, last, beat            time.Time
	// named is its campaign|address in namedByAddr when the request
	// named its viewer (?viewer=), empty otherwise.
	named string
}

// MaxNamedPerAddress bounds the open HLS sessions one client address may
// name with viewer ids of its choosing, per campaign: past it, its new
// ones count under its address and User-Agent, so that a client making
// up ids cannot inflate the unique viewers. As many as an office or a
// school would open for one live; loopback (a local proxy, a load test)
// is exempt.
const MaxNamedPerAddress = 100

// NewSessionRecorder returns a recorder writing to st.
func NewSessionRecorder(st store.TrackedStore, log *slog.Logger) *SessionRecorder {
	if log == nil {
		log = slog.Default()
	}
	return &SessionRecorder{st: st, log: log.With("component", "analytics"), now: time.Now,
		hls: map[string]*serverSession{}, namedByAddr: map[string]int{}, whep: map[string]*serverSession{}, liked: map[string]time.Time{}}
}

// viewerKey is the viewer's id: the player's own when it sent one that
// is well formed, else a hash of what tells it apart.
func viewerKey(prefix, viewer string, parts ...string) string {
	if viewer != "" && idPattern.MatchString(viewer) {
		return viewer
	}
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return prefix + hex.EncodeToString(h.Sum(nil))[:20]
}

// HLSRequest notes a request of a viewer of a campaign's HLS: a playlist
// of its LL-HLS live, or a playlist or segment of its replay.
func (r *SessionRecorder) HLSRequest(campaignID, viewer, addr, userAgent string) {
	now := r.now().UTC()
	v := viewerKey("hls-", viewer, addr, userAgent)
	key := campaignID + "|" + v
	r.mu.Lock()
	if r.touchLocked(key, now) {
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	// A new session: the User-Agent is parsed outside the lock.
	device, human := DeviceOf(userAgent)
	if !human {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.touchLocked(key, now) { // another request of the viewer came first
		return
	}
	var named string
	if v == viewer && !loopback(addr) {
		named = campaignID + "|" + addr
		if r.namedByAddr[named] >= MaxNamedPerAddress {
			v, named = viewerKey("hls-", "", addr, userAgent), ""
			key = campaignID + "|" + v
			if r.touchLocked(key, now) {
				return
			}
		}
	}
	s := &serverSession{campaign: campaignID, id: NewEventID("hls-"), viewer: v, device: device,
		first: now, last: now, beat: now, named: named}
	r.hls[key] = s
	if named != "" {
		r.namedByAddr[named]++
	}
	r.emitLocked(s, TypeHLSStart, now)
}

func loopback(addr string) bool {
	a, err := netip.ParseAddr(addr)
	return err == nil && a.IsLoopback()
}

// touchLocked keeps the viewer's open HLS session alive, if it has one:
// an hls.heartbeat every HeartbeatEvery, whatever the requests' rate.
func (r *SessionRecorder) touchLocked(key string, now time.Time) bool {
	s := r.hls[key]
	if s == nil {
		return false
	}
	s.last = later(s.last, now)
	if now.Sub(s.beat) >= HeartbeatEvery {
		s.beat = now
		r.emitLocked(s, TypeHLSHeartbeat, now)
	}
	return true
}

// Like records a like tap the server saw on the events socket or the
// actions endpoint (the data channel carries only the aggregated count):
// a like event of the viewer, at most one every LikeEvery, so that a
// viewer who only liked counts as engaged.
func (r *SessionRecorder) Like(campaignID, viewerID string) {
	now := r.now().UTC()
	key := campaignID + "|" + viewerID
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.liked[key]; ok && now.Sub(last) < LikeEvery {
		return
	}
	r.liked[key] = now
	r.emitLocked(&serverSession{campaign: campaignID, viewer: viewerID}, TypeLike, now)
}

// WHEPStart records a connected WHEP viewer; the returned func records
// its end.
func (r *SessionRecorder) WHEPStart(campaignID, sessionID, viewer, addr, userAgent string) (end func()) {
	now := r.now().UTC()
	device, human := DeviceOf(userAgent)
	if !human {
		device = Other
	}
	s := &serverSession{campaign: campaignID, id: "whep-" + sessionID,
		viewer: viewerKey("whep-", viewer, sessionID), device: device, first: now, last: now, beat: now}
	r.mu.Lock()
	r.whep[s.id] = s
	r.emitLocked(s, TypeWHEPStart, now)
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			delete(r.whep, s.id)
			r.emitLocked(s, TypeWHEPEnd, r.now().UTC())
		})
	}
}

func (r *SessionRecorder) emitLocked(s *serverSession, typ string, at time.Time) {
	if len(r.pending) >= maxPending {
		r.dropped++
		return
	}
	r.pending = append(r.pending, store.TrackedEvent{CampaignID: s.campaign, EventID: NewEventID("srv-"), Type: typ,
		At: at, ViewerID: s.viewer, SessionID: s.id, Device: s.device})
}

// sweep ends idle HLS sessions and beats for open WHEP sessions.
func (r *SessionRecorder) sweep(now time.Time, closing bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, s := range r.hls {
		if closing || now.Sub(s.last) >= HLSIdle {
			delete(r.hls, k)
			if s.named != "" {
				if r.namedByAddr[s.named]--; r.namedByAddr[s.named] <= 0 {
					delete(r.namedByAddr, s.named)
				}
			}
			r.emitLocked(s, TypeHLSEnd, s.last)
		}
	}
	for k, t := range r.liked {
		if now.Sub(t) >= LikeEvery {
			delete(r.liked, k)
		}
	}
	for _, s := range r.whep {
		if closing {
			r.emitLocked(s, TypeWHEPEnd, now)
			continue
		}
		if now.Sub(s.beat) >= HeartbeatEvery {
			s.beat = now
			r.emitLocked(s, TypeWHEPHeartbeat, now)
		}
	}
	if closing {
		clear(r.whep)
	}
}

// Flush writes what is pending, a campaign at a time.
func (r *SessionRecorder) Flush(ctx context.Context) {
	r.mu.Lock()
	batch := r.pending
	r.pending = nil
	dropped := r.dropped
	r.dropped = 0
	r.mu.Unlock()
	if dropped > 0 {
		r.log.Warn("server-seen viewer events dropped: the store is not keeping up", "dropped", dropped)
	}
	byCampaign := map[string][]store.TrackedEvent{}
	for _, e := range batch {
		byCampaign[e.CampaignID] = append(byCampaign[e.CampaignID], e)
	}
	for id, evs := range byCampaign {
		if _, err := r.st.InsertTrackedEvents(ctx, evs); err != nil && !errors.Is(err, store.ErrNotFound) {
			r.log.Warn("server-seen viewer events not recorded", "campaign", id, "events", len(evs), "error", err)
		}
	}
}

// Run flushes every FlushEvery until ctx ends, then ends the open
// sessions and flushes one last time.
func (r *SessionRecorder) Run(ctx context.Context) {
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.sweep(r.now().UTC(), true)
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			r.Flush(fctx)
			cancel()
			return
		case <-t.C:
			r.sweep(r.now().UTC(), false)
			r.Flush(ctx)
		}
	}
}
