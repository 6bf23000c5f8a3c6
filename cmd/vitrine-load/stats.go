package main

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// stats gathers what viewers observe between two reports.
type stats struct {
	mu      sync.Mutex
	viewers int
	cur     report
}

type report struct {
	parts   int
	bytes   int64
	errors  int
	latency []time.Duration
	viewers int
	lastErr string
}

func newStats() *stats { return &stats{} }

func (s *stats) viewerJoined() { s.mu.Lock(); s.viewers++; s.mu.Unlock() }
func (s *stats) viewerLeft()   { s.mu.Lock(); s.viewers--; s.mu.Unlock() }

func (s *stats) part(n int64, behind time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur.parts++
	s.cur.bytes += n
	s.cur.latency = append(s.cur.latency, behind)
}

func (s *stats) error(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur.errors++
	s.cur.lastErr = err.Error()
}

// take returns the report since the last call and starts a new one.
func (s *stats) take() report {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.cur
	r.viewers = s.viewers
	s.cur = report{}
	return r
}

func (r *report) merge(o report) {
	r.parts += o.parts
	r.bytes += o.bytes
	r.errors += o.errors
	r.latency = append(r.latency, o.latency...)
	r.viewers = max(r.viewers, o.viewers)
	if o.lastErr != "" {
		r.lastErr = o.lastErr
	}
}

func (r report) String(over time.Duration) string {
	s := fmt.Sprintf("viewers %d, parts %.0f/s, %.1f Mbit/s, errors %d", r.viewers,
		float64(r.parts)/over.Seconds(), float64(r.bytes)*8/over.Seconds()/1e6, r.errors)
	if len(r.latency) > 0 {
		slices.Sort(r.latency)
		q := func(p float64) time.Duration {
			return r.latency[int(p*float64(len(r.latency)-1))].Round(time.Millisecond)
		}
		s += fmt.Sprintf(", part behind live edge p50 %v p95 %v max %v", q(0.5), q(0.95), q(1))
	}
	if r.lastErr != "" {
		s += fmt.Sprintf(" (last error: %.120s)", r.lastErr)
	}
	return s
}

// whepStats gathers what WHEP viewers observe between two reports. The
// per-packet counters are atomic; the rest is rare and takes the lock.
type whepStats struct {
	packets, bytes, frames, lost, late atomic.Int64

	mu      sync.Mutex
	viewers int
	cur     whepReport
}

type whepReport struct {
	packets, bytes, frames, lost, late int64
	errors                             int
	firstVideo                         []time.Duration
	viewers                            int
	lastErr                            string
}

func (s *whepStats) viewerJoined() { s.mu.Lock(); s.viewers++; s.mu.Unlock() }
func (s *whepStats) viewerLeft()   { s.mu.Lock(); s.viewers--; s.mu.Unlock() }

func (s *whepStats) packet(n, frames, lost int, late bool) {
	s.packets.Add(1)
	s.bytes.Add(int64(n))
	if frames > 0 {
		s.frames.Add(int64(frames))
	}
	if lost > 0 {
		s.lost.Add(int64(lost))
	}
	if late {
		s.late.Add(1)
	}
}

func (s *whepStats) firstVideo(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur.firstVideo = append(s.cur.firstVideo, d)
}

func (s *whepStats) error(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur.errors++
	s.cur.lastErr = err.Error()
}

// take returns the report since the last call and starts a new one.
func (s *whepStats) take() whepReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.cur
	r.viewers = s.viewers
	r.packets, r.bytes, r.frames = s.packets.Swap(0), s.bytes.Swap(0), s.frames.Swap(0)
	r.lost, r.late = s.lost.Swap(0), s.late.Swap(0)
	s.cur = whepReport{}
	return r
}

func (r *whepReport) merge(o whepReport) {
	r.packets += o.packets
	r.bytes += o.bytes
	r.frames += o.frames
	r.lost += o.lost
	r.late += o.late
	r.errors += o.errors
	r.firstVideo = append(r.firstVideo, o.firstVideo...)
	r.viewers = max(r.viewers, o.viewers)
	if o.lastErr != "" {
		r.lastErr = o.lastErr
	}
}

func (r whepReport) String(over time.Duration) string {
	sec := over.Seconds()
	s := fmt.Sprintf("viewers %d, %.0f pkt/s, %.1f Mbit/s, %.0f frames/s, lost %d", r.viewers,
		float64(r.packets)/sec, float64(r.bytes)*8/sec/1e6, float64(r.frames)/sec, r.lost)
	if r.late > 0 {
		s += fmt.Sprintf(" (%d late)", r.late)
	}
	s += fmt.Sprintf(", errors %d", r.errors)
	if len(r.firstVideo) > 0 {
		slices.Sort(r.firstVideo)
		q := func(p float64) time.Duration {
			return r.firstVideo[int(p*float64(len(r.firstVideo)-1))].Round(time.Millisecond)
		}
		s += fmt.Sprintf(", first video p50 %v p95 %v max %v", q(0.5), q(0.95), q(1))
	}
	if r.lastErr != "" {
		s += fmt.Sprintf(" (last error: %.120s)", r.lastErr)
	}
	return s
}
