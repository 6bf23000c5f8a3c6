package webrtc

import (
	"sync"
	"sync/atomic"
	"time"
)

// Retransmissions.
//
// A viewer that loses packets NACKs them, and pion's receivers (like
// browsers) NACK a missing packet again every 100 ms or so until it
// arrives. A viewer whose own socket overflows (a phone on a weak network,
// a machine short of CPU) loses the resent copies as well, and every NACK
// made the server send them once more: measured with the WHEP load tool
// starved of CPU, the server sent four times the stream for what its
// viewers received, which starved them further. As libwebrtc's sender
// does, a viewer gets a packet again at most once per resendSpacing, and
// its retransmissions stay within resendShare of what it was sent in the
// last second (the loss its network can recover from; beyond that it
// needs less media, not more copies).
const (
	// resendSpacing: a NACK for a packet resent this recently crossed the
	// copy on its way (pion's receivers ask every 100 ms).
	resendSpacing = 100 * time.Millisecond
	// resendShare bounds a viewer's retransmissions per second against
	// what it was sent in the previous second.
	resendShare = 0.5
	// resendFloor is the allowance of a viewer that was sent little (its
	// first second, an audio-only stream).
	resendFloor = 50
	// resendSlots remembers the last retransmissions per track (a power of
	// two): one second of a 4 Mbit/s video.
	resendSlots = 512
)

// resendGuard is one viewer's bound on retransmissions; both of its
// tracks' RTCP readers use it.
type resendGuard struct {
	mu          sync.Mutex
	last        [numKinds]*[resendSlots]resendSlot // allocated at a track's first NACK
	windowStart time.Time
	sentAtStart uint64 // the viewer's sent count when the window began
	allowance   int
	used        int
}

// resendSlot is a track's last retransmission with its number modulo
// resendSlots; a zero at is long ago.
type resendSlot struct {
	at  time.Time
	seq uint16
}

// admit keeps, in place, the sequence numbers of kind that may be resent
// now, and returns them and how many were refused. sent is the viewer's
// count of packets sent so far.
func (g *resendGuard) admit(kind trackKind, seqs []uint16, now time.Time, sent uint64) (kept []uint16, refused int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if first := g.windowStart.IsZero(); first || now.Sub(g.windowStart) >= time.Second {
		g.allowance = resendFloor
		if !first {
			g.allowance = max(resendFloor, int(float64(sent-g.sentAtStart)*resendShare))
		}
		g.windowStart, g.sentAtStart, g.used = now, sent, 0
	}
	slots := g.last[kind]
	if slots == nil {
		slots = new([resendSlots]resendSlot)
		g.last[kind] = slots
	}
	kept = seqs[:0]
	for _, seq := range seqs {
		s := &slots[seq%resendSlots]
		if s.seq == seq && now.Sub(s.at) < resendSpacing {
			refused++
			continue
		}
		if g.used >= g.allowance {
			refused++
			continue
		}
		g.used++
		*s = resendSlot{at: now, seq: seq}
		kept = append(kept, seq)
	}
	return kept, refused
}

// EgressStats counts the WHEP viewers' packets since the server started.
type EgressStats struct {
	Sent    uint64 // media packets written to viewers, retransmissions included
	Resent  uint64 // retransmissions answering NACKs
	Refused uint64 // NACKed packets not resent (resendSpacing, resendShare)
	Dropped uint64 // packets lost by viewers that fell behind (queue overflow)
	Direct  uint64 // of Sent, those encrypted and written past pion (srtp_direct.go)
}

type egressCounters struct {
	sent, resent, refused, dropped, direct atomic.Uint64
}

// Egress reports the WHEP viewers' packet counters.
func (s *Server) Egress() EgressStats {
	return EgressStats{
		Sent:    s.egress.sent.Load(),
		Resent:  s.egress.resent.Load(),
		Refused: s.egress.refused.Load(),
		Dropped: s.egress.dropped.Load(),
		Direct:  s.egress.direct.Load(),
	}
}
