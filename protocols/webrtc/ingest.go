package webrtc

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"vitrine/stream"
)

const (
	// srWait is how long a WHIP session whose tracks are ready waits for
	// the sender reports that align them, before it aligns them on arrival
	// times instead. It delays going live (and every reconnection), so it
	// is short: Chrome sends its first audio report about 2.4 s in, and
	// its publishers are aligned on arrival, which on a test machine is
	// within a few milliseconds of what the reports later say.
	srWait = time.Second
	// maxSRSkew: sender-report alignment that disagrees with arrival times
	// by more than this is bogus (a sender with a broken clock).
	maxSRSkew = time.Second
	// maxPending bounds what is held until the tracks are published.
	maxPending      = 2048
	maxPendingBytes = 32 << 20
	// firstKeyframeWait: a publisher whose first keyframe was lost is
	// asked for another after this long.
	firstKeyframeWait = 500 * time.Millisecond
)

// ingest turns a WHIP publisher's depacketized media into stream units.
//
// The hub needs the tracks up front: media is held until every negotiated
// track has started (video on a keyframe with its parameter sets) and the
// RTCP sender reports of each have come, or srWait after that, or the
// ingest timeout with what has started.
//
// Timestamps: each track's RTP clock runs from its own random origin. PTS
// is the time since the track's first unit plus the track's offset, which
// aligns the tracks on the capture times their sender reports give (or on
// first arrival without them). Unit.NTP is the capture time from the
// sender reports, when the publisher's clock agrees with ours: reports
// carry the publisher's own wall clock, and overlay events are stamped
// with ours. A capture time in our future, or far in our past, means the
// publisher's clock is off: NTP is then left to the hub, which anchors it
// on arrival.
type ingest struct {
	srv  *Server
	ss   *session
	log  *slog.Logger
	kf   *keyframeLimiter
	info stream.PublisherInfo

	mu       sync.Mutex
	closed   bool
	expect   [numKinds]bool
	tracks   [numKinds]trackIn
	pending  []pendingUnit
	pendSize int
	start    time.Time // when media could start flowing (peer connected)
	readyAt  time.Time // every expected track has started

	pub      *stream.Publisher
	hubIndex [numKinds]int
	offset   [numKinds]time.Duration
	lastDTS  [numKinds]time.Duration
	haveDTS  [numKinds]bool

	sps, pps  []byte
	needKey   bool
	lastKeyAt time.Time
	channels  int
	warned    map[string]bool
	// broken counts the access units lost to unrepaired packet loss.
	broken uint64
	// ntpFromSR: units carry their sender-report capture time.
	ntpFromSR bool
}

// trackIn is the timing state of one received track.
type trackIn struct {
	clock        int64
	unwrap       tsUnwrapper
	started      bool
	first        int64 // extended RTP timestamp of the first unit
	firstArrival time.Time
	haveSR       bool
	srNTP        time.Time
	srRTP        int64 // extended RTP timestamp of the last sender report
}

type pendingUnit struct {
	kind    trackKind
	ext     int64
	key     bool
	payload [][]byte
	at      time.Time // arrival
}

func newIngest(ss *session, o *offer, kf *keyframeLimiter, remote string) *ingest {
	in := &ingest{
		srv:     ss.srv,
		ss:      ss,
		log:     ss.log,
		kf:      kf,
		info:    stream.PublisherInfo{Protocol: "whip", Remote: remote},
		warned:  map[string]bool{},
		needKey: true,
	}
	for k := range numKinds {
		if c := o.choice[k]; c != nil {
			in.expect[k] = true
			in.tracks[k].clock = int64(c.clock)
		}
	}
	if c := o.choice[kindAudio]; c != nil && c.stereo {
		in.channels = 2
	}
	return in
}

// begin starts the ingest timeout when the peer has connected.
func (in *ingest) begin(now time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.start = now
}

