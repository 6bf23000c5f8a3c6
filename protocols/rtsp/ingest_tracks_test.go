package rtsp

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"

	"vitrine/internal/testenv"
	"vitrine/stream"
)

// h264Packets packetizes the sample, access unit i at timestamp i*3000,
// with or without marker bits.
func h264Packets(t testing.TB, aus [][][]byte, marker bool) []*rtp.Packet {
	t.Helper()
	enc, err := (&format.H264{PayloadTyp: 96, PacketizationMode: 1}).CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	var out []*rtp.Packet
	for i, au := range aus {
		pkts, err := enc.Encode(au)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			p.Timestamp = uint32(i * 3000)
			p.Marker = p.Marker && marker
		}
		out = append(out, pkts...)
	}
	return out
}

func newH264Depack(t *testing.T, sps, pps []byte) *h264Depack {
	t.Helper()
	dec, _, err := newDepacketizer(&format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps, PPS: pps})
	if err != nil {
		t.Fatal(err)
	}
	return dec.(*h264Depack)
}

// TestH264Timing: access units come out with their own PTS, whether the
// encoder sets marker bits or cameras leave them out (rtph264 then splits
// on the timestamp and returns an access unit one packet late).
func TestH264Timing(t *testing.T) {
	testenv.RequireFFmpeg(t)
	aus := sampleH264(t)[:45]
	for _, marker := range []bool{true, false} {
		d := newH264Depack(t, nil, nil)
		var frames []frame
		for _, p := range h264Packets(t, aus, marker) {
			f, err := d.decode(p, int64(p.Timestamp))
			if err != nil {
				t.Fatal(err)
			}
			frames = append(frames, f...)
		}
		want := len(aus)
		if !marker {
			want-- // the last one waits for a next timestamp
		}
		if len(frames) != want {
			t.Fatalf("marker %v: %d frames, want %d", marker, len(frames), want)
		}
		for i, f := range frames {
			if f.pts != int64(i*3000) || f.dts != f.pts {
				t.Fatalf("marker %v: frame %d PTS %d DTS %d, want %d", marker, i, f.pts, f.dts, i*3000)
			}
			if f.key != (i%30 == 0) {
				t.Fatalf("marker %v: frame %d key %v", marker, i, f.key)
			}
		}
	}
}

// TestH264WaitsForParams: without parameter sets in the SDP, nothing comes
// out until they come in band; then the codec is known and the keyframe
// that carried them is the first frame.
func TestH264WaitsForParams(t *testing.T) {
	testenv.RequireFFmpeg(t)
	aus := sampleH264(t)
	d := newH264Depack(t, nil, nil)
	if d.codec() != nil {
		t.Fatal("codec known without parameters")
	}
	// Start mid-GOP without parameters, then reach the second IDR.
	var stripped [][][]byte
	for i, au := range aus[15:31] {
		if i+15 < 30 {
			au, _, _ = splitParams(au)
		}
		stripped = append(stripped, au)
	}
	var frames []frame
	for _, p := range h264Packets(t, stripped, true) {
		f, err := d.decode(p, int64(p.Timestamp))
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, f...)
	}
	if len(frames) != 1 || !frames[0].key || frames[0].pts != 15*3000 {
		t.Fatalf("frames = %d (first key %v), want the IDR alone", len(frames), len(frames) > 0 && frames[0].key)
	}
	c, ok := d.codec().(*stream.H264)
	if !ok {
		t.Fatal("codec unknown after in-band parameters")
	}
	if w, h, _ := c.Dimensions(); w != 320 || h != 240 {
		t.Errorf("codec %dx%d", w, h)
	}
}

func TestWithParams(t *testing.T) {
	sps, pps := []byte{0x67, 1}, []byte{0x68, 2}
	aud, idr, sei := []byte{0x09, 0xf0}, []byte{0x65, 3}, []byte{0x06, 4}
	inSPS := []byte{0x67, 9}
	for _, c := range []struct {
		name    string
		in, out [][]byte
	}{
		{"bare IDR", [][]byte{idr}, [][]byte{sps, pps, idr}},
		{"after AUD", [][]byte{aud, sei, idr}, [][]byte{aud, sps, pps, sei, idr}},
		{"complete", [][]byte{aud, inSPS, pps, idr}, [][]byte{aud, inSPS, pps, idr}},
		{"in-band SPS only", [][]byte{inSPS, sei, idr}, [][]byte{inSPS, pps, sei, idr}},
	} {
		in := slices.Clone(c.in)
		got := withParams(c.in, sps, pps)
		if !slices.EqualFunc(got, c.out, bytes.Equal) {
			t.Errorf("%s: %x, want %x", c.name, got, c.out)
		}
		if !slices.EqualFunc(in, c.in, bytes.Equal) {
			t.Errorf("%s: input modified", c.name)
		}
	}
}

func latmFormat(t *testing.T) *format.MPEG4AudioLATM {
	t.Helper()
	return &format.MPEG4AudioLATM{
		PayloadTyp: 96,
		StreamMuxConfig: &mpeg4audio.StreamMuxConfig{Programs: []*mpeg4audio.StreamMuxConfigProgram{{
			Layers: []*mpeg4audio.StreamMuxConfigLayer{{
				AudioSpecificConfig: &mpeg4audio.AudioSpecificConfig{
					Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 2,
				},
				LatmBufferFullness: 255,
			}},
		}}},
	}
}

