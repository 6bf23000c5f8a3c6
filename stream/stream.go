package stream

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrAlreadyPublishing refuses a second publisher on a live stream.
var ErrAlreadyPublishing = errors.New("stream already has a publisher")

// defaultFrameGap separates the last unit before a publisher dropped from
// the first one after it came back, when no video cadence is known.
const defaultFrameGap = 33 * time.Millisecond

// Stream is one live session: its tracks, its publisher (when connected), its
// readers and the GOP cache that lets a new reader start on a keyframe.
type Stream struct {
	id  string
	hub *Hub

	mu         sync.Mutex
	tracks     []*Track
	videoTrack int // index of the video track, -1 for audio-only
	publisher  *Publisher
	readers    []*Reader
	closed     bool
	reconnect  *time.Timer

	gop      []*Unit
	gopValid bool

	// Timeline: units are rebased so the stream starts at 0 and continues
	// across publisher sessions.
	sessionStarted bool
	sessionBase    time.Duration
	offset         time.Duration
	lastDTS        time.Duration
	lastVideoDTS   time.Duration
	frameGap       time.Duration
	// B-frames: a video unit presented before one decoded earlier (PTS
	// going back) in the publisher's session. Browsers cannot decode them
	// over WebRTC, so the players and the preflight need to know.
	maxVideoPTS  time.Duration
	videoPTSSeen bool
	bframes      bool
	// clock stamps units with their capture time; held are the units
	// written while it settles, not yet handed to readers.
	clock     clock
	held      []*Unit
	heldTimer *time.Timer // releases what is held after maxSettle

	unitsIn atomic.Uint64
	bytesIn atomic.Uint64
	dropped atomic.Uint64
	rate    bitrate
}

func newStream(h *Hub, id string) *Stream {
	return &Stream{id: id, hub: h, videoTrack: -1, frameGap: defaultFrameGap}
}

// ID is the stream's id (the campaign id).
func (s *Stream) ID() string { return s.id }

// Tracks returns the tracks of the current publisher session.
func (s *Stream) Tracks() []*Track {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tracks)
}

// Closed reports whether the stream has ended.
func (s *Stream) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Online reports whether a publisher is connected.
func (s *Stream) Online() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.publisher != nil
}

// AddReader attaches a new reader named after its kind ("hls", "whep",
// "recorder"). When the GOP cache holds a keyframe the reader starts with it,
// so it can decode at once; otherwise it waits for the next keyframe.
func (s *Stream) AddReader(name string) (*Reader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrStreamClosed
	}
	r := newReader(s, name, s.hub.cfg.ReaderQueue)
	if s.gopValid {
		for i, u := range s.gop {
			r.push(u, i == 0)
		}
	}
	s.readers = append(s.readers, r)
	return r, nil
}

func (s *Stream) removeReader(r *Reader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.readers, r); i >= 0 {
		s.readers = slices.Delete(s.readers, i, i+1)
	}
}

// attach makes p the publisher. It reports whether readers must be rebuilt
// because the codec parameters changed (or the stream had none yet).
func (s *Stream) attach(p *Publisher, tracks []*Track) (changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, ErrStreamClosed
	}
	if s.publisher != nil {
		return false, ErrAlreadyPublishing
	}
	if s.reconnect != nil {
		s.reconnect.Stop()
		s.reconnect = nil
	}
	s.release() // normally nothing: detach released it
	if s.tracks == nil || !tracksEqual(s.tracks, tracks) {
		changed = true
		for _, r := range s.readers {
			r.finish(ErrTracksChanged, true)
		}
		s.readers = nil
		s.tracks = tracks
		s.videoTrack = -1
		for i, t := range tracks {
			if t.Codec.IsVideo() && s.videoTrack < 0 {
				s.videoTrack = i
			}
		}
		clear(s.gop)
		s.gop, s.gopValid = s.gop[:0], false
	}
	if s.unitsIn.Load() > 0 {
		// Continue the timeline one frame after the last unit of the previous
		// session, so that muxers and players see no jump.
		s.offset = s.lastDTS + s.frameGap
	}
	s.sessionStarted = false
	s.videoPTSSeen, s.bframes = false, false
	s.clock.reset()
	s.publisher = p
	return changed, nil
}

func (s *Stream) detach(p *Publisher) {
	s.mu.Lock()
	if s.publisher != p {
		s.mu.Unlock()
		return
	}
	s.publisher = nil
	// What the clock held goes out with the time it has.
	s.release()
	closed := s.closed
	if !closed {
		s.reconnect = time.AfterFunc(s.hub.cfg.ReconnectWindow, func() { s.hub.expire(s) })
	}
	s.mu.Unlock()
	if !closed { // an ended stream has no publisher to wait for
		s.hub.emit(Event{Kind: EventOffline, Stream: s})
	}
}

