package recorder

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"

	"vitrine/stream"
)

// discontinuityThreshold: when the wall clock of the units jumps by more
// than this against their media time (a publisher that dropped and came
// back, or stalled), the recording marks a discontinuity: the replay's
// PROGRAM-DATE-TIME jumps there, and the new segment starts on a keyframe.
const discontinuityThreshold = time.Second

// segmentStart describes a segment about to receive its first fragment.
type segmentStart struct {
	StartAt       time.Time     // media clock (NTP) of its first keyframe
	MediaStart    time.Duration // PTS of that keyframe on the stream timeline
	Discontinuity bool
}

// sink receives what the segmenter cuts. Calls come in order: begin, then
// one or more fragments, the last with end set, then begin again...
type sink interface {
	beginSegment(s segmentStart) error
	// writeFragment gets one moof+mdat and the media duration it covers;
	// end says it is the segment's last.
	writeFragment(data []byte, dur time.Duration, end bool) error
}

// recTrack is one track of the stream as recorded.
type recTrack struct {
	hub       int // index in the stream's tracks
	id        int // fMP4 track id, from 1
	timeScale uint32
	codec     mp4.Codec
	video     bool
	name      string

	pending    *fmp4.Sample // waiting for the next unit to know its duration
	pendingDTS int64
	lastDur    uint32
	frag       []*fmp4.Sample
	fragBase   int64 // DTS (ticks) of frag[0]
}

// segmenter cuts a stream's units into fMP4 fragments and segments:
// segments start on a keyframe of the reference track (the video, or the
// audio of an audio-only stream) once SegmentDuration has elapsed; within
// a segment a fragment is flushed every FragmentDuration, so a long GOP
// does not hold more than that in memory (and at risk in a crash).
type segmenter struct {
	tracks    []*recTrack // by hub index; nil for a track not recorded
	ref       *recTrack
	segDur    time.Duration
	fragDur   time.Duration
	out       sink
	seqNo     uint32
	segOpen   bool
	segStart  int64  // ref DTS (ticks) of the segment's first sample
	fragRef   int64  // ref DTS of the fragment's first ref sample, -1 if none
	fragMedia uint64 // ref ticks in the fragment

	// after is where the previous session of the recording ended on the
	// media timeline; a stream that starts before it (a new stream after a
	// restart starts at 0) is shifted past it, so that the recording's
	// timestamps never go back.
	after     time.Duration
	offset    time.Duration
	offsetSet bool

	anchorSet     bool
	anchor        time.Time // NTP - PTS of the last ref unit
	discontinuity bool      // the next segment starts after a jump
}

// errNoTracks: nothing in the stream can be recorded.
var errNoTracks = errors.New("none of the stream's tracks can be recorded (H264, AAC, Opus)")

// newSegmenter maps the stream's tracks to fMP4 tracks: the first video
// track and the first audio track.
func newSegmenter(tracks []*stream.Track, segDur, fragDur time.Duration, out sink) (*segmenter, error) {
	s := &segmenter{tracks: make([]*recTrack, len(tracks)), segDur: segDur, fragDur: fragDur, out: out, fragRef: -1}
	var video, audio *recTrack
	for i, t := range tracks {
		rt := &recTrack{hub: i, name: t.Codec.String()}
		switch c := t.Codec.(type) {
		case *stream.H264:
			if video != nil || len(c.SPS) == 0 || len(c.PPS) == 0 {
				continue
			}
			rt.codec, rt.timeScale, rt.video = &mp4.CodecH264{SPS: slices.Clone(c.SPS), PPS: slices.Clone(c.PPS)}, 90000, true
			video = rt
		case *stream.MPEG4Audio:
			if audio != nil || c.Config == nil || c.Config.SampleRate <= 0 {
				continue
			}
			rt.codec, rt.timeScale = &mp4.CodecMPEG4Audio{Config: *c.Config}, uint32(c.Config.SampleRate)
			audio = rt
		case *stream.Opus:
			if audio != nil || c.ChannelCount <= 0 {
				continue
			}
			rt.codec, rt.timeScale = &mp4.CodecOpus{ChannelCount: c.ChannelCount}, 48000
			audio = rt
		default:
			continue
		}
		s.tracks[i] = rt
	}
	id := 1
	for _, rt := range []*recTrack{video, audio} {
		if rt != nil {
			rt.id = id
			id++
		}
	}
	s.ref = video
	if s.ref == nil {
		s.ref = audio
	}
	if s.ref == nil {
		return nil, errNoTracks
	}
	return s, nil
}

