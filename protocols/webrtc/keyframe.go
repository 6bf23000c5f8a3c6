package webrtc

import (
	"sync"
	"time"
)

// minKeyframeGap is the shortest interval between two keyframe requests
// (PLI) sent to a publisher: each keyframe costs it a burst of bitrate, and
// any number of viewers asking within the gap are served by the same one.
const minKeyframeGap = time.Second

// keyframeLimiter coalesces keyframe requests for one publisher. Requests
// only set a flag (they come from viewers' goroutines, and must not block
// on the publisher's connection); the publisher's run loop sends at most one
// PLI per gap, and a keyframe that arrives clears what is pending.
type keyframeLimiter struct {
	gap  time.Duration
	wake chan struct{}

	mu      sync.Mutex
	pending bool
	last    time.Time
	sent    uint64
}

func newKeyframeLimiter(gap time.Duration) *keyframeLimiter {
	return &keyframeLimiter{gap: gap, wake: make(chan struct{}, 1)}
}

// request asks for a keyframe; it never blocks.
func (k *keyframeLimiter) request() {
	k.mu.Lock()
	k.pending = true
	k.mu.Unlock()
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// satisfied records a keyframe from the publisher: pending requests are
// served by it.
func (k *keyframeLimiter) satisfied() {
	k.mu.Lock()
	k.pending = false
	k.mu.Unlock()
}

// due reports whether a PLI must be sent now, and records it as sent.
func (k *keyframeLimiter) due(now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.pending || now.Sub(k.last) < k.gap {
		return false
	}
	k.pending, k.last = false, now
	k.sent++
	return true
}

// count is the number of PLIs sent.
func (k *keyframeLimiter) count() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.sent
}