// write takes a unit from publisher p that arrived at now.
func (s *Stream) write(p *Publisher, u *Unit, now time.Time) {
	if u.Track < 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.publisher != p || u.Track >= len(s.tracks) {
		return
	}

	if !s.sessionStarted {
		s.sessionStarted, s.sessionBase = true, u.DTS
	}
	u.DTS += s.offset - s.sessionBase
	u.PTS += s.offset - s.sessionBase
	if u.DTS > s.lastDTS {
		s.lastDTS = u.DTS
	}
	isVideo := u.Track == s.videoTrack
	if isVideo {
		if d := u.DTS - s.lastVideoDTS; d > 0 && d < time.Second {
			s.frameGap = d
		}
		s.lastVideoDTS = u.DTS
		if s.videoPTSSeen && u.PTS < s.maxVideoPTS {
			s.bframes = true
		}
		if !s.videoPTSSeen || u.PTS > s.maxVideoPTS {
			s.maxVideoPTS, s.videoPTSSeen = u.PTS, true
		}
	}
	size := u.Size()
	s.unitsIn.Add(1)
	s.bytesIn.Add(uint64(size))
	s.rate.add(now, size)

	// The publisher's capture time, if it gave one, is the clock's to
	// weigh; every unit gets the clock's.
	settled := s.clock.update(u.DTS, u.PTS, now, u.NTP)
	s.held = append(s.held, u)
	// Half a reader's queue at most: released at once, the units must fit.
	if !settled && len(s.held) < s.hub.cfg.ReaderQueue/2 {
		if s.heldTimer == nil {
			// A publisher that goes quiet while the clock settles.
			var t *time.Timer
			t = time.AfterFunc(maxSettle, func() {
				s.mu.Lock()
				defer s.mu.Unlock()
				if s.heldTimer == t {
					s.clock.settle()
					s.release()
				}
			})
			s.heldTimer = t
		}
		return
	}
	s.clock.settle()
	s.release()
}

// release stamps the units held and hands them to the readers.
func (s *Stream) release() {
	if s.heldTimer != nil {
		s.heldTimer.Stop()
		s.heldTimer = nil
	}
	for i, u := range s.held {
		u.NTP = s.clock.ntp(u.PTS)
		gopStart := u.Key && (u.Track == s.videoTrack || s.videoTrack < 0)
		s.cache(u, gopStart)
		for _, r := range s.readers {
			r.push(u, gopStart)
		}
		s.held[i] = nil
	}
	s.held = s.held[:0]
}

// cache keeps the units since the last keyframe, up to the reader queue size
// (a longer GOP could not be handed to a new reader anyway).
func (s *Stream) cache(u *Unit, gopStart bool) {
	if gopStart {
		clear(s.gop)
		s.gop, s.gopValid = s.gop[:0], true
	}
	if !s.gopValid {
		return
	}
	if len(s.gop) >= s.hub.cfg.ReaderQueue {
		clear(s.gop)
		s.gop, s.gopValid = s.gop[:0], false
		return
	}
	s.gop = append(s.gop, u)
}

// close ends the stream: the publisher is asked to leave and readers drain
// what is queued, then stop with ErrStreamClosed.
func (s *Stream) close() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.closed = true
	if s.reconnect != nil {
		s.reconnect.Stop()
	}
	if s.publisher != nil {
		s.publisher.kick()
	}
	s.release()
	for _, r := range s.readers {
		r.finish(ErrStreamClosed, false)
	}
	s.readers = nil
	clear(s.gop)
	s.gop = nil
	return true
}

// Stats is a snapshot of a stream for the API and metrics.
type Stats struct {
	ID        string         `json:"id"`
	Online    bool           `json:"online"`
	Publisher *PublisherInfo `json:"publisher,omitempty"`
	Since     *time.Time     `json:"since,omitempty"`
	Tracks    []TrackInfo    `json:"tracks"`
	Readers   map[string]int `json:"readers"`
	UnitsIn   uint64         `json:"units_in"`
	BytesIn   uint64         `json:"bytes_in"`
	Dropped   uint64         `json:"dropped_units"`
	// Bitrate is the ingest rate over the last few seconds, in bits/s.
	Bitrate int64 `json:"bitrate"`
	// BFrames: the publisher's video has B-frames (frames presented before
	// one decoded earlier); WebRTC viewers get its I and P frames only.
	BFrames bool `json:"b_frames"`
}

// TrackInfo describes a track in Stats.
type TrackInfo struct {
	Codec      string  `json:"codec"`
	Width      int     `json:"width,omitempty"`
	Height     int     `json:"height,omitempty"`
	FrameRate  float64 `json:"frame_rate,omitempty"`
	SampleRate int     `json:"sample_rate,omitempty"`
	Channels   int     `json:"channels,omitempty"`
}

// Stats returns a snapshot of the stream.
func (s *Stream) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		ID:      s.id,
		Online:  s.publisher != nil,
		Readers: map[string]int{},
		UnitsIn: s.unitsIn.Load(),
		BytesIn: s.bytesIn.Load(),
		Dropped: s.dropped.Load(),
		Bitrate: s.rate.bitsPerSecond(time.Now()),
		BFrames: s.bframes,
	}
	if p := s.publisher; p != nil {
		info, since := p.info, p.since
		st.Publisher, st.Since = &info, &since
	}
	for _, t := range s.tracks {
		st.Tracks = append(st.Tracks, describe(t.Codec))
	}
	for _, r := range s.readers {
		st.Readers[r.name]++
	}
	return st
}

func describe(c Codec) TrackInfo {
	ti := TrackInfo{Codec: c.String()}
	switch c := c.(type) {
	case *H264:
		ti.Width, ti.Height, ti.FrameRate = c.Dimensions()
	case *MPEG4Audio:
		ti.SampleRate, ti.Channels = c.Config.SampleRate, c.Config.ChannelCount
	case *Opus:
		ti.SampleRate, ti.Channels = 48000, c.ChannelCount
	}
	return ti
}

// BFrames reports whether the current publisher's video has B-frames.
func (s *Stream) BFrames() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bframes
}

func (s *Stream) String() string { return fmt.Sprintf("stream %q", s.id) }
