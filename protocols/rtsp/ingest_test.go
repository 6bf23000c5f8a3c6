package rtsp

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"

	"vitrine/internal/testenv"
	"vitrine/stream"
)

// TestFFmpegPublishTCP is the brief's reference publish: H.264 with
// B-frames and AAC, interleaved over the RTSP connection.
func TestFFmpegPublishTCP(t *testing.T) {
	testenv.RequireFFmpeg(t)
	t.Parallel()
	e := newEnv(t, envOptions{})
	rec := record(t, e.hub, testStream)

	const seconds = 4
	args := append(testenv.DefaultSource(seconds).Args(), ffmpegOut("tcp", e.url(testKey))...)
	if err, stderr := testenv.Start(t, args...).Wait(30 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, stderr)
	}
	rec.settle()
	units, tracks := rec.snapshot()
	checkMedia(t, units, tracks, "AAC", seconds)
	if logs := e.logs.String(); strings.Contains(logs, testKey) {
		t.Errorf("the stream key was logged in full:\n%s", logs)
	}
	waitLog(t, e.logs, "rtsp publisher disconnected", 2*time.Second)
}

// TestFFmpegPublishUDPOpus publishes over UDP, with Opus audio.
func TestFFmpegPublishUDPOpus(t *testing.T) {
	testenv.RequireFFmpeg(t)
	t.Parallel()
	e := newEnv(t, envOptions{})
	rec := record(t, e.hub, "ok-udp")

	const seconds = 4
	args := testenv.DefaultSource(seconds).Args()
	for i, a := range args {
		if a == "aac" {
			args[i] = "libopus"
		}
	}
	args = append(args, ffmpegOut("udp", e.url("ok-udp"))...)
	push := testenv.Start(t, args...)
	// Read it back meanwhile, over UDP too: Opus packetization.
	waitOnline(t, e.hub, "ok-udp", 10*time.Second)
	res, err := readClient(e.url("ok-udp"), gortsplib.TransportUDP, 1500*time.Millisecond)
	if err != nil {
		t.Errorf("read: %v", err)
	} else if res.packets["Opus"] < 50 || res.packets["H264"] < 50 {
		t.Errorf("read packets %v", res.packets)
	}
	if err, stderr := push.Wait(30 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, stderr)
	}
	rec.settle()
	units, tracks := rec.snapshot()
	checkMedia(t, units, tracks, "Opus", seconds)
	waitLog(t, e.logs, "transport=UDP", time.Second)
}

// TestFFmpegPublishLATM publishes AAC as MP4A-LATM (ffmpeg -rtpflags latm),
// audio only.
func TestFFmpegPublishLATM(t *testing.T) {
	testenv.RequireFFmpeg(t)
	t.Parallel()
	e := newEnv(t, envOptions{})
	rec := record(t, e.hub, "ok-latm")

	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "2",
		"-c:a", "aac", "-ar", "48000", "-ac", "2", "-rtpflags", "latm"}
	args = append(args, ffmpegOut("tcp", e.url("ok-latm"))...)
	if err, stderr := testenv.Start(t, args...).Wait(20 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, stderr)
	}
	rec.settle()
	units, tracks := rec.snapshot()
	if len(tracks) != 1 {
		t.Fatalf("tracks = %v, want AAC only", tracks)
	}
	a, ok := tracks[0].Codec.(*stream.MPEG4Audio)
	if !ok || a.Config.SampleRate != 48000 || a.Config.ChannelCount != 2 {
		t.Fatalf("track = %v, want AAC 48 kHz stereo", tracks[0].Codec)
	}
	if len(units) < 70 || len(units) > 110 {
		t.Errorf("audio units = %d, want about 94", len(units))
	}
	for i := 1; i < len(units); i++ {
		if d := units[i].dts - units[i-1].dts; d <= 0 || d > 30*time.Millisecond {
			t.Fatalf("unit %d: DTS step %v, want 21.3ms", i, d)
		}
	}
	waitLog(t, e.logs, "AAC-LATM", time.Second)
}

// TestFFmpegPublishRefused: a wrong key or a stream that is not live is
// refused at ANNOUNCE with 403 and the reason, once (no credential prompt
// loop), and nothing reaches the hub.
func TestFFmpegPublishRefused(t *testing.T) {
	testenv.RequireFFmpeg(t)
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, c := range []struct{ key, reason string }{
		{"wrong-key", "stream key not recognised"},
		{"not-live", "stream is not open for publishing"},
	} {
		args := append(testenv.DefaultSource(1).Args(), ffmpegOut("tcp", e.url(c.key))...)
		err, stderr := testenv.Start(t, args...).Wait(15 * time.Second)
		if err == nil {
			t.Fatalf("%s: ffmpeg succeeded", c.key)
		}
		if !strings.Contains(stderr, "403") || !strings.Contains(stderr, c.reason) {
			t.Errorf("%s: ffmpeg said:\n%s", c.key, stderr)
		}
	}
	if n := len(e.hub.Streams()); n != 0 {
		t.Errorf("%d streams in the hub after refusals", n)
	}
	if logs := e.logs.String(); strings.Contains(logs, "wrong-key") {
		t.Errorf("a refused key was logged in full:\n%s", logs)
	}
	// One refusal per attempt: ffmpeg was not asked for credentials.
	if n := strings.Count(e.logs.String(), "rtsp request refused"); n != 2 {
		t.Errorf("%d refusals logged, want 2", n)
	}
}

// statusOf returns the RTSP status of a client error.
func statusOf(err error) (base.StatusCode, string) {
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) {
		return bad.Code, bad.Message
	}
	return 0, ""
}

// TestPublishBadRequests: wrong paths and unusable tracks get a clear
// status from an in-process client.
func TestPublishBadRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	h264 := &description.Session{Medias: []*description.Media{{
		Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}},
	}}}
	pcma := &description.Session{Medias: []*description.Media{{
		Type: description.MediaTypeAudio, Formats: []format.Format{&format.G711{PayloadTyp: 8, MULaw: false, SampleRate: 8000, ChannelCount: 1}},
	}}}
	for _, c := range []struct {
		name   string
		url    string
		desc   *description.Session
		status base.StatusCode
		reason string
	}{
		{"no app", "rtsp://" + e.srv.Addr().String() + "/" + testKey, h264, base.StatusNotFound, "/live/{stream_key}"},
		{"other app", "rtsp://" + e.srv.Addr().String() + "/app/" + testKey, h264, base.StatusNotFound, "/live/{stream_key}"},
		{"wrong key", e.url("nope"), h264, base.StatusForbidden, "not recognised"},
		{"no usable track", e.url("ok-pcma"), pcma, base.StatusUnsupportedMediaType, "no H.264, AAC or Opus track"},
	} {
		client := gortsplib.Client{}
		err := client.StartRecording(c.url, c.desc)
		client.Close()
		if st, msg := statusOf(err); st != c.status || !strings.Contains(msg, c.reason) {
			t.Errorf("%s: %v, want %d (%s)", c.name, err, c.status, c.reason)
		}
	}
	if logs := e.logs.String(); strings.Contains(logs, testKey) {
		t.Errorf("a key in a wrong path was logged in full:\n%s", logs)
	}
	if n := len(e.hub.Streams()); n != 0 {
		t.Errorf("%d streams in the hub after refusals", n)
	}
}
