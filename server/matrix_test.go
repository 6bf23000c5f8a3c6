package server

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"vitrine/internal/browser"
	"vitrine/internal/testenv"
)

// ingest starts a publisher for one cell row of the matrix and reports the
// stream id and whether its audio is Opus (playable over WebRTC).
type ingest struct {
	name  string
	start func(t *testing.T, s *Server, m *matrix) (id string, opus bool)
}

// output reads a live stream for one cell and checks what a viewer would.
type output struct {
	name string
	read func(t *testing.T, s *Server, m *matrix, id string, opus bool)
}

// matrix holds what cells share: one headless Chromium with a fake camera
// and microphone, started on first use.
type matrix struct {
	top     *testing.T // owns the browser: cells come and go
	once    sync.Once
	browser *browser.Browser
}

func (m *matrix) chromium(t *testing.T) *browser.Browser {
	m.once.Do(func() { m.browser = browser.Launch(m.top, browser.WithFakeMedia()) })
	if m.browser == nil {
		t.Skip("no Chromium")
	}
	return m.browser
}

// page opens a page on the server's own origin, as the player page will be.
func (m *matrix) page(t *testing.T, s *Server) *browser.Page {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := m.chromium(t).NewPage(ctx, "http://"+s.HTTPAddr().String()+"/healthz")
	if err != nil {
		t.Fatal(err)
	}
	browser.ScreenshotOnFailure(t, p, browser.ArtifactsDir())
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// whipIngest publishes Chromium's fake camera and microphone over WHIP
// (H.264 and Opus).
var whipIngest = ingest{name: "whip", start: func(t *testing.T, s *Server, m *matrix) (string, bool) {
	p := m.page(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var res browser.WHIPResult
	url := "http://" + s.HTTPAddr().String() + "/whip/demo"
	if err := p.Eval(ctx, browser.WHIPPublishJS(url, testKey), &res); err != nil {
		t.Fatalf("WHIP publish: %v\n%s", err, strings.Join(p.Console(), "\n"))
	}
	if res.Status != 201 || !strings.Contains(res.VideoCodec, "H264") || !strings.Contains(res.AudioCodec, "opus") {
		t.Fatalf("WHIP: %+v", res)
	}
	return "demo", true
}}

// outWHEP plays in Chromium and reads getStats(): frames decoded keep
// rising without a freeze; audio arrives, Opus as it came or AAC
// transcoded to Opus.
var outWHEP = output{name: "whep", read: func(t *testing.T, s *Server, m *matrix, id string, opus bool) {
	p := m.page(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	url := "http://" + s.HTTPAddr().String() + "/live/" + id + "/whep"
	var res browser.WHEPResult
	if err := p.Eval(ctx, browser.WHEPPlayJS(url), &res); err != nil {
		t.Fatalf("WHEP play: %v\n%s", err, strings.Join(p.Console(), "\n"))
	}
	stats := func() browser.WHEPStats {
		var st browser.WHEPStats
		if err := p.Eval(ctx, browser.WHEPStatsJS, &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	if err := p.WaitFor(ctx, "("+browser.WHEPStatsJS+").then(s => s.framesDecoded > 0)", 100*time.Millisecond); err != nil {
		t.Fatalf("no frame decoded: %v", err)
	}
	first := stats()
	time.Sleep(3 * time.Second)
	last := stats()
	if got := last.FramesDecoded - first.FramesDecoded; got < 30 {
		t.Errorf("%d frames decoded in 3 s", got)
	}
	if last.FreezeCount > 0 {
		t.Errorf("video froze %d times", last.FreezeCount)
	}
	// Every source has sound: Opus as it came, AAC transcoded to Opus.
	if last.AudioPacketsReceived == 0 {
		t.Errorf("no audio packets from a source with audio (Opus: %v)", opus)
	}
	if last.VideoWidth == 0 {
		t.Error("no video size")
	}
	if last.FirstFrameMs != nil {
		t.Logf("WHEP first frame %.0f ms after the offer, %dx%d, audio packets %d",
			*last.FirstFrameMs, last.VideoWidth, last.VideoHeight, last.AudioPacketsReceived)
	}
}}

func ffmpegIngest(name, format string) ingest {
	return ingest{name: name, start: func(t *testing.T, s *Server, _ *matrix) (string, bool) {
		var url string
		var out []string
		switch format {
		case "rtmp":
			url, out = s.rtmpURL(testKey), []string{"-f", "flv"}
		case "rtsp":
			url, out = fmt.Sprintf("rtsp://%s/live/%s", s.RTSPAddr(), testKey), []string{"-f", "rtsp", "-rtsp_transport", "tcp"}
		}
		args := append(testenv.DefaultSource(30).Args(), append(out, url)...)
		testenv.Start(t, args...)
		return "demo", false
	}}
}

// decoded is what ffmpeg decoded from a stream for a few seconds.
type decoded struct {
	video, audio int
	width        int
	height       int
}

// decodeWithFFmpeg decodes d of a live stream and counts frames per stream.
func decodeWithFFmpeg(t *testing.T, d time.Duration, input ...string) decoded {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	args := append([]string{"-hide_banner", "-loglevel", "warning", "-nostdin"}, input...)
	args = append(args, "-t", fmt.Sprint(d.Seconds()), "-map", "0:v", "-map", "0:a?", "-f", "framecrc", "-")
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", input, err, stderr.String())
	}
	var r decoded
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if after, ok := strings.CutPrefix(line, "#dimensions 0:"); ok {
			fmt.Sscanf(strings.TrimSpace(after), "%dx%d", &r.width, &r.height)
		}
		switch {
		case strings.HasPrefix(line, "0,"):
			r.video++
		case strings.HasPrefix(line, "1,"):
			r.audio++
		}
	}
	return r
}

// waitOnline waits for a publisher on stream id (a previous live's playlist
// may still linger, so the playlist alone does not tell).
func waitOnline(t *testing.T, s *Server, id string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if st, ok := s.Hub().Get(id); ok && st.Online() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no publisher on %s after %v", id, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func checkDecoded(t *testing.T, what string, r decoded, seconds float64) {
	t.Helper()
	// A reader joins at the next keyframe: allow a GOP (2 s for browsers)
	// of the window, and a browser encoder may lower its frame rate.
	if minVideo := int((seconds - 2) * 10); r.video < minVideo {
		t.Errorf("%s: %d video frames decoded in %vs, want at least %d", what, r.video, seconds, minVideo)
	}
	if r.audio == 0 {
		t.Errorf("%s: no audio decoded", what)
	}
	if r.width == 0 || r.height == 0 {
		t.Errorf("%s: no video dimensions", what)
	}
}

var (
	outHLS = output{name: "llhls", read: func(t *testing.T, s *Server, _ *matrix, id string, _ bool) {
		checkDecoded(t, "LL-HLS", decodeWithFFmpeg(t, 4*time.Second, "-i", s.hlsURL(id)), 4)
	}}
	outRTSP = output{name: "rtsp", read: func(t *testing.T, s *Server, _ *matrix, id string, _ bool) {
		url := fmt.Sprintf("rtsp://%s/live/%s", s.RTSPAddr(), id)
		checkDecoded(t, "RTSP", decodeWithFFmpeg(t, 4*time.Second, "-rtsp_transport", "tcp", "-i", url), 4)
	}}
)

// TestIngestOutputMatrix: every ingest reaches every output, each cell
// with a real peer on both ends.
func TestIngestOutputMatrix(t *testing.T) {
	testenv.RequireFFmpeg(t)
	s := startServer(t, nil)
	m := &matrix{top: t}
	ingests := []ingest{ffmpegIngest("rtmp", "rtmp"), ffmpegIngest("rtsp", "rtsp"), whipIngest}
	outputs := []output{outHLS, outWHEP, outRTSP}
	for _, in := range ingests {
		t.Run(in.name, func(t *testing.T) {
			id, opus := in.start(t, s, m)
			waitOnline(t, s, id, 15*time.Second)
			waitPlaylist(t, s.hlsURL(id), 15*time.Second)
			// The outputs read at once, as viewers of one live would.
			var wg sync.WaitGroup
			for _, out := range outputs {
				wg.Go(func() {
					t.Run(out.name, func(t *testing.T) { out.read(t, s, m, id, opus) })
				})
			}
			wg.Wait()
			s.Hub().End(id)
		})
	}
}
