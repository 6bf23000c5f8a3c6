package rtsp

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format"

	"vitrine/internal/testenv"
	"vitrine/stream"
)

// framecrc is what ffmpeg decoded, from its framecrc output.
type framecrc struct {
	frames     map[string]int // by stream index
	dimensions string         // of stream 0
	sampleRate string         // of stream 1
}

// readFFmpeg decodes seconds of url with ffmpeg over TCP.
func readFFmpeg(t *testing.T, url string, seconds string) (framecrc, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
		"-rtsp_transport", "tcp", "-i", url, "-t", seconds, "-f", "framecrc", "-")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	res := framecrc{frames: map[string]int{}}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#dimensions 0:"):
			res.dimensions = strings.TrimSpace(strings.TrimPrefix(line, "#dimensions 0:"))
		case strings.HasPrefix(line, "#sample_rate 1:"):
			res.sampleRate = strings.TrimSpace(strings.TrimPrefix(line, "#sample_rate 1:"))
		case strings.HasPrefix(line, "#"):
		default:
			if idx, _, ok := strings.Cut(line, ","); ok {
				res.frames[strings.TrimSpace(idx)]++
			}
		}
	}
	if err != nil {
		t.Logf("ffmpeg reader stderr:\n%s", stderr.String())
	}
	return res, err
}