// onVideo takes one reassembled access unit.
func (in *ingest) onVideo(au accessUnit, now time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return
	}
	if au.broken {
		in.broken++
		// The decoder cannot use it nor anything that refers to it until
		// the next keyframe: ask for one now.
		in.dropUntilKey()
		return
	}
	for _, n := range au.nalus {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			in.sps = n
		case h264.NALUTypePPS:
			in.pps = n
		}
	}
	key := h264.IsRandomAccess(au.nalus)
	t := &in.tracks[kindVideo]
	ext := t.unwrap.unwrap(au.ts)
	if in.needKey && (!key || in.sps == nil || in.pps == nil) {
		in.kf.request()
		return
	}
	if key {
		in.needKey = false
		in.lastKeyAt = now
		in.kf.satisfied()
	}
	if !t.started {
		t.started, t.first, t.firstArrival = true, ext, now
	}
	payload := au.nalus
	if key {
		payload = withParameterSets(payload, in.sps, in.pps)
	}
	in.add(kindVideo, ext, key, payload, now)
}

func (in *ingest) dropUntilKey() {
	if !in.needKey {
		in.log.Debug("whip video lost packets: waiting for a keyframe")
	}
	in.needKey = true
	in.kf.request()
}

// onAudio takes one Opus packet.
func (in *ingest) onAudio(p rtpIn, now time.Time) {
	if len(p.payload) == 0 {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return
	}
	t := &in.tracks[kindAudio]
	ext := t.unwrap.unwrap(p.ts)
	if !t.started {
		t.started, t.first, t.firstArrival = true, ext, now
		if in.channels == 0 {
			// The TOC byte's stereo flag (RFC 6716 section 3.1).
			in.channels = 1
			if p.payload[0]&0x04 != 0 {
				in.channels = 2
			}
		}
	}
	in.add(kindAudio, ext, true, [][]byte{p.payload}, now)
}

// onSR records a sender report of a track.
func (in *ingest) onSR(kind trackKind, ntp uint64, rtpTS uint32) {
	in.mu.Lock()
	defer in.mu.Unlock()
	t := &in.tracks[kind]
	if !t.unwrap.set {
		return // no media yet: the report cannot be placed
	}
	if !t.haveSR {
		in.log.Debug("whip first sender report", "track", kind.String(), "after", time.Since(in.start).Round(time.Millisecond))
	}
	t.haveSR, t.srNTP, t.srRTP = true, ntpTime(ntp), t.unwrap.peek(rtpTS)
}

func (in *ingest) add(kind trackKind, ext int64, key bool, payload [][]byte, now time.Time) {
	if in.pub != nil {
		in.write(kind, ext, key, payload, now)
		return
	}
	size := 0
	for _, p := range payload {
		size += len(p)
	}
	if len(in.pending) >= maxPending || in.pendSize+size > maxPendingBytes {
		in.ss.close(fmt.Errorf("%d units (%d bytes) held without a complete set of tracks", len(in.pending), in.pendSize))
		in.closed = true
		return
	}
	in.pending = append(in.pending, pendingUnit{kind: kind, ext: ext, key: key, payload: payload, at: now})
	in.pendSize += size
	in.maybePublish(now)
}

// maybePublish publishes once every expected track started and its sender
// report came (or srWait went by).
func (in *ingest) maybePublish(now time.Time) {
	for k := range numKinds {
		if in.expect[k] && !in.tracks[k].started {
			return
		}
	}
	if in.readyAt.IsZero() {
		in.readyAt = now
	}
	for k := range numKinds {
		if in.tracks[k].started && !in.tracks[k].haveSR && now.Sub(in.readyAt) < srWait {
			return
		}
	}
	in.publish()
}

// tick runs on the session's loop: it publishes on time limits, or ends a
// publisher that sends nothing usable.
func (in *ingest) tick(now time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed || in.start.IsZero() {
		return
	}
	if in.pub == nil {
		if now.Sub(in.start) < in.srv.cfg.IngestTimeout {
			if in.tracks[kindVideo].started || in.tracks[kindAudio].started {
				in.maybePublish(now)
			}
			return
		}
		if !in.tracks[kindVideo].started && !in.tracks[kindAudio].started {
			in.closed = true
			what := "no media"
			if in.expect[kindVideo] {
				what = "no H.264 keyframe with SPS and PPS"
			}
			in.ss.close(fmt.Errorf("%s in the first %v", what, in.srv.cfg.IngestTimeout))
			return
		}
		for k := range numKinds {
			if in.expect[k] && !in.tracks[k].started {
				in.log.Warn("whip track negotiated but not received in time: publishing without it", "track", k.String())
				in.expect[k] = false
			}
		}
		in.publish()
		return
	}
	// A publisher whose first keyframe was lost waits for the PLI.
	if in.needKey && in.expect[kindVideo] && now.Sub(in.start) > firstKeyframeWait {
		in.kf.request()
	}
}

