package aacopus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// processRun is one ffmpeg process and the timeline it is on: its first
// input frame's PTS is the origin of its output's sample count.
type processRun struct {
	cmd *exec.Cmd
	// base is the PTS of the first frame written; set once by the feeder
	// before the first write, read by the reader after output arrives.
	base    atomic.Int64
	baseSet atomic.Bool
	// inEnd is where the last written frame ends (PTS), written since
	// the last output packet counts frames ffmpeg holds, outAt is when the
	// last packet came (unix ns).
	inEnd        atomic.Int64
	writtenSince atomic.Int64
	outAt        atomic.Int64

	// written remembers when the last frames went in, to measure how
	// long ffmpeg takes (latency).
	mu      sync.Mutex
	written [64]writtenFrame
	nw      int
}

type writtenFrame struct {
	end time.Duration // PTS where the frame ends
	at  time.Time
}

func (p *processRun) wrote(end time.Duration, at time.Time) {
	p.mu.Lock()
	p.written[p.nw%len(p.written)] = writtenFrame{end, at}
	p.nw++
	p.mu.Unlock()
}

// delay is how long ago the input that completes a packet ending at end
// was written; false when no longer known.
func (p *processRun) delay(end time.Duration, now time.Time) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var best *writtenFrame
	for i := range min(p.nw, len(p.written)) {
		w := &p.written[(p.nw-1-i)%len(p.written)]
		if w.end < end {
			break
		}
		best = w
	}
	if best == nil {
		return 0, false
	}
	return now.Sub(best.at), true
}

// args is ffmpeg's command line: no probing of the input (its format is
// given), no buffering, one 20 ms packet per Ogg page flushed at once.
// The low-delay application keeps libopus's look-ahead at 2.5 ms.
func (t *Transcoder) args() []string {
	return []string{
		"-hide_banner", "-nostdin", "-loglevel", "error",
		"-probesize", "32", "-analyzeduration", "0", "-fflags", "nobuffer",
		"-f", "aac", "-i", "pipe:0",
		"-map", "0:a:0", "-c:a", "libopus", "-application", "lowdelay", "-frame_duration", "20",
		"-b:a", strconv.Itoa(t.cfg.Bitrate), "-ar", "48000", "-ac", strconv.Itoa(t.channels),
		"-f", "ogg", "-page_duration", "20000", "-flush_packets", "1", "pipe:1",
	}
}

// runProcess runs one ffmpeg until it fails, the input jumps, or Close.
func (t *Transcoder) runProcess() error {
	ctx, cancel := context.WithCancelCause(t.ctx)
	defer cancel(nil)
	cmd := exec.CommandContext(ctx, t.cfg.FFmpeg, t.args()...)
	cmd.WaitDelay = time.Second
	stderr := &tailWriter{max: 1024}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", t.cfg.FFmpeg, err)
	}
	p := &processRun{cmd: cmd}
	p.outAt.Store(time.Now().UnixNano())
	t.mu.Lock()
	t.running = p
	t.mu.Unlock()

	errc := make(chan error, 3)
	var wg sync.WaitGroup
	wg.Go(func() { errc <- t.feed(ctx, p, stdin) })
	wg.Go(func() { errc <- t.read(p, stdout) })
	wg.Go(func() { errc <- t.watch(ctx, p) })
	err = <-errc
	cancel(err) // kills the process: the reader sees EOF, the feeder EPIPE
	_ = stdin.Close()
	wg.Wait()
	werr := cmd.Wait()
	t.mu.Lock()
	t.running = nil
	t.mu.Unlock()
	if errors.Is(err, io.EOF) || err == nil {
		err = fmt.Errorf("ffmpeg exited: %v %s", werr, stderr.String())
	} else if msg := stderr.String(); msg != "" && !errors.Is(err, errNewTimeline) {
		err = fmt.Errorf("%w (ffmpeg: %s)", err, msg)
	}
	return err
}

