// Package aacopus turns a stream's AAC audio into Opus for WebRTC viewers,
// whose browsers cannot play AAC over WebRTC. It runs one supervised ffmpeg
// process per stream (AAC frames in as ADTS on its stdin, Opus packets out
// as Ogg on its stdout) and maps every Opus packet back onto the input's
// timeline, so that the audio keeps its place beside the video.
//
// Why a process and not a library: no Go AAC decoder or Opus encoder is
// fit for this (pion/opus only decodes), and cgo bindings of libopus plus
// an AAC decoder would put a C toolchain and two libraries into every
// build for about 1% of a core per stream (README, "Sound over WebRTC").
// ffmpeg is already what sellers and the tests push with; a crash or a
// hang of it stays outside the server, which restarts it with backoff.
//
// It imports nothing of the project.
package aacopus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// Defaults of the optional Config fields.
const (
	DefaultFFmpeg  = "ffmpeg"
	DefaultBitrate = 96000
	DefaultQueue   = 64 // AAC frames: about 1.4 s at 48 kHz
)

const (
	// minBackoff and maxBackoff bound the wait before a failed process is
	// started again; a process that ran healthyAfter resets it.
	minBackoff   = 200 * time.Millisecond
	maxBackoff   = 5 * time.Second
	healthyAfter = 10 * time.Second
	// hangAfter: a process that was given frames and returned nothing for
	// this long is stuck (ffmpeg holds two or three frames, so a pause of
	// the source is not a hang: see hangFrames).
	hangAfter  = 2 * time.Second
	hangFrames = 8
	// maxGap: an input frame further than this from where the previous one
	// ended is a new timeline (a reconnect, lost audio): ADTS carries no
	// time, so the process is restarted with the new frame as its origin.
	maxGap = 60 * time.Millisecond
	// maxLag: output that falls this far behind the input for driftAfter
	// lost samples (a frame ffmpeg could not decode): the timeline is
	// rebuilt. The pipeline itself holds about 50 ms.
	maxLag     = 250 * time.Millisecond
	driftAfter = time.Second
)

