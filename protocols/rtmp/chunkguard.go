package rtmp

import (
	"encoding/binary"
	"fmt"
	"io"
)

// The chunk guard reads the client's byte stream just ahead of go-rtmp,
// tracking RTMP chunking (spec 5.3) exactly as go-rtmp v0.0.7 does, to do
// what go-rtmp does not:
//
//   - Extended timestamps on type 3 chunks. When a chunk's timestamp field
//     is 0xFFFFFF, ffmpeg and librtmp (OBS) repeat the 4-byte extended
//     timestamp in every type 3 chunk that follows; go-rtmp never reads it,
//     so once timestamps pass 4h39m (or from the start, for encoders that
//     relay an upstream clock) every continuation chunk would be corrupted.
//     The guard drops those 4 bytes, when they equal the extended value of
//     the chunk stream's last header (the check SRS makes: a few encoders
//     do not repeat it, and then the bytes are payload).
//   - Type 3 chunks that start a message right after a type 0 header. The
//     spec (5.3.1.2.4) makes the type 0 timestamp their delta; go-rtmp
//     uses 0, repeating the previous timestamp. ffmpeg sends such a chunk
//     when a message has the size and type of the previous one and a delta
//     equal to its absolute timestamp. The guard rewrites it as the type 2
//     header it stands for.
//   - Chunk stream ids of 320 and more, which go-rtmp misreads (see
//     stBasicExt): refused.
//   - Bounds. go-rtmp buffers a message of any announced length (up to
//     16 MiB) on each of any number of chunk streams, and panics on chunks
//     that continue a message that was never started; the guard refuses
//     those, and messages over the configured sizes, with a clear error.
//   - AMF0 messages (commands, data) are checked before go-amf0 decodes
//     them: see checkAMF0.
//
// A failure is returned as a read error: go-rtmp then ends the connection
// and never sees the offending message.

// handshakeSize is what the client sends before chunks: C0, C1 and C2.
const handshakeSize = 1 + 1536 + 1536

const (
	defaultChunkSize = 128      // spec 5.4.1, until the peer sets its own
	maxChunkSize     = 0xffffff // go-rtmp clamps larger sizes to this
	maxOtherMessage  = 64 << 10 // commands, data, control messages
	maxChunkStreams  = 32       // ffmpeg and OBS use 5 or 6
)

// Message types the guard inspects.
const (
	msgSetChunkSize = 1
	msgAudio        = 8
	msgVideo        = 9
	msgDataAMF0     = 18
	msgCommandAMF0  = 20
	msgAggregate    = 22
)

type guardState uint8

const (
	stHandshake  guardState = iota
	stBasic                 // first byte of a chunk basic header
	stBasicExt              // 1 or 2 more bytes of chunk stream id
	stHeader                // message header of type 0, 1 or 2
	stExtTS                 // extended timestamp of a type 0, 1 or 2 header
	stMaybeExtTS            // 4 bytes after a type 3 header: extended timestamp or payload
	stPayload
)

// chunkStream is the guard's view of one chunk stream.
type chunkStream struct {
	hasHeader bool   // a type 0 or 1 header set length and type
	length    uint32 // message length
	typeID    uint8
	got       uint32 // bytes of the current message received
	extended  bool   // the last type 0/1/2 header had an extended timestamp
	extValue  uint32 // and this was its value
	// afterType0: the last header was of type 0, with timestamp type0TS.
	afterType0 bool
	type0TS    uint32
	body       []byte // the current message, for types the guard inspects
}

// chunkGuard is a push parser: feed it bytes as they arrive, it returns what
// go-rtmp should read. It never blocks and never panics on any input.
type chunkGuard struct {
	maxMedia uint32 // largest audio/video message

	handshakeLeft int
	chunkSize     uint32
	streams       map[uint32]*chunkStream

	state   guardState
	basic   [3]byte // the basic header, emitted once complete
	basicN  int
	hdr     [11]byte
	hdrN    int
	hdrNeed int
	fmt     byte
	csid    uint32
	cs      *chunkStream
	left    uint32 // payload bytes left in the current chunk
}

func newChunkGuard(maxMediaMessage uint32) *chunkGuard {
	return &chunkGuard{
		maxMedia:      maxMediaMessage,
		handshakeLeft: handshakeSize,
		chunkSize:     defaultChunkSize,
		streams:       map[uint32]*chunkStream{},
		state:         stHandshake,
	}
}

