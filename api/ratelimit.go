package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"vitrine/internal/clientaddr"
)

// RateLimit is a token bucket per client address: Burst requests may come
// at once, and the bucket refills at Burst per Period (10 per minute: one
// every 6 s, at most 10 in a row).
type RateLimit struct {
	// Burst is the bucket's size. 0 takes the default; negative disables
	// the limit.
	Burst int
	// Period is how long an empty bucket takes to fill. 0: one minute.
	Period time.Duration
}

// Default limits.
var (
	// DefaultReminderLimit bounds POST /live/{id}/reminders, the public
	// route that stores what anyone sends and hands it to an SMS provider.
	DefaultReminderLimit = RateLimit{Burst: 10, Period: time.Minute}
	// DefaultAuthFailureLimit bounds wrong or missing admin tokens.
	DefaultAuthFailureLimit = RateLimit{Burst: 20, Period: time.Minute}
)

// maxBuckets bounds a limiter's memory: past it, an arbitrary bucket is
// forgotten to make room (it then starts full again). Idle buckets go long
// before: a bucket left alone for Period is full, the same as no bucket,
// and is swept away.
const maxBuckets = 100_000

// limiter is a set of token buckets keyed by client address. It lives in
// this process: behind a load balancer each node counts on its own (a
// client spread over n nodes gets up to n times the limit).
type limiter struct {
	burst float64
	rate  float64 // tokens per second
	fill  time.Duration
	now   func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

// newLimiter returns nil (no limit) for a negative Burst.
func newLimiter(l, def RateLimit, now func() time.Time) *limiter {
	if l.Burst == 0 {
		l.Burst = def.Burst
	}
	if l.Burst < 0 {
		return nil
	}
	if l.Period <= 0 {
		l.Period = def.Period
	}
	return &limiter{
		burst:   float64(l.Burst),
		rate:    float64(l.Burst) / l.Period.Seconds(),
		fill:    l.Period,
		now:     now,
		buckets: make(map[string]*bucket),
	}
}

// refill brings b up to now and returns it; a nil b is a full bucket.
func (l *limiter) refill(b *bucket, now time.Time) bucket {
	if b == nil {
		return bucket{tokens: l.burst, at: now}
	}
	if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
		return bucket{tokens: min(l.burst, b.tokens+elapsed*l.rate), at: now}
	}
	return bucket{tokens: b.tokens, at: b.at} // clock stepped back: wait for it
}

// wait is how long until b holds a whole token.
func (l *limiter) wait(b bucket) time.Duration {
	return time.Duration(math.Ceil((1 - b.tokens) / l.rate * float64(time.Second)))
}

// refund gives back a token take took, for a request that turned out not
// to count (a successful admin authentication).
func (l *limiter) refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[key]; ok {
		*b = l.refill(b, l.now())
		b.tokens = min(l.burst, b.tokens+1)
	}
}

// take takes a token from key's bucket if it has one; if not, it reports
// how long until it has.
func (l *limiter) take(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	cur, ok := l.buckets[key]
	b := l.refill(cur, now)
	if b.tokens < 1 {
		if ok {
			*cur = b
		}
		return false, l.wait(b)
	}
	b.tokens--
	if ok {
		*cur = b
		return true, 0
	}
	if len(l.buckets) >= maxBuckets {
		for k := range l.buckets { // an arbitrary one: map order is random
			delete(l.buckets, k)
			break
		}
	}
	l.buckets[key] = &b
	return true, 0
}

// sweep forgets the buckets that are full again, once per fill period.
func (l *limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < l.fill {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if l.refill(b, now).tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// size is the number of buckets held, for tests.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// clientKey identifies the client of r for rate limiting (see
// clientaddr.Key: without trustProxy, behind a proxy, all clients share one
// bucket).
func clientKey(r *http.Request, trustProxy bool) string { return clientaddr.Key(r, trustProxy) }

// tooManyRequests answers 429 with Retry-After (whole seconds, at least 1)
// and the JSON error.
func tooManyRequests(w http.ResponseWriter, wait time.Duration, what string) {
	// Rounded to the millisecond first: float arithmetic can make an exact
	// 1 s wait 1.000000001 s, which must not become 2.
	secs := max(1, int(math.Ceil(wait.Round(time.Millisecond).Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeErrorBody(w, &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited",
		Message: "too many " + what + " from this address; retry in " + strconv.Itoa(secs) + " s"}, "")
}