// sinceKeyframe is the time since the last keyframe (or since the start).
func (in *ingest) sinceKeyframe(now time.Time) time.Duration {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.expect[kindVideo] || in.start.IsZero() {
		return 0
	}
	if in.lastKeyAt.IsZero() {
		return now.Sub(in.start)
	}
	return now.Sub(in.lastKeyAt)
}

// publisherDone is the hub's signal that the stream is being ended; nil
// before publishing.
func (in *ingest) publisherDone() <-chan struct{} {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pub == nil {
		return nil
	}
	return in.pub.Done()
}

func (in *ingest) publish() {
	var tracks []*stream.Track
	in.hubIndex = [numKinds]int{-1, -1}
	if in.tracks[kindVideo].started {
		in.hubIndex[kindVideo] = len(tracks)
		tracks = append(tracks, &stream.Track{Index: len(tracks), Codec: &stream.H264{SPS: in.sps, PPS: in.pps}})
	}
	if in.tracks[kindAudio].started {
		in.hubIndex[kindAudio] = len(tracks)
		tracks = append(tracks, &stream.Track{Index: len(tracks), Codec: &stream.Opus{ChannelCount: in.channels}})
	}
	aligned := in.align()
	ntp := in.checkClock()
	pub, err := in.srv.cfg.Hub.Publish(in.ss.streamID, in.info, tracks)
	if err != nil {
		in.closed = true
		in.ss.close(fmt.Errorf("publish to the hub: %w", err))
		return
	}
	in.pub = pub
	attrs := []any{"aligned_on", aligned, "ntp", ntp}
	if in.tracks[kindVideo].started {
		w, h, _ := (&stream.H264{SPS: in.sps}).Dimensions()
		attrs = append(attrs, "video", fmt.Sprintf("H264 %dx%d", w, h), "video_offset", in.offset[kindVideo])
	}
	if in.tracks[kindAudio].started {
		attrs = append(attrs, "audio", fmt.Sprintf("Opus %d ch", in.channels), "audio_offset", in.offset[kindAudio])
	}
	in.log.Info("whip publishing", attrs...)

	// Write what was held in timeline order: the hub starts the stream's
	// timeline at the first unit it gets. Each unit goes with its arrival,
	// from which the hub reckons its capture time: written now, a second
	// of media held would look like a burst of it just captured.
	pending := in.pending
	in.pending, in.pendSize = nil, 0
	slices.SortStableFunc(pending, func(a, b pendingUnit) int {
		return int(in.pts(a.kind, a.ext) - in.pts(b.kind, b.ext))
	})
	for _, u := range pending {
		in.write(u.kind, u.ext, u.key, u.payload, u.at)
	}
}

// align computes the tracks' offsets; it reports what they are based on.
func (in *ingest) align() string {
	var arrival, capture [numKinds]time.Time
	allSR := true
	for k := range numKinds {
		t := &in.tracks[k]
		if !t.started {
			continue
		}
		arrival[k] = t.firstArrival
		if !t.haveSR {
			allSR = false
			continue
		}
		capture[k] = t.srNTP.Add(ticks(t.first-t.srRTP, t.clock))
	}
	based, basis := arrival, "arrival"
	if allSR {
		based, basis = capture, "sender reports"
		if v, a := in.tracks[kindVideo].started, in.tracks[kindAudio].started; v && a {
			bySR := capture[kindAudio].Sub(capture[kindVideo])
			byArrival := arrival[kindAudio].Sub(arrival[kindVideo])
			if d := bySR - byArrival; d > maxSRSkew || d < -maxSRSkew {
				based, basis = arrival, "arrival (sender reports disagree by "+d.String()+")"
			}
		}
	}
	var base time.Time
	for k := range numKinds {
		if in.tracks[k].started && (base.IsZero() || based[k].Before(base)) {
			base = based[k]
		}
	}
	for k := range numKinds {
		if in.tracks[k].started {
			in.offset[k] = based[k].Sub(base)
		}
	}
	return basis
}

