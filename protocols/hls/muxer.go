package hls

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"

	"vitrine/stream"
)

// errLogInterval bounds encode error logs to one line per interval and
// muxer: a broken publisher would otherwise log every frame.
const errLogInterval = 10 * time.Second

// muxer is the gohlslib muxer of one live stream and the hub reader that
// feeds it.
type muxer struct {
	stream *stream.Stream
	log    *slog.Logger
	hls    *gohlslib.Muxer
	reader *stream.Reader
	// tracks maps a unit's track index to its HLS track; nil for a track
	// that HLS cannot carry.
	tracks []*gohlslib.Track
	names  []string // codecs carried, for logs
	errs   rateLog

	ctx    context.Context
	cancel context.CancelCauseFunc
	// closed is set before the gohlslib muxer is closed, so that a request
	// it releases with a 500 can be answered as "stream ended".
	closed atomic.Bool

	// pending counts requests running inside gohlslib; see Server.await.
	pending atomic.Int64

	hintsMu sync.Mutex
	hints   map[string]hint // by gohlslib stream ("video1", "audio2")

	parts partCache // the last complete parts, shared by their requests

	jobsMu sync.Mutex
	jobs   map[string]*job // requests running inside gohlslib, by what they ask; see Server.awaitShared
}

func newMuxer(st *stream.Stream, cfg Config, log *slog.Logger) (*muxer, error) {
	m := &muxer{stream: st, log: log, hints: map[string]hint{}}
	m.errs = rateLog{log: log, every: errLogInterval}

	var hlsTracks []*gohlslib.Track
	hasVideo := false
	for _, t := range st.Tracks() {
		ht, err := hlsTrack(t.Codec)
		if err == nil && ht.Codec.IsVideo() && hasVideo {
			err = errors.New("a second video track (HLS carries one)")
		}
		if err != nil {
			log.Warn("track not carried over HLS", "track", t.Index, "codec", t.Codec.String(), "reason", err)
			m.tracks = append(m.tracks, nil)
			continue
		}
		hasVideo = hasVideo || ht.Codec.IsVideo()
		m.tracks = append(m.tracks, ht)
		m.names = append(m.names, t.Codec.String())
		hlsTracks = append(hlsTracks, ht)
	}
	if len(hlsTracks) == 0 {
		return nil, errors.New("none of the stream's tracks can be carried over HLS")
	}

	m.hls = &gohlslib.Muxer{
		Tracks:             hlsTracks,
		Variant:            gohlslib.MuxerVariantLowLatency,
		SegmentCount:       cfg.SegmentCount,
		SegmentMinDuration: segmentThreshold(cfg.SegmentMinDuration),
		PartMinDuration:    cfg.PartMinDuration,
		OnEncodeError:      func(err error) { m.errs.warn("HLS muxer", err) },
	}
	if err := m.hls.Start(); err != nil {
		return nil, fmt.Errorf("start gohlslib muxer: %w", err)
	}
	r, err := st.AddReader("hls")
	if err != nil {
		m.hls.Close()
		return nil, fmt.Errorf("read stream: %w", err)
	}
	m.reader = r
	m.ctx, m.cancel = context.WithCancelCause(context.Background())
	return m, nil
}

// segmentThreshold is the duration after which gohlslib cuts a segment at
// the next keyframe. gohlslib measures it on DTS it derives itself, which
// with B-frames puts keyframes a few frames short of the encoder's cadence:
// with the exact minimum, a 1 s GOP would make 2 s segments (and double the
// latency of players that read whole segments). Keyframes up to 10% early
// therefore count.
func segmentThreshold(min time.Duration) time.Duration {
	return min - min/10
}

// hlsTrack converts a hub codec to a gohlslib track. Parameter sets are
// copied: gohlslib updates its codec in place when they change in band.
func hlsTrack(c stream.Codec) (*gohlslib.Track, error) {
	switch c := c.(type) {
	case *stream.H264:
		if len(c.SPS) == 0 || len(c.PPS) == 0 {
			return nil, errors.New("H264 without SPS/PPS")
		}
		return &gohlslib.Track{
			Codec:     &codecs.H264{SPS: slices.Clone(c.SPS), PPS: slices.Clone(c.PPS)},
			ClockRate: 90000,
		}, nil
	case *stream.MPEG4Audio:
		if c.Config == nil || c.Config.SampleRate <= 0 {
			return nil, errors.New("AAC without a sample rate")
		}
		return &gohlslib.Track{
			Codec:     &codecs.MPEG4Audio{Config: *c.Config},
			ClockRate: c.Config.SampleRate,
		}, nil
	case *stream.Opus:
		if c.ChannelCount <= 0 {
			return nil, errors.New("Opus without channels")
		}
		return &gohlslib.Track{
			Codec:     &codecs.Opus{ChannelCount: c.ChannelCount},
			ClockRate: 48000,
		}, nil
	default:
		return nil, errors.New("unsupported codec")
	}
}