// ordered returns the recorded tracks by fMP4 id.
func (s *segmenter) ordered() []*recTrack {
	var out []*recTrack
	for _, t := range s.tracks {
		if t != nil {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b *recTrack) int { return a.id - b.id })
	return out
}

// codecs names the recorded codecs ("H264,AAC").
func (s *segmenter) codecs() string {
	var names []string
	for _, t := range s.ordered() {
		names = append(names, t.name)
	}
	return strings.Join(names, ",")
}

// init returns the init segment (ftyp+moov).
func (s *segmenter) init() ([]byte, error) {
	var in fmp4.Init
	for _, t := range s.ordered() {
		in.Tracks = append(in.Tracks, &fmp4.InitTrack{ID: t.id, TimeScale: t.timeScale, Codec: t.codec})
	}
	var buf seekablebuffer.Buffer
	if err := in.Marshal(&buf); err != nil {
		return nil, fmt.Errorf("init segment: %w", err)
	}
	return buf.Bytes(), nil
}

// markDiscontinuity makes the next segment start a discontinuity (a new
// publisher session).
func (s *segmenter) markDiscontinuity() { s.discontinuity = true }

// ticks converts a duration to a track's timescale without drift.
func ticks(d time.Duration, rate uint32) int64 {
	sec, rem := int64(d/time.Second), int64(d%time.Second)
	if rem < 0 {
		sec--
		rem += int64(time.Second)
	}
	return sec*int64(rate) + rem*int64(rate)/int64(time.Second)
}

func fromTicks(t int64, rate uint32) time.Duration {
	return time.Duration(t/int64(rate))*time.Second + time.Duration(t%int64(rate))*time.Second/time.Duration(rate)
}

// write takes one unit. It never keeps a reference to the unit's payload
// beyond the sample it builds (a copy for video: AVCC; audio shares the
// read-only payload until the fragment is written).
func (s *segmenter) write(u *stream.Unit) error {
	if u.Track < 0 || u.Track >= len(s.tracks) || s.tracks[u.Track] == nil {
		return nil
	}
	t := s.tracks[u.Track]
	if !s.offsetSet {
		s.offsetSet = true
		if u.DTS < s.after {
			s.offset = s.after - u.DTS
		}
	}
	if s.offset != 0 {
		shifted := *u // the unit is shared: shift a copy
		shifted.DTS += s.offset
		shifted.PTS += s.offset
		u = &shifted
	}
	dts := ticks(u.DTS, t.timeScale)
	if t.pending != nil && dts <= t.pendingDTS {
		return nil // out of order: the muxers would refuse it too
	}
	sample, err := newSample(t, u)
	if err != nil || sample == nil {
		return nil // a malformed unit costs that unit
	}

	if t == s.ref {
		// A jump of the wall clock against media time: the publisher
		// came back (or stalled). Cut, and restart on a keyframe.
		anchor := u.NTP.Add(-u.PTS)
		if s.anchorSet {
			if d := anchor.Sub(s.anchor); d > discontinuityThreshold || d < -discontinuityThreshold {
				s.discontinuity = true
			}
		}
		s.anchor, s.anchorSet = anchor, true
	}

	// The pending sample of this track now has its duration.
	if t.pending != nil {
		d := dts - t.pendingDTS
		if d > 1<<31 {
			d = int64(t.lastDur) // a gap beyond reason: keep the cadence
		}
		t.pending.Duration, t.lastDur = uint32(d), uint32(d)
		s.appendSample(t, t.pending, t.pendingDTS)
		t.pending = nil
	}

	if t == s.ref {
		key := u.Key || !t.video
		switch {
		case s.discontinuity && s.segOpen:
			// End the segment before the jump; wait for a keyframe.
			if err := s.flush(true); err != nil {
				return err
			}
			if key {
				if err := s.begin(u, dts); err != nil {
					return err
				}
			}
		case !s.segOpen:
			if !key {
				return nil // a segment starts on a keyframe
			}
			if err := s.begin(u, dts); err != nil {
				return err
			}
		case key && time.Duration(fromTicks(dts-s.segStart, t.timeScale)) >= s.segDur-s.segDur/10:
			// Keyframes up to 10% early count: encoders' GOPs of exactly
			// the segment duration must not make segments twice as long.
			if err := s.flush(true); err != nil {
				return err
			}
			if err := s.begin(u, dts); err != nil {
				return err
			}
		case s.fragRef >= 0 && fromTicks(dts-s.fragRef, t.timeScale) >= s.fragDur:
			if err := s.flush(false); err != nil {
				return err
			}
		}
	}
	if !s.segOpen {
		return nil // before the first keyframe, or waiting for one
	}
	t.pending, t.pendingDTS = sample, dts
	return nil
}

