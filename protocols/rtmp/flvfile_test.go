package rtmp

import (
	"encoding/binary"
	"os"
	"testing"
)

// testdata/sample.flv is one second of ffmpeg output (160x90 at 15 fps, two
// B-frames, AAC 48 kHz mono), made with:
//
//	ffmpeg -f lavfi -i testsrc2=size=160x90:rate=15 -f lavfi -i sine=frequency=440:sample_rate=48000 \
//	  -t 1 -c:v libx264 -preset veryfast -pix_fmt yuv420p -bf 2 -g 15 -keyint_min 15 -sc_threshold 0 \
//	  -c:a aac -b:a 32k -ar 48000 -ac 1 -f flv testdata/sample.flv

// flvTag is a raw FLV tag: what an RTMP message of that type carries.
type flvTag struct {
	typ  uint8 // 8 audio, 9 video, 18 script data
	ts   uint32
	body []byte
}

func readFLV(t testing.TB, path string) []flvTag {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 13 || string(b[:3]) != "FLV" {
		t.Fatalf("%s: not an FLV file", path)
	}
	var tags []flvTag
	for pos := int(binary.BigEndian.Uint32(b[5:9])) + 4; pos+11 <= len(b); {
		size := int(b[pos+1])<<16 | int(b[pos+2])<<8 | int(b[pos+3])
		ts := uint32(b[pos+4])<<16 | uint32(b[pos+5])<<8 | uint32(b[pos+6]) | uint32(b[pos+7])<<24
		if pos+11+size > len(b) {
			t.Fatalf("%s: truncated tag at %d", path, pos)
		}
		tags = append(tags, flvTag{typ: b[pos], ts: ts, body: b[pos+11 : pos+11+size]})
		pos += 11 + size + 4
	}
	return tags
}

// sampleTags returns the tags of testdata/sample.flv.
func sampleTags(t testing.TB) []flvTag {
	return readFLV(t, "testdata/sample.flv")
}

// firstTag returns the first tag of type typ whose body satisfies ok.
func firstTag(t testing.TB, typ uint8, ok func([]byte) bool) []byte {
	t.Helper()
	for _, tag := range sampleTags(t) {
		if tag.typ == typ && ok(tag.body) {
			return tag.body
		}
	}
	t.Fatalf("no such tag of type %d in the sample", typ)
	return nil
}

func isAVCConfig(b []byte) bool  { return len(b) > 1 && b[0] == 0x17 && b[1] == 0 }
func isAVCKey(b []byte) bool     { return len(b) > 1 && b[0] == 0x17 && b[1] == 1 }
func isAVCInter(b []byte) bool   { return len(b) > 1 && b[0] == 0x27 && b[1] == 1 }
func isAACConfig(b []byte) bool  { return len(b) > 1 && b[0]>>4 == 10 && b[1] == 0 }
func isAACFrame(b []byte) bool   { return len(b) > 1 && b[0]>>4 == 10 && b[1] == 1 }
func isScriptData(b []byte) bool { return len(b) > 0 }
