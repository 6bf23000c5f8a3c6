package server

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"vitrine/configs"
	"vitrine/internal/browser"
	"vitrine/internal/hlsprobe"
	"vitrine/internal/testenv"
)

// The live edge of LL-HLS on the PROGRAM-DATE-TIME clock, sampled from
// outside the way the issue measured it: every clockEvery from the first
// playlist on, the last PROGRAM-DATE-TIME plus the durations of the
// segment and parts after it, against the wall clock at the request.
const (
	clockEvery = 500 * time.Millisecond
	// clockFor is how long each ingest is sampled; a reconnection adds
	// clockReconnectFor, the reconnection at clockReconnectAt.
	clockFor          = 8 * time.Second
	clockReconnectAt  = 3 * time.Second
	clockReconnectFor = 4 * time.Second
	// Overlay events are stamped with the wall clock: an edge ahead of it
	// shows a pin before the host holds the product up. A player keeps
	// its latency on the edge, so the edge must also not lag.
	maxEdgeAhead    = 100 * time.Millisecond
	maxMedianBehind = 300 * time.Millisecond
)

// clockIngest is one way a live reaches the server.
type clockIngest struct {
	name string
	// via: "rtmp", "rtsp-tcp", "rtsp-udp" (ffmpeg) or "whip" (Chromium).
	via string
	// input returns ffmpeg's input and encoding arguments.
	input func(f clockFiles) []string
	// reconnect: the publisher leaves and comes back on the same key
	// within the reconnect window while the edge is sampled.
	reconnect bool
}

// clockFiles are the shows pushed as they are (-re -c copy).
type clockFiles struct{ mp4, mkv string }

// liveEncoder is ffmpeg encoding a synthetic show in real time, small so
// that several run at once on a 2-core machine.
func liveEncoder(audio string) func(clockFiles) []string {
	src := testenv.Source{Seconds: 30, Width: 320, Height: 180, FPS: 30, GOP: 30, BFrames: 2,
		NoAudio: audio == "", Opus: audio == "opus"}
	return func(clockFiles) []string { return src.Args() }
}

func fromFile(pick func(clockFiles) string) func(clockFiles) []string {
	return func(f clockFiles) []string {
		return []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-i", pick(f), "-c", "copy"}
	}
}

var (
	mp4File = fromFile(func(f clockFiles) string { return f.mp4 })
	mkvFile = fromFile(func(f clockFiles) string { return f.mkv })
)

