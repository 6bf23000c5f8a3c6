package recorder

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"

	"vitrine/internal/testenv"
	"vitrine/store"
)

// syntheticSegment is a one-second segment as the recorder writes it, in
// two fragments: 30 fps H264 with two B-frames (decode order I0 P3 B1 B2
// P6 B4 B5...), and 48 kHz AAC starting a little before the keyframe.
func syntheticSegment(t *testing.T) (store.RecordingSegment, *fmp4.Init, []byte) {
	t.Helper()
	const (
		videoBase = 900000 // 10 s
		frame     = 3000
		audioBase = (videoBase+2*frame)*48000/90000 - 512 // half a sample before the keyframe
	)
	var video, audio []*fmp4.Sample
	for i := range 30 {
		display := i
		switch {
		case i == 0:
		case i%3 == 1:
			display = i + 2 // P
		default:
			display = i - 1 // B
		}
		video = append(video, &fmp4.Sample{Duration: frame, PTSOffset: int32((2 + display - i) * frame),
			IsNonSyncSample: i != 0, Payload: []byte{byte(i), 0xee, byte(i)}})
	}
	for i := range 48 {
		audio = append(audio, &fmp4.Sample{Duration: 1024, Payload: []byte{byte(i), 0xaa}})
	}
	var file []byte
	for k, half := range [][2]int{{0, 15}, {15, 30}} {
		a0, a1 := half[0]*48/30, half[1]*48/30
		part := fmp4.Part{SequenceNumber: uint32(7 + k), Tracks: []*fmp4.PartTrack{
			{ID: 1, BaseTime: uint64(videoBase + half[0]*frame), Samples: video[half[0]:half[1]]},
			{ID: 2, BaseTime: uint64(audioBase + a0*1024), Samples: audio[a0:a1]},
		}}
		var buf seekablebuffer.Buffer
		if err := part.Marshal(&buf); err != nil {
			t.Fatal(err)
		}
		file = append(file, buf.Bytes()...)
	}
	in := &fmp4.Init{Tracks: []*fmp4.InitTrack{
		{ID: 1, TimeScale: 90000, Codec: &mp4.CodecH264{SPS: []byte{0x67, 0x64, 0, 0x1f}, PPS: []byte{0x68}}},
		{ID: 2, TimeScale: 48000, Codec: &mp4.CodecMPEG4Audio{Config: mpeg4audio.AudioSpecificConfig{
			Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 2}}},
	}}
	seg := store.RecordingSegment{Seq: 4, Session: 1, StartAt: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		MediaStart: fromTicks(videoBase+2*frame, 90000), Duration: time.Second, Size: int64(len(file)), Complete: true}
	return seg, in, file
}

