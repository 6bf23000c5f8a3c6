// Package hls serves live streams as Low-Latency HLS (fMP4 parts) with
// gohlslib's Muxer: one muxer per live stream, fed by one hub reader and
// shared by every viewer of that stream.
//
// It imports stream and internal helpers; nothing of campaigns or of the
// other protocols.
package hls

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"vitrine/internal/cors"
	"vitrine/stream"
)

// Config configures the LL-HLS server. Zero values take the defaults.
type Config struct {
	Hub *stream.Hub
	// SegmentCount is the number of complete segments a playlist keeps.
	// Low-Latency HLS needs at least 7 (gohlslib refuses fewer). Default 7.
	SegmentCount int
	// SegmentMinDuration is stretched to the next keyframe. Default 1s.
	SegmentMinDuration time.Duration
	// PartMinDuration is adjusted to the sample cadence. Default 200ms.
	PartMinDuration time.Duration
	// AllowOrigins lists the origins that may read the streams from a
	// browser; "*" allows any. Default ["*"].
	AllowOrigins []string
	// EndLinger is how long the playlist of an ended stream stays readable,
	// so that players polling whole segments fetch the last ones instead of
	// a 404. Default 10s; negative removes it at once.
	EndLinger time.Duration
	Logger    *slog.Logger
}

const (
	defaultSegmentCount       = 7
	defaultSegmentMinDuration = time.Second
	defaultPartMinDuration    = 200 * time.Millisecond
	defaultEndLinger          = 10 * time.Second

	// minSegmentCount is gohlslib's floor for the low-latency variant: iOS
	// needs seven segments (gohlslib starts with seven gap segments).
	minSegmentCount = 7
	// minPartDuration keeps parts long enough that a playlist reload per
	// part stays cheap for server and players.
	minPartDuration = 50 * time.Millisecond
)

// errReplaced stops a muxer whose stream got a new one (new tracks).
var errReplaced = errors.New("replaced by a new muxer")

// Server owns the muxers of the live streams and serves their files.
type Server struct {
	cfg  Config
	log  *slog.Logger
	cors cors.CORS
	// maxBlock is defaultMaxBlock; tests shorten it.
	maxBlock time.Duration

	unlisten func()

	mu      sync.Mutex
	muxers  map[string]*muxer
	started bool
	closed  bool
	// wg counts every goroutine the server starts: one per muxer, and one
	// per request that may block inside gohlslib (see await).
	wg sync.WaitGroup
}

// New validates cfg and returns a server that is not yet listening to the hub.
func New(cfg Config) (*Server, error) {
	if cfg.Hub == nil {
		return nil, errors.New("hls: a stream hub is required")
	}
	if cfg.SegmentCount == 0 {
		cfg.SegmentCount = defaultSegmentCount
	}
	if cfg.SegmentMinDuration == 0 {
		cfg.SegmentMinDuration = defaultSegmentMinDuration
	}
	if cfg.PartMinDuration == 0 {
		cfg.PartMinDuration = defaultPartMinDuration
	}
	if cfg.EndLinger == 0 {
		cfg.EndLinger = defaultEndLinger
	}
	if cfg.AllowOrigins == nil {
		cfg.AllowOrigins = []string{"*"}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SegmentCount < minSegmentCount {
		return nil, fmt.Errorf("hls: segment count must be at least %d for Low-Latency HLS, got %d",
			minSegmentCount, cfg.SegmentCount)
	}
	if cfg.PartMinDuration < minPartDuration {
		return nil, fmt.Errorf("hls: part duration must be at least %v, got %v",
			minPartDuration, cfg.PartMinDuration)
	}
	if cfg.SegmentMinDuration <= cfg.PartMinDuration {
		return nil, fmt.Errorf("hls: segment duration (%v) must be longer than part duration (%v)",
			cfg.SegmentMinDuration, cfg.PartMinDuration)
	}
	c, err := cors.New(cfg.AllowOrigins, corsPolicy)
	if err != nil {
		return nil, fmt.Errorf("hls: %w", err)
	}
	return &Server{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "hls"),
		cors:     c,
		maxBlock: defaultMaxBlock,
		muxers:   map[string]*muxer{},
	}, nil
}

