// Package ratelimit is the token bucket behind every rate limit of
// Vitrine: per client address in the API (reminders, failed sign-ins),
// per connection on the events sockets (chat, likes). It imports nothing
// of the project.
package ratelimit

import (
	"math"
	"time"
)

// Rate is a bucket's shape: at most Burst tokens, refilled at PerSecond.
type Rate struct {
	PerSecond float64
	Burst     float64
}

// Bucket is one token bucket; the zero Bucket is empty. It is not safe
// for concurrent use: its owner locks, or keeps it to one goroutine.
type Bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

// Full is a full bucket at now.
func Full(r Rate, now time.Time) Bucket { return Bucket{tokens: r.Burst, at: now} }

// Refill brings b up to now. A clock that stepped back leaves it as it is
// until the clock passes its time again.
func (b *Bucket) Refill(r Rate, now time.Time) {
	if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
		b.tokens = min(r.Burst, b.tokens+elapsed*r.PerSecond)
		b.at = now
	}
}

// Take refills b and takes a token if it holds one.
func (b *Bucket) Take(r Rate, now time.Time) bool {
	b.Refill(r, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Give refills b and gives back a token (up to Burst): for an action that
// turned out not to count.
func (b *Bucket) Give(r Rate, now time.Time) {
	b.Refill(r, now)
	b.tokens = min(r.Burst, b.tokens+1)
}

// IsFull says whether b, refilled to now, holds Burst tokens: a limiter
// keyed by client may forget it.
func (b *Bucket) IsFull(r Rate, now time.Time) bool {
	c := *b
	c.Refill(r, now)
	return c.tokens >= r.Burst
}

// Wait is how long until b holds a whole token, from its last refill.
func (b *Bucket) Wait(r Rate) time.Duration {
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration(math.Ceil((1 - b.tokens) / r.PerSecond * float64(time.Second)))
}

// Limiter is one connection's bucket with its rate, on the wall clock.
type Limiter struct {
	rate Rate
	b    Bucket
}

// NewLimiter is a full limiter of burst tokens refilled at perSecond.
func NewLimiter(perSecond float64, burst int) *Limiter {
	r := Rate{PerSecond: perSecond, Burst: float64(burst)}
	return &Limiter{rate: r, b: Full(r, time.Now())}
}

// Allow takes a token if there is one.
func (l *Limiter) Allow() bool { return l.b.Take(l.rate, time.Now()) }
