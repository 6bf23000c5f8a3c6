package rtmp

// tsUnwrapper extends RTMP's 32-bit millisecond timestamps to 64 bits.
//
// They wrap after 49.7 days of uptime, and encoders relaying an upstream
// clock can start anywhere, close to the wrap included. Each step is taken
// as the shortest signed distance from the previous timestamp, so a wrap
// continues forward while audio and video interleaving a few milliseconds
// out of order still steps back slightly.
type tsUnwrapper struct {
	set  bool
	last uint32
	ext  int64
}

func (u *tsUnwrapper) unwrap(ts uint32) int64 {
	if !u.set {
		u.set, u.last, u.ext = true, ts, int64(ts)
		return u.ext
	}
	u.ext += int64(int32(ts - u.last))
	u.last = ts
	return u.ext
}
