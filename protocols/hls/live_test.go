package hls

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// TestLive publishes the source in real time and watches it the way
// viewers do, all at once on the same muxer.
func TestLive(t *testing.T) {
	src := testSource(t)
	f := newFixture(t, Config{EndLinger: time.Second})
	pub := publish(t, f.hub, "s1", src, src.tracks(), true, 0)

	t.Run("viewers", func(t *testing.T) {
		t.Run("gohlslib client", func(t *testing.T) {
			t.Parallel()
			testClient(t, f)
		})
		t.Run("playlist", func(t *testing.T) {
			t.Parallel()
			testPlaylist(t, f, pub)
		})
		t.Run("blocking reload and preload hint", func(t *testing.T) {
			t.Parallel()
			testBlocking(t, f)
		})
		t.Run("ffmpeg", func(t *testing.T) {
			t.Parallel()
			testFFmpeg(t, f)
		})
		t.Run("cors", func(t *testing.T) {
			t.Parallel()
			testCORS(t, f)
		})
		t.Run("errors", func(t *testing.T) {
			t.Parallel()
			testErrors(t, f)
		})
		t.Run("shared parts", func(t *testing.T) {
			t.Parallel()
			testSharedParts(t, f)
		})
		t.Run("shared playlists", func(t *testing.T) {
			t.Parallel()
			testSharedPlaylists(t, f)
		})
	})

	// A segment that exists now must be gone with the stream.
	_, media, _ := f.mediaPlaylist(t, "s1")
	last := media.Segments[len(media.Segments)-1].URI
	if r := f.get(t, "/live/s1/"+last); r.status != http.StatusOK {
		t.Fatalf("segment %s: %d", last, r.status)
	}
	if n := f.srv.Muxers(); n != 1 {
		t.Fatalf("Muxers() = %d, want 1", n)
	}
	f.hub.End("s1")
	// Players polling whole segments still get the last ones for a while...
	if r := f.get(t, "/live/s1/"+last); r.status != http.StatusOK {
		t.Fatalf("segment %s right after the end: %d, want 200 while lingering", last, r.status)
	}
	// ...then the stream is gone.
	eventually(t, 5*time.Second, "muxer removed", func() bool { return f.srv.Muxers() == 0 })
	for _, p := range []string{"index.m3u8", "video1_stream.m3u8", last} {
		wantError(t, f.get(t, "/live/s1/"+p), http.StatusNotFound, "stream_not_found")
	}
}

