package rtsp

import (
	"log/slog"
	"sync"
	"time"
)

// errLogInterval bounds repeated warnings (decode errors, a slow reader) to
// one line per interval and source: a broken peer would otherwise log every
// packet.
const errLogInterval = 10 * time.Second

// rateLog logs at most one line per interval and counts what it held back.
type rateLog struct {
	log   *slog.Logger
	every time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *rateLog) warn(msg string, err error, attrs ...any) {
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
	l.log.Warn(msg, append(attrs, "error", err, "suppressed", n)...)
}
