package aacopus

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// oggReader splits ffmpeg's Ogg output into Opus packets. pion's
// oggreader returns a page's payload as one block, with the packets of a
// page joined; ffmpeg is asked for one packet per page, but a packet is
// only safe to send when its boundaries come from the lacing values, so
// this reader keeps them (RFC 3533 §6). It trusts nothing of its input:
// sizes are bounded by the format (a page is at most 65,307 bytes) and a
// packet by maxPacket.
type oggReader struct {
	r       *bufio.Reader
	hdr     [27]byte
	lacing  [255]byte
	partial []byte   // a packet continued on the next page
	done    [][]byte // the packets the last page completed
}

// maxPacket bounds one Opus packet (RFC 6716 §3.4 allows 1,275 bytes a
// frame and 120 ms a packet; ffmpeg's 20 ms frames at a few hundred kbit/s
// stay far below).
const maxPacket = 8 << 10

var errOggSync = errors.New("ogg: lost page sync")

func newOggReader(r io.Reader) *oggReader {
	return &oggReader{r: bufio.NewReaderSize(r, 16<<10)}
}

// page reads one page and returns the packets it completes and its
// granule position: the sample count at the end of its last completed
// packet, pre-skip included (-1 when none ends on the page). The packets
// are valid until the next call.
func (o *oggReader) page() (pkts [][]byte, granule int64, err error) {
	if _, err := io.ReadFull(o.r, o.hdr[:]); err != nil {
		return nil, 0, err
	}
	if string(o.hdr[:4]) != "OggS" || o.hdr[4] != 0 {
		return nil, 0, errOggSync
	}
	granule = int64(binary.LittleEndian.Uint64(o.hdr[6:14]))
	n := int(o.hdr[26])
	if _, err := io.ReadFull(o.r, o.lacing[:n]); err != nil {
		return nil, 0, err
	}
	if o.hdr[5]&0x01 == 0 { // not a continuation: a packet cut before is lost
		o.partial = o.partial[:0]
	}
	o.done = o.done[:0]
	for i := 0; i < n; {
		size, end := 0, false
		for ; i < n; i++ {
			size += int(o.lacing[i])
			if o.lacing[i] < 255 {
				end = true
				i++
				break
			}
		}
		if len(o.partial)+size > maxPacket {
			return nil, 0, fmt.Errorf("ogg: packet over %d bytes", maxPacket)
		}
		start := len(o.partial)
		o.partial = append(o.partial, make([]byte, size)...)
		if _, err := io.ReadFull(o.r, o.partial[start:]); err != nil {
			return nil, 0, err
		}
		if end {
			o.done = append(o.done, o.partial)
			o.partial = nil
		}
	}
	if len(o.done) == 0 {
		granule = -1
	}
	return o.done, granule, nil
}

// opusHead is the identification header's field this package uses.
type opusHead struct {
	channels int
	preSkip  int
}

func parseOpusHead(p []byte) (opusHead, error) {
	if len(p) < 19 || string(p[:8]) != "OpusHead" {
		return opusHead{}, errors.New("ogg: no OpusHead")
	}
	return opusHead{channels: int(p[9]), preSkip: int(binary.LittleEndian.Uint16(p[10:12]))}, nil
}

// opusSamples is the duration of an Opus packet in 48 kHz samples, read
// from its TOC byte (RFC 6716 §3.1); 0 for a malformed packet.
func opusSamples(p []byte) int {
	if len(p) == 0 {
		return 0
	}
	toc := p[0]
	config := int(toc >> 3)
	var frame int
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		frame = []int{480, 960, 1920, 2880}[config&3]
	case config < 16: // hybrid: 10, 20 ms
		frame = []int{480, 960}[config&1]
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = []int{120, 240, 480, 960}[config&3]
	}
	frames := 1
	switch toc & 3 {
	case 1, 2:
		frames = 2
	case 3:
		if len(p) < 2 {
			return 0
		}
		frames = int(p[1] & 0x3f)
	}
	if n := frame * frames; n <= 5760 { // at most 120 ms
		return n
	}
	return 0
}