func testClient(t *testing.T, f *fixture) {
	var (
		mu          sync.Mutex
		video       int
		audio       int
		lastVideo   int64 = -1 << 62
		lastAudio   int64 = -1 << 62
		problems    []string
		ntpSeen     time.Time
		clockRates  = map[string]int{}
		videoTrack  *gohlslib.Track
		gotTracks   = make(chan struct{})
		enoughMedia = make(chan struct{})
	)
	c := &gohlslib.Client{
		URI:                       f.url("/live/s1/index.m3u8"),
		OnDownloadPrimaryPlaylist: func(string) {},
		OnDownloadStreamPlaylist:  func(string) {},
		OnDownloadSegment:         func(string) {},
		OnDownloadPart:            func(string) {},
		OnDecodeError:             func(err error) { t.Logf("client decode error: %v", err) },
	}
	var once sync.Once
	check := func() {
		if video >= 2*sourceFPS && audio >= 2*sampleRate/1024 {
			once.Do(func() { close(enoughMedia) })
		}
	}
	c.OnTracks = func(tracks []*gohlslib.Track) error {
		for _, tr := range tracks {
			switch codec := tr.Codec.(type) {
			case *codecs.H264:
				videoTrack = tr
				clockRates["h264"] = tr.ClockRate
				c.OnDataH26x(tr, func(pts, dts int64, au [][]byte) {
					mu.Lock()
					defer mu.Unlock()
					if dts <= lastVideo || pts < dts {
						problems = append(problems, "video dts "+strconv.FormatInt(dts, 10)+" after "+
							strconv.FormatInt(lastVideo, 10)+", pts "+strconv.FormatInt(pts, 10))
					}
					if len(au) == 0 {
						problems = append(problems, "empty access unit")
					}
					lastVideo = dts
					video++
					if ntp, ok := c.AbsoluteTime(videoTrack); ok {
						ntpSeen = ntp
					}
					check()
				})
			case *codecs.MPEG4Audio:
				clockRates["aac"] = tr.ClockRate
				if codec.Config.SampleRate != sampleRate {
					t.Errorf("AAC sample rate %d", codec.Config.SampleRate)
				}
				c.OnDataMPEG4Audio(tr, func(pts int64, aus [][]byte) {
					mu.Lock()
					defer mu.Unlock()
					if pts <= lastAudio {
						problems = append(problems, "audio pts "+strconv.FormatInt(pts, 10)+" after "+strconv.FormatInt(lastAudio, 10))
					}
					lastAudio = pts
					audio += len(aus)
					check()
				})
			default:
				t.Errorf("unexpected track %T", tr.Codec)
			}
		}
		close(gotTracks)
		return nil
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	select {
	case <-gotTracks:
	case <-time.After(8 * time.Second):
		t.Fatal("no tracks from the client")
	}
	select {
	case <-enoughMedia:
	case <-time.After(10 * time.Second):
	}
	c.Close()

	mu.Lock()
	defer mu.Unlock()
	if clockRates["h264"] != 90000 || clockRates["aac"] != sampleRate {
		t.Fatalf("tracks %v, want H264 at 90000 and AAC at %d", clockRates, sampleRate)
	}
	if video < 2*sourceFPS || audio < 2*sampleRate/1024 {
		t.Fatalf("decoded %d video and %d audio samples, want 2 s of each", video, audio)
	}
	if len(problems) > 0 {
		t.Fatalf("%d timestamp problems, first: %s", len(problems), problems[0])
	}
	// The client dates samples from PROGRAM-DATE-TIME; it reads a few
	// segments behind the live edge.
	if ntpSeen.IsZero() || time.Since(ntpSeen) > 8*time.Second || time.Since(ntpSeen) < 0 {
		t.Fatalf("client's absolute time %v, now %v", ntpSeen, time.Now())
	}
	t.Logf("client: %d video, %d audio samples", video, audio)
}

func testPlaylist(t *testing.T, f *fixture, pub *publisher) {
	name, media, raw := f.waitSegments(t, "s1", 2)
	if name != "video1_stream.m3u8" {
		t.Fatalf("video playlist %q", name)
	}
	for _, tag := range []string{"#EXT-X-PART-INF:PART-TARGET=", "#EXT-X-PART:", "#EXT-X-PROGRAM-DATE-TIME:",
		"#EXT-X-PRELOAD-HINT:TYPE=PART", "#EXT-X-MAP:"} {
		if !hasLine(raw, tag) {
			t.Errorf("no %s in\n%s", tag, raw)
		}
	}
	if sc := media.ServerControl; sc == nil || !sc.CanBlockReload || sc.PartHoldBack == nil {
		t.Errorf("server control %+v, want CAN-BLOCK-RELOAD=YES and PART-HOLD-BACK", sc)
	}
	if !strings.Contains(string(raw), "CAN-BLOCK-RELOAD=YES") {
		t.Errorf("no CAN-BLOCK-RELOAD=YES in\n%s", raw)
	}
	if media.PartInf == nil || media.PartInf.PartTarget < 150*time.Millisecond || media.PartInf.PartTarget > 300*time.Millisecond {
		t.Errorf("part target %+v, want about 200ms", media.PartInf)
	}

	// Parts end on a frame boundary of the 30 fps video (200 or 233 ms);
	// the last part of a segment ends at the keyframe, and may be shorter.
	var parts []*playlist.MediaPart
	checkParts := func(ps []*playlist.MediaPart, closed bool) {
		for i, p := range ps {
			short := closed && i == len(ps)-1
			if p.Duration > 300*time.Millisecond || p.Duration <= 0 ||
				(!short && p.Duration < 150*time.Millisecond) {
				t.Errorf("part %s lasts %v, want about 200ms", p.URI, p.Duration)
			}
		}
		parts = append(parts, ps...)
	}
	for _, s := range media.Segments {
		checkParts(s.Parts, true)
	}
	checkParts(media.Parts, false)
	if len(parts) < 5 {
		t.Fatalf("%d parts in\n%s", len(parts), raw)
	}

	// PROGRAM-DATE-TIME is the NTP the hub gave the segment's keyframe
	// (to the millisecond the playlist carries).
	keyNTPs := pub.keyframeNTPs()
	dated := 0
	for _, s := range media.Segments {
		if s.DateTime == nil {
			continue
		}
		dated++
		best := time.Duration(1 << 62)
		for _, ntp := range keyNTPs {
			best = min(best, s.DateTime.Sub(ntp).Abs())
		}
		if best > 2*time.Millisecond {
			t.Errorf("PROGRAM-DATE-TIME %v is %v from the nearest keyframe NTP", s.DateTime, best)
		}
		if d := time.Since(*s.DateTime); d < 0 || d > 5*time.Second {
			t.Errorf("PROGRAM-DATE-TIME %v is %v from now", s.DateTime, d)
		}
	}
	if dated == 0 {
		t.Fatalf("no PROGRAM-DATE-TIME in\n%s", raw)
	}

	// Every file the playlist names is served, with its type.
	for _, uri := range []string{media.Map.URI, media.Segments[len(media.Segments)-1].URI, parts[len(parts)-1].URI} {
		r := f.get(t, "/live/s1/"+uri)
		if r.status != http.StatusOK || len(r.body) == 0 || r.header.Get("Content-Type") != "video/mp4" {
			t.Errorf("%s: %d, %d bytes, %q", uri, r.status, len(r.body), r.header.Get("Content-Type"))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	head, err := f.do(t, ctx, http.MethodHead, "/live/s1/"+name, nil)
	if err != nil || head.status != http.StatusOK || len(head.body) != 0 {
		t.Errorf("HEAD %s: %v %d %d bytes", name, err, head.status, len(head.body))
	}
}

// testBlocking asks for the next part before it exists, both ways LL-HLS
// players do: a blocking playlist reload and the preload hint.
func testBlocking(t *testing.T, f *fixture) {
	name, media, _ := f.waitSegments(t, "s1", 1)
	msn := media.MediaSequence + len(media.Segments)
	part := len(media.Parts)

	start := time.Now()
	r := f.get(t, "/live/s1/"+name+"?_HLS_msn="+strconv.Itoa(msn)+"&_HLS_part="+strconv.Itoa(part))
	if r.status != http.StatusOK {
		t.Fatalf("blocking reload: %d %s", r.status, r.body)
	}
	pl, err := playlist.Unmarshal(r.body)
	if err != nil {
		t.Fatal(err)
	}
	next := pl.(*playlist.Media)
	if got := next.MediaSequence + len(next.Segments); got < msn || (got == msn && len(next.Parts) <= part) {
		t.Fatalf("blocking reload for %d.%d returned a playlist at %d.%d", msn, part, got, len(next.Parts))
	}
	t.Logf("blocking reload answered in %v", time.Since(start))

	// The hinted part is answered once complete, with its content.
	hint := next.PreloadHint.URI
	start = time.Now()
	r = f.get(t, "/live/s1/"+hint)
	if r.status != http.StatusOK || len(r.body) == 0 {
		t.Fatalf("preload hint %s: %d %s", hint, r.status, r.body)
	}
	t.Logf("preload hint answered in %v", time.Since(start))

	// Far ahead: refused at once rather than held.
	r = f.get(t, "/live/s1/"+name+"?_HLS_msn="+strconv.Itoa(msn+100))
	wantError(t, r, http.StatusBadRequest, "invalid_blocking_request")
	// A part beyond the hint is not announced: 404 at once.
	sub := partName.FindStringSubmatch(hint)
	n, _ := strconv.Atoi(sub[3])
	r = f.get(t, "/live/s1/"+sub[1]+"_part"+strconv.Itoa(n+50)+".mp4")
	wantError(t, r, http.StatusNotFound, "not_found")

	// A client that gives up on a blocked request frees its handler at
	// once, not when the part arrives.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, media, _ = f.mediaPlaylist(t, "s1")
	msn = media.MediaSequence + len(media.Segments) + 1
	_, err = f.do(t, ctx, http.MethodGet, "/live/s1/"+name+"?_HLS_msn="+strconv.Itoa(msn), nil)
	if err == nil {
		t.Fatal("a reload for the segment after next was answered within 50ms")
	}
}

func testFFmpeg(t *testing.T, f *fixture) {
	// ffmpeg starts three segments from the live edge; wait until those
	// are media rather than the initial gaps.
	f.waitSegments(t, "s1", 4)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-i", f.url("/live/s1/index.m3u8"), "-t", "2", "-f", "null", "-progress", "pipe:1", "-")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("ffmpeg: %v\n%s", err, stderr)
	}
	frames := 0
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "frame="); ok {
			frames, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if frames < sourceFPS {
		t.Fatalf("ffmpeg decoded %d frames, want at least %d\n%s", frames, sourceFPS, out)
	}
	t.Logf("ffmpeg decoded %d frames", frames)
}

func testCORS(t *testing.T, f *fixture) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	origin := http.Header{"Origin": {"https://shop.example"}}
	r, err := f.do(t, ctx, http.MethodGet, "/live/s1/index.m3u8", origin)
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("GET with Origin: %v %d", err, r.status)
	}
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Allow-Origin %q", got)
	}
	if !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "Content-Length") {
		t.Errorf("Expose-Headers %q", r.header.Get("Access-Control-Expose-Headers"))
	}

	pre := http.Header{
		"Origin":                         {"https://shop.example"},
		"Access-Control-Request-Method":  {"GET"},
		"Access-Control-Request-Headers": {"range"},
	}
	r, err = f.do(t, ctx, http.MethodOptions, "/live/s1/index.m3u8", pre)
	if err != nil || r.status != http.StatusNoContent {
		t.Fatalf("preflight: %v %d", err, r.status)
	}
	if r.header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "GET") ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Range") ||
		r.header.Get("Access-Control-Max-Age") == "" {
		t.Errorf("preflight headers %v", r.header)
	}
	// Errors carry CORS too, or a browser player could not read them.
	r, _ = f.do(t, ctx, http.MethodGet, "/live/nope/index.m3u8", origin)
	if r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("404 without Allow-Origin: %v", r.header)
	}
}