// Config configures a Transcoder.
type Config struct {
	// FFmpeg is the ffmpeg executable, a path or a name looked up in PATH.
	// Default "ffmpeg".
	FFmpeg string
	// Bitrate is the Opus bitrate in bits per second. Default 96000.
	Bitrate int
	// Queue bounds the AAC frames waiting for the process; beyond, Write
	// drops them. Default 64.
	Queue  int
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.FFmpeg == "" {
		c.FFmpeg = DefaultFFmpeg
	}
	if c.Bitrate <= 0 {
		c.Bitrate = DefaultBitrate
	}
	if c.Queue <= 0 {
		c.Queue = DefaultQueue
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Frame is one Opus packet (20 ms) on the input's timeline.
type Frame struct {
	// PTS is the time of the packet's first sample, in the clock of the
	// AAC frames' PTS.
	PTS time.Duration
	// Samples is the packet's duration in 48 kHz samples.
	Samples int
	Data    []byte
}

// Stats counts what a Transcoder did.
type Stats struct {
	FramesIn  uint64 // AAC frames accepted by Write
	Dropped   uint64 // AAC frames Write refused: queue full or no process
	FramesOut uint64 // Opus packets delivered
	Restarts  uint64 // processes restarted after a failure
	// DelayP50 and DelayP95: from an AAC frame handed to ffmpeg to the
	// Opus packet that ends with it, over the last packets.
	DelayP50, DelayP95 time.Duration
}

type input struct {
	pts time.Duration
	au  []byte
}

// Transcoder transcodes one AAC track. Write never blocks: the stream's
// video and its other readers never wait for it.
type Transcoder struct {
	cfg      Config
	log      *slog.Logger
	adts     mpeg4audio.ADTSPacket // the header fields of every frame
	frameDur time.Duration
	channels int
	out      func(Frame)

	queue   chan input
	carry   *input // the frame that started a new timeline
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	started atomic.Bool

	framesIn, dropped, framesOut, restarts atomic.Uint64
	latency                                delays

	mu      sync.Mutex
	running *processRun // for tests: the current process
}

// New validates the configuration and the AAC track; it starts nothing.
// out receives the Opus packets, in order, on the Transcoder's own
// goroutine; it must not block for long.
func New(cfg Config, asc *mpeg4audio.AudioSpecificConfig, out func(Frame)) (*Transcoder, error) {
	if asc == nil || out == nil {
		return nil, errors.New("aacopus: no AAC configuration or no output")
	}
	cfg.setDefaults()
	typ := asc.Type
	switch typ {
	case mpeg4audio.ObjectTypeAACLC:
	case mpeg4audio.ObjectTypeSBR, mpeg4audio.ObjectTypePS:
		// HE-AAC: ADTS signals its AAC-LC core; the decoder finds the
		// SBR and PS data in the frames themselves.
		typ = mpeg4audio.ObjectTypeAACLC
	default:
		return nil, fmt.Errorf("aacopus: AAC object type %d is not supported", asc.Type)
	}
	if asc.SampleRate <= 0 || asc.ChannelCount <= 0 {
		return nil, fmt.Errorf("aacopus: AAC with %d Hz and %d channels", asc.SampleRate, asc.ChannelCount)
	}
	adts := mpeg4audio.ADTSPacket{Type: typ, SampleRate: asc.SampleRate, ChannelCount: asc.ChannelCount}
	if _, err := (mpeg4audio.ADTSPackets{&adts}).Marshal(); err != nil {
		return nil, fmt.Errorf("aacopus: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Transcoder{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "aacopus"),
		adts:     adts,
		frameDur: time.Duration(1024 * int64(time.Second) / int64(asc.SampleRate)),
		channels: min(asc.ChannelCount, 2),
		out:      out,
		queue:    make(chan input, cfg.Queue),
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
	}, nil
}

// Start runs the process and its supervisor until Close.
func (t *Transcoder) Start() {
	if t.started.Swap(true) {
		return
	}
	go t.run()
}

// Close stops the process and waits for the supervisor.
func (t *Transcoder) Close() error {
	t.cancel()
	if t.started.Load() {
		<-t.done
	}
	return nil
}

// Write queues one AAC frame (raw, without ADTS header) with its PTS. It
// never blocks; false when the frame was dropped.
func (t *Transcoder) Write(pts time.Duration, au []byte) bool {
	select {
	case t.queue <- input{pts: pts, au: au}:
		t.framesIn.Add(1)
		return true
	default:
		t.dropped.Add(1)
		return false
	}
}

// Stats reports the counters.
func (t *Transcoder) Stats() Stats {
	p50, p95 := t.latency.percentiles()
	return Stats{FramesIn: t.framesIn.Load(), Dropped: t.dropped.Load(),
		FramesOut: t.framesOut.Load(), Restarts: t.restarts.Load(), DelayP50: p50, DelayP95: p95}
}

// delays keeps the last transcoding delays.
type delays struct {
	mu sync.Mutex
	d  [256]time.Duration
	n  int
}

func (l *delays) add(d time.Duration) {
	l.mu.Lock()
	l.d[l.n%len(l.d)] = d
	l.n++
	l.mu.Unlock()
}

func (l *delays) percentiles() (p50, p95 time.Duration) {
	l.mu.Lock()
	s := slices.Clone(l.d[:min(l.n, len(l.d))])
	l.mu.Unlock()
	if len(s) == 0 {
		return 0, 0
	}
	slices.Sort(s)
	return s[len(s)/2], s[len(s)*95/100]
}

var (
	errNewTimeline = errors.New("the input starts a new timeline")
	errHung        = errors.New("ffmpeg returned no audio for its input")
	errDrift       = errors.New("ffmpeg's output fell behind its input (frames it could not decode)")
)

func (t *Transcoder) run() {
	defer close(t.done)
	backoff := minBackoff
	for t.ctx.Err() == nil {
		began := time.Now()
		err := t.runProcess()
		if t.ctx.Err() != nil {
			return
		}
		if errors.Is(err, errNewTimeline) {
			t.log.Debug("aac to opus: the audio continues on a new timeline; ffmpeg restarted")
			continue
		}
		t.restarts.Add(1)
		if time.Since(began) > healthyAfter {
			backoff = minBackoff
		}
		t.log.Warn("aac to opus: ffmpeg stopped; WebRTC viewers hear nothing until it is back",
			"error", err, "restart_in", backoff)
		select {
		case <-t.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
		// What queued meanwhile is past: start from the live audio.
		t.carry = nil
		for drained := false; !drained; {
			select {
			case <-t.queue:
				t.dropped.Add(1)
			default:
				drained = true
			}
		}
	}
}

func (t *Transcoder) current() *processRun {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.running
}
