package overlay

import (
	"sync"
	"time"
)

// throttle coalesces marks into calls of fn at most once per interval:
// likes tapped and votes cast become one like.count or poll.results a few
// times a second, never one event per tap.
type throttle struct {
	interval time.Duration
	fn       func()

	mu     sync.Mutex
	timer  *time.Timer
	last   time.Time
	closed bool
	run    sync.Mutex // one fn at a time
}

func newThrottle(interval time.Duration, fn func()) *throttle {
	return &throttle{interval: interval, fn: fn}
}

// mark asks for a call of fn: now if the last was an interval ago, else
// when the interval has passed.
func (t *throttle) mark() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.timer != nil {
		return
	}
	wait := max(time.Until(t.last.Add(t.interval)), 0)
	t.timer = time.AfterFunc(wait, t.fire)
}

func (t *throttle) fire() {
	t.run.Lock()
	defer t.run.Unlock()
	t.mu.Lock()
	t.timer = nil
	t.last = time.Now()
	t.mu.Unlock()
	t.fn()
}

// close stops future calls and runs fn once more, so nothing marked is
// lost, after a call in progress.
func (t *throttle) close() {
	t.mu.Lock()
	t.closed = true
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	t.mu.Unlock()
	t.run.Lock()
	defer t.run.Unlock()
	t.fn()
}
