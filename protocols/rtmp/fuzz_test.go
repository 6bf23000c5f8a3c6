package rtmp

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	goamf0 "github.com/yutopp/go-amf0"
	flvtag "github.com/yutopp/go-flv/tag"
)

// The fuzz targets cover every parser of publisher input that is ours. They
// must never panic; where a parser accepts, what it returns must be safe for
// the code that uses it. `go test` runs the seed corpora; `make fuzz` runs
// each target for a while.

func addTags(f *testing.F, typ uint8) {
	for _, tag := range sampleTags(f) {
		if tag.typ == typ {
			f.Add(tag.body)
		}
	}
}

func FuzzParseVideoTag(f *testing.F) {
	addTags(f, 9)
	f.Add([]byte{0x91, 'h', 'v', 'c', '1'})
	f.Add([]byte{0x27, 1, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0x65})
	f.Add([]byte{0x57, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		vt, err := parseVideoTag(b)
		if err != nil || vt.Command {
			return
		}
		if vt.CTS < -(1<<23) || vt.CTS >= 1<<23 || len(vt.Data) > len(b) {
			t.Fatalf("CTS %d, %d bytes of data from %d", vt.CTS, len(vt.Data), len(b))
		}
		switch vt.PacketType {
		case flvtag.AVCPacketTypeSequenceHeader:
			_, _ = parseAVCConfig(vt.Data)
		case flvtag.AVCPacketTypeNALU:
			if nalus, err := splitAVCC(vt.Data, 4); err == nil {
				accessUnit(nalus, []byte{0x67}, []byte{0x68})
			}
		}
	})
}

func FuzzParseAudioTag(f *testing.F) {
	addTags(f, 8)
	f.Add([]byte{0x90, 'O', 'p', 'u', 's'})
	f.Fuzz(func(t *testing.T, b []byte) {
		at, err := parseAudioTag(b)
		if err != nil {
			return
		}
		if at.PacketType == flvtag.AACPacketTypeSequenceHeader {
			if c, err := parseAACConfig(at.Data); err == nil {
				if _, err := c.Marshal(); err != nil {
					t.Fatalf("accepted a config readers cannot marshal: %v", err)
				}
			}
		}
	})
}

func FuzzParseAVCConfig(f *testing.F) {
	for _, tag := range sampleTags(f) {
		if tag.typ == 9 && isAVCConfig(tag.body) {
			f.Add(tag.body[5:])
			f.Add(avcRecord(2, [][]byte{tag.body[13 : 13+int(tag.body[12])]}, [][]byte{{0x68, 0xee}}))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseAVCConfig(b)
		if err != nil {
			return
		}
		if len(c.SPS) == 0 || h264.NALUType(c.SPS[0]&0x1f) != h264.NALUTypeSPS ||
			len(c.PPS) == 0 || h264.NALUType(c.PPS[0]&0x1f) != h264.NALUTypePPS {
			t.Fatalf("accepted %+v", c)
		}
		if c.LengthSize != 1 && c.LengthSize != 2 && c.LengthSize != 4 {
			t.Fatalf("length size %d", c.LengthSize)
		}
	})
}

func FuzzSplitAVCC(f *testing.F) {
	for _, tag := range sampleTags(f) {
		if tag.typ == 9 && len(tag.body) > 5 && tag.body[1] == 1 {
			f.Add(tag.body[5:], uint8(4))
		}
	}
	f.Add([]byte{0, 2, 0x09, 0xf0, 0, 2, 0x65, 1}, uint8(2))
	f.Add([]byte{2, 0x09, 0xf0, 1, 0x65}, uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, lengthSize uint8) {
		nalus, err := splitAVCC(b, int(lengthSize))
		if err != nil {
			if len(nalus) != 0 {
				t.Fatal("NAL units with an error")
			}
			return
		}
		if len(nalus) == 0 || len(nalus) > h264.MaxNALUsPerAccessUnit {
			t.Fatalf("%d NAL units", len(nalus))
		}
		total := 0
		for _, n := range nalus {
			if len(n) == 0 {
				t.Fatal("empty NAL unit")
			}
			total += len(n)
		}
		if total > len(b) {
			t.Fatalf("%d bytes of NAL units from %d", total, len(b))
		}
		au, key := accessUnit(nalus, []byte{0x67, 1}, []byte{0x68, 2})
		if key != h264.IsRandomAccess(au) || len(au) < len(nalus) || len(au) > len(nalus)+2 {
			t.Fatalf("access unit of %d NAL units from %d, key %v", len(au), len(nalus), key)
		}
	})
}

