package rtsp

import "time"

// ticksToDuration converts RTP clock ticks to a duration in integer
// arithmetic: whole seconds and the remainder are scaled separately, so that
// a long live neither overflows nor drifts.
func ticksToDuration(ticks int64, rate int) time.Duration {
	r := int64(rate)
	sec, rem := ticks/r, ticks%r
	return time.Duration(sec)*time.Second + time.Duration(rem*int64(time.Second)/r)
}

// durationToTicks is the inverse of ticksToDuration. It rounds down, also
// for negative durations, so that the conversion is monotonic.
func durationToTicks(d time.Duration, rate int) int64 {
	sec, rem := int64(d/time.Second), int64(d%time.Second)
	if rem < 0 {
		sec--
		rem += int64(time.Second)
	}
	return sec*int64(rate) + rem*int64(rate)/int64(time.Second)
}
