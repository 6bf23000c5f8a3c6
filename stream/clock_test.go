package stream

import (
	"context"
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// arrival is one unit as a publisher sends it: its timestamps, when it
// arrives, and the capture time the publisher gives (zero if none).
type arrival struct {
	track    int
	dts, pts time.Duration
	at       time.Time
	capture  time.Time
}

// av is a steady publisher's first d of 30 fps video and 48 kHz AAC (1024
// samples a frame), interleaved by DTS, each unit arriving latency after
// its DTS from t0.
func av(d, latency time.Duration) []arrival {
	var out []arrival
	vi, ai := 0, 0
	for {
		v := time.Duration(vi) * time.Second / 30
		a := time.Duration(ai) * 1024 * time.Second / 48000
		switch {
		case v >= d && a >= d:
			return out
		case v <= a:
			out = append(out, arrival{track: 0, dts: v, pts: v, at: t0.Add(v + latency)})
			vi++
		default:
			out = append(out, arrival{track: 1, dts: a, pts: a, at: t0.Add(a + latency)})
			ai++
		}
	}
}

// burst makes the units of the first d arrive together, at the arrival of
// the first one after them: an encoder that buffered while it connected.
func burst(units []arrival, d time.Duration) []arrival {
	var at time.Time
	for _, u := range units {
		if u.dts >= d {
			at = u.at
			break
		}
	}
	for i := range units {
		if units[i].dts < d {
			units[i].at = at.Add(time.Duration(i) * time.Microsecond)
		}
	}
	return units
}

// stamp runs units through a clock as the stream does: held while it
// settles, stamped once it has. It returns each unit's NTP.
func stamp(units []arrival) []time.Time {
	var c clock
	ntps := make([]time.Time, len(units))
	held := 0
	for i, u := range units {
		if !c.update(u.dts, u.pts, u.at, u.capture) {
			continue
		}
		for ; held <= i; held++ {
			ntps[held] = c.ntp(units[held].pts)
		}
	}
	for ; held < len(units); held++ {
		ntps[held] = c.ntp(units[held].pts)
	}
	return ntps
}

// checkStamps: no unit is stamped after its arrival; units stamped from
// `from` on share one mapping of media time to NTP, within slack: so a
// segment's PROGRAM-DATE-TIME plus its duration never passes the arrival
// of what ends it.
func checkStamps(t *testing.T, units []arrival, ntps []time.Time, from int, slack time.Duration) time.Time {
	t.Helper()
	base := ntps[from].Add(-units[from].pts)
	for i, u := range units {
		if ntps[i].After(u.at) {
			t.Fatalf("unit %d (track %d, pts %v) stamped %v after its arrival", i, u.track, u.pts, ntps[i].Sub(u.at))
		}
		if i < from {
			continue
		}
		if d := base.Sub(ntps[i].Add(-u.pts)); d < -slack || d > slack {
			t.Fatalf("unit %d (track %d, pts %v): media-to-NTP mapping moved by %v", i, u.track, u.pts, d)
		}
	}
	return base
}

func TestClockSteadyStart(t *testing.T) {
	units := av(3*time.Second, 40*time.Millisecond)
	ntps := stamp(units)
	if base := checkStamps(t, units, ntps, 0, 0); !base.Equal(t0.Add(40 * time.Millisecond)) {
		t.Fatalf("base %v, want the arrival of the first unit, %v", base, t0.Add(40*time.Millisecond))
	}
}

// TestClockBurstAtStart: an encoder sends the 1.5 s it buffered while it
// connected at once, then in real time. Every unit, those of the burst
// included, is stamped on the mapping the real-time pace gives.
func TestClockBurstAtStart(t *testing.T) {
	units := burst(av(5*time.Second, 30*time.Millisecond), 1500*time.Millisecond)
	ntps := stamp(units)
	if base := checkStamps(t, units, ntps, 0, 0); !base.Equal(t0.Add(30 * time.Millisecond)) {
		t.Fatalf("base %v, want %v", base, t0.Add(30*time.Millisecond))
	}
}

// TestClockBFrames: video presented after it is decoded (PTS ahead of DTS)
// is stamped on its PTS, and still not after its arrival.
func TestClockBFrames(t *testing.T) {
	fd := time.Second / 30
	var units []arrival
	for i := range 90 {
		// I P B B P B B...: PTS is DTS plus two frames for a P, less for a B.
		pts := time.Duration(i+2) * fd
		if i%3 != 0 {
			pts = time.Duration(i-1) * fd
		}
		if i == 0 {
			pts = 2 * fd
		}
		dts := time.Duration(i) * fd
		units = append(units, arrival{dts: dts, pts: max(pts, dts), at: t0.Add(dts + 5*time.Millisecond)})
	}
	checkStamps(t, units, stamp(units), 0, 0)
}

// TestClockJitterAndStall: arrivals late by less than maxClockLag keep the
// mapping; a stall beyond it re-anchors it later, settled again.
func TestClockJitterAndStall(t *testing.T) {
	units := av(8*time.Second, 20*time.Millisecond)
	for i := range units {
		if i%7 == 3 {
			units[i].at = units[i].at.Add(300 * time.Millisecond) // jitter
		}
		if units[i].dts >= 5*time.Second {
			units[i].at = units[i].at.Add(3 * time.Second) // a stall
		}
	}
	ntps := stamp(units)
	first := 0
	for units[first].dts < 5*time.Second {
		first++
	}
	before := checkStamps(t, units[:first], ntps[:first], 0, 0)
	after := checkStamps(t, units[first:], ntps[first:], 0, 0)
	if d := after.Sub(before); d != 3*time.Second {
		t.Fatalf("after the stall the mapping moved %v, want 3s", d)
	}
}

// TestClockPublisherCapture: a publisher's capture times (sender reports)
// may put the stamps before arrival (a camera's own latency), never after
// it; given late, they move the mapping gently; given per track, the
// tracks still share one mapping.
func TestClockPublisherCapture(t *testing.T) {
	t.Run("behind arrival", func(t *testing.T) {
		units := av(3*time.Second, 20*time.Millisecond)
		for i := range units {
			units[i].capture = units[i].at.Add(-300 * time.Millisecond)
		}
		ntps := stamp(units)
		if base := checkStamps(t, units, ntps, 0, 0); !base.Equal(t0.Add(-280 * time.Millisecond)) {
			t.Fatalf("base %v, want the publisher's, %v", base, t0.Add(-280*time.Millisecond))
		}
	})
	t.Run("ahead of arrival", func(t *testing.T) {
		units := av(3*time.Second, 20*time.Millisecond)
		for i := range units {
			units[i].capture = units[i].at.Add(time.Second)
		}
		ntps := stamp(units)
		if base := checkStamps(t, units, ntps, 0, 0); !base.Equal(t0.Add(20 * time.Millisecond)) {
			t.Fatalf("base %v, want arrival's, %v", base, t0.Add(20*time.Millisecond))
		}
	})
	t.Run("from 5 s on", func(t *testing.T) {
		// The first sender report comes 5 s in: capture 400 ms before
		// arrival. The mapping moves at most 50 ms a second of media, so a
		// 1 s segment's date plus its duration overshoots the next
		// segment's date by 50 ms at most.
		units := av(20*time.Second, 20*time.Millisecond)
		for i := range units {
			if units[i].dts >= 5*time.Second {
				units[i].capture = units[i].at.Add(-400 * time.Millisecond)
			}
		}
		ntps := stamp(units)
		checkStamps(t, units, ntps, 0, 400*time.Millisecond)
		prev := ntps[0].Add(-units[0].pts)
		for i := 1; i < len(units); i++ {
			base := ntps[i].Add(-units[i].pts)
			if step := prev.Sub(base); step < 0 || step > max(units[i].dts-units[i-1].dts, 0)/slewDivisor+time.Microsecond {
				t.Fatalf("unit %d (dts %v): the mapping moved %v at once", i, units[i].dts, step)
			}
			prev = base
		}
		last := len(units) - 1
		if got, want := ntps[last].Add(-units[last].pts), t0.Add(-380*time.Millisecond); !got.Equal(want) {
			t.Fatalf("base %v at the end, want the publisher's, %v", got, want)
		}
	})
	t.Run("per track", func(t *testing.T) {
		// Audio's reports put it 200 ms earlier than video's: one mapping
		// for both, the earlier.
		units := av(3*time.Second, 20*time.Millisecond)
		for i := range units {
			units[i].capture = units[i].at.Add(-100 * time.Millisecond)
			if units[i].track == 1 {
				units[i].capture = units[i].capture.Add(-200 * time.Millisecond)
			}
		}
		ntps := stamp(units)
		if base := checkStamps(t, units, ntps, 0, 0); !base.Equal(t0.Add(-280 * time.Millisecond)) {
			t.Fatalf("base %v, want %v", base, t0.Add(-280*time.Millisecond))
		}
	})
}

// TestStreamClockBurstAndReconnect runs the clock through a stream: a
// burst at the start, then a reconnection that starts with another one.
// Readers get every unit in order, stamped on one mapping per session and
// never after its arrival.
func TestStreamClockBurstAndReconnect(t *testing.T) {
	h := newTestHub(t, 1024, time.Minute)
	p1, _ := h.Publish("s", PublisherInfo{}, avTracks())
	s, _ := h.Get("s")
	r, _ := s.AddReader("test")
	write := func(p *Publisher, units []arrival, shift time.Duration) {
		for i := range units {
			units[i].at = units[i].at.Add(shift)
			p.WriteAt(&Unit{Track: units[i].track, DTS: units[i].dts, PTS: units[i].pts, Key: true,
				Payload: [][]byte{{byte(i)}}}, units[i].at)
		}
	}
	s1 := burst(av(4*time.Second, 30*time.Millisecond), time.Second)
	write(p1, s1, 0)
	p1.Close()
	p2, err := h.Publish("s", PublisherInfo{}, avTracks())
	if err != nil {
		t.Fatal(err)
	}
	// Back 1.5 s after the first session's last unit, with 800 ms buffered.
	s2 := burst(av(4*time.Second, 30*time.Millisecond), 800*time.Millisecond)
	write(p2, s2, 5500*time.Millisecond)
	p2.Close()

	got := collect(t, r, len(s1)+len(s2))
	ntps := make([]time.Time, len(got))
	for i, u := range got {
		ntps[i] = u.NTP
		if i > 0 && u.DTS < got[i-1].DTS && u.Track == got[i-1].Track {
			t.Fatalf("unit %d: DTS went back", i)
		}
	}
	// The stream rebased the second session's timestamps after the first's.
	for i := range s2 {
		s2[i].pts, s2[i].dts = got[len(s1)+i].PTS, got[len(s1)+i].DTS
	}
	base1 := checkStamps(t, s1, ntps[:len(s1)], 0, 0)
	base2 := checkStamps(t, s2, ntps[len(s1):], 0, 0)
	if !base1.Equal(t0.Add(30 * time.Millisecond)) {
		t.Fatalf("first session's base %v, want %v", base1, t0.Add(30*time.Millisecond))
	}
	if want := t0.Add(5500*time.Millisecond + 30*time.Millisecond - got[len(s1)].DTS); !base2.Equal(want) {
		t.Fatalf("second session's base %v, want %v", base2, want)
	}
}

// TestStreamClockQuietPublisher: a publisher that goes quiet while the
// clock settles has its units handed on anyway, after maxSettle.
func TestStreamClockQuietPublisher(t *testing.T) {
	h := newTestHub(t, 64, time.Minute)
	p, _ := h.Publish("s", PublisherInfo{}, avTracks())
	s, _ := h.Get("s")
	r, _ := s.AddReader("test")
	start := time.Now()
	p.Write(frame(0, 10))
	ctx, cancel := context.WithTimeout(context.Background(), 3*maxSettle)
	defer cancel()
	var got *Unit
	errDone := errors.New("done")
	if err := r.Run(ctx, func(u *Unit) error { got = u; return errDone }); !errors.Is(err, errDone) {
		t.Fatalf("no unit after %v: %v", time.Since(start), err)
	}
	if got.NTP.Before(start) || got.NTP.After(time.Now()) {
		t.Fatalf("NTP %v, written at %v", got.NTP, start)
	}
}
