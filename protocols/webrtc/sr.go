package webrtc

import (
	"time"

	"github.com/pion/rtcp"
)

// Sender reports: each WHEP viewer gets one per track and second, mapping
// RTP time to the stream's capture clock (packet.ntp). Audio and video
// are then synced by when they were captured, not by when they were sent:
// transcoded audio leaves about 50 ms after its video, and a new viewer's
// replayed keyframe interval seconds after it was captured.
const (
	firstReport    = 200 * time.Millisecond
	reportInterval = time.Second
)

// srState is what a viewer track sent, for its reports. Writer goroutine
// only.
type srState struct {
	packets, octets uint32
	rtp             uint32 // RTP time of the last packet with a capture time
	ntp             int64  // its capture time (unix ns); 0: none yet
}

func (s *srState) sent(p *packet) {
	s.packets++
	s.octets += uint32(len(p.payload))
	if p.ntp != 0 {
		s.rtp, s.ntp = p.hdr.Timestamp, p.ntp
	}
}

// report is the sender report at now: the RTP time a sample captured now
// would have.
func (s *srState) report(ssrc uint32, clock int64, now time.Time) *rtcp.SenderReport {
	ahead := now.UnixNano() - s.ntp
	return &rtcp.SenderReport{
		SSRC:        ssrc,
		NTPTime:     ntpFromTime(now),
		RTPTime:     s.rtp + uint32(ahead*clock/int64(time.Second)),
		PacketCount: s.packets,
		OctetCount:  s.octets,
	}
}

// sendReports writes a sender report for each track that has sent media.
func (v *viewer) sendReports(now time.Time) {
	var pkts []rtcp.Packet
	for _, t := range v.tracks {
		if t == nil || t.sr.ntp == 0 {
			continue
		}
		b := t.binding.Load()
		if b == nil {
			continue
		}
		clock := int64(90000)
		if t.kind == kindAudio {
			clock = 48000
		}
		pkts = append(pkts, t.sr.report(b.ssrc, clock, now))
	}
	if len(pkts) > 0 && v.ss.pc != nil {
		_ = v.ss.pc.WriteRTCP(pkts) // a lost report is followed by the next
	}
}

// unixOffset is the seconds from 1900, the NTP epoch, to 1970.
const unixOffset = 2208988800

// ntpTime converts an NTP timestamp (RFC 5905) to a time.
func ntpTime(ntp uint64) time.Time {
	secs := int64(ntp>>32) - unixOffset
	nanos := (ntp & 0xffffffff) * 1e9 >> 32
	return time.Unix(secs, int64(nanos))
}

// ntpFromTime is the NTP timestamp (RFC 5905) of t.
func ntpFromTime(t time.Time) uint64 {
	secs := uint64(t.Unix() + unixOffset)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}