// run feeds the muxer until the reader ends, and returns why it ended.
func (m *muxer) run() error {
	err := m.reader.Run(m.ctx, func(u *stream.Unit) error {
		if err := m.write(u); err != nil {
			m.errs.warn("unit not muxed", err)
		}
		// An encode error concerns one unit: the next keyframe repairs it.
		return nil
	})
	if m.ctx.Err() != nil {
		return context.Cause(m.ctx)
	}
	return err
}

func (m *muxer) write(u *stream.Unit) (err error) {
	if u.Track < 0 || u.Track >= len(m.tracks) || m.tracks[u.Track] == nil {
		return nil
	}
	t := m.tracks[u.Track]
	// gohlslib indexes into NAL units and frames without checking them; a
	// malformed publisher must cost a frame, not the process. (A panic while
	// gohlslib holds its lock would leave the muxer stuck; the checks below
	// keep the known panics from happening at all.)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("gohlslib panic: %v", p)
		}
	}()
	pts := toClockRate(u.PTS, t.ClockRate)
	switch t.Codec.(type) {
	case *codecs.H264:
		au := nonEmpty(u.Payload)
		if len(au) == 0 {
			return nil
		}
		err = m.hls.WriteH264(t, u.NTP, pts, au)
	case *codecs.MPEG4Audio:
		if len(u.Payload) == 0 || len(u.Payload[0]) == 0 {
			return nil
		}
		err = m.hls.WriteMPEG4Audio(t, u.NTP, pts, u.Payload[:1])
	case *codecs.Opus:
		if len(u.Payload) == 0 || len(u.Payload[0]) == 0 {
			return nil
		}
		err = m.hls.WriteOpus(t, u.NTP, pts, u.Payload[:1])
	}
	if err != nil {
		return fmt.Errorf("track %d: %w", u.Track, err)
	}
	return nil
}

// nonEmpty drops empty NAL units, copying the slice only when needed: the
// unit is shared with other readers and must not be modified.
func nonEmpty(au [][]byte) [][]byte {
	for i, n := range au {
		if len(n) == 0 {
			out := slices.Clone(au[:i])
			for _, n := range au[i+1:] {
				if len(n) > 0 {
					out = append(out, n)
				}
			}
			return out
		}
	}
	return au
}

// toClockRate converts a duration to ticks of a clock rate in integer
// arithmetic, so that timestamps do not drift over a long live. Whole
// seconds and the remainder are scaled separately: d*rate would overflow
// int64 after about 27 hours at 90 kHz. It rounds down, also for negative
// durations, so that the conversion is monotonic.
func toClockRate(d time.Duration, rate int) int64 {
	sec, rem := int64(d/time.Second), int64(d%time.Second)
	if rem < 0 {
		sec--
		rem += int64(time.Second)
	}
	return sec*int64(rate) + rem*int64(rate)/int64(time.Second)
}

// stop asks the muxer's goroutine to end, for the reason given; it does
// not wait.
func (m *muxer) stop(reason error) { m.cancel(reason) }

// close ends the gohlslib muxer, which releases every request blocked in
// it. Called by the muxer's goroutine once no unit is being written.
func (m *muxer) close() {
	m.closed.Store(true)
	m.hls.Close()
}

// discard undoes newMuxer when the server closed meanwhile.
func (m *muxer) discard() {
	m.cancel(errServerClosed)
	m.reader.Close()
	m.close()
}

// rateLog logs at most one line per interval and counts what it held back.
type rateLog struct {
	log   *slog.Logger
	every time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *rateLog) warn(msg string, err error) {
	l.mu.Lock()
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	l.log.Warn(msg, "error", err, "suppressed", n)
}
