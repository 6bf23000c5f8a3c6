package rtsp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"vitrine/internal/testenv"
	"vitrine/stream"
	"vitrine/stream/streamtest"
)

const (
	testKey    = streamtest.TestKey
	testStream = streamtest.TestStream
)

// env is a hub and an RTSP server on loopback ports (TCP and UDP), with its
// logs captured.
type env struct {
	hub  *stream.Hub
	srv  *Server
	logs *testenv.LogBuffer
}

type envOptions struct {
	readTimeout time.Duration
	maxConns    int
	maxSessions int
	noUDP       bool
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	logs := &testenv.LogBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	hub, err := stream.NewHub(stream.Config{ReaderQueue: 1024, ReconnectWindow: 2 * time.Second, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	auth := streamtest.Authorizer("rtsp")
	cfg := Config{
		Listen: "127.0.0.1:0", Hub: hub, Auth: auth, Logger: logger,
		ReadTimeout: o.readTimeout, MaxConns: o.maxConns, MaxSessions: o.maxSessions,
		ReaderGrace: time.Second,
	}
	var srv *Server
	// A UDP pair found free can be taken by a parallel test before we bind
	// it: try a few.
	for attempt := 0; ; attempt++ {
		if !o.noUDP {
			rtpPort := freeUDPPair(t)
			cfg.UDPRTPAddr = fmt.Sprintf("127.0.0.1:%d", rtpPort)
			cfg.UDPRTCPAddr = fmt.Sprintf("127.0.0.1:%d", rtpPort+1)
		}
		if srv, err = New(cfg); err != nil {
			t.Fatal(err)
		}
		if err = srv.Start(); err == nil {
			break
		}
		srv.Close()
		if attempt == 5 {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		srv.Close()
		hub.Close()
		if t.Failed() {
			t.Logf("server logs:\n%s", logs.String())
		}
	})
	return &env{hub: hub, srv: srv, logs: logs}
}

func (e *env) url(name string) string {
	return fmt.Sprintf("rtsp://%s/live/%s", e.srv.Addr(), name)
}

// freeUDPPair returns an even port P such that P and P+1 are free on
// loopback, as gortsplib wants for RTP and RTCP.
func freeUDPPair(t *testing.T) int {
	t.Helper()
	for range 100 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := pc.LocalAddr().(*net.UDPAddr).Port
		_ = pc.Close()
		if p%2 != 0 || p > 65000 {
			continue
		}
		pc1, err1 := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
		pc2, err2 := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p+1))
		if pc1 != nil {
			_ = pc1.Close()
		}
		if pc2 != nil {
			_ = pc2.Close()
		}
		if err1 == nil && err2 == nil {
			return p
		}
	}
	t.Fatal("no free UDP port pair")
	return 0
}

// waitLog waits until the logs contain s (a log line may follow the event
// it reports by a few microseconds).
func waitLog(t *testing.T, logs *testenv.LogBuffer, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(logs.String(), s) {
		if time.Now().After(deadline) {
			t.Errorf("no log line with %q", s)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// got is a unit as a hub reader received it.
type got struct {
	track    int
	video    bool
	key      bool
	dts, pts time.Duration
	ntp      time.Time
	at       time.Time
	payload  [][]byte
}

// recorder reads stream id from every EventReady on, like a muxer would.
type recorder struct {
	mu      sync.Mutex
	units   []got
	tracks  []*stream.Track
	stopped bool
	wg      sync.WaitGroup
}

func record(t *testing.T, hub *stream.Hub, id string) *recorder {
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{}
	unlisten := hub.Listen(func(ev stream.Event) {
		if ev.Stream.ID() != id || ev.Kind != stream.EventReady {
			return
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if rec.stopped {
			return
		}
		r, err := ev.Stream.AddReader("test")
		if err != nil {
			return
		}
		tracks := ev.Stream.Tracks()
		rec.tracks = tracks
		rec.wg.Add(1)
		go func() {
			defer rec.wg.Done()
			_ = r.Run(ctx, func(u *stream.Unit) error {
				rec.mu.Lock()
				defer rec.mu.Unlock()
				rec.units = append(rec.units, got{
					track: u.Track, video: tracks[u.Track].Codec.IsVideo(), key: u.Key, dts: u.DTS, pts: u.PTS,
					ntp: u.NTP, at: time.Now(), payload: u.Payload,
				})
				return nil
			})
		}()
	})
	t.Cleanup(func() {
		unlisten()
		rec.mu.Lock()
		rec.stopped = true
		rec.mu.Unlock()
		cancel()
		rec.wg.Wait()
	})
	return rec
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.units)
}

func (r *recorder) snapshot() ([]got, []*stream.Track) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]got(nil), r.units...), r.tracks
}

