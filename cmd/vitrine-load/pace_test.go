package main

import (
	"context"
	"testing"
	"time"
)

func TestSpacing(t *testing.T) {
	for _, c := range []struct {
		jitter float64
		u      float64
		want   time.Duration
	}{
		{0, 0, time.Second},
		{0, 0.999, time.Second},
		{0.5, 0, 500 * time.Millisecond},
		{0.5, 0.5, time.Second},
		{0.5, 0.75, 1250 * time.Millisecond},
		{0.2, 0, 800 * time.Millisecond},
	} {
		if got := spacing(time.Second, c.jitter, c.u); got != c.want {
			t.Errorf("spacing(1s, %v, %v) = %v, want %v", c.jitter, c.u, got, c.want)
		}
	}
}

// TestPace: the first act at once, the rest about mean apart, each wait
// within mean±jitter, and none once act says stop.
func TestPace(t *testing.T) {
	const mean, jitter = 20 * time.Millisecond, 0.5
	var at []time.Time
	pace(context.Background(), mean, jitter, func() bool {
		at = append(at, time.Now())
		return len(at) < 40
	})
	if len(at) != 40 {
		t.Fatalf("%d acts, want 40 (pace went on after act said stop)", len(at))
	}
	var short, long int
	for i := 1; i < len(at); i++ {
		d := at[i].Sub(at[i-1])
		if d < time.Duration(float64(mean)*(1-jitter)) {
			t.Fatalf("wait %d was %v, under %v", i, d, time.Duration(float64(mean)*(1-jitter)))
		}
		if d < mean {
			short++
		} else {
			long++
		}
	}
	// Timers only run late, so "long" may dominate; a wait below the
	// mean shows that the waits are drawn, not fixed.
	if short == 0 {
		t.Fatalf("no wait under the mean in %d: the waits are not spread", len(at)-1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	pace(ctx, mean, jitter, func() bool { n++; return true })
	if n > 1 {
		t.Fatalf("%d acts after the context ended", n)
	}
}