// feed writes queued frames as ADTS. A frame that does not continue the
// previous one ends this process's timeline: it is carried to the next.
func (t *Transcoder) feed(ctx context.Context, p *processRun, w io.Writer) error {
	hdr := t.adts
	var buf []byte
	var next time.Duration
	for {
		var in input
		if t.carry != nil {
			in, t.carry = *t.carry, nil
		} else {
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case in = <-t.queue:
			}
		}
		if p.baseSet.Load() {
			if d := in.pts - next; d > maxGap || d < -maxGap {
				t.carry = &in
				return errNewTimeline
			}
		} else {
			p.base.Store(int64(in.pts))
			p.baseSet.Store(true)
		}
		next = in.pts + t.frameDur
		if len(in.au) == 0 || len(in.au)+7 > 1<<13 { // ADTS frame length has 13 bits
			continue
		}
		hdr.AU = in.au
		var err error
		if buf, err = marshalADTS(buf[:0], &hdr); err != nil {
			return err
		}
		p.inEnd.Store(int64(next))
		p.writtenSince.Add(1)
		p.wrote(next, time.Now())
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("write to ffmpeg: %w", err)
		}
	}
}

func marshalADTS(dst []byte, pkt *mpeg4audio.ADTSPacket) ([]byte, error) {
	b, err := mpeg4audio.ADTSPackets{pkt}.Marshal()
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// read turns the process's Ogg pages into Frames on the input's timeline.
func (t *Transcoder) read(p *processRun, r io.Reader) error {
	or := newOggReader(r)
	var head *opusHead
	var pos int64 // samples at 48 kHz since the process's origin, pre-skip included
	var lagSince time.Time
	headers := 0
	for {
		pkts, granule, err := or.page()
		if err != nil {
			return err
		}
		for _, pkt := range pkts {
			if headers < 2 { // OpusHead, then OpusTags
				if headers == 0 {
					h, err := parseOpusHead(pkt)
					if err != nil {
						return err
					}
					head = &h
				}
				headers++
				continue
			}
			n := opusSamples(pkt)
			if n == 0 || !p.baseSet.Load() {
				continue
			}
			pts := time.Duration(p.base.Load()) + samplesToDuration(pos-int64(head.preSkip))
			pos += int64(n)
			t.framesOut.Add(1)
			t.out(Frame{PTS: pts, Samples: n, Data: pkt})
		}
		if granule >= 0 && headers >= 2 {
			pos = granule
		}
		if len(pkts) == 0 || headers < 2 {
			continue
		}
		now := time.Now()
		p.outAt.Store(now.UnixNano())
		p.writtenSince.Store(0)
		outEnd := time.Duration(p.base.Load()) + samplesToDuration(pos-int64(head.preSkip))
		if d, ok := p.delay(outEnd, now); ok {
			t.latency.add(d)
		}
		lag := time.Duration(p.inEnd.Load()) - outEnd
		switch {
		case lag < -maxGap:
			return fmt.Errorf("%w: output %v ahead of its input", errDrift, -lag)
		case lag <= maxLag:
			lagSince = time.Time{}
		case lagSince.IsZero():
			lagSince = now
		case now.Sub(lagSince) > driftAfter:
			return fmt.Errorf("%w: %v behind", errDrift, lag)
		}
	}
}

func samplesToDuration(n int64) time.Duration {
	return time.Duration(n * int64(time.Second) / 48000)
}

// watch ends a process that holds its input without answering.
func (t *Transcoder) watch(ctx context.Context, p *processRun) error {
	tick := time.NewTicker(hangAfter / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case now := <-tick.C:
			if p.writtenSince.Load() > hangFrames && now.Sub(time.Unix(0, p.outAt.Load())) > hangAfter {
				return errHung
			}
		}
	}
}

// kill ends the current process as a crash would (tests).
func (t *Transcoder) kill() bool {
	p := t.current()
	if p == nil || p.cmd.Process == nil {
		return false
	}
	return p.cmd.Process.Signal(os.Kill) == nil
}

// tailWriter keeps the last bytes ffmpeg wrote to its stderr, for the log.
type tailWriter struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if over := len(w.b) - w.max; over > 0 {
		w.b = append(w.b[:0], w.b[over:]...)
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(bytes.TrimSpace(w.b))
}
