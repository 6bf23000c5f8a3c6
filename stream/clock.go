package stream

import "time"

const (
	// maxClockLag is how late a unit may arrive, relative to the pace of
	// its own timestamps, before the clock re-anchors: beyond it the
	// publisher has stalled or its clock drifted, and wall time is the
	// better truth.
	maxClockLag = 2 * time.Second
	// The clock settles once the earliest arrival (relative to the
	// timestamps) has moved by less than settleSlack for settleQuiet of
	// wall time, or after maxSettle whatever it does. An encoder that
	// starts with a burst of frames it had buffered (while it connected)
	// moves it by the burst's length; a steady one by its jitter.
	settleQuiet = 100 * time.Millisecond
	settleSlack = 10 * time.Millisecond
	maxSettle   = time.Second
	// slewDivisor bounds how fast a publisher's capture times (RTCP sender
	// reports) pull a settled clock earlier: by 1/slewDivisor of the media
	// time that goes by, 50 ms a second. A segment's PROGRAM-DATE-TIME plus
	// its duration then overshoots the next one's by as little.
	slewDivisor = 20
)

// clock maps the media time of one publisher session to the wall-clock
// (NTP) time of capture, one mapping for every track: a unit's NTP is base
// plus its PTS.
//
// A unit cannot have been captured after it arrived, so base is never later
// than the earliest arrival minus PTS of the session's units (bound), and
// the clock follows bound: arrivals jitter with the network, the earliest
// is the fastest path from the encoder. A publisher that knows its capture
// times (sender reports) may put base earlier than that: a camera's own
// latency; one that puts them after the arrival is ignored.
//
// base must not move earlier once units are stamped: a segment's
// PROGRAM-DATE-TIME comes from its first unit and players add the durations
// of what follows, so the live edge would run ahead of the wall clock by
// the move. At the start of a session the clock therefore settles first;
// the stream holds the units written meanwhile and stamps them all once it
// has. A settled clock moves earlier only when an arrival forces it, and
// towards a publisher's capture times at slewDivisor's pace.
type clock struct {
	set      bool
	settled  bool
	base     time.Time // NTP of media time 0
	bound    time.Time // earliest arrival minus PTS
	lastDTS  time.Duration
	since    time.Time // first arrival since the clock was anchored
	mark     time.Time // start of the current settling window
	markedAt time.Time // bound at mark
}

// update takes the timing of one unit: its DTS and PTS on the stream's
// timeline, its arrival, and the capture time its publisher gave (zero if
// none). It reports whether the clock is settled: units are stamped (ntp)
// only then. A clock that re-anchors (a stall) settles again.
func (c *clock) update(dts, pts time.Duration, now, capture time.Time) bool {
	bound := now.Add(-pts)
	target := bound
	if !capture.IsZero() {
		if t := capture.Add(-pts); t.Before(target) {
			target = t
		}
	}
	// DTS follows arrival order; PTS may be reordered (B-frames).
	if c.set && now.Sub(c.bound.Add(dts)) > maxClockLag {
		c.set = false
	}
	if !c.set {
		*c = clock{set: true, base: target, bound: bound, lastDTS: dts, since: now, mark: now, markedAt: bound}
		return false
	}
	if bound.Before(c.bound) {
		c.bound = bound
	}
	if !c.settled {
		// Nothing is stamped yet: base goes where it must at once.
		if target.Before(c.base) {
			c.base = target
		}
		if now.Sub(c.mark) >= settleQuiet {
			if c.markedAt.Sub(c.bound) <= settleSlack {
				c.settled = true
			} else {
				c.mark, c.markedAt = now, c.bound
			}
		}
		if now.Sub(c.since) >= maxSettle {
			c.settled = true
		}
	} else if target.Before(c.base) {
		step := max(dts-c.lastDTS, 0) / slewDivisor
		c.base = later(target, c.base.Add(-step))
	}
	if c.bound.Before(c.base) {
		c.base = c.bound
	}
	c.lastDTS = max(c.lastDTS, dts)
	return c.settled
}

// settle ends the settling at once (the stream cannot hold more units).
func (c *clock) settle() { c.settled = true }

// ntp returns the capture time of a unit with the given PTS.
func (c *clock) ntp(pts time.Duration) time.Time { return c.base.Add(pts) }

func (c *clock) reset() { *c = clock{} }

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