// Bounds of the delay from capture (sender reports) to arrival, beyond
// which the publisher's clock is deemed off.
const (
	maxClockAhead = 100 * time.Millisecond
	maxCaptureLag = 1500 * time.Millisecond
)

// checkClock decides whether units carry the sender reports' capture
// times: the shortest capture-to-arrival delay of the held units must be a
// plausible encoding and network delay.
func (in *ingest) checkClock() string {
	in.ntpFromSR = false
	minLag, n := time.Duration(0), 0
	for _, u := range in.pending {
		t := &in.tracks[u.kind]
		if !t.haveSR {
			return "arrival (no sender reports)"
		}
		lag := u.at.Sub(in.capture(u.kind, u.ext))
		if n == 0 || lag < minLag {
			minLag = lag
		}
		n++
	}
	if n == 0 {
		return "arrival"
	}
	if minLag < -maxClockAhead || minLag > maxCaptureLag {
		return "arrival (the publisher's clock is off by about " + minLag.Round(time.Millisecond).String() + ")"
	}
	in.ntpFromSR = true
	return "sender reports"
}

// capture is the publisher's wall-clock capture time of a unit.
func (in *ingest) capture(kind trackKind, ext int64) time.Time {
	t := &in.tracks[kind]
	return t.srNTP.Add(ticks(ext-t.srRTP, t.clock))
}

func (in *ingest) pts(kind trackKind, ext int64) time.Duration {
	t := &in.tracks[kind]
	return in.offset[kind] + ticks(ext-t.first, t.clock)
}

func (in *ingest) write(kind trackKind, ext int64, key bool, payload [][]byte, arrival time.Time) {
	idx := in.hubIndex[kind]
	if idx < 0 {
		return
	}
	pts := max(in.pts(kind, ext), 0)
	dts := pts
	if in.haveDTS[kind] && dts < in.lastDTS[kind] {
		// WebRTC encoders send no B-frames; a timestamp going back is a
		// reordered or bogus packet. Muxers need DTS not to go back.
		if !in.warned["dts"+kind.String()] {
			in.warned["dts"+kind.String()] = true
			in.log.Warn("whip timestamps went backwards: clamped", "track", kind.String())
		}
		dts = in.lastDTS[kind]
		pts = max(pts, dts)
	}
	in.lastDTS[kind], in.haveDTS[kind] = dts, true
	u := &stream.Unit{Track: idx, PTS: pts, DTS: dts, Key: key, Payload: payload}
	if in.ntpFromSR {
		u.NTP = in.capture(kind, ext)
	}
	in.pub.WriteAt(u, arrival)
}

// close stops the ingest and detaches the publisher (the stream then waits
// for a reconnection).
func (in *ingest) close() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.closed = true
	in.pending = nil
	if in.pub != nil {
		in.pub.Close()
	}
}

// tsUnwrapper extends 32-bit RTP timestamps to 64 bits.
type tsUnwrapper struct {
	set  bool
	last uint32
	ext  int64
}

func (u *tsUnwrapper) unwrap(ts uint32) int64 {
	if !u.set {
		u.set, u.last, u.ext = true, ts, int64(ts)
		return u.ext
	}
	u.ext += int64(int32(ts - u.last))
	u.last = ts
	return u.ext
}

// peek extends ts near the last timestamp without moving the reference.
func (u *tsUnwrapper) peek(ts uint32) int64 {
	return u.ext + int64(int32(ts-u.last))
}

// ticks converts a clock-rate count to a duration without overflowing.
func ticks(n, clock int64) time.Duration {
	return time.Duration(n/clock)*time.Second + time.Duration(n%clock)*time.Second/time.Duration(clock)
}
