package webrtc

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"

	"vitrine/stream"
)

// A pion publisher sends H.264 and Opus over WHIP; the hub gets aligned
// units of both; a pion viewer gets decodable H.264 from a keyframe on and
// Opus over WHEP; trickle ICE and DELETE work on both sessions.
func TestWHIPToWHEP(t *testing.T) {
	t.Parallel()
	m := loadMedia(t)
	ts := newTestServer(t)
	pub := startPublisher(t, ts, testStream, m, true)

	var st *stream.Stream
	waitFor(t, 8*time.Second, "WHIP stream online", func() bool {
		s, ok := ts.hub.Get(testStream)
		st = s
		return ok && s.Online()
	})
	tracks := st.Tracks()
	if len(tracks) != 2 || tracks[0].Codec.String() != "H264" || tracks[1].Codec.String() != "Opus" {
		t.Fatalf("tracks = %v, want H264 and Opus", tracks)
	}
	if w, h, _ := tracks[0].Codec.(*stream.H264).Dimensions(); w != 320 || h != 240 {
		t.Errorf("video %dx%d, want 320x240", w, h)
	}
	checkAlignment(t, st)
	ts.mu.Lock()
	w := ts.whips[testStream]
	ts.mu.Unlock()
	w.ing.mu.Lock()
	fromSR := w.ing.ntpFromSR
	w.ing.mu.Unlock()
	if !fromSR {
		t.Error("units do not carry the sender reports' capture time (same host, same clock)")
	}

	v := startViewer(t, ts, testStream, viewerOpts{})
	waitFor(t, 8*time.Second, "45 frames at the viewer", func() bool { return v.frameCount() >= 45 })
	waitFor(t, 3*time.Second, "Opus at the viewer", func() bool { return v.audio.Load() >= 25 })
	t.Logf("time to first frame, new WHEP viewer of a WHIP stream: %v (PLIs received by the publisher: %d)",
		v.timeToFirstFrame(), pub.plis.Load())
	if !v.firstIsKey {
		t.Error("the viewer's first frame is not a keyframe with its SPS")
	}
	frames := v.frameCount()
	decoded, errs := v.decodeFrames(t)
	if decoded < frames*9/10 || errs != "" {
		t.Errorf("ffmpeg decoded %d of %d frames; errors: %s", decoded, frames, errs)
	}
	// The viewer's packets were encrypted and written by Vitrine, past
	// pion's per-packet layers (srtp_direct.go): a pion whose DTLS
	// transport no longer has the field it is keyed from fails here.
	if e := ts.Egress(); e.Direct == 0 || e.Direct != e.Sent {
		t.Errorf("%d of %d packets sent on the direct path, want all", e.Direct, e.Sent)
	}

	info := ts.StreamInfo(testStream)
	if info.WHEPVideo != "H264" || info.WHEPAudio != "Opus" || info.WHEPViewers != 1 {
		t.Errorf("StreamInfo = %+v", info)
	}

	// Trickle ICE: a candidate of the viewer's own is accepted (204),
	// garbage is not (400), nor a stale ETag (412), nor an ICE restart (422).
	cand := candidateLine(t, v.pc.LocalDescription().SDP)
	etag := func() string {
		ss := ts.lookup(kindWHEP, testStream, v.location[strings.LastIndex(v.location, "/")+1:])
		if ss == nil {
			t.Fatal("viewer session not found")
		}
		return ss.etag
	}()
	patch := func(body, ifMatch string) int {
		req, _ := http.NewRequest(http.MethodPatch, ts.base+v.location, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/trickle-ice-sdpfrag")
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		resp, _ := do(t, req)
		return resp.StatusCode
	}
	ufrag := iceUfrag(t, v.pc.LocalDescription().SDP)
	good := "a=ice-ufrag:" + ufrag + "\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n" + cand + "\r\na=end-of-candidates\r\n"
	for _, c := range []struct {
		name, body, ifMatch string
		want                int
	}{
		{"candidate", good, etag, http.StatusNoContent},
		{"no If-Match", good, "", http.StatusNoContent},
		{"garbage", "hello world", etag, http.StatusBadRequest},
		{"bad candidate", "m=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:nonsense\r\n", etag, http.StatusBadRequest},
		{"stale etag", good, `"other"`, http.StatusPreconditionFailed},
		{"ice restart", "a=ice-ufrag:newufrag\r\na=ice-pwd:newpasswordnewpassword\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n", "*", http.StatusUnprocessableEntity},
	} {
		if got := patch(c.body, c.ifMatch); got != c.want {
			t.Errorf("PATCH %s: %d, want %d", c.name, got, c.want)
		}
	}

	// DELETE of the viewer ends its session; DELETE of the publisher
	// takes it out of the hub before the answer.
	req, _ := http.NewRequest(http.MethodDelete, ts.base+v.location, nil)
	if resp, body := do(t, req); resp.StatusCode != http.StatusOK {
		t.Errorf("WHEP DELETE: %d %s", resp.StatusCode, body)
	}
	if code := pub.remove(); code != http.StatusOK {
		t.Errorf("WHIP DELETE: %d", code)
	}
	if st.Online() {
		t.Error("the stream still has a publisher after the WHIP DELETE")
	}
	if n := ts.sessionCount(); n != 0 {
		t.Errorf("%d sessions left", n)
	}
}

// checkAlignment reads the hub for a second: audio and video units that
// arrive together must carry close timestamps (the publisher sends both in
// real time from the same origin).
func checkAlignment(t *testing.T, st *stream.Stream) {
	t.Helper()
	r, err := st.AddReader("test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var last [2]time.Duration
	var keys, units [2]int
	var worst time.Duration
	_ = r.Run(ctx, func(u *stream.Unit) error {
		// Sender reports map RTP time to the sender's clock with some
		// jitter: a capture a little in the future is fine.
		if lag := time.Since(u.NTP); u.NTP.IsZero() || lag < -20*time.Millisecond || lag > 3*time.Second {
			t.Errorf("unit NTP %v is %v before now", u.NTP, lag)
		}
		last[u.Track] = u.PTS
		units[u.Track]++
		if u.Key {
			keys[u.Track]++
		}
		if units[0] > 0 && units[1] > 0 {
			d := last[0] - last[1]
			worst = max(worst, d, -d)
		}
		return nil
	})
	if units[0] < 20 || units[1] < 30 || keys[0] == 0 {
		t.Fatalf("hub units in 1s: video %d (%d keyframes), audio %d", units[0], keys[0], units[1])
	}
	// The GOP replay at AddReader makes the first video units old.
	t.Logf("audio/video timestamp gap at the hub: %v", worst)
}

func candidateLine(t *testing.T, sdpText string) string {
	t.Helper()
	for l := range strings.SplitSeq(sdpText, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "a=candidate:") {
			return l
		}
	}
	t.Fatal("no candidate in the local description")
	return ""
}

func iceUfrag(t *testing.T, sdpText string) string {
	t.Helper()
	for l := range strings.SplitSeq(sdpText, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "a=ice-ufrag:"); ok {
			return v
		}
	}
	t.Fatal("no ice-ufrag")
	return ""
}

