package rtmp

import (
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"vitrine/internal/testenv"
	"vitrine/stream"
)

// checkMedia asserts what every reader of an ffmpeg publish must see.
func checkMedia(t *testing.T, units []got, tracks []*stream.Track) {
	t.Helper()
	if len(tracks) != 2 {
		t.Fatalf("tracks = %d, want video and audio", len(tracks))
	}
	v, ok := tracks[0].Codec.(*stream.H264)
	if !ok {
		t.Fatalf("track 0 is %v, want H264", tracks[0].Codec)
	}
	if w, h, _ := v.Dimensions(); w != 640 || h != 360 {
		t.Errorf("video %dx%d, want 640x360", w, h)
	}
	a, ok := tracks[1].Codec.(*stream.MPEG4Audio)
	if !ok {
		t.Fatalf("track 1 is %v, want AAC", tracks[1].Codec)
	}
	if a.Config.SampleRate != 48000 || a.Config.ChannelCount != 2 {
		t.Errorf("audio %d Hz %d ch, want 48000 Hz 2 ch", a.Config.SampleRate, a.Config.ChannelCount)
	}

	var nVideo, nAudio, keys, reordered int
	var last [2]*got
	for i := range units {
		u := &units[i]
		slot := 1
		if u.video {
			slot = 0
			nVideo++
		} else {
			nAudio++
			if !u.key {
				t.Fatalf("audio unit %d not a key", i)
			}
		}
		if u.pts < u.dts {
			t.Fatalf("unit %d: PTS %v < DTS %v", i, u.pts, u.dts)
		}
		if u.ntp.IsZero() || u.ntp.Sub(u.at).Abs() > 3*time.Second {
			t.Fatalf("unit %d: NTP %v, received at %v", i, u.ntp, u.at)
		}
		if p := last[slot]; p != nil {
			if u.dts < p.dts || (u.video && u.dts == p.dts) {
				t.Fatalf("unit %d: DTS %v after %v (video %v)", i, u.dts, p.dts, u.video)
			}
			if u.video && u.pts < p.pts {
				reordered++
			}
		} else if u.video && !u.key {
			t.Fatalf("first video unit is not a keyframe")
		}
		last[slot] = u
		if u.video && u.key {
			keys++
			var sps, pps, idr bool
			for _, n := range u.payload {
				switch h264.NALUType(n[0] & 0x1f) {
				case h264.NALUTypeSPS:
					sps = true
				case h264.NALUTypePPS:
					pps = true
				case h264.NALUTypeIDR:
					idr = true
				}
			}
			if !sps || !pps || !idr {
				t.Fatalf("keyframe %d: SPS %v PPS %v IDR %v", i, sps, pps, idr)
			}
		}
	}
	t.Logf("%d video units (%d keyframes, %d reordered), %d audio units", nVideo, keys, reordered, nAudio)
	if nVideo < 50 || nAudio < 80 {
		t.Errorf("too few units: %d video, %d audio", nVideo, nAudio)
	}
	if keys < 2 {
		t.Errorf("keyframes = %d, want one per second", keys)
	}
	if reordered == 0 {
		t.Errorf("no B-frames: PTS never went back on video")
	}
}

func TestFFmpegPublish(t *testing.T) {
	testenv.RequireFFmpeg(t)
	t.Parallel()
	e := newEnv(t, envOptions{})
	rec := record(t, e.hub, testStream)

	push := testenv.Push(t, testenv.DefaultSource(3), e.url(testKey))
	if err, stderr := push.Wait(20 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, stderr)
	}
	rec.settle()
	units, _, _, tracks := rec.snapshot()
	checkMedia(t, units, tracks)
	if logs := e.logs.String(); containsAny(logs, testKey) {
		t.Errorf("the stream key was logged in full:\n%s", logs)
	}
}

// TestFFmpegExtendedTimestamps starts ffmpeg's clock past 0xFFFFFF ms, so
// every chunk header carries an extended timestamp and ffmpeg repeats it in
// each continuation chunk, which go-rtmp alone would read as payload.
func TestFFmpegExtendedTimestamps(t *testing.T) {
	testenv.RequireFFmpeg(t)
	t.Parallel()
	e := newEnv(t, envOptions{})
	rec := record(t, e.hub, testStream)
	args := append(testenv.DefaultSource(3).Args(), "-output_ts_offset", "17000", "-f", "flv", e.url(testKey))
	if err, stderr := testenv.Start(t, args...).Wait(20 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, stderr)
	}
	rec.settle()
	units, _, _, tracks := rec.snapshot()
	checkMedia(t, units, tracks)
}

// TestFFmpegVideoOnlyNoMetadata publishes one track without onMetaData: the
// session cannot know no audio is coming and publishes after trackWait,
// without losing the frames it held meanwhile.
func TestFFmpegVideoOnlyNoMetadata(t *testing.T) {
	testenv.RequireFFmpeg(t)
	t.Parallel()
	e := newEnv(t, envOptions{})
	rec := record(t, e.hub, testStream)
	src := testenv.DefaultSource(2)
	src.NoAudio = true
	args := append(src.Args(), "-flvflags", "no_metadata", "-f", "flv", e.url(testKey))
	if err, stderr := testenv.Start(t, args...).Wait(20 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, stderr)
	}
	rec.settle()
	units, _, _, tracks := rec.snapshot()
	if len(tracks) != 1 || !tracks[0].Codec.IsVideo() {
		t.Fatalf("tracks %v, want H264 only", tracks)
	}
	if len(units) < 55 || !units[0].key || units[0].dts != 0 {
		t.Fatalf("%d units, first key %v at %v: want all 60 frames from the first keyframe", len(units), units[0].key, units[0].dts)
	}
}