func newSample(t *recTrack, u *stream.Unit) (*fmp4.Sample, error) {
	if t.video {
		au := make([][]byte, 0, len(u.Payload))
		for _, n := range u.Payload {
			if len(n) > 0 {
				au = append(au, n)
			}
		}
		if len(au) == 0 {
			return nil, nil
		}
		off := ticks(u.PTS, t.timeScale) - ticks(u.DTS, t.timeScale)
		if off < -1<<31 || off > 1<<31-1 {
			return nil, errors.New("PTS too far from DTS")
		}
		smp, err := fmp4.NewSampleH264(int32(off), au)
		if err != nil {
			return nil, err
		}
		smp.IsNonSyncSample = !u.Key
		return smp, nil
	}
	if len(u.Payload) == 0 || len(u.Payload[0]) == 0 {
		return nil, nil
	}
	return &fmp4.Sample{Payload: u.Payload[0]}, nil
}

func (s *segmenter) appendSample(t *recTrack, smp *fmp4.Sample, dts int64) {
	if len(t.frag) == 0 {
		t.fragBase = dts
	}
	t.frag = append(t.frag, smp)
	if t == s.ref {
		if s.fragRef < 0 {
			s.fragRef = dts
		}
		s.fragMedia += uint64(smp.Duration)
	}
}

func (s *segmenter) begin(u *stream.Unit, dts int64) error {
	st := segmentStart{StartAt: u.NTP, MediaStart: u.PTS, Discontinuity: s.discontinuity}
	s.discontinuity = false
	s.segOpen, s.segStart = true, dts
	return s.out.beginSegment(st)
}

// flush writes the samples completed so far as one fragment; end closes
// the segment.
func (s *segmenter) flush(end bool) error {
	part := fmp4.Part{SequenceNumber: s.seqNo}
	for _, t := range s.ordered() {
		if len(t.frag) == 0 {
			continue
		}
		part.Tracks = append(part.Tracks, &fmp4.PartTrack{ID: t.id, BaseTime: uint64(t.fragBase), Samples: t.frag})
	}
	dur := fromTicks(int64(s.fragMedia), s.ref.timeScale)
	s.fragRef, s.fragMedia = -1, 0
	if len(part.Tracks) == 0 {
		if end {
			s.segOpen = false
			return s.out.writeFragment(nil, 0, true)
		}
		return nil
	}
	var buf seekablebuffer.Buffer
	if err := part.Marshal(&buf); err != nil {
		return fmt.Errorf("fragment: %w", err)
	}
	s.seqNo++
	for _, t := range s.tracks {
		if t != nil {
			clear(t.frag)
			t.frag = t.frag[:0]
		}
	}
	if end {
		s.segOpen = false
	}
	return s.out.writeFragment(buf.Bytes(), dur, end)
}

// close completes the held-back samples with their track's last duration
// and writes the last fragment.
func (s *segmenter) close() error {
	if !s.segOpen {
		return nil
	}
	for _, t := range s.ordered() {
		if t.pending == nil {
			continue
		}
		d := t.lastDur
		if d == 0 {
			d = t.timeScale / 30
			if !t.video {
				d = 1024
			}
		}
		t.pending.Duration = d
		s.appendSample(t, t.pending, t.pendingDTS)
		t.pending = nil
	}
	return s.flush(true)
}
