package main

import (
	"context"
	"math/rand/v2"
	"time"
)

// pace runs act, then again after a wait of mean on average, until ctx
// ends or act returns false. With jitter j each wait is drawn uniformly from mean·(1±j): a host
// and a chat room keep no metronome, and two series at fixed periods (the
// pins and the chats) would keep for a whole run the phase between them
// that its start happened to set, so that one run meets only the
// collisions of that phase and the next run others. Jittered, every run
// meets them all.
func pace(ctx context.Context, mean time.Duration, jitter float64, act func() bool) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !act() {
			return
		}
		t.Reset(spacing(mean, jitter, rand.Float64()))
	}
}

// spacing is the wait drawn from u in [0, 1): mean·(1-jitter+2·jitter·u).
func spacing(mean time.Duration, jitter float64, u float64) time.Duration {
	return time.Duration(float64(mean) * (1 - jitter + 2*jitter*u))
}