func testErrors(t *testing.T, f *fixture) {
	wantError(t, f.get(t, "/live/nope/index.m3u8"), http.StatusNotFound, "stream_not_found")
	wantError(t, f.get(t, "/live/s1/nothing.mp4"), http.StatusNotFound, "not_found")
	wantError(t, f.get(t, "/live/s1/nothing.m3u8"), http.StatusNotFound, "not_found")
	wantError(t, f.get(t, "/live/s1/0123456789ab_video1_part3.mp4"), http.StatusNotFound, "not_found")
	wantError(t, f.get(t, "/live/s1/video9_stream.m3u8"), http.StatusNotFound, "not_found")
	wantError(t, f.get(t, "/live/s1/"), http.StatusNotFound, "not_found")
	wantError(t, f.get(t, "/live/s1/a/index.m3u8"), http.StatusNotFound, "not_found")
	wantError(t, f.get(t, "/live/s1/index.txt"), http.StatusNotFound, "not_found")
	wantError(t, f.get(t, "/live/s1/..%5Cindex.m3u8"), http.StatusBadRequest, "invalid_path")
	wantError(t, f.get(t, "/live/s1/%2e%2e%2fx.m3u8"), http.StatusNotFound, "not_found")
	wantError(t, f.get(t, "/live/s1/video1_stream.m3u8?_HLS_msn=x"), http.StatusBadRequest, "invalid_blocking_request")
	wantError(t, f.get(t, "/live/s1/index.m3u8?a=%zz"), http.StatusBadRequest, "invalid_query")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := f.do(t, ctx, http.MethodPost, "/live/s1/index.m3u8", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	if r.header.Get("Allow") == "" {
		t.Error("405 without Allow")
	}
}

// testSharedParts: a part asked for by many viewers is answered the same
// bytes, with its length, the later requests from the muxer's cache; a HEAD
// gets the headers alone.
func testSharedParts(t *testing.T, f *fixture) {
	_, media := f.settled(t, "s1")
	var uri string
	for _, seg := range media.Segments {
		for _, p := range seg.Parts {
			uri = p.URI
		}
	}
	if uri == "" {
		t.Fatal("no part in the playlist")
	}
	first := f.get(t, "/live/s1/"+uri)
	second := f.get(t, "/live/s1/"+uri)
	if first.status != http.StatusOK || second.status != http.StatusOK || len(first.body) == 0 || !bytes.Equal(first.body, second.body) {
		t.Fatalf("part %s: %d (%d bytes) then %d (%d bytes)", uri, first.status, len(first.body), second.status, len(second.body))
	}
	if cl := second.header.Get("Content-Length"); cl != strconv.Itoa(len(first.body)) || second.header.Get("Content-Type") != first.header.Get("Content-Type") {
		t.Errorf("cached part headers %v, first %v", second.header, first.header)
	}
	if m := f.srv.lookup("s1"); m == nil || m.parts.get(uri) == nil {
		t.Errorf("part %s not in the muxer's cache", uri)
	}
	head, err := f.do(t, t.Context(), http.MethodHead, "/live/s1/"+uri, nil)
	if err != nil || head.status != http.StatusOK || len(head.body) != 0 || head.header.Get("Content-Length") != strconv.Itoa(len(first.body)) {
		t.Errorf("HEAD %s: %+v, %v", uri, head, err)
	}
}

// testSharedPlaylists: clients waiting for the same next part (as every
// LL-HLS player does, at once) get the same playlist, which holds that
// part, and one that gives up does not take it from the others.
func testSharedPlaylists(t *testing.T, f *fixture) {
	name, media, _ := f.waitSegments(t, "s1", 1)
	msn := media.MediaSequence + len(media.Segments)
	part := len(media.Parts)
	path := "/live/s1/" + name + "?_HLS_msn=" + strconv.Itoa(msn) + "&_HLS_part=" + strconv.Itoa(part)

	gone, cancel := context.WithCancel(context.Background())
	go func() { _, _ = f.do(t, gone, http.MethodGet, path, nil) }()
	const clients = 20
	replies := make(chan reply, clients)
	for range clients {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			r, err := f.do(t, ctx, http.MethodGet, path, nil)
			if err != nil {
				r.status, r.body = -1, []byte(err.Error())
			}
			replies <- r
		}()
	}
	time.Sleep(20 * time.Millisecond)
	cancel()
	for range clients {
		r := <-replies
		if r.status != http.StatusOK {
			t.Fatalf("blocking reload for %d.%d: %d %s", msn, part, r.status, r.body)
		}
		pl, err := playlist.Unmarshal(r.body)
		if err != nil {
			t.Fatal(err)
		}
		next := pl.(*playlist.Media)
		if got := next.MediaSequence + len(next.Segments); got < msn || (got == msn && len(next.Parts) <= part) {
			t.Fatalf("blocking reload for %d.%d returned a playlist at %d.%d", msn, part, got, len(next.Parts))
		}
		if cl := r.header.Get("Content-Length"); cl != strconv.Itoa(len(r.body)) {
			t.Errorf("Content-Length %s for %d bytes", cl, len(r.body))
		}
	}
	// Nothing is kept once answered (another subtest may be asking the
	// same for a moment: the ask goes within a part's time).
	key := "GET " + name + "?_HLS_msn=" + strconv.Itoa(msn) + "&_HLS_part=" + strconv.Itoa(part)
	eventually(t, time.Second, "the answered ask forgotten", func() bool {
		m := f.srv.lookup("s1")
		if m == nil {
			return true
		}
		m.jobsMu.Lock()
		defer m.jobsMu.Unlock()
		_, left := m.jobs[key]
		return !left
	})
}
