package main

import (
	"fmt"
	"slices"
	"sync"
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
