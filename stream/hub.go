// Package stream is the hub between ingest protocols and readers: one Stream
// per live session, a publisher that never blocks, and readers that each
// consume at their own pace from a bounded queue.
//
// It imports no package of the project: every protocol, the recorder and the
// API import it.
package stream

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config tunes the hub.
type Config struct {
	// ReaderQueue is the number of units each reader may have pending; also
	// the longest GOP that can be cached. About 10 s of 30 fps video + audio.
	ReaderQueue int
	// ReconnectWindow is how long a stream waits for its publisher to come
	// back before it closes.
	ReconnectWindow time.Duration
	Logger          *slog.Logger
}

// EventKind says what happened to a stream.
type EventKind int

const (
	// EventReady: a publisher started a stream, or came back with new codec
	// parameters. Readers must be (re)built from Stream.Tracks.
	EventReady EventKind = iota
	// EventResumed: a publisher came back with the same codec parameters;
	// existing readers continue.
	EventResumed
	// EventOffline: the publisher dropped; the stream waits for it.
	EventOffline
	// EventClosed: the stream ended.
	EventClosed
)

func (k EventKind) String() string {
	return [...]string{"ready", "resumed", "offline", "closed"}[k]
}

// Event is delivered to listeners registered with Hub.Listen.
type Event struct {
	Kind   EventKind
	Stream *Stream
}

// Hub holds the streams by id.
type Hub struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	streams   map[string]*Stream
	listeners map[int]func(Event)
	nextID    int
	closed    bool
}

// NewHub validates cfg and returns an empty hub.
func NewHub(cfg Config) (*Hub, error) {
	if cfg.ReaderQueue < 16 {
		return nil, fmt.Errorf("stream: reader queue must hold at least 16 units, got %d", cfg.ReaderQueue)
	}
	if cfg.ReconnectWindow < 0 {
		return nil, fmt.Errorf("stream: reconnect window must not be negative")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Hub{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "stream"),
		streams:   map[string]*Stream{},
		listeners: map[int]func(Event){},
	}, nil
}

// Listen registers fn for stream events until cancel is called. fn runs
// synchronously on the goroutine that caused the event (often a
// publisher's): it must not block.
func (h *Hub) Listen(fn func(Event)) (cancel func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.nextID
	h.nextID++
	h.listeners[id] = fn
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.listeners, id)
	}
}

func (h *Hub) emit(ev Event) {
	h.mu.Lock()
	ids := slices.Sorted(maps.Keys(h.listeners)) // registration order
	ls := make([]func(Event), len(ids))
	for i, id := range ids {
		ls[i] = h.listeners[id]
	}
	h.mu.Unlock()
	for _, fn := range ls {
		fn(ev)
	}
}

// ErrHubClosed refuses publishers during shutdown.
var ErrHubClosed = errors.New("server is shutting down")

// Publish attaches a publisher with the given tracks to stream id, creating
// the stream if needed. A stream whose publisher dropped continues where it
// was; a stream that already has a publisher refuses with
// ErrAlreadyPublishing.
func (h *Hub) Publish(id string, info PublisherInfo, tracks []*Track) (*Publisher, error) {
	if err := validateTracks(tracks); err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrHubClosed
	}
	s, ok := h.streams[id]
	if !ok {
		s = newStream(h, id)
		h.streams[id] = s
	}
	h.mu.Unlock()

	p := &Publisher{stream: s, info: info, since: time.Now(), done: make(chan struct{})}
	changed, err := s.attach(p, tracks)
	if err != nil {
		return nil, err
	}
	codecs := make([]string, len(tracks))
	for i, t := range tracks {
		codecs[i] = t.Codec.String()
	}
	kind := EventResumed
	if changed {
		kind = EventReady
	}
	h.log.Info("publisher connected", "stream", id, "protocol", info.Protocol,
		"remote", info.Remote, "tracks", strings.Join(codecs, ","), "event", kind.String())
	h.emit(Event{Kind: kind, Stream: s})
	return p, nil
}

func validateTracks(tracks []*Track) error {
	if len(tracks) == 0 {
		return errors.New("stream: a publisher needs at least one track")
	}
	for i, t := range tracks {
		if t == nil || t.Codec == nil {
			return fmt.Errorf("stream: track %d has no codec", i)
		}
		if t.Index != i {
			return fmt.Errorf("stream: track %d has index %d", i, t.Index)
		}
	}
	return nil
}

// Get returns the stream with this id, online or waiting for its publisher.
func (h *Hub) Get(id string) (*Stream, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.streams[id]
	return s, ok
}

// Streams returns every stream, sorted by id.
func (h *Hub) Streams() []*Stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Stream, 0, len(h.streams))
	for _, s := range h.streams {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *Stream) int { return strings.Compare(a.id, b.id) })
	return out
}

// End closes stream id: its publisher is disconnected and its readers finish
// what they hold. It reports whether the stream existed.
func (h *Hub) End(id string) bool {
	h.mu.Lock()
	s, ok := h.streams[id]
	if ok {
		delete(h.streams, id)
	}
	h.mu.Unlock()
	if ok && s.close() {
		h.log.Info("stream ended", "stream", id)
		h.emit(Event{Kind: EventClosed, Stream: s})
	}
	return ok
}

// expire closes a stream whose publisher did not come back in time.
func (h *Hub) expire(s *Stream) {
	s.mu.Lock()
	waiting := s.publisher == nil && !s.closed
	s.mu.Unlock()
	if !waiting {
		return
	}
	h.mu.Lock()
	if h.streams[s.id] == s {
		delete(h.streams, s.id)
	}
	h.mu.Unlock()
	if s.close() {
		h.log.Info("stream closed: publisher did not come back", "stream", s.id,
			"window", h.cfg.ReconnectWindow)
		h.emit(Event{Kind: EventClosed, Stream: s})
	}
}

// Close ends every stream and refuses new publishers.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	ids := make([]string, 0, len(h.streams))
	for id := range h.streams {
		ids = append(ids, id)
	}
	h.mu.Unlock()
	for _, id := range ids {
		h.End(id)
	}
}