func FuzzParseAACConfig(f *testing.F) {
	f.Add([]byte{0x11, 0x88})
	f.Add([]byte{0x12, 0x10})
	f.Add([]byte{0x2b, 0x92, 0x08, 0x00}) // HE-AAC
	f.Add([]byte{0x17, 0x80, 0xbb, 0x80, 0x10})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseAACConfig(b)
		if err != nil {
			return
		}
		if c.SampleRate <= 0 || c.ChannelCount <= 0 {
			t.Fatalf("accepted %+v", c)
		}
	})
}

func FuzzParseMetadata(f *testing.F) {
	addTags(f, 18)
	f.Add(amf0("onMetaData", map[string]any{"videocodecid": "avc1", "audiocodecid": 10.0}))
	f.Add(amf0("onMetaData", []byte{0x0a, 0, 0, 0, 1, 0x05}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseMetadata(b)
	})
}

// FuzzCheckAMF0 also decodes what checkAMF0 lets through with go-amf0, the
// way go-rtmp does for command and data messages: go-amf0 may panic (go-rtmp
// recovers, ending the connection) but must not exhaust memory or stack,
// which no recover catches.
func FuzzCheckAMF0(f *testing.F) {
	f.Add(amf0("connect", 1.0, map[string]any{"app": "live", "flashVer": "FMLE/3.0", "fpad": false}))
	f.Add(amf0("publish", 5.0, nil, "key", "live"))
	f.Add(amf0("x", []byte{0x0a, 0, 0, 0, 2}, 1.0, "y", []byte{0x0b}, 1.0, []byte{0, 0}))
	f.Add([]byte{0x03, 0, 1, 'a', 0x03, 0, 1, 'b', 0x0a, 0, 0, 0, 1, 0x05, 0, 0, 9, 0, 0, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkAMF0(b) != nil {
			return
		}
		decodeAMF0All(b)
	})
}

// FuzzChunkGuard feeds arbitrary bytes after a handshake, whole and in two
// parts: the guard must agree with itself, and what it lets through must
// not make go-rtmp's chunk reader panic.
func FuzzChunkGuard(f *testing.F) {
	// Small seeds: the fuzzer minimises every new input it finds, byte by
	// byte, which takes minutes on a whole encoder session.
	for _, repeat := range []bool{true, false} {
		f.Add(sampleStream(f, repeat, 0, 200)[handshakeSize:][:1200], uint16(100))
		f.Add(sampleStream(f, repeat, 0x01000000, 200)[handshakeSize:][:1200], uint16(7))
	}
	c := newChunker(true)
	c.msg(0, 3, 0, msgCommandAMF0, 0, amf0("connect", 1.0, map[string]any{"app": "live"}), 0)
	c.msg(0, 70, 0x1ffffff, msgAudio, 1, payload(300, 1), 0)
	c.msg(3, 70, 0, 0, 0, payload(300, 2), 0x1ffffff)
	f.Add(c.b[handshakeSize:], uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		in := append(make([]byte, handshakeSize), data...)
		whole, errWhole := guard(t, in, len(in))
		parts, errParts := guard(t, in, handshakeSize+int(split))
		if fmt.Sprint(errWhole) != fmt.Sprint(errParts) {
			t.Fatalf("errors differ: %v / %v", errWhole, errParts)
		}
		if errWhole == nil && !bytes.Equal(whole, parts) {
			t.Fatal("outputs differ")
		}
		if errWhole != nil {
			return
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("go-rtmp panicked on guarded input: %v", r)
				}
			}()
			_, _ = goRTMPRead(t, whole)
		}()
	})
}

// sampleStream is testdata/sample.flv as an encoder would chunk it, its
// timestamps offset by base, without the tags larger than maxTag bytes.
func sampleStream(t testing.TB, repeatExt bool, base uint32, maxTag int) []byte {
	c := newChunker(repeatExt)
	c.setChunkSize(4096)
	c.msg(0, 3, 0, msgCommandAMF0, 0, amf0("connect", 1.0, map[string]any{"app": "live"}), 0)
	last := map[int]uint32{}
	for _, tag := range sampleTags(t) {
		if len(tag.body) > maxTag {
			continue
		}
		csid := map[uint8]int{8: 4, 9: 6, 18: 5}[tag.typ]
		body := tag.body
		if tag.typ == 18 {
			body = append(amf0("@setDataFrame"), body...)
		}
		ts := base + tag.ts
		if prev, ok := last[csid]; ok && ts >= prev {
			c.msg(1, csid, ts-prev, tag.typ, 0, body, 0)
		} else {
			c.msg(0, csid, ts, tag.typ, 1, body, 0)
		}
		last[csid] = ts
	}
	return c.b
}

// decodeAMF0All decodes values until the first error, as go-rtmp's
// fallback body decoder does.
func decodeAMF0All(b []byte) {
	defer func() { _ = recover() }()
	dec := goamf0.NewDecoder(bytes.NewReader(b))
	for {
		var v any
		if dec.Decode(&v) != nil {
			return
		}
	}
}
