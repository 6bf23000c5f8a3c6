package rtmp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	gortmp "github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"
)

// chunker writes client-side RTMP chunks the way encoders do.
type chunker struct {
	b         []byte
	chunkSize int
	// repeatExt repeats an extended timestamp in type 3 chunks, as ffmpeg
	// and librtmp do; go-rtmp's own writer does not.
	repeatExt bool
}

func newChunker(repeatExt bool) *chunker {
	return &chunker{b: make([]byte, handshakeSize), chunkSize: defaultChunkSize, repeatExt: repeatExt}
}

func (c *chunker) basic(fmt byte, csid int) {
	switch {
	case csid < 64:
		c.b = append(c.b, fmt<<6|byte(csid))
	case csid < 320:
		c.b = append(c.b, fmt<<6, byte(csid-64))
	default:
		c.b = append(c.b, fmt<<6|1, byte((csid-64)%256), byte((csid-64)/256))
	}
}

// msg writes a message with a header of type fmt (0, 1, 2 or 3); field is
// the timestamp (type 0) or delta (1, 2), ignored for type 3, whose
// extended value ext is repeated when repeatExt.
func (c *chunker) msg(fmt byte, csid int, field uint32, typeID byte, msid uint32, payload []byte, ext uint32) {
	c.basic(fmt, csid)
	f24 := min(field, 0xffffff)
	if fmt <= 2 {
		c.b = append(c.b, byte(f24>>16), byte(f24>>8), byte(f24))
	}
	if fmt <= 1 {
		c.b = append(c.b, byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload)), typeID)
	}
	if fmt == 0 {
		c.b = binary.LittleEndian.AppendUint32(c.b, msid)
	}
	extended := (fmt <= 2 && field >= 0xffffff) || (fmt == 3 && ext != 0)
	if fmt <= 2 && extended {
		c.b = binary.BigEndian.AppendUint32(c.b, field)
		ext = field
	} else if fmt == 3 && extended && c.repeatExt {
		c.b = binary.BigEndian.AppendUint32(c.b, ext)
	}
	for off := 0; ; {
		n := min(c.chunkSize, len(payload)-off)
		c.b = append(c.b, payload[off:off+n]...)
		off += n
		if off == len(payload) {
			return
		}
		c.basic(3, csid)
		if extended && c.repeatExt {
			c.b = binary.BigEndian.AppendUint32(c.b, ext)
		}
	}
}

func (c *chunker) setChunkSize(n uint32) {
	c.msg(0, 2, 0, msgSetChunkSize, 0, binary.BigEndian.AppendUint32(nil, n), 0)
	c.chunkSize = int(n)
}

// decoded is a message as go-rtmp's chunk reader returns it.
type decoded struct {
	ts      uint32
	typeID  message.TypeID
	payload []byte
}

// goRTMPRead decodes the chunk part of a guarded stream with go-rtmp.
func goRTMPRead(t testing.TB, b []byte) ([]decoded, error) {
	t.Helper()
	cs := gortmp.NewChunkStreamer(bytes.NewReader(b[handshakeSize:]), io.Discard, nil)
	defer cs.Close()
	var out []decoded
	for {
		var cmsg gortmp.ChunkMessage
		_, ts, err := cs.Read(&cmsg)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		d := decoded{ts: ts, typeID: cmsg.Message.TypeID()}
		switch m := cmsg.Message.(type) {
		case *message.VideoMessage:
			d.payload, _ = io.ReadAll(m.Payload)
		case *message.AudioMessage:
			d.payload, _ = io.ReadAll(m.Payload)
		case *message.SetChunkSize:
			// go-rtmp applies it when the message is handled, which
			// ChunkStreamer.Read alone does not do.
			if err := cs.PeerState().SetChunkSize(m.ChunkSize); err != nil {
				return out, err
			}
		}
		out = append(out, d)
	}
}

func guard(t testing.TB, b []byte, split int) ([]byte, error) {
	t.Helper()
	g := newChunkGuard(DefaultMaxMessageSize)
	var out []byte
	var err error
	for len(b) > 0 && err == nil {
		n := min(len(b), split)
		out, err = g.feed(b[:n], out)
		b = b[n:]
	}
	return out, err
}

func payload(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i*7)
	}
	return p
}