// TestCutSegment: the segment holding an unpin, cut there, keeps every
// frame presented before the unpin and the reference frames they need,
// nothing after; its audio ends at the unpin; every kept sample keeps its
// decode time, duration, offset, flags and bytes.
func TestCutSegment(t *testing.T) {
	seg, in, file := syntheticSegment(t)
	orig, err := parseFragments(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	wall := func(track int, s sampleInfo) time.Time {
		return appendSamples(nil, seg, []sampleInfo{s}, in.Tracks[track-1].TimeScale, 0)[0].wall
	}
	ms := func(n int) time.Time { return seg.StartAt.Add(time.Duration(n) * time.Millisecond) }
	for _, tc := range []struct {
		name   string
		to     time.Time
		cut    bool
		frames int // video samples kept, in decode order
	}{
		{"on a frame", ms(500), true, 16},     // frames 0..14; 14 is decoded 16th
		{"within a frame", ms(501), true, 16}, // frame 15 (a P, decoded 14th) too
		{"a P past the unpin for its B-frames", ms(400), true, 13},
		{"first frame only", ms(10), true, 1},
		{"in the last frame: audio only", ms(990), true, 30},
		{"at the end", ms(1000), false, 0},
		{"past the end", ms(1500), false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := cutSegment(bytes.NewReader(file), seg, in, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			if (c != nil) != tc.cut {
				t.Fatalf("cut %v, want %v", c != nil, tc.cut)
			}
			if c == nil {
				return
			}
			b, err := c.marshal(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			if got := firstSequenceNumber(bytes.NewReader(b), int64(len(b))); got != 7 {
				t.Errorf("sequence number %d, want the segment's 7", got)
			}
			back, err := parseFragments(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			for id, src := range orig {
				kept := back[id]
				if len(kept) == 0 || kept[0].DTS != src[0].DTS {
					t.Fatalf("track %d: base time %v, want %d", id, kept, src[0].DTS)
				}
				for i, s := range kept {
					o := src[i]
					if s.DTS != o.DTS || s.Duration != o.Duration || s.PTSOffset != o.PTSOffset || s.Sync != o.Sync ||
						!bytes.Equal(b[s.Offset:s.Offset+int64(s.Size)], file[o.Offset:o.Offset+int64(o.Size)]) {
						t.Fatalf("track %d sample %d: %+v, was %+v", id, i, s, o)
					}
				}
				// Nothing presented before the unpin is lost.
				for i := len(kept); i < len(src); i++ {
					if wall(id, src[i]).Before(tc.to) {
						t.Errorf("track %d: sample %d, presented at %v, before the unpin, dropped", id, i,
							wall(id, src[i]).Sub(seg.StartAt))
					}
				}
				// The last sample kept is presented before the unpin.
				if last := wall(id, kept[len(kept)-1]); !last.Before(tc.to) {
					t.Errorf("track %d: last sample presented at %v, the unpin at %v", id,
						last.Sub(seg.StartAt), tc.to.Sub(seg.StartAt))
				}
			}
			if len(back[1]) != tc.frames {
				t.Errorf("%d frames, want %d", len(back[1]), tc.frames)
			}
			if want := time.Duration(tc.frames) * time.Second / 30; c.duration != want {
				t.Errorf("duration %v, want %v", c.duration, want)
			}
		})
	}
}

// TestSequenceLastSegmentMatchesMP4: on a real recording, the sequence's
// HLS (its segments, the last one cut) holds the MP4 download's samples:
// the cut is the export's.
func TestSequenceLastSegmentMatchesMP4(t *testing.T) {
	testenv.RequireFFmpeg(t)
	e := newEnv(t, nil)
	e.start()
	_, rc := e.recorded(3)
	if len(rc.segs) < 3 {
		t.Fatalf("%d segments", len(rc.segs))
	}
	keepPresentation = true
	defer func() { keepPresentation = false }()
	in, err := e.rec.readInit(rc.sessions[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, ms := range []int{40, 433, 517, 900} {
		from, to := rc.segs[0].StartAt, rc.segs[1].StartAt.Add(time.Duration(ms)*time.Millisecond)
		clip := clipSegments(rc.segs, from, to)
		last := clip[len(clip)-1]
		m, err := e.rec.buildMP4(rc, clip, from, to)
		if err != nil {
			t.Fatal(err)
		}
		path, _ := e.rec.abs(last.Path)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		c, err := cutSegment(f, last, in, to)
		f.Close()
		if err != nil || c == nil {
			t.Fatalf("cut at %d ms: %v %v", ms, c, err)
		}
		lastFile := int32(len(m.files) - 1)
		for i, tr := range c.tracks {
			var want []sampleInfo
			for _, s := range m.src[i] {
				if s.file == lastFile {
					want = append(want, s.sampleInfo)
				}
			}
			if len(tr.samples) != len(want) {
				t.Fatalf("cut at %d ms, track %d: %d samples, the MP4 has %d", ms, tr.id, len(tr.samples), len(want))
			}
			for j := range want {
				if tr.samples[j] != want[j] {
					t.Fatalf("cut at %d ms, track %d sample %d: %+v, the MP4's %+v", ms, tr.id, j, tr.samples[j], want[j])
				}
			}
		}
		t.Logf("cut at %d ms into segment %d: %v, %d video samples", ms, last.Seq, c.duration, len(c.tracks[0].samples))
	}
}