// TestIngestClock: whatever the ingest (RTMP, RTSP over TCP and UDP with
// AAC, Opus or no audio, WHIP from Chromium), from a live encoder or a file
// pushed as is, at the start and across a reconnection, the
// PROGRAM-DATE-TIME of the LL-HLS live edge follows the wall clock: sampled
// every 0.5 s from the first playlist on, it is never more than 100 ms
// ahead of it and its median is within 300 ms behind it.
func TestIngestClock(t *testing.T) {
	testenv.RequireFFmpeg(t)
	files := makeClockFiles(t)
	ingests := []clockIngest{
		{name: "rtmp/live", via: "rtmp", input: liveEncoder("aac")},
		{name: "rtmp/file-mp4", via: "rtmp", input: mp4File},
		{name: "rtmp/live/reconnect", via: "rtmp", input: liveEncoder("aac"), reconnect: true},
		{name: "rtmp/file-mp4/reconnect", via: "rtmp", input: mp4File, reconnect: true},
		{name: "rtsp-tcp/live-aac", via: "rtsp-tcp", input: liveEncoder("aac")},
		{name: "rtsp-tcp/live-opus", via: "rtsp-tcp", input: liveEncoder("opus")},
		{name: "rtsp-tcp/live-video", via: "rtsp-tcp", input: liveEncoder("")},
		{name: "rtsp-tcp/file-mp4", via: "rtsp-tcp", input: mp4File},
		{name: "rtsp-tcp/file-mkv-opus", via: "rtsp-tcp", input: mkvFile},
		{name: "rtsp-udp/live-aac", via: "rtsp-udp", input: liveEncoder("aac")},
		{name: "rtsp-udp/live-opus", via: "rtsp-udp", input: liveEncoder("opus")},
		{name: "rtsp-udp/live-video", via: "rtsp-udp", input: liveEncoder("")},
		{name: "rtsp-udp/file-mp4", via: "rtsp-udp", input: mp4File},
		{name: "rtsp-udp/file-mkv-opus", via: "rtsp-udp", input: mkvFile},
		{name: "rtsp-tcp/live-aac/reconnect", via: "rtsp-tcp", input: liveEncoder("aac"), reconnect: true},
		{name: "rtsp-tcp/live-opus/reconnect", via: "rtsp-tcp", input: liveEncoder("opus"), reconnect: true},
		{name: "rtsp-tcp/live-video/reconnect", via: "rtsp-tcp", input: liveEncoder(""), reconnect: true},
		{name: "rtsp-tcp/file-mkv-opus/reconnect", via: "rtsp-tcp", input: mkvFile, reconnect: true},
	}
	for _, in := range ingests {
		t.Run(in.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, func(cfg *configs.Config) {
				if in.via == "rtsp-udp" {
					rtp := freeUDPPair(t)
					cfg.RTSP.UDPRTP, cfg.RTSP.UDPRTCP = fmt.Sprintf("127.0.0.1:%d", rtp), fmt.Sprintf("127.0.0.1:%d", rtp+1)
				}
			})
			push := func() func() {
				p := testenv.Start(t, append(in.input(files), pushOutput(s, in.via)...)...)
				return p.Stop
			}
			checkClock(t, s, push, in.reconnect)
		})
	}
	// One Chromium publishes, live and then across a reconnection.
	t.Run("whip", func(t *testing.T) {
		t.Parallel()
		b := browser.Launch(t, browser.WithFakeMedia())
		for _, reconnect := range []bool{false, true} {
			t.Run(map[bool]string{false: "live", true: "reconnect"}[reconnect], func(t *testing.T) {
				s := startServer(t, nil)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				p, err := b.NewPage(ctx, "http://"+s.HTTPAddr().String()+"/healthz")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = p.Close() })
				push := func() func() {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					var res browser.WHIPResult
					url := "http://" + s.HTTPAddr().String() + "/whip/demo"
					if err := p.Eval(ctx, browser.WHIPPublishJS(url, testKey), &res); err != nil || res.Status != 201 {
						t.Errorf("WHIP publish: %v %+v\n%s", err, res, strings.Join(p.Console(), "\n"))
					}
					return func() {
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						defer cancel()
						var out any
						if err := p.Eval(ctx, browser.WHIPStopJS, &out); err != nil {
							t.Errorf("WHIP stop: %v", err)
						}
					}
				}
				checkClock(t, s, push, reconnect)
			})
		}
	})
}

// pushOutput is ffmpeg's output part for an ingest.
func pushOutput(s *Server, via string) []string {
	rtsp := fmt.Sprintf("rtsp://%s/live/%s", s.RTSPAddr(), testKey)
	switch via {
	case "rtmp":
		return []string{"-f", "flv", s.rtmpURL(testKey)}
	case "rtsp-tcp":
		return []string{"-f", "rtsp", "-rtsp_transport", "tcp", rtsp}
	case "rtsp-udp":
		return []string{"-f", "rtsp", "-rtsp_transport", "udp", rtsp}
	}
	panic("unknown ingest " + via)
}

