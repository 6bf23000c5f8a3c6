package stream

import "time"

// bitrateWindow is the span over which the ingest bitrate is measured: long
// enough to cover a few GOPs, short enough to show a connection degrading.
const bitrateWindow = 5 * time.Second

// bitrate measures bytes per second over a sliding window of one-second
// buckets. It is updated under the stream lock.
type bitrate struct {
	buckets [int(bitrateWindow / time.Second)]int64
	last    int64 // unix second of the newest bucket
}

func (b *bitrate) advance(sec int64) {
	if sec <= b.last {
		return
	}
	n := int64(len(b.buckets))
	if sec-b.last >= n {
		b.buckets = [len(b.buckets)]int64{}
	} else {
		for s := b.last + 1; s <= sec; s++ {
			b.buckets[s%n] = 0
		}
	}
	b.last = sec
}

func (b *bitrate) add(now time.Time, bytes int) {
	sec := now.Unix()
	b.advance(sec)
	b.buckets[sec%int64(len(b.buckets))] += int64(bytes)
}

// bitsPerSecond averages over the complete seconds of the window.
func (b *bitrate) bitsPerSecond(now time.Time) int64 {
	b.advance(now.Unix())
	var sum int64
	n := int64(len(b.buckets))
	for i := int64(1); i < n; i++ { // skip the current, partial second
		sum += b.buckets[(b.last-i+n*2)%n]
	}
	return sum * 8 / (n - 1)
}