// feed processes in and appends the bytes go-rtmp should see to out.
func (g *chunkGuard) feed(in, out []byte) ([]byte, error) {
	for len(in) > 0 {
		switch g.state {
		case stHandshake:
			n := min(len(in), g.handshakeLeft)
			out = append(out, in[:n]...)
			in = in[n:]
			if g.handshakeLeft -= n; g.handshakeLeft == 0 {
				g.state = stBasic
			}

		case stBasic:
			b := in[0]
			in = in[1:]
			g.basic[0], g.basicN = b, 1
			g.fmt = b >> 6
			switch b & 0x3f {
			case 0:
				g.collect(stBasicExt, 1)
			case 1:
				g.collect(stBasicExt, 2)
			default:
				g.csid = uint32(b & 0x3f)
				var err error
				if out, err = g.startHeader(out); err != nil {
					return out, err
				}
			}

		case stBasicExt:
			n := min(len(in), g.hdrNeed-g.hdrN)
			copy(g.basic[1+g.hdrN:], in[:n])
			in = in[n:]
			if g.hdrN += n; g.hdrN < g.hdrNeed {
				continue
			}
			g.basicN = 1 + g.hdrNeed
			g.csid = uint32(g.basic[1]) + 64
			if g.hdrNeed == 2 {
				// go-rtmp reads this 3-byte form with io.ReadAtLeast
				// into its 64 KiB buffer, swallowing whatever follows.
				g.csid += uint32(g.basic[2]) * 256
				return out, fmt.Errorf("rtmp chunk: chunk stream id %d (3-byte form) is not supported", g.csid)
			}
			var err error
			if out, err = g.startHeader(out); err != nil {
				return out, err
			}

		case stHeader, stExtTS:
			n := min(len(in), g.hdrNeed-g.hdrN)
			copy(g.hdr[g.hdrN:], in[:n])
			out = append(out, in[:n]...)
			in = in[n:]
			if g.hdrN += n; g.hdrN < g.hdrNeed {
				continue
			}
			if g.state == stHeader {
				if err := g.applyHeader(); err != nil {
					return out, err
				}
				continue
			}
			v := binary.BigEndian.Uint32(g.hdr[:4])
			g.cs.extValue = v
			if g.fmt == 0 {
				g.cs.type0TS = v
			}
			g.beginPayload()

		case stMaybeExtTS:
			// Held back, not copied to out, until the 4 bytes are known.
			n := min(len(in), 4-g.hdrN)
			copy(g.hdr[g.hdrN:], in[:n])
			in = in[n:]
			if g.hdrN += n; g.hdrN < 4 {
				continue
			}
			g.beginPayload()
			if binary.BigEndian.Uint32(g.hdr[:4]) != g.cs.extValue {
				// Not a repeated timestamp: payload after all. At most 4
				// bytes, so this recursion is shallow.
				held := g.hdr
				var err error
				if out, err = g.feed(held[:4], out); err != nil {
					return out, err
				}
			}

		case stPayload:
			n := min(uint32(len(in)), g.left)
			data := in[:n]
			in = in[n:]
			out = append(out, data...)
			cs := g.cs
			if inspected(cs.typeID) {
				cs.body = append(cs.body, data...)
			}
			cs.got += n
			if g.left -= n; g.left > 0 {
				continue
			}
			g.state = stBasic
			if cs.got == cs.length {
				err := g.complete(cs)
				cs.got, cs.body = 0, cs.body[:0]
				if err != nil {
					return out, err
				}
			}
		}
	}
	return out, nil
}

func (g *chunkGuard) collect(st guardState, n int) {
	g.state, g.hdrN, g.hdrNeed = st, 0, n
}

// startHeader runs once the basic header is complete, and emits it.
func (g *chunkGuard) startHeader(out []byte) ([]byte, error) {
	cs, ok := g.streams[g.csid]
	if !ok {
		if len(g.streams) >= maxChunkStreams {
			return out, fmt.Errorf("rtmp chunk: more than %d chunk streams", maxChunkStreams)
		}
		cs = &chunkStream{}
		g.streams[g.csid] = cs
	}
	g.cs = cs
	if g.fmt == 3 && cs.got == 0 && cs.afterType0 {
		// A new message whose delta is the type 0 timestamp: say so
		// explicitly, as a type 2 header.
		g.basic[0] = g.basic[0]&0x3f | 2<<6
		out = append(out, g.basic[:g.basicN]...)
		f := min(cs.type0TS, 0xffffff)
		out = append(out, byte(f>>16), byte(f>>8), byte(f))
		if f == 0xffffff {
			out = binary.BigEndian.AppendUint32(out, cs.type0TS)
		}
		cs.afterType0 = false
		return out, g.type3()
	}
	out = append(out, g.basic[:g.basicN]...)
	need := [4]int{11, 7, 3, 0}[g.fmt]
	if need == 0 {
		return out, g.type3()
	}
	g.collect(stHeader, need)
	return out, nil
}

