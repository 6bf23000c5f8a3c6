package aacopus

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"vitrine/internal/testenv"
)

// source is an AAC track made by ffmpeg from a sine: its configuration
// and frames.
type source struct {
	asc    *mpeg4audio.AudioSpecificConfig
	frames [][]byte
	dur    time.Duration // of one frame
}

func sineAAC(t *testing.T, rate, channels int, seconds float64) source {
	t.Helper()
	testenv.RequireFFmpeg(t)
	path := filepath.Join(t.TempDir(), "sine.aac")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "sine=frequency=440:sample_rate="+itoa(rate), "-ac", itoa(channels), "-t", ftoa(seconds),
		"-c:a", "aac", "-b:a", "128k", "-f", "adts", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pkts mpeg4audio.ADTSPackets
	if err := pkts.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	s := source{asc: &mpeg4audio.AudioSpecificConfig{Type: pkts[0].Type, SampleRate: pkts[0].SampleRate, ChannelCount: pkts[0].ChannelCount},
		dur: time.Duration(1024 * int64(time.Second) / int64(rate))}
	for _, p := range pkts {
		s.frames = append(s.frames, p.AU)
	}
	return s
}

// sink collects a transcoder's output.
type sink struct {
	mu     sync.Mutex
	frames []Frame
}

func (s *sink) add(f Frame) {
	s.mu.Lock()
	s.frames = append(s.frames, f)
	s.mu.Unlock()
}

func (s *sink) snapshot() []Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Frame(nil), s.frames...)
}

// waitFor polls until cond holds on the output, or fails.
func (s *sink) waitFor(t *testing.T, within time.Duration, what string, cond func([]Frame) bool) []Frame {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := s.snapshot()
		if cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (%d packets out)", what, within, len(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func start(t *testing.T, cfg Config, asc *mpeg4audio.AudioSpecificConfig) (*Transcoder, *sink) {
	t.Helper()
	out := &sink{}
	tr, err := New(cfg, asc, out.add)
	if err != nil {
		t.Fatal(err)
	}
	tr.Start()
	t.Cleanup(func() { _ = tr.Close() })
	return tr, out
}

// feed writes frames[from:to] with PTS from origin, paced at speed times
// real time. It fails when a Write blocks.
func feed(t *testing.T, tr *Transcoder, src source, from, to int, origin time.Duration, speed float64) {
	t.Helper()
	began := time.Now()
	for i := from; i < to; i++ {
		w := time.Now()
		tr.Write(origin+time.Duration(i-from)*src.dur, src.frames[i%len(src.frames)])
		if d := time.Since(w); d > 50*time.Millisecond {
			t.Fatalf("Write blocked for %v", d)
		}
		if speed > 0 {
			due := began.Add(time.Duration(float64(time.Duration(i-from+1)*src.dur) / speed))
			time.Sleep(time.Until(due))
		}
	}
}

// checkContinuous: packets follow each other without gap or overlap.
func checkContinuous(t *testing.T, frames []Frame) {
	t.Helper()
	for i := 1; i < len(frames); i++ {
		want := frames[i-1].PTS + time.Duration(frames[i-1].Samples)*time.Second/48000
		if d := frames[i].PTS - want; d < -time.Millisecond || d > time.Millisecond {
			t.Fatalf("packet %d at %v, want %v (previous %v)", i, frames[i].PTS, want, frames[i-1].PTS)
		}
	}
}

