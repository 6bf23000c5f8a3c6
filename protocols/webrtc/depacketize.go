package webrtc

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// maxNALUs bounds the NAL units of one access unit. Browsers' encoders
// use one to a few slices; hardware encoders up to a few dozen.
const maxNALUs = 128

// RTP payload NAL unit types of RFC 6184 beyond the H.264 ones (1-23).
const (
	naluSTAPA = 24
	naluFUA   = 28
)

var errH264Payload = errors.New("bad H.264 RTP payload")

// accessUnit is a reassembled H.264 access unit.
type accessUnit struct {
	ts    uint32
	nalus [][]byte
	// broken: packets were lost or malformed; the picture cannot be
	// decoded and breaks every picture that refers to it.
	broken bool
}

// h264Depacketizer reassembles access units from H.264 RTP packets in
// non-interleaved mode (RFC 6184: single NAL unit, STAP-A and FU-A). An
// access unit ends with the marker bit, or when the timestamp changes
// (some senders omit the marker).
type h264Depacketizer struct {
	active bool
	ts     uint32
	nalus  [][]byte
	size   int
	fua    []byte // the fragmented NAL unit being reassembled
	broken bool
}

// push adds one packet in sequence order. lost says packets were missing
// right before it. Completed access units go to emit. The returned error
// describes a malformed payload (the access unit is then marked broken).
func (d *h264Depacketizer) push(p rtpIn, emit func(accessUnit)) error {
	if d.active && p.ts != d.ts {
		d.finish(emit)
	}
	if p.lost && d.active {
		// The gap may have eaten the end of this unit or the start of the
		// next: both are unusable.
		d.broken = true
	}
	if !d.active {
		d.active, d.ts, d.broken = true, p.ts, p.lost
	}
	err := d.parse(p.payload)
	if err != nil {
		d.broken = true
	}
	if p.marker {
		d.finish(emit)
	}
	return err
}

func (d *h264Depacketizer) parse(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty payload", errH264Payload)
	}
	typ := b[0] & 0x1f
	switch {
	case typ >= 1 && typ <= 23:
		if d.fua != nil {
			d.fua = nil
			d.add(b)
			return fmt.Errorf("%w: fragmented NAL unit not ended", errH264Payload)
		}
		d.add(b)
		return nil
	case typ == naluSTAPA:
		if d.fua != nil {
			d.fua = nil
			return fmt.Errorf("%w: fragmented NAL unit not ended", errH264Payload)
		}
		b = b[1:]
		for len(b) > 0 {
			if len(b) < 2 {
				return fmt.Errorf("%w: truncated STAP-A", errH264Payload)
			}
			n := int(binary.BigEndian.Uint16(b))
			b = b[2:]
			if n == 0 || n > len(b) {
				return fmt.Errorf("%w: STAP-A NAL unit size %d with %d bytes left", errH264Payload, n, len(b))
			}
			d.add(b[:n])
			b = b[n:]
		}
		return nil
	case typ == naluFUA:
		if len(b) < 3 {
			return fmt.Errorf("%w: truncated FU-A", errH264Payload)
		}
		start, end := b[1]&0x80 != 0, b[1]&0x40 != 0
		if start {
			if d.fua != nil {
				d.fua = nil
				d.broken = true
			}
			// Rebuild the NAL unit header from the indicator's F and NRI
			// bits and the FU header's type.
			d.fua = append(make([]byte, 0, 2*len(b)), b[0]&0xe0|b[1]&0x1f)
		} else if d.fua == nil {
			return fmt.Errorf("%w: FU-A without its start", errH264Payload)
		}
		if len(d.fua)+len(b)-2 > h264.MaxAccessUnitSize {
			d.fua = nil
			return fmt.Errorf("%w: NAL unit larger than %d bytes", errH264Payload, h264.MaxAccessUnitSize)
		}
		d.fua = append(d.fua, b[2:]...)
		if end {
			d.add(d.fua)
			d.fua = nil
		}
		return nil
	default:
		return fmt.Errorf("%w: NAL unit type %d is not allowed in packetization-mode 1", errH264Payload, typ)
	}
}

func (d *h264Depacketizer) add(nalu []byte) {
	if d.broken || len(d.nalus) == maxNALUs || d.size+len(nalu) > h264.MaxAccessUnitSize {
		// Keep nothing of a unit that will be dropped anyway.
		d.broken = true
		d.nalus, d.size = d.nalus[:0], 0
		return
	}
	d.nalus = append(d.nalus, nalu)
	d.size += len(nalu)
}

func (d *h264Depacketizer) finish(emit func(accessUnit)) {
	if d.fua != nil {
		d.fua = nil
		d.broken = true
	}
	if len(d.nalus) > 0 || d.broken {
		emit(accessUnit{ts: d.ts, nalus: d.nalus, broken: d.broken})
	}
	d.active, d.nalus, d.size, d.broken = false, nil, 0, false
}

// withParameterSets inserts SPS and PPS before the first slice of a
// keyframe that does not carry them, so that any reader can start there.
// An access unit delimiter stays first.
func withParameterSets(nalus [][]byte, sps, pps []byte) [][]byte {
	hasSPS, hasPPS := false, false
	for _, n := range nalus {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			hasSPS = true
		case h264.NALUTypePPS:
			hasPPS = true
		}
	}
	if (hasSPS && hasPPS) || sps == nil || pps == nil {
		return nalus
	}
	out := make([][]byte, 0, len(nalus)+2)
	rest := nalus
	if h264.NALUType(nalus[0][0]&0x1f) == h264.NALUTypeAccessUnitDelimiter {
		out, rest = append(out, nalus[0]), nalus[1:]
	}
	if !hasSPS {
		out = append(out, sps)
		if !hasPPS {
			out, hasPPS = append(out, pps), true
		}
	}
	for _, n := range rest {
		out = append(out, n)
		// A PPS goes right after the in-band SPS it refers to.
		if !hasPPS && h264.NALUType(n[0]&0x1f) == h264.NALUTypeSPS {
			out, hasPPS = append(out, pps), true
		}
	}
	return out
}