// TestLive runs one ffmpeg publish and, while it lasts, every kind of
// reader at once (ffmpeg, gortsplib over TCP and UDP) and a second publisher;
// then the server ends the stream.
func TestLive(t *testing.T) {
	testenv.RequireFFmpeg(t)
	t.Parallel()
	e := newEnv(t, envOptions{})
	rec := record(t, e.hub, testStream)

	args := append(testenv.DefaultSource(15).Args(), ffmpegOut("tcp", e.url(testKey))...)
	push := testenv.Start(t, args...)
	st := waitOnline(t, e.hub, testStream, 10*time.Second)
	rec.waitUnits(t, 20, 10*time.Second)
	url := e.url(testStream)

	// The readers overlap (not as parallel subtests: go test runs only
	// GOMAXPROCS of those together, and the point is to share the relay).
	// ffmpeg starts slowly on a loaded machine, so the in-process clients
	// join once it is reading.
	var wg sync.WaitGroup
	var ff framecrc
	var ffErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		ff, ffErr = readFFmpeg(t, url, "4")
	}()
	waitSessions := func(n int, d time.Duration) {
		t.Helper()
		deadline := time.Now().Add(d)
		for relaySessions(e.srv, testStream) < n {
			if time.Now().After(deadline) {
				t.Fatalf("readers never all joined: %d of %d", relaySessions(e.srv, testStream), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitSessions(1, 20*time.Second)
	transports := []gortsplib.Transport{gortsplib.TransportTCP, gortsplib.TransportUDP}
	clients := make([]*readResult, len(transports))
	clientErrs := make([]error, len(transports))
	for i, tr := range transports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients[i], clientErrs[i] = readClient(url, tr, 2*time.Second)
		}()
	}

	// Three readers, one hub reader and one packetization.
	waitSessions(3, 10*time.Second)
	if n := st.Stats().Readers["rtsp"]; n != 1 {
		t.Errorf("hub readers for RTSP = %d, want 1 shared", n)
	}

	// A second publisher is refused; the first goes on.
	before := rec.count()
	_, err := publishSample(t, e.url(testKey), gortsplib.TransportTCP, false)
	if code, msg := statusOf(err); code != base.StatusMethodNotValidInThisState ||
		!strings.Contains(msg, stream.ErrAlreadyPublishing.Error()) {
		t.Errorf("second publisher: %v", err)
	}
	rec.waitUnits(t, before+30, 5*time.Second)
	wg.Wait()

	if ffErr != nil {
		t.Errorf("ffmpeg reader: %v", ffErr)
	}
	t.Logf("ffmpeg decoded %v", ff.frames)
	if ff.dimensions != "640x360" {
		t.Errorf("dimensions %q, want 640x360", ff.dimensions)
	}
	if ff.sampleRate != "48000" {
		t.Errorf("sample rate %q, want 48000", ff.sampleRate)
	}
	// 4 s at 30 fps, less the wait for a keyframe (up to a second) and
	// ffmpeg's slow start on a loaded machine; AAC decodes to 1024-sample
	// frames, 47/s.
	if ff.frames["0"] < 75 || ff.frames["1"] < 140 {
		t.Errorf("frames decoded %v, want about 120 video and 188 audio", ff.frames)
	}
	for i, res := range clients {
		name := "client " + transports[i].String()
		if clientErrs[i] != nil {
			t.Errorf("%s: %v", name, clientErrs[i])
			continue
		}
		t.Logf("%s: packets %v", name, res.packets)
		if len(res.desc.Medias) != 2 {
			t.Errorf("%s: medias = %d, want 2", name, len(res.desc.Medias))
			continue
		}
		if res.width != 640 || res.height != 360 {
			t.Errorf("%s: SDP video %dx%d", name, res.width, res.height)
		}
		if f, ok := res.desc.Medias[1].Formats[0].(*format.MPEG4Audio); !ok || f.Config.SampleRate != 48000 {
			t.Errorf("%s: SDP audio %v", name, res.desc.Medias[1].Formats[0])
		}
		if res.packets["H264"] < 60 || res.packets["MPEG-4 Audio"] < 60 || !res.idr {
			t.Errorf("%s: packets %v, IDR %v", name, res.packets, res.idr)
		}
	}

	// The server ends the stream: the publisher is disconnected at once.
	start := time.Now()
	e.hub.End(testStream)
	if err, stderr := push.Wait(5 * time.Second); err != nil && strings.Contains(err.Error(), "still running") {
		t.Fatalf("publisher not disconnected: %v %s", err, stderr)
	}
	t.Logf("publisher disconnected %v after the end", time.Since(start).Round(time.Millisecond))
	waitLog(t, e.logs, `reason="stream ended by the server"`, 2*time.Second)
	rec.settle()
	units, tracks := rec.snapshot()
	checkMedia(t, units, tracks, "AAC", (units[len(units)-1].dts - units[0].dts).Seconds())
}

// relaySessions is the number of reader sessions of a stream's relay.
func relaySessions(s *Server, id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.relays[id]; r != nil {
		return len(r.sessions)
	}
	return 0
}

// TestInBandParams publishes H.264 whose SDP has no parameter sets: the
// session waits for them in band before it publishes. A reader then gets an
// SDP with them, and the relay goes when its last reader has left.
func TestInBandParams(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	rec := record(t, e.hub, "ok-inband")
	if _, err := publishSample(t, e.url("ok-inband"), gortsplib.TransportUDP, true); err != nil {
		t.Fatal(err)
	}
	rec.waitUnits(t, 15, 10*time.Second)
	units, tracks := rec.snapshot()
	if w, h, _ := tracks[0].Codec.(*stream.H264).Dimensions(); w != 320 || h != 240 {
		t.Fatalf("video %dx%d, want 320x240", w, h)
	}
	if !units[0].key {
		t.Fatal("first unit is not a keyframe")
	}
	checkKeyframe(t, 0, units[0].payload)

	res, err := readClient(e.url("ok-inband"), gortsplib.TransportTCP, 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.width != 320 || res.height != 240 || res.packets["H264"] < 20 {
		t.Errorf("read %dx%d, packets %v", res.width, res.height, res.packets)
	}
	st, _ := e.hub.Get("ok-inband")
	deadline := time.Now().Add(5 * time.Second)
	for st.Stats().Readers["rtsp"] != 0 {
		if time.Now().After(deadline) {
			t.Fatal("relay still reading the stream after its last reader left")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestParamsFromSDP publishes H.264 whose parameter sets are only in the
// SDP: every keyframe reaching the hub carries them.
func TestParamsFromSDP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	rec := record(t, e.hub, "ok-sdp")
	if _, err := publishSample(t, e.url("ok-sdp"), gortsplib.TransportTCP, false); err != nil {
		t.Fatal(err)
	}
	rec.waitUnits(t, 40, 10*time.Second)
	units, _ := rec.snapshot()
	keys := 0
	for i, u := range units {
		if u.key {
			keys++
			checkKeyframe(t, i, u.payload)
		}
		if i > 0 && u.dts <= units[i-1].dts {
			t.Fatalf("unit %d: DTS %v after %v", i, u.dts, units[i-1].dts)
		}
	}
	if keys < 2 {
		t.Errorf("keyframes = %d", keys)
	}
}

// TestDescribeNotLive: unknown streams, offline streams and wrong paths are
// 404 for readers.
func TestDescribeNotLive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	p, err := publishSample(t, e.url("ok-gone"), gortsplib.TransportTCP, false)
	if err != nil {
		t.Fatal(err)
	}
	waitOnline(t, e.hub, "ok-gone", 5*time.Second)
	p.close() // the stream now waits for its publisher: offline
	deadline := time.Now().Add(5 * time.Second)
	for st, _ := e.hub.Get("ok-gone"); st.Online(); {
		if time.Now().After(deadline) {
			t.Fatal("still online")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, url := range []string{
		e.url("unknown"),
		e.url("ok-gone"),
		"rtsp://" + e.srv.Addr().String() + "/elsewhere/x",
	} {
		_, err := readClient(url, gortsplib.TransportTCP, time.Second)
		if code, _ := statusOf(err); code != base.StatusNotFound {
			t.Errorf("%s: %v, want 404", url, err)
		}
	}
}
