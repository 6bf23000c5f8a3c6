package ratelimit

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	r := Rate{PerSecond: 2, Burst: 3}
	t0 := time.Unix(1000, 0)
	b := Full(r, t0)
	for i := range 3 {
		if !b.Take(r, t0) {
			t.Fatalf("take %d of a full bucket refused", i+1)
		}
	}
	if b.Take(r, t0) {
		t.Fatal("a fourth token from a burst of 3")
	}
	if w := b.Wait(r); w != 500*time.Millisecond {
		t.Fatalf("wait %v, want 500ms at 2/s", w)
	}
	if !b.Take(r, t0.Add(500*time.Millisecond)) {
		t.Fatal("no token after its refill time")
	}
	// A clock that steps back neither refills nor drains.
	if b.Take(r, t0) {
		t.Fatal("a token from a clock that stepped back")
	}
	b.Give(r, t0.Add(500*time.Millisecond))
	if !b.Take(r, t0.Add(500*time.Millisecond)) {
		t.Fatal("a token given back is not there")
	}
	if b.IsFull(r, t0.Add(time.Second)) || !b.IsFull(r, t0.Add(2*time.Second)) {
		t.Fatal("full again after Burst/PerSecond, not before")
	}
}