// feedRTMPLike publishes H.264 and AAC units to the hub as the RTMP ingest
// would, at the media's pace, until stop.
func feedRTMPLike(t *testing.T, hub *stream.Hub, id string, m *testMedia) (stop func()) {
	return feedRTMPLikeAudio(t, hub, id, m, nil)
}

// feedOnline is feedRTMPLike, once the stream is online.
func feedOnline(t *testing.T, ts *testServer, id string, m *testMedia) {
	t.Helper()
	feedRTMPLike(t, ts.hub, id, m)
	waitFor(t, 3*time.Second, "stream online", func() bool { st, ok := ts.hub.Get(id); return ok && st.Online() })
}

// feedRTMPLikeAudio is feedRTMPLike whose AAC frames come from audio
// (nil: a short valid frame).
func feedRTMPLikeAudio(t *testing.T, hub *stream.Hub, id string, m *testMedia, audio func() []byte) (stop func()) {
	if audio == nil {
		audio = func() []byte { return []byte{0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c} }
	}
	t.Helper()
	var sps, pps []byte
	for _, n := range m.aus[0].nalus {
		switch n[0] & 0x1f {
		case 7:
			sps = n
		case 8:
			pps = n
		}
	}
	pub, err := hub.Publish(id, stream.PublisherInfo{Protocol: "rtmp", Remote: "test"}, []*stream.Track{
		{Index: 0, Codec: &stream.H264{SPS: sps, PPS: pps}},
		{Index: 1, Codec: &stream.MPEG4Audio{Config: &mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelCount: 2}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer pub.Close()
		start := time.Now()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		vi, ai := 0, 0
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			el := time.Since(start)
			for ; time.Duration(vi)*time.Second/30 <= el; vi++ {
				a := m.aus[vi%len(m.aus)]
				pts := time.Duration(vi) * time.Second / 30
				pub.Write(&stream.Unit{Track: 0, PTS: pts, DTS: pts, Key: a.key, Payload: a.nalus})
			}
			for ; time.Duration(ai)*1024*time.Second/48000 <= el; ai++ {
				pts := time.Duration(ai) * 1024 * time.Second / 48000
				pub.Write(&stream.Unit{Track: 1, PTS: pts, DTS: pts, Key: true, Payload: [][]byte{audio()}})
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(done); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// A stream with H.264 and AAC, as RTMP brings: WHEP viewers get the video
// (starting on the replayed keyframe interval) and the audio transcoded to
// Opus; with the transcoder off, no audio, and the stream's info says why.
// When the stream ends, viewers are closed.
func TestWHEPFromRTMPSource(t *testing.T) {
	t.Parallel()
	for _, transcode := range []bool{true, false} {
		name := "aac_to_opus"
		if !transcode {
			name = "picture_only"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testWHEPFromRTMPSource(t, transcode)
		})
	}
}

func testWHEPFromRTMPSource(t *testing.T, transcode bool) {
	m := loadMedia(t)
	ts := newTestServer(t, func(c *Config) { c.AACToOpus.Disabled = !transcode })
	feedRTMPLike(t, ts.hub, "rtmpcamp", m)
	time.Sleep(1500 * time.Millisecond) // mid-GOP: a new viewer needs the cache

	v := startViewer(t, ts, "rtmpcamp", viewerOpts{})
	var answer sdp.SessionDescription
	if err := answer.UnmarshalString(v.answer); err != nil {
		t.Fatal(err)
	}
	for _, md := range answer.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			continue
		}
		_, inactive := md.Attribute("inactive")
		if active := md.MediaName.Port.Value != 0 && !inactive; active != transcode {
			t.Errorf("the audio section of the answer is active: %v, want %v\n%s", active, transcode, v.answer)
		}
	}
	waitFor(t, 8*time.Second, "30 frames", func() bool { return v.frameCount() >= 30 })
	t.Logf("time to first frame, new WHEP viewer of an RTMP-like stream (GOP replay): %v", v.timeToFirstFrame())
	if !v.firstIsKey {
		t.Error("the first frame is not a keyframe")
	}
	frames := v.frameCount()
	if decoded, errs := v.decodeFrames(t); decoded < frames*9/10 || errs != "" {
		t.Errorf("ffmpeg decoded %d of %d frames; errors: %s", decoded, frames, errs)
	}
	info := ts.StreamInfo("rtmpcamp")
	if transcode {
		// 30 frames take a second: about 50 packets of 20 ms.
		if n := v.audio.Load(); n < 25 {
			t.Errorf("%d Opus packets for an AAC source", n)
		}
		if info.WHEPAudio != "Opus (transcoded from AAC)" || info.WHEPVideo != "H264" {
			t.Errorf("StreamInfo = %+v", info)
		}
	} else {
		if n := v.audio.Load(); n != 0 {
			t.Errorf("%d audio packets for an AAC source", n)
		}
		if !strings.HasPrefix(info.WHEPAudio, "none: AAC source: AAC audio is not transcoded") || info.WHEPVideo != "H264" {
			t.Errorf("StreamInfo = %+v", info)
		}
	}

	ts.hub.End("rtmpcamp")
	waitFor(t, 5*time.Second, "viewer sessions closed with the stream", func() bool { return ts.sessionCount() == 0 })
}

// Without the cached keyframe, a new viewer of a WHIP stream asks the
// publisher for one (PLI); viewers' PLIs are coalesced: one PLI reaches the
// publisher for a burst of them.
func TestWHEPStartsOnPLI(t *testing.T) {
	t.Parallel()
	m := loadMedia(t)
	ts := newTestServer(t, func(c *Config) { c.NoGOPReplay = true })
	pub := startPublisher(t, ts, "plicamp", m, false)
	waitFor(t, 8*time.Second, "WHIP stream online", func() bool { st, ok := ts.hub.Get("plicamp"); return ok && st.Online() })

	before := pub.plis.Load()
	v := startViewer(t, ts, "plicamp", viewerOpts{noAudio: true})
	waitFor(t, 5*time.Second, "10 frames", func() bool { return v.frameCount() >= 10 })
	t.Logf("time to first frame, new WHEP viewer started by a PLI to the WHIP publisher: %v (PLIs: %d)",
		v.timeToFirstFrame(), pub.plis.Load()-before)
	if !v.firstIsKey {
		t.Error("the first frame is not a keyframe")
	}
	if pub.plis.Load() == before {
		t.Error("the publisher got no PLI for the new viewer")
	}

	// A burst of PLIs from the viewer, once the last one was answered.
	time.Sleep(minKeyframeGap)
	before = pub.plis.Load()
	for range 5 {
		if err := v.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: v.ssrc.Load()}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitFor(t, 2*time.Second, "a PLI at the publisher", func() bool { return pub.plis.Load() > before })
	time.Sleep(minKeyframeGap + 200*time.Millisecond)
	// One, or two when a PLI of the burst reached the server between the
	// keyframe's arrival and its sending to this viewer (a loaded machine).
	if n := pub.plis.Load() - before; n < 1 || n > 2 {
		t.Errorf("5 viewer PLIs made %d PLIs to the publisher, want 1", n)
	} else {
		t.Logf("5 viewer PLIs made %d PLI(s) to the publisher", n)
	}
}

// After Close, no goroutine of the package is left: every one has an
// owner that waits for it.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	m := loadMedia(t)
	ts := newTestServer(t)
	pub := startPublisher(t, ts, "leak", m, true)
	waitFor(t, 8*time.Second, "WHIP stream online", func() bool { st, ok := ts.hub.Get("leak"); return ok && st.Online() })
	v := startViewer(t, ts, "leak", viewerOpts{})
	waitFor(t, 5*time.Second, "frames", func() bool { return v.frameCount() > 5 })

	ts.http.Close()
	ts.Close()
	if n := ts.sessionCount(); n != 0 {
		t.Errorf("%d sessions after Close", n)
	}
	// A goroutine that has just called its WaitGroup's Done may not have
	// returned yet: look again for a moment before calling it a leak.
	var left []string
	for deadline := time.Now().Add(2 * time.Second); ; {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		left = left[:0]
		for g := range strings.SplitSeq(stacks, "\n\n") {
			if strings.Contains(g, "vitrine/protocols/webrtc.") && !strings.Contains(g, "_test.go") {
				left = append(left, g)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, g := range left {
		t.Errorf("goroutine left after Close:\n%s", g)
	}
	pub.close()
}

// Browsers cannot decode B-frames over WebRTC: viewers of a source that
// has them get its I and P frames, which decode on their own, and the
// stream's info says so.
func TestWHEPDropsBFrames(t *testing.T) {
	t.Parallel()
	m := loadBFrameMedia(t)
	ts := newTestServer(t)
	feedRTMPLike(t, ts.hub, "bcamp", m)
	v := startViewer(t, ts, "bcamp", viewerOpts{noAudio: true})
	waitFor(t, 8*time.Second, "15 frames", func() bool { return v.frameCount() >= 15 })
	v.mu.Lock()
	for i, f := range v.frames {
		var nalus h264.AnnexB
		if err := nalus.Unmarshal(f); err != nil {
			t.Fatal(err)
		}
		if isBFrame(nalus) {
			t.Errorf("frame %d is a B-frame", i)
		}
	}
	v.mu.Unlock()
	frames := v.frameCount()
	if decoded, errs := v.decodeFrames(t); decoded < frames*9/10 {
		t.Errorf("ffmpeg decoded %d of %d frames; errors: %s", decoded, frames, errs)
	} else if errs != "" {
		// Dropped reference B-frames leave gaps the decoder notes.
		t.Logf("ffmpeg decoded %d of %d frames, noting: %s", decoded, frames, errs)
	}
	if notes := ts.StreamInfo("bcamp").Notes; len(notes) == 0 || !strings.Contains(notes[0], "B-frames") {
		t.Errorf("notes = %q", notes)
	}
}

// TestWHEPTranscoderFailure: the AAC transcoder of a stream is killed,
// then fed garbage: the video goes on without a pause and the sound comes
// back within a few seconds.
//
// Not parallel: it finds the transcoder among this process's children.
func TestWHEPTranscoderFailure(t *testing.T) {
	m := loadMedia(t)
	ts := newTestServer(t)
	var garbage atomic.Bool
	junk := bytes.Repeat([]byte{0xff, 0xf1, 0x13, 0x37, 0x00}, 80)
	feedRTMPLikeAudio(t, ts.hub, "failing", m, func() []byte {
		if garbage.Load() {
			return junk
		}
		return []byte{0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c}
	})
	v := startViewer(t, ts, "failing", viewerOpts{})
	waitFor(t, 8*time.Second, "picture and sound", func() bool { return v.frameCount() >= 30 && v.audio.Load() >= 25 })

	// checkRecovers: while the transcoder is down, the video keeps its 30
	// frames a second; the audio comes back.
	checkRecovers := func(what string) {
		t.Helper()
		frames, audio := v.frameCount(), v.audio.Load()
		time.Sleep(time.Second)
		if got := v.frameCount() - frames; got < 25 {
			t.Errorf("%s: %d frames in the second after", what, got)
		}
		began := time.Now()
		waitFor(t, 8*time.Second, "the sound back after "+what, func() bool { return v.audio.Load() > audio+50 })
		t.Logf("%s: the sound is back %v after the first second", what, time.Since(began).Round(10*time.Millisecond))
	}

	pid := transcoderPID(t)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	checkRecovers("ffmpeg killed")
	if transcoderPID(t) == pid {
		t.Error("the killed ffmpeg was not replaced")
	}

	garbage.Store(true)
	time.Sleep(1500 * time.Millisecond)
	garbage.Store(false)
	checkRecovers("garbage AAC")
}

// transcoderPID finds this process's ffmpeg child that encodes Opus.
func transcoderPID(t *testing.T) int {
	t.Helper()
	var found int
	waitFor(t, 5*time.Second, "the transcoder's ffmpeg", func() bool {
		dirs, _ := os.ReadDir("/proc")
		for _, d := range dirs {
			pid, err := strconv.Atoi(d.Name())
			if err != nil {
				continue
			}
			stat, err1 := os.ReadFile("/proc/" + d.Name() + "/stat")
			cmd, err2 := os.ReadFile("/proc/" + d.Name() + "/cmdline")
			if err1 != nil || err2 != nil || !bytes.Contains(cmd, []byte("libopus")) || !bytes.Contains(cmd, []byte("pipe:0")) {
				continue
			}
			f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
			if len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
				found = pid
				return true
			}
		}
		return false
	})
	return found
}