func TestTranscodeKeepsTheTimeline(t *testing.T) {
	for _, c := range []struct {
		rate, channels int
	}{{48000, 2}, {44100, 2}, {44100, 1}} {
		t.Run(itoa(c.rate)+"x"+itoa(c.channels), func(t *testing.T) {
			src := sineAAC(t, c.rate, c.channels, 3)
			tr, out := start(t, Config{}, src.asc)
			origin := 5 * time.Second
			feed(t, tr, src, 0, len(src.frames), origin, 4)
			inEnd := origin + time.Duration(len(src.frames))*src.dur
			// ffmpeg holds the last frames until more come: all but about
			// 100 ms of the input comes out.
			got := out.waitFor(t, 10*time.Second, "the transcoded audio", func(f []Frame) bool {
				return len(f) > 0 && inEnd-f[len(f)-1].PTS < 120*time.Millisecond
			})
			checkContinuous(t, got)
			// The first packet starts where the input did, less libopus's
			// look-ahead (its pre-skip).
			if d := got[0].PTS - origin; d > 0 || d < -10*time.Millisecond {
				t.Errorf("first packet at %v, input at %v", got[0].PTS, origin)
			}
			size := 0
			for _, f := range got {
				size += len(f.Data)
			}
			// 96 kbit/s of a sine, not silence (a few bytes a packet).
			if avg := size / len(got); avg < 100 {
				t.Errorf("Opus packets of %d bytes on average: silence?", avg)
			}
			if st := tr.Stats(); st.Restarts != 0 || st.Dropped != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestNewTimeline: audio that jumps (a publisher reconnects) restarts
// the process on the new origin, without counting a failure.
func TestNewTimeline(t *testing.T) {
	src := sineAAC(t, 48000, 2, 2)
	tr, out := start(t, Config{}, src.asc)
	feed(t, tr, src, 0, 40, 0, 4)
	jump := 30 * time.Second
	feed(t, tr, src, 40, 90, jump, 4)
	got := out.waitFor(t, 10*time.Second, "audio after the jump", func(f []Frame) bool {
		return len(f) > 0 && f[len(f)-1].PTS > jump+500*time.Millisecond
	})
	var after []Frame
	for _, f := range got {
		if f.PTS > 10*time.Second {
			after = append(after, f)
		}
	}
	if d := after[0].PTS - jump; d > 0 || d < -10*time.Millisecond {
		t.Errorf("first packet after the jump at %v, want about %v", after[0].PTS, jump)
	}
	checkContinuous(t, after)
	if st := tr.Stats(); st.Restarts != 0 {
		t.Errorf("a new timeline counted as a failure: %+v", st)
	}
}

// TestRecoversFromCrashAndGarbage: a killed process and frames of
// garbage cost the audio a moment; the output comes back on the input's
// timeline, and Write never blocks meanwhile.
func TestRecoversFromCrashAndGarbage(t *testing.T) {
	src := sineAAC(t, 48000, 2, 2)
	tr, out := start(t, Config{Logger: testLogger(t)}, src.asc)
	garbage := bytes.Repeat([]byte{0x5a, 0xa5, 0xff, 0x00, 0x13}, 60)
	var pts time.Duration
	step := func(n int, frame func(i int) []byte) {
		for i := range n {
			tr.Write(pts, frame(i))
			pts += src.dur
			time.Sleep(src.dur / 2) // twice real time
		}
	}
	good := func(i int) []byte { return src.frames[i%len(src.frames)] }
	step(40, good)
	if !tr.kill() {
		t.Fatal("no process to kill")
	}
	step(80, good)
	killedAt := pts
	out.waitFor(t, 5*time.Second, "audio after ffmpeg was killed", func(f []Frame) bool {
		return len(f) > 0 && f[len(f)-1].PTS > killedAt-time.Second
	})
	step(20, func(int) []byte { return garbage })
	step(150, good)
	end := pts
	got := out.waitFor(t, 5*time.Second, "audio after garbage", func(f []Frame) bool {
		return len(f) > 0 && end-f[len(f)-1].PTS < 150*time.Millisecond
	})
	// The last second is continuous and ends where the input does: no
	// packet is stamped off its input's time.
	var tail []Frame
	for _, f := range got {
		if f.PTS > end-time.Second {
			tail = append(tail, f)
		}
	}
	checkContinuous(t, tail)
	if st := tr.Stats(); st.Restarts < 1 {
		t.Errorf("stats %+v: the kill was not seen", st)
	}
}

// TestHungProcessIsReplaced: an ffmpeg that reads nothing and answers
// nothing is killed and started again; Write never waits for it.
func TestHungProcessIsReplaced(t *testing.T) {
	dir := t.TempDir()
	hang := filepath.Join(dir, "ffmpeg")
	if err := os.WriteFile(hang, []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	asc := &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 2}
	tr, _ := start(t, Config{FFmpeg: hang, Logger: testLogger(t)}, asc)
	frame := bytes.Repeat([]byte{1}, 400)
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; tr.Stats().Restarts == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("the hung process was not replaced: %+v", tr.Stats())
		}
		w := time.Now()
		tr.Write(time.Duration(i)*20*time.Millisecond, frame)
		if d := time.Since(w); d > 50*time.Millisecond {
			t.Fatalf("Write blocked for %v", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMissingFFmpeg(t *testing.T) {
	err := Probe(t.Context(), filepath.Join(t.TempDir(), "no-ffmpeg"))
	if err == nil || !errorsIs(err, ErrUnavailable) {
		t.Fatalf("Probe: %v", err)
	}
	asc := &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 44100, ChannelCount: 2}
	tr, _ := start(t, Config{FFmpeg: filepath.Join(t.TempDir(), "no-ffmpeg"), Logger: testLogger(t)}, asc)
	for i := range 200 {
		tr.Write(time.Duration(i)*23*time.Millisecond, []byte{1, 2, 3})
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestProbe(t *testing.T) {
	testenv.RequireFFmpeg(t)
	if err := Probe(t.Context(), ""); err != nil {
		t.Fatalf("Debian's ffmpeg has libopus: %v", err)
	}
}

func TestNewRefusesWhatADTSCannotCarry(t *testing.T) {
	for _, asc := range []*mpeg4audio.AudioSpecificConfig{
		nil,
		{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 12345, ChannelCount: 2},
		{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 0},
		{Type: 23, SampleRate: 48000, ChannelCount: 2}, // ER AAC LD
	} {
		if _, err := New(Config{}, asc, func(Frame) {}); err == nil {
			t.Errorf("New accepted %+v", asc)
		}
	}
}

// TestDelay measures what the transcoder adds to the audio's latency, fed
// in real time as a live source is.
func TestDelay(t *testing.T) {
	src := sineAAC(t, 44100, 2, 5)
	tr, out := start(t, Config{}, src.asc)
	feed(t, tr, src, 0, len(src.frames), 0, 1)
	out.waitFor(t, 5*time.Second, "output", func(f []Frame) bool { return len(f) > 200 })
	st := tr.Stats()
	cpu := "unknown"
	if p := tr.current(); p != nil {
		if c, ok := processCPU(p.cmd.Process.Pid); ok {
			cpu = fmt.Sprintf("%.1f%% of a core", 100*c.Seconds()/5)
		}
	}
	t.Logf("AAC 44.1 kHz stereo to Opus 96 kbit/s: %d frames in, %d packets out; delay p50 %v, p95 %v; ffmpeg CPU %s",
		st.FramesIn, st.FramesOut, st.DelayP50, st.DelayP95, cpu)
	if st.DelayP50 <= 0 || st.DelayP95 < st.DelayP50 {
		t.Errorf("delays not measured: %+v", st)
	}
}
