package stream

import "time"

// Unit is one access unit of one track: a video frame or an audio frame.
//
// Once written to a Publisher a Unit is shared, read-only, by every reader:
// nothing may modify it or its payload afterwards.
type Unit struct {
	// Track is the index of the unit's track in Stream.Tracks.
	Track int
	// PTS and DTS are the presentation and decoding times. Publishers write
	// them relative to any origin of their session; the stream rebases them so
	// that they start at zero with the stream and continue across reconnects.
	PTS time.Duration
	DTS time.Duration
	// NTP is the wall-clock time of capture as seen at ingest, the one clock
	// shared with HLS PROGRAM-DATE-TIME and overlay events. The stream sets
	// it, on one mapping of media time for every track of a publisher
	// session and never after the unit's arrival (see clock). Publishers
	// that know the capture time (RTCP sender reports) may give it: the
	// stream weighs it, it does not take it as is.
	NTP time.Time
	// Key marks a random access point: an IDR for video. Audio units are
	// always random access points.
	Key bool
	// Payload holds H.264 NAL units of one access unit (without start codes),
	// or a single audio frame in Payload[0].
	Payload [][]byte
}

// Size is the number of payload bytes.
func (u *Unit) Size() int {
	n := 0
	for _, p := range u.Payload {
		n += len(p)
	}
	return n
}