// Start subscribes to the hub's events and adopts the streams that are
// already live.
func (s *Server) Start() error {
	s.mu.Lock()
	if s.started || s.closed {
		s.mu.Unlock()
		return errors.New("hls: server already started or closed")
	}
	s.started = true
	s.mu.Unlock()

	s.unlisten = s.cfg.Hub.Listen(s.onEvent)
	// A stream that went live before Start would otherwise wait for its
	// publisher's next reconnection to become playable.
	for _, st := range s.cfg.Hub.Streams() {
		if len(st.Tracks()) > 0 && !s.has(st) {
			s.startMuxer(st)
		}
	}
	return nil
}

// onEvent runs on the hub's (often a publisher's) goroutine: it only
// starts and stops muxers, it never waits for them.
func (s *Server) onEvent(ev stream.Event) {
	switch ev.Kind {
	case stream.EventReady:
		s.startMuxer(ev.Stream)
	case stream.EventClosed:
		// The reader drains and ends by itself; run then lingers.
	case stream.EventOffline, stream.EventResumed:
		// The reader survives a publisher's reconnection with the same
		// tracks, and players keep the playlist they have meanwhile.
	}
}

func (s *Server) has(st *stream.Stream) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.muxers[st.ID()]
	return m != nil && m.stream == st
}

// startMuxer builds a muxer for the stream's current tracks and replaces
// the previous one of the same id, if any.
func (s *Server) startMuxer(st *stream.Stream) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return
	}
	log := s.log.With("stream", st.ID())
	m, err := newMuxer(st, s.cfg, log)
	if err != nil {
		log.Warn("no HLS for this stream", "error", err)
		return
	}

	s.mu.Lock()
	if s.closed { // closed meanwhile
		s.mu.Unlock()
		m.discard()
		return
	}
	old := s.muxers[st.ID()]
	s.muxers[st.ID()] = m
	s.wg.Add(1)
	s.mu.Unlock()

	if old != nil {
		old.stop(errReplaced)
	}
	go s.run(m)
	log.Info("HLS muxer started", "tracks", strings.Join(m.names, ","))
}

// run drains the muxer's reader into it until the stream ends, the tracks
// change or the muxer is stopped, then closes it.
func (s *Server) run(m *muxer) {
	defer s.wg.Done()
	err := m.run()
	if errors.Is(err, stream.ErrStreamClosed) && s.cfg.EndLinger > 0 {
		m.log.Info("stream ended; its playlist stays readable", "for", s.cfg.EndLinger)
		select {
		case <-m.ctx.Done(): // replaced by a new live, or server closing
		case <-time.After(s.cfg.EndLinger):
		}
	}

	s.mu.Lock()
	if s.muxers[m.stream.ID()] == m {
		delete(s.muxers, m.stream.ID())
	}
	s.mu.Unlock()
	m.close()

	switch {
	case errors.Is(err, stream.ErrStreamClosed), errors.Is(err, stream.ErrTracksChanged),
		errors.Is(err, errReplaced), errors.Is(err, errServerClosed):
		m.log.Info("HLS muxer stopped", "reason", err)
	default:
		m.log.Warn("HLS muxer stopped", "error", err)
	}
}

// lookup returns the running muxer of stream id.
func (s *Server) lookup(id string) *muxer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.muxers[id]
}

// Muxers is the number of running muxers, for metrics.
func (s *Server) Muxers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.muxers)
}

// Close stops every muxer, answers the requests waiting on them and waits
// for all the server's goroutines. Later hub events are ignored.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	if s.unlisten != nil {
		s.unlisten()
	}
	ms := make([]*muxer, 0, len(s.muxers))
	for _, m := range s.muxers {
		ms = append(ms, m)
	}
	clear(s.muxers)
	s.mu.Unlock()

	for _, m := range ms {
		m.stop(errServerClosed)
	}
	s.wg.Wait()
}