// TestChunkGuardExtendedTimestamps: with ffmpeg's and with go-rtmp's
// chunking alike, go-rtmp reads the messages the encoder sent.
func TestChunkGuardExtendedTimestamps(t *testing.T) {
	const base = 0x01000000 // past 0xFFFFFF ms: 4h39m
	want := []decoded{
		{ts: 0, typeID: msgSetChunkSize},
		{ts: base, typeID: msgVideo, payload: payload(300, 1)},
		{ts: 2 * base, typeID: msgVideo, payload: payload(300, 2)},
		{ts: 2*base + 33, typeID: msgVideo, payload: payload(5000, 3)},
		{ts: base + 21, typeID: msgAudio, payload: payload(200, 4)},
		{ts: 0xfffffffe, typeID: msgAudio, payload: payload(9000, 5)},
		{ts: 5, typeID: msgVideo, payload: payload(64, 6)}, // on a chunk stream id >= 64
	}
	for _, repeat := range []bool{true, false} {
		c := newChunker(repeat)
		c.setChunkSize(128)
		c.msg(0, 6, base, msgVideo, 1, want[1].payload, 0)
		// A type 3 header starting a message after a type 0 one: its delta
		// is the type 0 timestamp (go-rtmp alone would use 0).
		c.msg(3, 6, 0, 0, 0, want[2].payload, base)
		c.msg(1, 6, 33, msgVideo, 0, want[3].payload, 0)
		c.msg(0, 4, base+21, msgAudio, 1, want[4].payload, 0)
		c.msg(0, 4, 0xfffffffe, msgAudio, 1, want[5].payload, 0)
		c.msg(0, 300, 5, msgVideo, 1, want[6].payload, 0)

		for _, split := range []int{1, 3, 7, 128, 1 << 20} {
			out, err := guard(t, c.b, split)
			if err != nil {
				t.Fatalf("repeat %v split %d: %v", repeat, split, err)
			}
			got, err := goRTMPRead(t, out)
			if err != nil {
				t.Fatalf("repeat %v split %d: go-rtmp: %v", repeat, split, err)
			}
			if len(got) != len(want) {
				t.Fatalf("repeat %v split %d: %d messages, want %d", repeat, split, len(got), len(want))
			}
			for i := range want {
				if got[i].ts != want[i].ts || got[i].typeID != want[i].typeID || !bytes.Equal(got[i].payload, want[i].payload) {
					t.Fatalf("repeat %v split %d: message %d: ts %#x type %d %d bytes, want ts %#x type %d %d bytes",
						repeat, split, i, got[i].ts, got[i].typeID, len(got[i].payload), want[i].ts, want[i].typeID, len(want[i].payload))
				}
			}
		}
	}
}

func TestChunkGuardErrors(t *testing.T) {
	cmd := func(body []byte) func(c *chunker) {
		return func(c *chunker) { c.msg(0, 3, 0, msgCommandAMF0, 0, body, 0) }
	}
	for _, tc := range []struct {
		name  string
		write func(c *chunker)
		err   string
	}{
		{"empty message", func(c *chunker) { c.b = append(c.b, 0x06, 0, 0, 0, 0, 0, 0, 9, 1, 0, 0, 0) }, "empty message"},
		{"oversized video", func(c *chunker) { c.b = append(c.b, 0x06, 0, 0, 0, 0xff, 0xff, 0xff, 9, 1, 0, 0, 0) }, "more than the 8388608 allowed"},
		{"oversized command", func(c *chunker) { c.b = append(c.b, 0x03, 0, 0, 0, 0x01, 0, 1, 20, 0, 0, 0, 0) }, "more than the 65536 allowed"},
		{"3-byte chunk stream id", func(c *chunker) { c.msg(0, 400, 0, msgAudio, 1, []byte{0xaf, 1}, 0) }, "chunk stream id 400"},
		{"type 3 first", func(c *chunker) { c.b = append(c.b, 0xc4, 1, 2, 3) }, "type 3 chunk on chunk stream 4 before"},
		{"type 2 first", func(c *chunker) { c.b = append(c.b, 0x84, 0, 0, 1) }, "type 2 chunk on chunk stream 4 before"},
		{"header mid-message", func(c *chunker) {
			c.b = append(c.b, 0x06, 0, 0, 0, 0, 1, 0, 9, 1, 0, 0, 0) // 256 bytes announced
			c.b = append(c.b, payload(128, 0)...)
			c.b = append(c.b, 0x46, 0, 0, 0, 0, 0, 10, 9)
		}, "type 1 header in the middle"},
		{"too many chunk streams", func(c *chunker) {
			for csid := 3; csid < 3+maxChunkStreams+1; csid++ {
				c.msg(0, csid, 0, msgAudio, 1, []byte{0xaf, 1}, 0)
			}
		}, "more than 32 chunk streams"},
		{"chunk size 0", func(c *chunker) { c.msg(0, 2, 0, msgSetChunkSize, 0, []byte{0, 0, 0, 0}, 0) }, "invalid chunk size"},
		{"chunk size bit 31", func(c *chunker) { c.msg(0, 2, 0, msgSetChunkSize, 0, []byte{0x80, 0, 0, 1}, 0) }, "invalid chunk size"},
		{"chunk size short", func(c *chunker) { c.msg(0, 2, 0, msgSetChunkSize, 0, []byte{0, 1}, 0) }, "set chunk size message of 2 bytes"},
		{"AMF0 strict array bomb", cmd(amf0("connect", 1.0, []byte{0x0a, 0x7f, 0xff, 0xff, 0xff, 5})), "strict array"},
		{"AMF0 too deep", cmd(bytes.Repeat([]byte{0x0a, 0, 0, 0, 1}, 100)), "nested deeper"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newChunker(true)
			tc.write(c)
			for _, split := range []int{1, 1 << 20} {
				if _, err := guard(t, c.b, split); err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("split %d: err %v, want %q", split, err, tc.err)
				}
			}
		})
	}
}