// type3 runs after a type 3 basic header: the chunk continues the stream's
// message, or starts one like the previous.
func (g *chunkGuard) type3() error {
	cs := g.cs
	if !cs.hasHeader {
		return fmt.Errorf("rtmp chunk: type 3 chunk on chunk stream %d before any message header", g.csid)
	}
	if cs.extended {
		g.collect(stMaybeExtTS, 4)
		return nil
	}
	g.beginPayload()
	return nil
}

// applyHeader runs once a type 0, 1 or 2 message header is complete.
func (g *chunkGuard) applyHeader() error {
	cs := g.cs
	// go-rtmp would splice a new header into the partial message.
	if cs.got > 0 {
		return fmt.Errorf("rtmp chunk: type %d header in the middle of a message on chunk stream %d", g.fmt, g.csid)
	}
	field := uint32(g.hdr[0])<<16 | uint32(g.hdr[1])<<8 | uint32(g.hdr[2])
	if g.fmt == 0 || g.fmt == 1 {
		length := uint32(g.hdr[3])<<16 | uint32(g.hdr[4])<<8 | uint32(g.hdr[5])
		typeID := g.hdr[6]
		if length == 0 {
			return fmt.Errorf("rtmp chunk: empty message of type %d on chunk stream %d", typeID, g.csid)
		}
		if limit := g.maxMessage(typeID); length > limit {
			return fmt.Errorf("rtmp chunk: message of type %d is %d bytes, more than the %d allowed", typeID, length, limit)
		}
		cs.hasHeader, cs.length, cs.typeID = true, length, typeID
	} else if !cs.hasHeader {
		return fmt.Errorf("rtmp chunk: type 2 chunk on chunk stream %d before any message header", g.csid)
	}
	cs.afterType0, cs.type0TS = g.fmt == 0, field
	cs.extended = field == 0xffffff
	if cs.extended {
		g.collect(stExtTS, 4)
		return nil
	}
	g.beginPayload()
	return nil
}

func (g *chunkGuard) beginPayload() {
	g.state = stPayload
	g.left = min(g.chunkSize, g.cs.length-g.cs.got)
}

func (g *chunkGuard) maxMessage(typeID uint8) uint32 {
	switch typeID {
	case msgAudio, msgVideo, msgAggregate:
		return g.maxMedia
	default:
		return maxOtherMessage
	}
}

func inspected(typeID uint8) bool {
	return typeID == msgSetChunkSize || typeID == msgDataAMF0 || typeID == msgCommandAMF0
}

// complete inspects a whole message before go-rtmp decodes it.
func (g *chunkGuard) complete(cs *chunkStream) error {
	switch cs.typeID {
	case msgSetChunkSize:
		if len(cs.body) < 4 {
			return fmt.Errorf("rtmp chunk: set chunk size message of %d bytes", len(cs.body))
		}
		size := binary.BigEndian.Uint32(cs.body)
		if size == 0 || size&0x80000000 != 0 {
			return fmt.Errorf("rtmp chunk: invalid chunk size %#x", size)
		}
		g.chunkSize = min(size, maxChunkSize)
	case msgDataAMF0, msgCommandAMF0:
		if err := checkAMF0(cs.body); err != nil {
			return fmt.Errorf("rtmp chunk: message of type %d: %w", cs.typeID, err)
		}
	}
	return nil
}

// guardReader applies a chunkGuard to a reader.
type guardReader struct {
	r   io.Reader
	g   *chunkGuard
	in  []byte
	out []byte
	off int
	err error
}

func newGuardReader(r io.Reader, g *chunkGuard) *guardReader {
	return &guardReader{r: r, g: g, in: make([]byte, 16<<10), out: make([]byte, 0, 16<<10+8)}
}

func (gr *guardReader) Read(p []byte) (int, error) {
	for gr.off == len(gr.out) {
		if gr.err != nil {
			return 0, gr.err
		}
		n, err := gr.r.Read(gr.in)
		gr.out, gr.off = gr.out[:0], 0
		if n > 0 {
			var ferr error
			if gr.out, ferr = gr.g.feed(gr.in[:n], gr.out); ferr != nil {
				// Nothing of the offending read reaches go-rtmp.
				gr.out, gr.err = gr.out[:0], ferr
				return 0, ferr
			}
		}
		if err != nil {
			gr.err = err
		}
	}
	n := copy(p, gr.out[gr.off:])
	gr.off += n
	return n, nil
}
