package webrtc

import "time"

// rtpIn is one received RTP packet, its payload owned by the receiver.
type rtpIn struct {
	seq     uint16
	ts      uint32
	marker  bool
	payload []byte
	// lost is set on the first packet after a gap the buffer gave up on.
	lost bool
}

// reorderBuffer puts received packets back in sequence order. A packet
// after a gap is held until the gap fills (a late or NACK-repaired packet)
// or until maxDelay: in order, nothing waits; only a loss delays what
// follows it, by at most maxDelay.
type reorderBuffer struct {
	slots    []heldPacket // indexed by seq & mask
	mask     uint16
	maxDelay time.Duration
	next     uint16
	started  bool
	held     int
	// lostNext marks the next emitted packet as following a gap.
	lostNext bool
	late     uint64 // packets dropped as duplicates or too late
}

type heldPacket struct {
	ok bool
	at time.Time
	p  rtpIn
}

// newReorderBuffer holds up to size packets (a power of two, < 32768).
func newReorderBuffer(size int, maxDelay time.Duration) *reorderBuffer {
	return &reorderBuffer{slots: make([]heldPacket, size), mask: uint16(size - 1), maxDelay: maxDelay}
}

// push adds a packet and emits, in order, every packet that is ready.
func (b *reorderBuffer) push(p rtpIn, now time.Time, emit func(rtpIn)) {
	if !b.started {
		b.started, b.next = true, p.seq
	}
	d := int(int16(p.seq - b.next))
	switch {
	case d < 0 && -d > len(b.slots)*4:
		// Far behind: the sender restarted its sequence. Start over.
		b.flush(emit)
		b.next, b.lostNext = p.seq, true
		d = 0
	case d < 0:
		b.late++
		return
	case d >= len(b.slots):
		// Far ahead: what is held will not be completed.
		b.flush(emit)
		b.next, b.lostNext = p.seq, true
		d = 0
	}
	if d == 0 {
		p.lost = b.lostNext
		b.lostNext = false
		b.next++
		emit(p)
		b.drain(emit)
		return
	}
	s := &b.slots[p.seq&b.mask]
	if s.ok {
		b.late++ // duplicate
		return
	}
	*s = heldPacket{ok: true, at: now, p: p}
	b.held++
	b.expire(now, emit)
}

// drain emits held packets that became next in line.
func (b *reorderBuffer) drain(emit func(rtpIn)) {
	for b.held > 0 {
		s := &b.slots[b.next&b.mask]
		if !s.ok || s.p.seq != b.next {
			return
		}
		p := s.p
		*s = heldPacket{}
		b.held--
		p.lost = b.lostNext
		b.lostNext = false
		b.next++
		emit(p)
	}
}

// expire gives up on the gap when the oldest held packet waited maxDelay,
// or when half the buffer is held.
func (b *reorderBuffer) expire(now time.Time, emit func(rtpIn)) {
	for b.held > 0 {
		// The first held packet after next.
		first := -1
		for i := 1; i < len(b.slots); i++ {
			if s := &b.slots[(b.next+uint16(i))&b.mask]; s.ok && s.p.seq == b.next+uint16(i) {
				first = i
				break
			}
		}
		if first < 0 {
			return
		}
		oldest := b.oldest()
		if now.Sub(oldest) < b.maxDelay && b.held < len(b.slots)/2 {
			return
		}
		b.next += uint16(first)
		b.lostNext = true
		b.drain(emit)
	}
}

func (b *reorderBuffer) oldest() time.Time {
	var t time.Time
	for i := range b.slots {
		if s := &b.slots[i]; s.ok && (t.IsZero() || s.at.Before(t)) {
			t = s.at
		}
	}
	return t
}

// flush emits everything held, in order, marking the gaps.
func (b *reorderBuffer) flush(emit func(rtpIn)) {
	for i := 0; b.held > 0 && i < len(b.slots); i++ {
		s := &b.slots[b.next&b.mask]
		if s.ok && s.p.seq == b.next {
			p := s.p
			*s = heldPacket{}
			b.held--
			p.lost = b.lostNext
			b.lostNext = false
			emit(p)
		} else {
			b.lostNext = true
		}
		b.next++
	}
	clear(b.slots)
	b.held = 0
}
