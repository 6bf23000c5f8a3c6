package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"vitrine/internal/clientaddr"
	"vitrine/internal/ratelimit"
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
	rate ratelimit.Rate
	fill time.Duration
	now  func() time.Time

	mu        sync.Mutex
	buckets   map[string]*ratelimit.Bucket
	lastSweep time.Time
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
		rate:    ratelimit.Rate{Burst: float64(l.Burst), PerSecond: float64(l.Burst) / l.Period.Seconds()},
		fill:    l.Period,
		now:     now,
		buckets: make(map[string]*ratelimit.Bucket),
	}
}

// refund gives back a token take took, for a request that turned out not
// to count (a successful admin authentication).
func (l *limiter) refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[key]; ok {
		b.Give(l.rate, l.now())
	}
}

// take takes a token from key's bucket if it has one; if not, it reports
// how long until it has.
func (l *limiter) take(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			for k := range l.buckets { // an arbitrary one: map order is random
				delete(l.buckets, k)
				break
			}
		}
		full := ratelimit.Full(l.rate, now)
		b = &full
	}
	if !b.Take(l.rate, now) {
		return false, b.Wait(l.rate)
	}
	if !ok {
		l.buckets[key] = b
	}
	return true, 0
}

// sweep forgets the buckets that are full again, once per fill period.
func (l *limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < l.fill {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.IsFull(l.rate, now) {
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
