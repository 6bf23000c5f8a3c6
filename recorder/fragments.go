package recorder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Reading segments back: the sample tables of their fragments, without
// reading the media data. The files are the recorder's own, but one cut
// short by a crash (or damaged on disk) must give an error, never a panic:
// the parser checks every length (FuzzParseFragments).

// sampleInfo is one sample of a segment file.
type sampleInfo struct {
	DTS       int64 // decode time, in the track's timescale
	Duration  uint32
	PTSOffset int32
	Sync      bool
	Offset    int64 // of its data in the file
	Size      uint32
}

// trackSamples are the samples of one track in one file, in order.
type trackSamples map[int][]sampleInfo // by fMP4 track id

const maxBoxHeader = 16

// parseFragments reads the moof boxes of a segment file of size bytes and
// returns each track's samples. Trailing bytes that do not make a whole
// box (a fragment cut by a crash) are reported as an error; callers cut
// files to their indexed size first.
func parseFragments(r io.ReaderAt, size int64) (trackSamples, error) {
	out := trackSamples{}
	var hdr [maxBoxHeader]byte
	for pos := int64(0); pos < size; {
		if size-pos < 8 {
			return nil, fmt.Errorf("truncated box header at %d", pos)
		}
		if _, err := r.ReadAt(hdr[:8], pos); err != nil {
			return nil, err
		}
		boxSize := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:8])
		head := int64(8)
		if boxSize == 1 {
			if size-pos < 16 {
				return nil, fmt.Errorf("truncated box header at %d", pos)
			}
			if _, err := r.ReadAt(hdr[8:16], pos+8); err != nil {
				return nil, err
			}
			boxSize, head = int64(binary.BigEndian.Uint64(hdr[8:16])), 16
		}
		if boxSize < head || boxSize > size-pos {
			return nil, fmt.Errorf("box %q at %d: size %d beyond the file", typ, pos, boxSize)
		}
		if typ == "moof" {
			if boxSize > 16<<20 {
				return nil, fmt.Errorf("moof at %d: %d bytes", pos, boxSize)
			}
			buf := make([]byte, boxSize-head)
			if _, err := r.ReadAt(buf, pos+head); err != nil {
				return nil, err
			}
			if err := parseMoof(buf, pos, size, out); err != nil {
				return nil, fmt.Errorf("moof at %d: %w", pos, err)
			}
		}
		pos += boxSize
	}
	return out, nil
}

// children iterates over the boxes in b.
func children(b []byte, fn func(typ string, body []byte) error) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return errors.New("truncated box")
		}
		size := uint64(binary.BigEndian.Uint32(b))
		typ := string(b[4:8])
		head := uint64(8)
		if size == 1 {
			if len(b) < 16 {
				return errors.New("truncated box")
			}
			size, head = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < head || size > uint64(len(b)) {
			return fmt.Errorf("box %q: bad size %d", typ, size)
		}
		if err := fn(typ, b[head:size]); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}

// reader reads big-endian fields with bounds checks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = errors.New("truncated box body")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

const (
	tfhdBaseDataOffset    = 0x01
	tfhdSampleDescIndex   = 0x02
	tfhdDefaultDuration   = 0x08
	tfhdDefaultSize       = 0x10
	tfhdDefaultFlags      = 0x20
	trunDataOffset        = 0x01
	trunFirstSampleFlags  = 0x04
	trunSampleDuration    = 0x100
	trunSampleSize        = 0x200
	trunSampleFlags       = 0x400
	trunSampleCTO         = 0x800
	sampleNonSync         = 1 << 16
	maxSamplesPerFragment = 1 << 20
)

func parseMoof(moof []byte, moofPos, fileSize int64, out trackSamples) error {
	return children(moof, func(typ string, body []byte) error {
		if typ != "traf" {
			return nil
		}
		var (
			trackID                   int
			base                      = moofPos
			defDur, defSize, defFlags uint32
			baseTime                  int64
			haveTfhd, haveTfdt        bool
			runs                      [][]byte
		)
		err := children(body, func(typ string, b []byte) error {
			rd := &reader{b: b}
			switch typ {
			case "tfhd":
				vf := rd.u32()
				flags := vf & 0xffffff
				trackID = int(rd.u32())
				if flags&tfhdBaseDataOffset != 0 {
					base = int64(rd.u64())
				}
				if flags&tfhdSampleDescIndex != 0 {
					rd.u32()
				}
				if flags&tfhdDefaultDuration != 0 {
					defDur = rd.u32()
				}
				if flags&tfhdDefaultSize != 0 {
					defSize = rd.u32()
				}
				if flags&tfhdDefaultFlags != 0 {
					defFlags = rd.u32()
				}
				haveTfhd = true
			case "tfdt":
				vf := rd.u32()
				if vf>>24 == 1 {
					baseTime = int64(rd.u64())
				} else {
					baseTime = int64(rd.u32())
				}
				haveTfdt = true
			case "trun":
				runs = append(runs, b)
			}
			return rd.err
		})
		if err != nil {
			return err
		}
		if !haveTfhd || !haveTfdt {
			return errors.New("traf without tfhd or tfdt")
		}
		dts := baseTime
		for _, run := range runs {
			rd := &reader{b: run}
			vf := rd.u32()
			flags := vf & 0xffffff
			version := vf >> 24
			count := rd.u32()
			if count > maxSamplesPerFragment {
				return fmt.Errorf("trun of %d samples", count)
			}
			var dataOff int64
			if flags&trunDataOffset != 0 {
				dataOff = int64(int32(rd.u32()))
			}
			first := defFlags
			hasFirst := flags&trunFirstSampleFlags != 0
			if hasFirst {
				first = rd.u32()
			}
			off := base + dataOff
			samples := out[trackID]
			for i := uint32(0); i < count && rd.err == nil; i++ {
				s := sampleInfo{DTS: dts, Duration: defDur, Size: defSize, Offset: off}
				sf := defFlags
				if i == 0 && hasFirst {
					sf = first
				}
				if flags&trunSampleDuration != 0 {
					s.Duration = rd.u32()
				}
				if flags&trunSampleSize != 0 {
					s.Size = rd.u32()
				}
				if flags&trunSampleFlags != 0 {
					sf = rd.u32()
				}
				if flags&trunSampleCTO != 0 {
					v := rd.u32()
					if version == 0 {
						s.PTSOffset = int32(min(v, 1<<31-1))
					} else {
						s.PTSOffset = int32(v)
					}
				}
				s.Sync = sf&sampleNonSync == 0
				if off < 0 || off+int64(s.Size) > fileSize {
					return fmt.Errorf("sample data at %d+%d beyond the file", off, s.Size)
				}
				off += int64(s.Size)
				dts += int64(s.Duration)
				samples = append(samples, s)
			}
			if rd.err != nil {
				return rd.err
			}
			out[trackID] = samples
		}
		return nil
	})
}
