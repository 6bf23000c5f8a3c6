package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"vitrine/configs"
	"vitrine/internal/hlsprobe"
	"vitrine/internal/testenv"
)

const testKey = "test-key-0123456789"

// startServer runs a real Vitrine on free loopback ports with stream "demo".
func startServer(t *testing.T, mutate func(*configs.Config)) *Server {
	t.Helper()
	cfg, err := configs.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data.Dir = t.TempDir()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.RTMP.Listen = "127.0.0.1:0"
	cfg.RTSP.Listen = "127.0.0.1:0"
	cfg.RTSP.UDPRTP, cfg.RTSP.UDPRTCP = "", "" // TCP only: no fixed UDP ports to collide on
	cfg.WebRTC.ICEListen = "127.0.0.1:0"
	cfg.Streams = []configs.StreamKey{{ID: "demo", Key: testKey}}
	cfg.Stream.ReconnectWindow = configs.Duration(2 * time.Second)
	cfg.HLS.EndLinger = configs.Duration(4 * time.Second)
	if mutate != nil {
		mutate(cfg)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func (s *Server) rtmpURL(key string) string {
	return fmt.Sprintf("rtmp://%s/live/%s", s.RTMPAddr(), key)
}

func (s *Server) hlsURL(id string) string {
	return fmt.Sprintf("http://%s/live/%s/index.m3u8", s.HTTPAddr(), id)
}

// waitPlaylist polls until the stream's playlist answers 200.
func waitPlaylist(t *testing.T, u string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		res, err := http.Get(u)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("playlist %s not available after %v", u, within)
}

// media fetches the stream's media playlist; msn >= 0 blocks until that part.
func media(t *testing.T, index string, msn, part int) *playlist.Media {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := (&hlsprobe.Client{Index: index}).Media(ctx, msn, part)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRTMPToLLHLS is the media core end to end: ffmpeg pushes 10 s of
// H.264 with B-frames and AAC over RTMP; ffmpeg and gohlslib's client read
// the LL-HLS back.
func TestRTMPToLLHLS(t *testing.T) {
	testenv.RequireFFmpeg(t)
	s := startServer(t, nil)
	const seconds, fps = 10, 30
	pushStart := time.Now()
	push := testenv.Push(t, testenv.DefaultSource(seconds), s.rtmpURL(testKey))
	index := s.hlsURL("demo")
	waitPlaylist(t, index, 8*time.Second)

	// Playlist shape while live: LL-HLS parts, blocking reload, and
	// PROGRAM-DATE-TIME on the push's wall clock.
	time.Sleep(2 * time.Second)
	m := media(t, index, -1, 0)
	if m.PartInf == nil || m.PartInf.PartTarget <= 0 || m.PartInf.PartTarget > 500*time.Millisecond {
		t.Fatalf("PART-INF %+v, want a part target of about 200 ms", m.PartInf)
	}
	if m.ServerControl == nil || !m.ServerControl.CanBlockReload {
		t.Fatal("no EXT-X-SERVER-CONTROL with CAN-BLOCK-RELOAD=YES")
	}
	parts := 0
	for _, seg := range m.Segments {
		parts += len(seg.Parts)
	}
	if parts+len(m.Parts) == 0 {
		t.Fatal("no EXT-X-PART in the playlist")
	}
	// The live edge on the PROGRAM-DATE-TIME clock must sit on the push's
	// wall clock.
	edge := hlsprobe.Edge(m)
	if edge.IsZero() {
		t.Fatal("segments carry no EXT-X-PROGRAM-DATE-TIME")
	}
	if d := time.Since(edge); d < -time.Second || d > time.Second {
		t.Fatalf("live edge PROGRAM-DATE-TIME %v is %v from now", edge, d)
	}
	for _, seg := range m.Segments {
		if seg.DateTime != nil && seg.DateTime.Before(pushStart.Add(-time.Second)) {
			t.Fatalf("segment dated %v, before the push started at %v", seg.DateTime, pushStart)
		}
	}

	// Two readers from the start of the playlist until the stream ends.
	var wg sync.WaitGroup
	var ff ffmpegRead
	var gh gohlsRead
	wg.Go(func() { ff = readWithFFmpeg(t, index) })
	wg.Go(func() { gh = readWithGohlslib(t, index, 30*time.Second) })

	if err, stderr := push.Wait(seconds * 3 * time.Second); err != nil {
		t.Fatalf("ffmpeg push: %v\n%s", err, stderr)
	}
	wg.Wait()

	// ffmpeg decoded the video at the pushed size and the audio.
	if ff.err != nil {
		t.Fatalf("ffmpeg read: %v\n%s", ff.err, ff.stderr)
	}
	if ff.width != 640 || ff.height != 360 {
		t.Fatalf("decoded %dx%d, want 640x360", ff.width, ff.height)
	}
	// The last, unfinished segment is lost when the publisher leaves: allow
	// one GOP less than pushed.
	if ff.videoFrames < (seconds-1)*fps || ff.videoFrames > seconds*fps {
		t.Fatalf("ffmpeg decoded %d video frames (pts %d..%d), want %d..%d", ff.videoFrames, ff.firstVideoPTS, ff.lastVideoPTS, (seconds-1)*fps, seconds*fps)
	}
	// Audio is cut at the same segment boundary, give or take a few
	// 21 ms AAC frames.
	if ff.audioFrames < (seconds-1)*48000/1024-5 {
		t.Fatalf("ffmpeg decoded %d audio frames, want about %d", ff.audioFrames, seconds*48000/1024)
	}
	if !ff.monotonic {
		t.Fatal("decoded frames' timestamps go backwards")
	}

	if gh.err != nil {
		t.Fatalf("gohlslib: %v", gh.err)
	}
	if gh.videoCodec != "H264" || gh.audioCodec != "MPEG4Audio" {
		t.Fatalf("gohlslib tracks %q %q, want H264 and MPEG4Audio", gh.videoCodec, gh.audioCodec)
	}
	if gh.videoAUs < 3*fps || gh.audioAUs < 3*48000/1024 {
		t.Fatalf("gohlslib read %d video and %d audio units", gh.videoAUs, gh.audioAUs)
	}
	if !gh.monotonic {
		t.Fatal("gohlslib: DTS not monotonic")
	}
	if d := gh.firstNTP.Sub(pushStart); d < -time.Second || d > 12*time.Second {
		t.Fatalf("gohlslib absolute time %v is %v after the push started", gh.firstNTP, d)
	}
}

type ffmpegRead struct {
	width, height            int
	videoFrames, audioFrames int
	firstVideoPTS            int64
	lastVideoPTS             int64
	monotonic                bool
	err                      error
	stderr                   string
}

// readWithFFmpeg decodes the whole playlist from its first segment until the
// stream goes away, and counts decoded frames with the framecrc muxer.
func readWithFFmpeg(t *testing.T, index string) ffmpegRead {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
		"-live_start_index", "0", "-i", index, "-map", "0:v", "-map", "0:a", "-f", "framecrc", "-")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	r := ffmpegRead{monotonic: true, stderr: stderr.String()}
	// ffmpeg ends with an error when the playlist disappears (404): that is
	// how a live without ENDLIST stops. Judge by what was decoded.
	if err != nil && len(out) == 0 {
		r.err = err
		return r
	}
	lastPTS := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if after, ok := strings.CutPrefix(line, "#dimensions 0:"); ok {
			fmt.Sscanf(strings.TrimSpace(after), "%dx%d", &r.width, &r.height)
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		idx := strings.TrimSpace(f[0])
		pts, _ := strconv.ParseInt(strings.TrimSpace(f[2]), 10, 64)
		if prev, ok := lastPTS[idx]; ok && pts <= prev {
			r.monotonic = false
		}
		lastPTS[idx] = pts
		switch idx {
		case "0":
			if r.videoFrames == 0 {
				r.firstVideoPTS = pts
			}
			r.lastVideoPTS = pts
			r.videoFrames++
		case "1":
			r.audioFrames++
		}
	}
	return r
}

type gohlsRead struct {
	videoCodec, audioCodec string
	videoAUs, audioAUs     int
	monotonic              bool
	firstNTP               time.Time
	err                    error
}

// readWithGohlslib reads with gohlslib's client (which starts near the live
// edge) until the stream ends or d passes.
func readWithGohlslib(t *testing.T, index string, d time.Duration) gohlsRead {
	r := gohlsRead{monotonic: true}
	var mu sync.Mutex
	quiet := func(string) {}
	c := &gohlslib.Client{URI: index, OnDownloadPrimaryPlaylist: quiet, OnDownloadStreamPlaylist: quiet,
		OnDownloadSegment: quiet, OnDownloadPart: quiet, OnDecodeError: func(error) {}}
	c.OnTracks = func(tracks []*gohlslib.Track) error {
		for _, tr := range tracks {
			switch tr.Codec.(type) {
			case *codecs.H264:
				r.videoCodec = "H264"
				lastDTS := int64(-1 << 62)
				c.OnDataH26x(tr, func(pts, dts int64, au [][]byte) {
					mu.Lock()
					defer mu.Unlock()
					if dts <= lastDTS {
						r.monotonic = false
					}
					lastDTS = dts
					if r.videoAUs == 0 {
						r.firstNTP, _ = c.AbsoluteTime(tr)
					}
					r.videoAUs++
				})
			case *codecs.MPEG4Audio:
				r.audioCodec = "MPEG4Audio"
				c.OnDataMPEG4Audio(tr, func(pts int64, aus [][]byte) {
					mu.Lock()
					defer mu.Unlock()
					r.audioAUs += len(aus)
				})
			}
		}
		return nil
	}
	if err := c.Start(); err != nil {
		r.err = err
		return r
	}
	select {
	case <-c.Wait():
	case <-time.After(d):
	}
	c.Close()
	mu.Lock()
	defer mu.Unlock()
	return r
}

// TestLLHLSPartLatency measures how long after the last frame of a part was
// pushed that part is served to a client waiting with a blocking playlist
// reload: the delay beyond the part duration. It reports the figures; timing
// is never asserted (see README, Performance).
//
// The source has no B-frames, so that a frame's capture time on the
// PROGRAM-DATE-TIME clock is its arrival at ingest: the part ends on the
// clock at the arrival of the frame that follows it, one frame after its
// last frame was pushed.
func TestLLHLSPartLatency(t *testing.T) {
	testenv.RequireFFmpeg(t)
	s := startServer(t, nil)
	src := testenv.DefaultSource(15)
	src.BFrames = 0
	push := testenv.Push(t, src, s.rtmpURL(testKey))
	index := s.hlsURL("demo")
	waitPlaylist(t, index, 8*time.Second)
	time.Sleep(time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	probe := &hlsprobe.Client{Index: index}
	m, err := probe.Media(ctx, -1, 0)
	if err != nil {
		t.Fatal(err)
	}
	frame := time.Second / time.Duration(src.FPS)
	var lat []time.Duration
	for len(lat) < 40 {
		msn, part := hlsprobe.Next(m)
		if m, err = probe.Media(ctx, msn, part); err != nil {
			t.Fatal(err)
		}
		served := time.Now()
		// Only a reload that returned exactly the awaited part measures it.
		if n, p := hlsprobe.Next(m); n == msn && p == part+1 {
			lastFramePushed := hlsprobe.Edge(m).Add(-frame)
			lat = append(lat, served.Sub(lastFramePushed))
		}
	}
	push.Stop()
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	if len(lat) < 40 || m.PartInf == nil {
		t.Fatalf("measured %d parts", len(lat))
	}
	t.Logf("LL-HLS: part (target %v) served after its last frame was pushed, %d parts: "+
		"mean %v, p50 %v, p95 %v, max %v", m.PartInf.PartTarget, len(lat), (sum / time.Duration(len(lat))).Round(time.Millisecond),
		lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*95/100].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
}

// TestBadPublishersDoNotDisturbHealthyStream: a wrong key, a second
// publisher, garbage and truncated RTMP each lose only their own connection
// while the healthy stream keeps advancing.
func TestBadPublishersDoNotDisturbHealthyStream(t *testing.T) {
	testenv.RequireFFmpeg(t)
	s := startServer(t, nil)
	testenv.Push(t, testenv.DefaultSource(20), s.rtmpURL(testKey))
	index := s.hlsURL("demo")
	waitPlaylist(t, index, 8*time.Second)
	before := media(t, index, -1, 0)

	wrong := testenv.Push(t, testenv.DefaultSource(2), s.rtmpURL("not-the-key"))
	if err, _ := wrong.Wait(15 * time.Second); err == nil {
		t.Fatal("a publisher with a wrong key was accepted")
	}
	second := testenv.Push(t, testenv.DefaultSource(2), s.rtmpURL(testKey))
	if err, _ := second.Wait(15 * time.Second); err == nil {
		t.Fatal("a second publisher on a live stream was accepted")
	}
	for _, junk := range [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		append([]byte{0x03}, make([]byte, 700)...), // handshake C0/C1 truncated
		slices.Repeat([]byte{0xff}, 1<<16),
	} {
		c, err := net.Dial("tcp", s.RTMPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(junk)
		_ = c.(*net.TCPConn).CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
		_, _ = io.Copy(io.Discard, c) // returns when the server closes it
		c.Close()
	}

	// The healthy stream keeps producing segments.
	segBefore, _ := hlsprobe.Next(before)
	deadline := time.Now().Add(10 * time.Second)
	for {
		segNow, _ := hlsprobe.Next(media(t, index, -1, 0))
		if segNow > segBefore+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthy stream stopped advancing: next segment %d, then %d", segBefore, segNow)
		}
		time.Sleep(200 * time.Millisecond)
	}
	st, ok := s.Hub().Get("demo")
	if !ok || !st.Online() {
		t.Fatal("healthy publisher was disconnected")
	}
}

func TestUnknownStreamIs404JSON(t *testing.T) {
	s := startServer(t, nil)
	res, err := http.Get(s.hlsURL("nope"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound || !strings.Contains(string(b), `"code":"stream_not_found"`) {
		t.Fatalf("unknown stream: %d %s", res.StatusCode, b)
	}
	// The root answers where things are.
	res, err = http.Get(fmt.Sprintf("http://%s/", s.HTTPAddr()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "/watch/{campaign_id}") || !strings.Contains(string(b), "/api/v1/openapi.json") {
		t.Fatalf("root: %d %s", res.StatusCode, b)
	}
	res, err = http.Get(fmt.Sprintf("http://%s/metrics", s.HTTPAddr()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{"go_goroutines", "vitrine_hls_muxers 0", "vitrine_whep_packets_resent_total 0",
		`vitrine_http_requests_total{code="404",method="GET",route="/live/"} 1`} {
		if res.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Fatalf("/metrics: %d, no %s in\n%s", res.StatusCode, want, b)
		}
	}
}
