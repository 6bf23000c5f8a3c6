package rtmp

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	flvtag "github.com/yutopp/go-flv/tag"
)

func TestParseVideoTag(t *testing.T) {
	cfg := firstTag(t, 9, isAVCConfig)
	key := firstTag(t, 9, isAVCKey)
	for _, tc := range []struct {
		name    string
		in      []byte
		typ     flvtag.AVCPacketType
		cts     int32
		data    []byte
		command bool
		err     string
	}{
		{name: "sequence header", in: cfg, typ: 0, data: cfg[5:]},
		{name: "keyframe with CTS", in: key, typ: 1, cts: 133, data: key[5:]},
		{name: "negative CTS", in: []byte{0x27, 1, 0xff, 0xff, 0x00, 9}, typ: 1, cts: -256, data: []byte{9}},
		{name: "largest CTS", in: []byte{0x27, 1, 0x7f, 0xff, 0xff}, typ: 1, cts: 1<<23 - 1, data: []byte{}},
		{name: "end of sequence", in: []byte{0x17, 2, 0, 0, 0}, typ: 2, data: []byte{}},
		{name: "command frame", in: []byte{0x57, 0}, command: true},
		{name: "empty", in: nil, err: "empty"},
		{name: "truncated AVC header", in: []byte{0x17, 1, 0}, err: "video tag header"},
		{name: "VP6", in: []byte{0x14, 1, 2, 3}, err: "VP6"},
		{name: "Sorenson", in: []byte{0x12}, err: "Sorenson"},
		{name: "enhanced HEVC", in: []byte{0x91, 'h', 'v', 'c', '1', 0}, err: `"hvc1" (enhanced RTMP)`},
		{name: "truncated enhanced", in: []byte{0x91, 'h'}, err: "truncated"},
		{name: "unknown packet type", in: []byte{0x17, 7, 0, 0, 0}, err: "unknown AVC packet type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseVideoTag(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Command != tc.command || got.PacketType != tc.typ || got.CTS != tc.cts || !bytes.Equal(got.Data, tc.data) {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

func TestParseAudioTag(t *testing.T) {
	cfg := firstTag(t, 8, isAACConfig)
	frame := firstTag(t, 8, isAACFrame)
	for _, tc := range []struct {
		name string
		in   []byte
		typ  flvtag.AACPacketType
		data []byte
		err  string
	}{
		{name: "sequence header", in: cfg, typ: 0, data: cfg[2:]},
		{name: "raw frame", in: frame, typ: 1, data: frame[2:]},
		{name: "empty", in: nil, err: "empty"},
		{name: "no packet type", in: []byte{0xaf}, err: "audio tag header"},
		{name: "MP3", in: []byte{0x2f, 0xff}, err: "MP3"},
		{name: "PCM", in: []byte{0x3f, 0}, err: "PCM"},
		{name: "enhanced Opus", in: []byte{0x90, 'O', 'p', 'u', 's'}, err: `"Opus"`},
		{name: "unknown packet type", in: []byte{0xaf, 5}, err: "unknown AAC packet type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseAudioTag(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.PacketType != tc.typ || !bytes.Equal(got.Data, tc.data) {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

// avcRecord builds an AVCDecoderConfigurationRecord.
func avcRecord(lengthSize int, spss, ppss [][]byte) []byte {
	b := []byte{1, 0x64, 0, 0x0a, 0xfc | byte(lengthSize-1), 0xe0 | byte(len(spss))}
	for _, s := range spss {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	b = append(b, byte(len(ppss)))
	for _, p := range ppss {
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
		b = append(b, p...)
	}
	return b
}

func sampleConfig(t *testing.T) avcConfig {
	t.Helper()
	vt, err := parseVideoTag(firstTag(t, 9, isAVCConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parseAVCConfig(vt.Data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestParseAVCConfig(t *testing.T) {
	cfg := sampleConfig(t)
	var sps h264.SPS
	if err := sps.Unmarshal(cfg.SPS); err != nil || sps.Width() != 160 || sps.Height() != 90 || cfg.LengthSize != 4 {
		t.Fatalf("sample config: %dx%d length size %d, err %v", sps.Width(), sps.Height(), cfg.LengthSize, err)
	}
	s, p := cfg.SPS, cfg.PPS
	for _, tc := range []struct {
		name       string
		in         []byte
		lengthSize int
		err        string
	}{
		{name: "two byte lengths", in: avcRecord(2, [][]byte{s}, [][]byte{p}), lengthSize: 2},
		{name: "one byte lengths", in: avcRecord(1, [][]byte{s}, [][]byte{p}), lengthSize: 1},
		{name: "extra parameter sets", in: avcRecord(4, [][]byte{s, s}, [][]byte{p, p}), lengthSize: 4},
		{name: "three byte lengths", in: avcRecord(3, [][]byte{s}, [][]byte{p}), err: "length size 3"},
		{name: "too short", in: []byte{1, 2, 3}, err: "too short"},
		{name: "version 0", in: append([]byte{0}, avcRecord(4, [][]byte{s}, [][]byte{p})[1:]...), err: "version 0"},
		{name: "no SPS", in: avcRecord(4, nil, [][]byte{p}), err: "SPS: none"},
		{name: "no PPS", in: avcRecord(4, [][]byte{s}, nil), err: "PPS: none"},
		{name: "PPS as SPS", in: avcRecord(4, [][]byte{p}, [][]byte{p}), err: "SPS: NAL unit type"},
		{name: "bogus SPS", in: avcRecord(4, [][]byte{{0x67, 0xff}}, [][]byte{p}), err: "SPS"},
		{name: "truncated", in: avcRecord(4, [][]byte{s}, [][]byte{p})[:12], err: "SPS: invalid length"},
		{name: "missing PPS count", in: avcRecord(4, [][]byte{s}, nil)[:6+2+len(s)], err: "PPS: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseAVCConfig(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.LengthSize != tc.lengthSize || !bytes.Equal(got.SPS, s) || !bytes.Equal(got.PPS, p) {
				t.Fatalf("got %+v", got)
			}
			// The record belongs to the connection's buffer: the config must
			// not alias it.
			clear(tc.in)
			if !bytes.Equal(got.SPS, s) {
				t.Fatal("SPS aliases the input")
			}
		})
	}
}

func TestSplitAVCC(t *testing.T) {
	idr := []byte{0x65, 1, 2, 3}
	sei := []byte{0x06, 5}
	for _, tc := range []struct {
		name       string
		in         []byte
		lengthSize int
		want       [][]byte
		err        string
	}{
		{name: "4-byte", in: []byte{0, 0, 0, 2, 6, 5, 0, 0, 0, 4, 0x65, 1, 2, 3}, lengthSize: 4, want: [][]byte{sei, idr}},
		{name: "2-byte", in: []byte{0, 2, 6, 5, 0, 4, 0x65, 1, 2, 3}, lengthSize: 2, want: [][]byte{sei, idr}},
		{name: "1-byte", in: []byte{2, 6, 5, 4, 0x65, 1, 2, 3}, lengthSize: 1, want: [][]byte{sei, idr}},
		{name: "empty NAL units skipped", in: []byte{0, 0, 2, 6, 5}, lengthSize: 1, want: [][]byte{sei}},
		{name: "no NAL unit", in: []byte{0, 0, 0, 0}, lengthSize: 4, err: errNoNALUs.Error()},
		{name: "nothing", in: nil, lengthSize: 2, err: errNoNALUs.Error()},
		{name: "truncated 4-byte", in: []byte{0, 0, 0, 9, 1}, lengthSize: 4, err: "invalid length"},
		{name: "truncated 2-byte", in: []byte{0, 9, 1}, lengthSize: 2, err: "invalid length"},
		{name: "truncated prefix", in: []byte{1, 6, 0}, lengthSize: 2, err: "invalid length"},
		{name: "3-byte", in: []byte{0, 0, 1, 6}, lengthSize: 3, err: "not supported"},
		{name: "too many NAL units", in: bytes.Repeat([]byte{1, 6}, h264.MaxNALUsPerAccessUnit+1), lengthSize: 1, err: "NALU count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := splitAVCC(tc.in, tc.lengthSize)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d NAL units, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.want[i]) {
					t.Fatalf("NAL unit %d: % x, want % x", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestAccessUnit(t *testing.T) {
	sps, pps := []byte{0x67, 1}, []byte{0x68, 2}
	aud, sei, idr, slice := []byte{0x09, 0xf0}, []byte{0x06, 3}, []byte{0x65, 4}, []byte{0x41, 5}
	for _, tc := range []struct {
		name string
		in   [][]byte
		want [][]byte
		key  bool
	}{
		{name: "IDR gets parameter sets", in: [][]byte{sei, idr}, want: [][]byte{sps, pps, sei, idr}, key: true},
		{name: "after the delimiter", in: [][]byte{aud, idr}, want: [][]byte{aud, sps, pps, idr}, key: true},
		{name: "in-band sets kept", in: [][]byte{aud, {0x67, 9}, {0x68, 9}, idr}, want: [][]byte{aud, {0x67, 9}, {0x68, 9}, idr}, key: true},
		{name: "PPS after in-band SPS", in: [][]byte{aud, {0x67, 9}, idr}, want: [][]byte{aud, {0x67, 9}, pps, idr}, key: true},
		{name: "SPS before in-band PPS", in: [][]byte{{0x68, 9}, idr}, want: [][]byte{sps, {0x68, 9}, idr}, key: true},
		{name: "inter frame untouched", in: [][]byte{aud, slice}, want: [][]byte{aud, slice}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, key := accessUnit(tc.in, sps, pps)
			if key != tc.key || len(got) != len(tc.want) {
				t.Fatalf("key %v, %d NAL units: %x", key, len(got), got)
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.want[i]) {
					t.Fatalf("NAL unit %d: % x, want % x", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestParseAACConfig(t *testing.T) {
	at, err := parseAudioTag(firstTag(t, 8, isAACConfig))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name           string
		in             []byte
		rate, channels int
		err            string
	}{
		{name: "sample (48 kHz mono)", in: at.Data, rate: 48000, channels: 1},
		{name: "44.1 kHz stereo", in: []byte{0x12, 0x10}, rate: 44100, channels: 2},
		{name: "empty", in: nil, err: "empty"},
		{name: "AAC main", in: []byte{0x0a, 0x10}, err: "unsupported object type"},
		{name: "truncated", in: []byte{0x12}, err: "AudioSpecificConfig"},
		{name: "bad rate index", in: []byte{0x16, 0x90}, err: "sample rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseAACConfig(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.SampleRate != tc.rate || got.ChannelCount != tc.channels {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

// amf0 encodes values for tests: strings, float64, bool, nil and
// map[string]any as an ECMA array (keys unordered).
func amf0(vals ...any) []byte {
	var b []byte
	str := func(s string) { b = binary.BigEndian.AppendUint16(b, uint16(len(s))); b = append(b, s...) }
	for _, v := range vals {
		switch v := v.(type) {
		case string:
			b = append(b, 0x02)
			str(v)
		case float64:
			b = append(b, 0x00)
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(v))
		case bool:
			b = append(b, 0x01, 0)
			if v {
				b[len(b)-1] = 1
			}
		case nil:
			b = append(b, 0x05)
		case map[string]any:
			b = append(b, 0x08, 0, 0, 0, byte(len(v)))
			for k, x := range v {
				str(k)
				b = append(b, amf0(x)...)
			}
			b = append(b, 0, 0, 0x09)
		case []byte: // raw
			b = append(b, v...)
		}
	}
	return b
}

func TestParseMetadata(t *testing.T) {
	sample := firstTag(t, 18, isScriptData)
	for _, tc := range []struct {
		name         string
		in           []byte
		video, audio bool
		err          string
	}{
		{name: "ffmpeg", in: sample, video: true, audio: true},
		{name: "video only", in: amf0("onMetaData", map[string]any{"videocodecid": 7.0, "width": 640.0}), video: true},
		{name: "zero ids", in: amf0("onMetaData", map[string]any{"videocodecid": 0.0, "audiocodecid": 10.0}), audio: true},
		{name: "FourCC", in: amf0("onMetaData", map[string]any{"videocodecid": "avc1", "audiocodecid": "mp4a"}), video: true, audio: true},
		{name: "object", in: append(amf0("onMetaData", []byte{0x03}), amf0([]byte{0, 12}, []byte("videocodecid"), 7.0, []byte{0, 0, 9})...), video: true},
		{name: "no tracks", in: amf0("onMetaData", map[string]any{"duration": 0.0})},
		{name: "other name", in: amf0("onCuePoint", map[string]any{}), err: "no onMetaData"},
		{name: "empty", in: nil, err: "no onMetaData"},
		{name: "truncated", in: sample[:40], err: "onMetaData"},
		{name: "strict array bomb", in: amf0("onMetaData", []byte{0x0a, 0x7f, 0xff, 0xff, 0xff, 0}), err: "strict array"},
		{name: "go-amf0 panic", in: amf0("onMetaData", []byte{0x08, 0, 0, 0, 2, 0, 1, 'a'}, "x",
			[]byte{0, 1, 'b', 0x08, 0, 0, 0, 0, 0, 0, 9, 0, 0, 9}), err: "panicked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMetadata(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Video != tc.video || got.Audio != tc.audio {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

func TestCheckAMF0(t *testing.T) {
	nested := func(depth int) []byte {
		var b []byte
		for range depth {
			b = append(b, 0x03, 0, 1, 'k')
		}
		b = append(b, 0x05)
		for range depth {
			b = append(b, 0, 0, 0x09)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		err  string
	}{
		{name: "connect", in: amf0("connect", 1.0, map[string]any{"app": "live", "tcUrl": "rtmp://h/live", "fpad": false})},
		{name: "strict array", in: amf0("x", []byte{0x0a, 0, 0, 0, 2}, 1.0, "y")},
		{name: "strict array bomb", in: amf0("connect", 1.0, []byte{0x0a, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3}), err: "strict array of 2147483647 elements"},
		{name: "bomb in object", in: amf0(map[string]any{"a": []byte{0x0a, 0, 1, 0, 0, 0}}), err: "strict array"},
		{name: "nested", in: nested(maxAMF0Depth)},
		{name: "too deep", in: nested(maxAMF0Depth + 2), err: "nested deeper"},
		{name: "truncated string", in: []byte{0x02, 0xff, 0xff, 'a'}},
		{name: "unsupported marker stops", in: []byte{0x10, 0x0a, 0xff, 0xff, 0xff, 0xff}},
		{name: "empty", in: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkAMF0(tc.in)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err %v, want %q", err, tc.err)
			}
		})
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ in, app, key string }{
		{"live", "live", "live"},
		{"live/", "live", "live"},
		{"/live?token=x", "live", "live"},
		{"live?x=y/z", "live", "live"},
		{" KEY?x=y ", "KEY", "KEY"},
	} {
		if got := normalizeApp(tc.in); got != tc.app {
			t.Errorf("normalizeApp(%q) = %q, want %q", tc.in, got, tc.app)
		}
		if got := streamKey(tc.in); got != tc.key {
			t.Errorf("streamKey(%q) = %q", tc.in, got)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"abc", "…(3)"},
		{"abcdefgh", "ab…(8)"},
		{"0123456789abcdef0123456789abcdef", "0123…(32)"},
	} {
		if got := redactKey(tc.in); got != tc.want {
			t.Errorf("redactKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := redactApp("live/SECRETKEY"); got != "live/…" {
		t.Errorf("redactApp = %q", got)
	}
}

func TestTimestampUnwrap(t *testing.T) {
	var u tsUnwrapper
	for i, tc := range []struct {
		in   uint32
		want int64
	}{
		{0xffffff00, 0xffffff00},
		{0xffffffa0, 0xffffffa0},
		{0xffffff90, 0xffffff90}, // audio slightly behind video
		{0x00000040, 1<<32 + 0x40},
		{0x00000100, 1<<32 + 0x100},
	} {
		if got := u.unwrap(tc.in); got != tc.want {
			t.Fatalf("step %d: unwrap(%#x) = %#x, want %#x", i, tc.in, got, tc.want)
		}
	}
}
