package webrtc

import (
	"github.com/bluenviron/mediacommon/v2/pkg/bits"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// Browsers' WebRTC H.264 decoders have no reorder buffer: an access unit
// that is not output at once is a decoding error, so a stream with
// B-frames plays a picture or two per second (Chrome 156: 6 pictures in
// 3 s). Without transcoding, WHEP viewers of such a source (OBS's x264
// uses 2 B-frames by default) get its I and P frames only, at a third of
// the frame rate: P-frames refer to earlier I and P frames, and what
// x264's reference B-frames leave behind (frame number gaps) decoders
// conceal (Chrome 156 decodes them without a drop or freeze, from x264's
// ultrafast, veryfast and medium presets).

// sliceHeaderBytes is enough of a slice header for first_mb_in_slice and
// slice_type, even with emulation prevention bytes.
const sliceHeaderBytes = 16

// isBFrame tells whether an access unit's first slice is a B slice.
func isBFrame(nalus [][]byte) bool {
	for _, n := range nalus {
		typ := h264.NALUType(n[0] & 0x1f)
		if typ != h264.NALUTypeNonIDR && typ != h264.NALUTypeIDR {
			continue
		}
		if typ == h264.NALUTypeIDR || len(n) < 2 {
			return false
		}
		// Remove emulation prevention bytes (00 00 03) into a buffer on the
		// stack: this runs for every frame of every watched stream.
		var buf [sliceHeaderBytes]byte
		hdr, zeros := buf[:0], 0
		for _, c := range n[1:min(len(n), 1+sliceHeaderBytes)] {
			if zeros >= 2 && c == 3 {
				zeros = 0
				continue
			}
			if c == 0 {
				zeros++
			} else {
				zeros = 0
			}
			hdr = append(hdr, c)
		}
		pos := 0
		if _, err := bits.ReadGolombUnsigned(hdr, &pos); err != nil { // first_mb_in_slice
			return false
		}
		st, err := bits.ReadGolombUnsigned(hdr, &pos)
		if err != nil {
			return false
		}
		return st%5 == 1
	}
	return false
}