func TestFFmpegRefused(t *testing.T) {
	testenv.RequireFFmpeg(t)
	t.Parallel()
	e := newEnv(t, envOptions{})
	const wrongKey = "wrong-key-0123456789"

	for _, tc := range []struct {
		name, url, stderr, log string
	}{
		{"wrong key", e.url(wrongKey), "stream key not recognised", "wron…(20)"},
		{"wrong application", "rtmp://" + e.srv.Addr().String() + "/vod/" + testKey, "", "unknown application"},
		{"missing key", "rtmp://" + e.srv.Addr().String() + "/live", "", "missing stream key"},
	} {
		push := testenv.Push(t, testenv.DefaultSource(2), tc.url)
		err, stderr := push.Wait(10 * time.Second)
		if err == nil {
			t.Errorf("%s: ffmpeg succeeded", tc.name)
		}
		if tc.stderr != "" && !containsAny(stderr, tc.stderr) {
			t.Errorf("%s: ffmpeg did not print %q:\n%s", tc.name, tc.stderr, stderr)
		}
		if !containsAny(e.logs.String(), tc.log) {
			t.Errorf("%s: no log line with %q", tc.name, tc.log)
		}
	}
	if _, ok := e.hub.Get(testStream); ok {
		t.Error("a refused publisher created the stream")
	}
	if logs := e.logs.String(); containsAny(logs, wrongKey, testKey) {
		t.Errorf("a stream key was logged in full:\n%s", logs)
	}

	// Playback is not offered.
	play := testenv.Start(t, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", e.url(testKey), "-t", "1", "-f", "null", "-")
	if err, stderr := play.Wait(10 * time.Second); err == nil || !containsAny(stderr, "playback is not supported") {
		t.Errorf("play: err %v, stderr:\n%s", err, stderr)
	}
}

// TestFFmpegDoublePublish: a second encoder on a live stream is refused and
// the first one keeps publishing.
func TestFFmpegDoublePublish(t *testing.T) {
	testenv.RequireFFmpeg(t)
	t.Parallel()
	e := newEnv(t, envOptions{})
	rec := record(t, e.hub, testStream)
	first := testenv.Push(t, testenv.DefaultSource(4), e.url(testKey))
	rec.waitUnits(t, 30, 10*time.Second)

	second := testenv.Push(t, testenv.DefaultSource(2), e.url(testKey))
	err, stderr := second.Wait(10 * time.Second)
	if err == nil || !containsAny(stderr, "already has a publisher") {
		t.Fatalf("second publisher: err %v, stderr:\n%s", err, stderr)
	}
	n := rec.count()
	time.Sleep(500 * time.Millisecond)
	if rec.count() <= n {
		t.Fatal("the first publisher stopped when the second was refused")
	}
	if err, stderr := first.Wait(15 * time.Second); err != nil {
		t.Fatalf("first publisher: %v\n%s", err, stderr)
	}
	rec.settle()
	units, events, _, tracks := rec.snapshot()
	checkMedia(t, units, tracks)
	// (then closed, if the reconnect window ran out already)
	if len(events) < 2 || events[0] != stream.EventReady || events[1] != stream.EventOffline {
		t.Errorf("events %v, want ready then offline", events)
	}
}

// TestFFmpegReconnect: an encoder that comes back within the reconnect
// window continues the same stream, on the same timeline.
func TestFFmpegReconnect(t *testing.T) {
	testenv.RequireFFmpeg(t)
	t.Parallel()
	e := newEnv(t, envOptions{reconnectWindow: 5 * time.Second})
	rec := record(t, e.hub, testStream)
	for i := range 2 {
		if err, stderr := testenv.Push(t, testenv.DefaultSource(2), e.url(testKey)).Wait(20 * time.Second); err != nil {
			t.Fatalf("ffmpeg %d: %v\n%s", i, err, stderr)
		}
	}
	rec.settle()
	units, events, streams, tracks := rec.snapshot()
	want := []stream.EventKind{stream.EventReady, stream.EventOffline, stream.EventResumed, stream.EventOffline}
	if len(events) < len(want) {
		t.Fatalf("events %v, want %v", events, want)
	}
	for i := range want {
		if events[i] != want[i] || streams[i] != streams[0] {
			t.Fatalf("events %v on %v, want %v on one stream", events, streams, want)
		}
	}
	checkMedia(t, units, tracks) // DTS increase across the reconnection
	var video int
	for _, u := range units {
		if u.video {
			video++
		}
	}
	if video < 110 {
		t.Errorf("%d video units over two 2 s sessions", video)
	}
}

// TestStreamEndedByServer: ending the stream disconnects its encoder.
func TestStreamEndedByServer(t *testing.T) {
	testenv.RequireFFmpeg(t)
	t.Parallel()
	e := newEnv(t, envOptions{})
	rec := record(t, e.hub, testStream)
	push := testenv.Push(t, testenv.DefaultSource(10), e.url(testKey))
	rec.waitUnits(t, 20, 10*time.Second)
	start := time.Now()
	e.hub.End(testStream)
	if err, _ := push.Wait(5 * time.Second); err == nil {
		t.Fatal("ffmpeg kept going after the stream ended")
	}
	t.Logf("ffmpeg stopped %v after the end", time.Since(start).Round(time.Millisecond))
	if !containsAny(e.logs.String(), errStreamEnded.Error()) {
		t.Error("no log line for the end")
	}
}
