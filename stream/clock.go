package stream

import "time"

// maxClockLag is how late a unit may arrive, relative to the pace of its own
// timestamps, before the clock re-anchors: beyond it the publisher has
// stalled or its clock drifted, and wall time is the better truth.
const maxClockLag = 2 * time.Second

// clock maps media time to wall-clock (NTP) time of capture as seen at ingest.
//
// Arrival times jitter with the network, so the clock is anchored on one
// arrival and advances with the media timestamps. It is re-anchored when a
// unit arrives earlier than predicted (the anchor was a slow arrival) or far
// later (a stall), so it follows the fastest path from encoder to server.
type clock struct {
	set   bool
	wall  time.Time
	media time.Duration
}

// ntp returns the capture time of a unit with the given DTS and PTS that
// arrived at now. DTS follows arrival order; PTS may be reordered (B-frames).
func (c *clock) ntp(dts, pts time.Duration, now time.Time) time.Time {
	if c.set {
		predicted := c.wall.Add(dts - c.media)
		if predicted.After(now) || now.Sub(predicted) > maxClockLag {
			c.set = false
		}
	}
	if !c.set {
		c.set, c.wall, c.media = true, now, dts
	}
	return c.wall.Add(pts - c.media)
}

func (c *clock) reset() { c.set = false }