// TestChunkGuardLargeChunks follows a set chunk size, clamped like go-rtmp.
func TestChunkGuardLargeChunks(t *testing.T) {
	c := newChunker(true)
	c.setChunkSize(0x7fffffff)
	c.chunkSize = maxChunkSize
	big := payload(70000, 9)
	c.msg(0, 6, 40, msgVideo, 1, big, 0)
	c.msg(0, 3, 0, msgCommandAMF0, 0, amf0("connect", 1.0, map[string]any{"app": "live"}), 0)
	out, err := guard(t, c.b, 1000)
	if err != nil {
		t.Fatal(err)
	}
	got, err := goRTMPRead(t, out)
	if err != nil || len(got) != 3 || !bytes.Equal(got[1].payload, big) {
		t.Fatalf("%d messages, err %v", len(got), err)
	}
}

// TestGuardReader: errors reach go-rtmp as read errors, after the data that
// preceded them in earlier reads.
func TestGuardReader(t *testing.T) {
	c := newChunker(true)
	c.msg(0, 4, 0, msgAudio, 1, payload(10, 0), 0)
	ok := len(c.b)
	c.b = append(c.b, 0xc9, 0, 0) // type 3 on a new chunk stream
	r := newGuardReader(&oneByteReader{b: c.b}, newChunkGuard(DefaultMaxMessageSize))
	got, err := io.ReadAll(r)
	if err == nil || !strings.Contains(err.Error(), "type 3") {
		t.Fatalf("err %v", err)
	}
	if !bytes.Equal(got, c.b[:ok]) {
		t.Fatalf("read %d bytes before the error, want %d", len(got), ok)
	}
}

type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	p[0], r.b = r.b[0], r.b[1:]
	return 1, nil
}

// TestChunkGuardSample: a whole encoder session passes the guard unchanged
// (with go-rtmp-style chunking) and decodes through go-rtmp.
func TestChunkGuardSample(t *testing.T) {
	tags := sampleTags(t)
	for _, repeat := range []bool{false, true} {
		in := sampleStream(t, repeat, 0x00fffff0, 1<<20)
		out, err := guard(t, in, 1500)
		if err != nil {
			t.Fatal(err)
		}
		if !repeat && !bytes.Equal(in, out) {
			t.Fatal("the guard changed a stream it had no reason to")
		}
		got, err := goRTMPRead(t, out)
		if err != nil || len(got) != len(tags)+2 {
			t.Fatalf("repeat %v: %d messages, err %v", repeat, len(got), err)
		}
		for i, tag := range tags {
			if d := got[i+2]; d.ts != 0x00fffff0+tag.ts || uint8(d.typeID) != tag.typ {
				t.Fatalf("repeat %v: message %d: ts %#x type %d", repeat, i, d.ts, d.typeID)
			}
		}
	}
}
