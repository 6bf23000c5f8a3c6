package webrtc

import (
	"math/rand/v2"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"

	"vitrine/stream"
)

const (
	// rtpMTU is the size of an RTP packet before SRTP, as pion's default:
	// with SRTP, UDP, IP and a TURN relay's overhead it stays under any
	// path MTU.
	rtpMTU        = 1200
	rtpHeaderSize = 12
	maxPayload    = rtpMTU - rtpHeaderSize
	// fuaData is the NAL unit data carried by one FU-A packet.
	fuaData = maxPayload - 2
)

// packet is one RTP packet of a stream, shared read-only by every viewer
// of the stream, its history and retransmissions. SSRC and payload type are
// left zero: they are the viewer's (see viewerTrack.write).
type packet struct {
	kind trackKind
	// keyStart marks the first packet of a keyframe: a viewer may start
	// there.
	keyStart bool
	// ntp is the capture time of the packet's media (unix ns), on the
	// stream's one clock: sender reports map RTP time to it, so that a
	// browser syncs audio and video however late either was sent.
	ntp     int64
	hdr     rtp.Header
	payload []byte
}

// outTrack packetizes one track of a stream for every viewer.
type outTrack struct {
	kind   trackKind
	clock  int64
	seq    uint16
	tsBase uint32
	hist   history
}

func newOutTrack(kind trackKind) *outTrack {
	t := &outTrack{kind: kind, clock: 90000, seq: uint16(rand.Uint32()), tsBase: rand.Uint32()}
	size := videoHistory
	if kind == kindAudio {
		t.clock, size = 48000, audioHistory
	}
	t.hist = newHistory(size)
	return t
}

// rtpTime maps a unit's PTS on the stream's timeline to the RTP clock.
func (t *outTrack) rtpTime(pts time.Duration) uint32 {
	n := int64(pts/time.Second)*t.clock + int64(pts%time.Second)*t.clock/int64(time.Second)
	return t.tsBase + uint32(n)
}

// skipNALU tells the NAL units RTP does not carry: access unit delimiters
// and filler data frame nothing in RTP, where the marker bit ends an
// access unit.
func skipNALU(n []byte) bool {
	if len(n) == 0 {
		return true
	}
	t := h264.NALUType(n[0] & 0x1f)
	return t == h264.NALUTypeAccessUnitDelimiter || t == h264.NALUTypeFillerData
}

// packetizeH264 appends the packets of one access unit (RFC 6184
// packetization-mode 1): a NAL unit that fits goes alone and is not copied
// (units are immutable), a larger one is split in FU-A fragments, all of
// them in one allocation.
func (t *outTrack) packetizeH264(u *stream.Unit, dst []*packet) []*packet {
	n, fuBytes := 0, 0
	for _, nalu := range u.Payload {
		if skipNALU(nalu) {
			continue
		}
		if len(nalu) <= maxPayload {
			n++
			continue
		}
		frags := (len(nalu) - 1 + fuaData - 1) / fuaData
		n += frags
		fuBytes += len(nalu) - 1 + 2*frags
	}
	if n == 0 {
		return dst
	}
	slab := make([]packet, n)
	var buf []byte
	if fuBytes > 0 {
		buf = make([]byte, fuBytes)
	}
	i := 0
	for _, nalu := range u.Payload {
		if skipNALU(nalu) {
			continue
		}
		if len(nalu) <= maxPayload {
			slab[i].payload = nalu
			i++
			continue
		}
		indicator := nalu[0]&0xe0 | naluFUA
		typ := nalu[0] & 0x1f
		data := nalu[1:]
		for first := true; len(data) > 0; first = false {
			k := min(fuaData, len(data))
			p := buf[: 2+k : 2+k]
			buf = buf[2+k:]
			p[0], p[1] = indicator, typ
			if first {
				p[1] |= 0x80
			}
			if k == len(data) {
				p[1] |= 0x40
			}
			copy(p[2:], data[:k])
			data = data[k:]
			slab[i].payload = p
			i++
		}
	}
	ts := t.rtpTime(u.PTS)
	ntp := u.NTP.UnixNano()
	for j := range slab {
		p := &slab[j]
		p.kind, p.ntp = kindVideo, ntp
		p.hdr = rtp.Header{Version: 2, SequenceNumber: t.seq, Timestamp: ts}
		t.seq++
		dst = append(dst, p)
	}
	slab[0].keyStart = u.Key
	slab[n-1].hdr.Marker = true
	return dst
}

// packetizeOpus returns the one packet of an Opus frame (RFC 7587).
func (t *outTrack) packetizeOpus(pts time.Duration, ntp int64, frame []byte) *packet {
	p := &packet{kind: kindAudio, keyStart: true, payload: frame, ntp: ntp,
		hdr: rtp.Header{Version: 2, SequenceNumber: t.seq, Timestamp: t.rtpTime(pts)}}
	t.seq++
	return p
}

// History sizes, in packets. Video: a few seconds at a few Mb/s, enough
// for a keyframe interval to be replayed and for NACKs of the last round
// trips. Audio: 10 s of 20 ms frames.
const (
	videoHistory = 4096
	audioHistory = 512
	// maxReplayBytes bounds the keyframe interval replayed to a new viewer
	// at once (about 3 s at 5 Mb/s).
	maxReplayBytes = 2 << 20
)

// history keeps the last packets of a track, shared by all viewers: NACKs
// are answered from it and a new viewer is replayed the packets since the
// last keyframe. It holds pointers to the shared packets, so its memory is
// per stream, not per viewer.
type history struct {
	ring     []*packet
	mask     int
	n        int // packets ever added
	keyAt    int // absolute index of the last keyframe start, -1: none
	keyBytes int // payload bytes since keyAt
}

func newHistory(size int) history {
	return history{ring: make([]*packet, size), mask: size - 1, keyAt: -1}
}

func (h *history) add(p *packet) {
	if p.keyStart && p.kind == kindVideo {
		h.keyAt, h.keyBytes = h.n, 0
	}
	h.ring[h.n&h.mask] = p
	h.n++
	h.keyBytes += len(p.payload)
}

// get returns the packet with sequence number seq, if still held.
func (h *history) get(seq uint16) *packet {
	if h.n == 0 {
		return nil
	}
	newest := h.ring[(h.n-1)&h.mask]
	d := int(newest.hdr.SequenceNumber - seq)
	if d >= min(h.n, len(h.ring)) {
		return nil
	}
	p := h.ring[(h.n-1-d)&h.mask]
	if p.hdr.SequenceNumber != seq {
		return nil
	}
	return p
}

// gop returns the packets since the last keyframe, or nil when there is
// none or it is too large to replay.
func (h *history) gop(dst []*packet) []*packet {
	if h.keyAt < 0 || h.n-h.keyAt > len(h.ring) || h.keyBytes > maxReplayBytes {
		return nil
	}
	for i := h.keyAt; i < h.n; i++ {
		dst = append(dst, h.ring[i&h.mask])
	}
	return dst
}

// reset forgets the last keyframe (the track's source changed).
func (h *history) reset() {
	h.keyAt, h.keyBytes = -1, 0
}