// checkClock starts a publisher with push (which returns how to stop it),
// samples the live edge and checks it against the wall clock.
func checkClock(t *testing.T, s *Server, push func() (stop func()), reconnect bool) {
	t.Helper()
	stop := push()
	probe := &hlsprobe.Client{Index: s.hlsURL("demo")}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The first playlist: polled closely, so that the first seconds of the
	// live are sampled.
	deadline := time.Now().Add(20 * time.Second)
	var lags []time.Duration
	for len(lags) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no dated playlist within 20 s")
		}
		if lag, dated, err := probe.Lag(ctx); err == nil && dated {
			lags = append(lags, lag)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	first := time.Now()
	total := clockFor
	if reconnect {
		total += clockReconnectFor
	}
	// The samples are taken on their own goroutine, the reconnection on
	// the test's.
	var errs int
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for tick := clockEvery; tick <= total; tick += clockEvery {
			time.Sleep(time.Until(first.Add(tick)))
			lag, dated, err := probe.Lag(ctx)
			switch {
			case err != nil:
				errs++
				t.Logf("sample at %v: %v", tick, err)
			case dated:
				lags = append(lags, lag)
			}
		}
	}()
	if reconnect {
		time.Sleep(time.Until(first.Add(clockReconnectAt)))
		stop()
		// The same key is refused while the server still holds the
		// previous session.
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if st, ok := s.Hub().Get("demo"); ok && !st.Online() {
				break
			}
		}
		push()
	}
	<-sampled
	if errs > 2 {
		t.Errorf("%d playlist requests failed", errs)
	}
	reportLags(t, lags)
}

// reportLags logs the samples and checks them.
func reportLags(t *testing.T, lags []time.Duration) {
	t.Helper()
	if len(lags) < 8 {
		t.Fatalf("%d dated samples", len(lags))
	}
	ms := make([]string, len(lags))
	for i, l := range lags {
		ms[i] = fmt.Sprint(l.Milliseconds())
	}
	sorted := slices.Sorted(slices.Values(lags))
	ahead, median := -sorted[0], sorted[len(sorted)/2]
	t.Logf("live edge behind the wall clock (ms), every %v from the first playlist: %s; median %v, most ahead %v",
		clockEvery, strings.Join(ms, " "), median.Round(time.Millisecond), ahead.Round(time.Millisecond))
	if ahead > maxEdgeAhead {
		t.Errorf("the live edge ran %v ahead of the wall clock (at most %v)", ahead.Round(time.Millisecond), maxEdgeAhead)
	}
	if median > maxMedianBehind {
		t.Errorf("the live edge ran %v behind the wall clock in the median (at most %v)", median.Round(time.Millisecond), maxMedianBehind)
	}
}

// makeClockFiles encodes the shows pushed from a file: H.264 (with
// B-frames) and AAC in MP4, H.264 and Opus in Matroska.
func makeClockFiles(t *testing.T) clockFiles {
	dir := t.TempDir()
	f := clockFiles{mp4: filepath.Join(dir, "show.mp4"), mkv: filepath.Join(dir, "show.mkv")}
	for _, out := range []struct {
		path  string
		audio []string
	}{
		{f.mp4, []string{"-c:a", "aac", "-b:a", "128k"}},
		{f.mkv, []string{"-c:a", "libopus", "-b:a", "64k"}},
	} {
		args := []string{"-hide_banner", "-loglevel", "error", "-nostdin",
			"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
			"-t", "20", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
			"-bf", "2", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0"}
		args = append(append(args, out.audio...), "-ar", "48000", "-ac", "2", "-y", out.path)
		p := testenv.Start(t, args...)
		if err, stderr := p.Wait(60 * time.Second); err != nil {
			t.Fatalf("encode %s: %v\n%s", out.path, err, stderr)
		}
	}
	return f
}

// freeUDPPair returns an even port P such that P and P+1 are free on
// loopback, as the RTSP server wants for RTP and RTCP.
func freeUDPPair(t *testing.T) int {
	t.Helper()
	for range 100 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port &^ 1
		pc.Close()
		a, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		b, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port+1))
		a.Close()
		if err != nil {
			continue
		}
		b.Close()
		return port
	}
	t.Fatal("no free UDP port pair")
	return 0
}
