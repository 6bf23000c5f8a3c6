package rtmp

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// avcConfig is what a remuxer needs from an AVCDecoderConfigurationRecord
// (ISO 14496-15 5.3.3.1): the parameter sets and the size of the NAL unit
// length prefixes in the frames that follow.
type avcConfig struct {
	SPS        []byte
	PPS        []byte
	LengthSize int
}

// errNoNALUs marks a frame without a single NAL unit: nothing to write, but
// no reason to drop the publisher either.
var errNoNALUs = errors.New("access unit without NAL units")

// parseAVCConfig decodes an AVCDecoderConfigurationRecord. It keeps the first
// SPS and the first PPS (what every encoder sends) and rejects an SPS that
// mediacommon cannot parse, since every reader builds its muxer from it. The
// returned slices are copies: b belongs to the connection's read buffer.
func parseAVCConfig(b []byte) (avcConfig, error) {
	if len(b) < 7 {
		return avcConfig{}, fmt.Errorf("AVC decoder configuration record too short (%d bytes)", len(b))
	}
	if b[0] != 1 {
		return avcConfig{}, fmt.Errorf("AVC decoder configuration record version %d, want 1", b[0])
	}
	lengthSize := int(b[4]&0x03) + 1
	if lengthSize == 3 {
		return avcConfig{}, errors.New("AVC NAL unit length size 3 is not allowed")
	}
	pos := 5
	sps, pos, err := paramSets(b, pos, 0x1f, h264.NALUTypeSPS)
	if err != nil {
		return avcConfig{}, fmt.Errorf("SPS: %w", err)
	}
	pps, _, err := paramSets(b, pos, 0xff, h264.NALUTypePPS)
	if err != nil {
		return avcConfig{}, fmt.Errorf("PPS: %w", err)
	}
	var s h264.SPS
	if err := s.Unmarshal(sps); err != nil {
		return avcConfig{}, fmt.Errorf("SPS: %w", err)
	}
	if s.Width() <= 0 || s.Height() <= 0 {
		return avcConfig{}, fmt.Errorf("SPS: invalid picture size %dx%d", s.Width(), s.Height())
	}
	return avcConfig{SPS: bytes.Clone(sps), PPS: bytes.Clone(pps), LengthSize: lengthSize}, nil
}

// paramSets reads a count byte (masked) and that many 16-bit length-prefixed
// NAL units from b at pos; it returns the first one, which must be of type
// want, and the position after the list.
func paramSets(b []byte, pos int, countMask byte, want h264.NALUType) ([]byte, int, error) {
	if pos >= len(b) {
		return nil, pos, errors.New("missing")
	}
	n := int(b[pos] & countMask)
	pos++
	if n == 0 {
		return nil, pos, errors.New("none in the record")
	}
	var first []byte
	for i := range n {
		if len(b)-pos < 2 {
			return nil, pos, errors.New("truncated length")
		}
		l := int(b[pos])<<8 | int(b[pos+1])
		pos += 2
		if l == 0 || len(b)-pos < l {
			return nil, pos, fmt.Errorf("invalid length %d", l)
		}
		nalu := b[pos : pos+l]
		pos += l
		if i == 0 {
			if typ := h264.NALUType(nalu[0] & 0x1f); typ != want {
				return nil, pos, fmt.Errorf("NAL unit type %v, want %v", typ, want)
			}
			first = nalu
		}
	}
	return first, pos, nil
}

// splitAVCC splits a frame of length-prefixed NAL units (AVCC) into NAL units
// without prefixes, aliasing b. The 4-byte case, which every encoder uses, is
// mediacommon's; 1- and 2-byte prefixes are handled here with the same
// bounds.
func splitAVCC(b []byte, lengthSize int) ([][]byte, error) {
	if lengthSize == 4 {
		var au h264.AVCC
		if err := au.Unmarshal(b); err != nil {
			if errors.Is(err, h264.ErrAVCCNoNALUs) {
				return nil, errNoNALUs
			}
			return nil, err
		}
		return au, nil
	}
	if lengthSize != 1 && lengthSize != 2 {
		return nil, fmt.Errorf("NAL unit length size %d is not supported", lengthSize)
	}
	var au [][]byte
	size := 0
	for pos := 0; pos < len(b); {
		if len(b)-pos < lengthSize {
			return nil, errors.New("invalid length")
		}
		l := int(b[pos])
		if lengthSize == 2 {
			l = l<<8 | int(b[pos+1])
		}
		pos += lengthSize
		if l == 0 {
			continue
		}
		if len(b)-pos < l {
			return nil, errors.New("invalid length")
		}
		if size += l; size > h264.MaxAccessUnitSize {
			return nil, fmt.Errorf("access unit size (%d) is too big, maximum is %d", size, h264.MaxAccessUnitSize)
		}
		if len(au) == h264.MaxNALUsPerAccessUnit {
			return nil, fmt.Errorf("NALU count exceeds maximum allowed (%d)", h264.MaxNALUsPerAccessUnit)
		}
		au = append(au, b[pos:pos+l])
		pos += l
	}
	if len(au) == 0 {
		return nil, errNoNALUs
	}
	return au, nil
}

// accessUnit marks an access unit as a keyframe when it holds an IDR and,
// for keyframes, inserts the given SPS and PPS when the encoder did not repeat
// them in band: RTMP carries them once, in the sequence header, but a reader
// joining at any keyframe (or an HLS segment starting there) needs them.
// They go after an access unit delimiter, which must stay first.
func accessUnit(nalus [][]byte, sps, pps []byte) (au [][]byte, key bool) {
	if !h264.IsRandomAccess(nalus) {
		return nalus, false
	}
	spsAt, ppsAt := -1, -1
	for i, n := range nalus {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			if spsAt < 0 {
				spsAt = i
			}
		case h264.NALUTypePPS:
			if ppsAt < 0 {
				ppsAt = i
			}
		}
	}
	if (spsAt >= 0 && ppsAt >= 0) || sps == nil || pps == nil {
		return nalus, true
	}
	pos := 0
	if h264.NALUType(nalus[0][0]&0x1f) == h264.NALUTypeAccessUnitDelimiter {
		pos = 1
	}
	au = make([][]byte, 0, len(nalus)+2)
	au = append(au, nalus[:pos]...)
	rest := nalus[pos:]
	if spsAt < 0 {
		au = append(au, sps)
	} else {
		// Keep the in-band SPS and put the PPS right after it.
		au = append(au, nalus[pos:spsAt+1]...)
		rest = nalus[spsAt+1:]
	}
	if ppsAt < 0 {
		au = append(au, pps)
	}
	au = append(au, rest...)
	return au, true
}