// waitUnits waits until the recorder holds at least n units.
func (r *recorder) waitUnits(t *testing.T, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for r.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d units after %v, want %d", r.count(), d, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settle waits until no unit arrived for a while (the reader drained).
func (r *recorder) settle() {
	last := -1
	for n := r.count(); n != last; n = r.count() {
		last = n
		time.Sleep(300 * time.Millisecond)
	}
}

// waitOnline waits until stream id has a publisher.
func waitOnline(t *testing.T, hub *stream.Hub, id string, d time.Duration) *stream.Stream {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if st, ok := hub.Get(id); ok && st.Online() {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s not online after %v", id, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkMedia asserts what every reader of an ffmpeg publish of seconds
// seconds must see: the video track, then audio of the given kind.
func checkMedia(t *testing.T, units []got, tracks []*stream.Track, audio string, seconds float64) {
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
	switch audio {
	case "AAC":
		a, ok := tracks[1].Codec.(*stream.MPEG4Audio)
		if !ok {
			t.Fatalf("track 1 is %v, want AAC", tracks[1].Codec)
		}
		if a.Config.SampleRate != 48000 || a.Config.ChannelCount != 2 {
			t.Errorf("audio %d Hz %d ch, want 48000 Hz 2 ch", a.Config.SampleRate, a.Config.ChannelCount)
		}
	case "Opus":
		if _, ok := tracks[1].Codec.(*stream.Opus); !ok {
			t.Fatalf("track 1 is %v, want Opus", tracks[1].Codec)
		}
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
			checkKeyframe(t, i, u.payload)
		}
	}
	t.Logf("%d video units (%d keyframes, %d reordered), %d audio units", nVideo, keys, reordered, nAudio)
	// 30 fps; AAC 48000/1024 = 47 frames/s, Opus 50/s. The first GOP may
	// be lost to the setup, and ffmpeg's -t cuts loosely.
	if want := int(30 * (seconds - 1)); nVideo < want || nVideo > int(30*(seconds+1)) {
		t.Errorf("video units = %d, want about %d", nVideo, int(30*seconds))
	}
	if want := int(45 * (seconds - 1)); nAudio < want || nAudio > int(50*(seconds+1)) {
		t.Errorf("audio units = %d, want about %d", nAudio, int(47*seconds))
	}
	if keys < int(seconds)-1 {
		t.Errorf("keyframes = %d, want one per second", keys)
	}
	if reordered == 0 {
		t.Errorf("no B-frames: PTS never went back on video")
	}
}

// checkKeyframe asserts that a keyframe carries its parameter sets.
func checkKeyframe(t *testing.T, i int, au [][]byte) {
	t.Helper()
	var sps, pps, idr bool
	for _, n := range au {
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

// ffmpegOut returns ffmpeg's output arguments to publish over RTSP.
func ffmpegOut(transport, url string) []string {
	return []string{"-f", "rtsp", "-rtsp_transport", transport, url}
}

var (
	sampleOnce sync.Once
	sampleAUs  [][][]byte
	sampleErr  error
)

// sampleH264 returns two seconds of 320x240 H.264 at 30 fps without
// B-frames, a keyframe every second, one access unit per element, encoded
// once per test binary by ffmpeg. In-process clients publish it.
func sampleH264(t testing.TB) [][][]byte {
	t.Helper()
	sampleOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rtsp-sample")
		if err != nil {
			sampleErr = err
			return
		}
		defer os.RemoveAll(dir)
		file := filepath.Join(dir, "s.h264")
		out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
			"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "2",
			"-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "30", "-keyint_min", "30",
			"-sc_threshold", "0", "-pix_fmt", "yuv420p", "-f", "h264", file).CombinedOutput()
		if err != nil {
			sampleErr = fmt.Errorf("ffmpeg: %v: %s", err, out)
			return
		}
		b, err := os.ReadFile(file)
		if err != nil {
			sampleErr = err
			return
		}
		var annexb h264.AnnexB
		if err := annexb.Unmarshal(b); err != nil {
			sampleErr = err
			return
		}
		// libx264 writes one slice per picture: an access unit ends with
		// its VCL NAL unit.
		var au [][]byte
		for _, n := range annexb {
			au = append(au, n)
			if typ := h264.NALUType(n[0] & 0x1f); typ == h264.NALUTypeIDR || typ == h264.NALUTypeNonIDR {
				sampleAUs = append(sampleAUs, au)
				au = nil
			}
		}
	})
	if sampleErr != nil {
		t.Fatal(sampleErr)
	}
	return sampleAUs
}

// splitParams returns an access unit without its SPS and PPS, and them.
func splitParams(au [][]byte) (rest [][]byte, sps, pps []byte) {
	for _, n := range au {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			sps = n
		case h264.NALUTypePPS:
			pps = n
		default:
			rest = append(rest, n)
		}
	}
	return rest, sps, pps
}

// ourGoroutines lists the goroutines of gortsplib or of this package's
// server (not of tests), as stack dumps.
func ourGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "testing.tRunner") || strings.Contains(g, "_test.go") {
			continue
		}
		if strings.Contains(g, "gortsplib") || strings.Contains(g, "vitrine/protocols/rtsp.") {
			out = append(out, g)
		}
	}
	return out
}

// waitNoGoroutines fails when goroutines of the server remain after d.
func waitNoGoroutines(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := ourGoroutines()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