// TestLATM takes AudioMuxElements, one per packet or fragmented.
func TestLATM(t *testing.T) {
	f := latmFormat(t)
	dec, name, err := newDepacketizer(f)
	if err != nil || name != "AAC-LATM" {
		t.Fatal(name, err)
	}
	if c := dec.codec().(*stream.MPEG4Audio); c.Config.SampleRate != 48000 {
		t.Fatalf("codec %v", c)
	}
	enc, err := f.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	enc.PayloadMaxSize = 100 // fragment the larger frames
	var got []frame
	for i, size := range []int{10, 300, 20} {
		au := bytes.Repeat([]byte{byte(i + 1)}, size)
		ame, err := mpeg4audio.AudioMuxElement{
			StreamMuxConfig: f.StreamMuxConfig, Payloads: [][][][]byte{{{au}}},
		}.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		pkts, err := enc.Encode(ame)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			fr, err := dec.decode(p, int64(i*1024))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, fr...)
		}
		if len(got) != i+1 || !bytes.Equal(got[i].payload[0], au) || got[i].pts != int64(i*1024) {
			t.Fatalf("frame %d: got %d frames", i, len(got))
		}
	}
}

// TestSelectTracks keeps one video and one audio track and says why it
// ignored the others.
func TestSelectTracks(t *testing.T) {
	desc := &description.Session{Medias: []*description.Media{
		{Type: description.MediaTypeVideo, Formats: []format.Format{&format.VP8{PayloadTyp: 96}}},
		{Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{PayloadTyp: 97, PacketizationMode: 1}}},
		{Type: description.MediaTypeAudio, Formats: []format.Format{
			&format.G711{PayloadTyp: 0, SampleRate: 8000, ChannelCount: 1},
			&format.Opus{PayloadTyp: 111, ChannelCount: 2},
			&format.Opus{PayloadTyp: 112, ChannelCount: 1},
		}},
		{Type: description.MediaTypeAudio, Formats: []format.Format{latmFormat(t)}},
		{Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{PayloadTyp: 98, PacketizationMode: 2}}},
	}}
	tracks, ignored := selectTracks(desc)
	if trackNames(tracks) != "H264,Opus" {
		t.Errorf("tracks %s", trackNames(tracks))
	}
	if len(ignored) != 5 {
		t.Errorf("ignored %q", ignored)
	}
}

func TestTicks(t *testing.T) {
	for _, d := range []time.Duration{0, time.Second, -time.Second, 1234567 * time.Microsecond, -1, 30 * time.Hour} {
		for _, rate := range []int{90000, 48000, 44100} {
			ticks := durationToTicks(d, rate)
			back := ticksToDuration(ticks, rate)
			if diff := d - back; diff < 0 || diff >= time.Second/time.Duration(rate) {
				t.Errorf("%v at %d: %d ticks, back %v", d, rate, ticks, back)
			}
		}
	}
	if durationToTicks(-1, 90000) != -1 {
		t.Errorf("negative durations must round down")
	}
}

// FuzzDepacketize feeds arbitrary RTP payloads to every depacketizer: a
// malformed packet may cost its frame, never the process.
func FuzzDepacketize(f *testing.F) {
	f.Add(uint8(0), []byte{0x65, 0x88, 0x84}, true, uint32(0))
	f.Add(uint8(0), []byte{0x7c, 0x85, 0x88}, false, uint32(3000))
	f.Add(uint8(0), []byte{0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xce}, true, uint32(0))
	f.Add(uint8(1), []byte{0, 16, 0, 8, 1, 2}, true, uint32(0))
	f.Add(uint8(2), []byte{0x05, 1, 2, 3, 4, 5}, true, uint32(0))
	f.Add(uint8(3), []byte{0xfc, 0xff, 0xfe}, true, uint32(960))
	sps := []byte{0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfa, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0x99, 0x60}
	pps := []byte{0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0}
	aac := &format.MPEG4Audio{
		PayloadTyp: 97, Config: &mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelCount: 2},
		SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3,
	}
	latm := &format.MPEG4AudioLATM{PayloadTyp: 96, StreamMuxConfig: &mpeg4audio.StreamMuxConfig{
		Programs: []*mpeg4audio.StreamMuxConfigProgram{{Layers: []*mpeg4audio.StreamMuxConfigLayer{{
			AudioSpecificConfig: &mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelCount: 2},
		}}}},
	}}
	formats := []format.Format{
		&format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps, PPS: pps}, aac, latm,
		&format.Opus{PayloadTyp: 111, ChannelCount: 2},
	}
	f.Fuzz(func(t *testing.T, which uint8, payload []byte, marker bool, ts uint32) {
		dec, _, err := newDepacketizer(formats[int(which)%len(formats)])
		if err != nil {
			t.Fatal(err)
		}
		// Twice, so that a fragment left over meets the next packet.
		for i := range 2 {
			pkt := &rtp.Packet{
				Header:  rtp.Header{Version: 2, Marker: marker, Timestamp: ts + uint32(i), SequenceNumber: uint16(i)},
				Payload: payload,
			}
			frames, _ := dec.decode(pkt, int64(ts))
			for _, fr := range frames {
				if len(fr.payload) == 0 {
					t.Fatalf("empty frame")
				}
				for _, n := range fr.payload {
					if len(n) == 0 {
						t.Fatalf("empty NAL unit or audio frame")
					}
				}
				if fr.key && which%4 == 0 && !h264.IsRandomAccess(fr.payload) {
					t.Fatalf("H.264 key frame without IDR")
				}
			}
		}
	})
}
