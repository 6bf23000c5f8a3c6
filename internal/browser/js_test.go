package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestHelpersJSSyntax parses every snippet without running it, and checks
// the helpers they define.
func TestHelpersJSSyntax(t *testing.T) {
	srv := servePage(t, "<!doctype html><title>js</title>")
	b := Launch(t)
	ctx := timeout(t, 20*time.Second)
	p, err := b.NewPage(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for name, js := range map[string]string{
		"HelpersJS":     HelpersJS,
		"WHIPPublishJS": WHIPPublishJS("http://127.0.0.1:1/whip/a'b\"c\u2028", "tok</script>"),
		"WHEPPlayJS":    WHEPPlayJS("http://127.0.0.1:1/whep"),
		"WHEPStatsJS":   WHEPStatsJS,
		"WHIPStopJS":    WHIPStopJS,
		"WHEPStopJS":    WHEPStopJS,
	} {
		quoted, _ := json.Marshal(js)
		// new Function compiles its body without calling it.
		if err := p.Eval(ctx, fmt.Sprintf("new Function(%s), true", quoted), nil); err != nil {
			t.Errorf("%s does not parse: %v", name, err)
		}
	}
	var kinds map[string]string
	if err := p.Eval(ctx, HelpersJS+"; Object.fromEntries(Object.entries(window.__vitrine).map(([k, v]) => [k, typeof v]))", &kinds); err != nil {
		t.Fatal(err)
	}
	for _, fn := range []string{"whipPublish", "whipStop", "whepPlay", "whepStop", "whepStats"} {
		if kinds[fn] != "function" {
			t.Errorf("window.__vitrine.%s is %q", fn, kinds[fn])
		}
	}
	if err := p.Eval(ctx, WHEPStatsJS, nil); err == nil || !strings.Contains(err.Error(), "no WHEP session") {
		t.Errorf("stats without a session: %v", err)
	}
}

// peerJS turns a page into the media side of a WHIP/WHEP server: it answers
// offers with Chromium's own WebRTC stack, sending the fake camera and
// microphone when asked to.
const peerJS = `<!doctype html><title>peer</title><script>
window.pcs = [];
window.answer = async (offer, send) => {
	const pc = new RTCPeerConnection();
	window.pcs.push(pc);
	await pc.setRemoteDescription({type: 'offer', sdp: offer});
	if (send) {
		const stream = await navigator.mediaDevices.getUserMedia({video: true, audio: true});
		for (const tr of pc.getTransceivers()) {
			tr.direction = 'sendonly';
			await tr.sender.replaceTrack(stream.getTracks().find((t) => t.kind === tr.receiver.track.kind));
		}
	}
	await pc.setLocalDescription();
	if (pc.iceGatheringState !== 'complete') {
		await new Promise((r) => pc.addEventListener('icegatheringstatechange', () => {
			if (pc.iceGatheringState === 'complete') r();
		}));
	}
	return pc.localDescription.sdp;
};
window.framesDecoded = async (i) => {
	let n = 0;
	(await window.pcs[i].getStats()).forEach((r) => {
		if (r.type === 'inbound-rtp' && r.kind === 'video') n = r.framesDecoded || 0;
	});
	return n;
};
</script>`

// whipServer is a WHIP/WHEP endpoint whose media side is a Chromium page.
type whipServer struct {
	*httptest.Server
	peer atomic.Pointer[Page]

	mu        sync.Mutex
	offers    map[string]string // path → last offer
	deletes   []string          // "path auth"
	answerErr error
}

func newWHIPServer(t *testing.T) *whipServer {
	s := &whipServer{offers: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/peer" {
			_, _ = io.WriteString(w, peerJS)
			return
		}
		_, _ = io.WriteString(w, "<!doctype html><title>viewer</title><body></body>")
	})
	endpoint := func(send bool, token string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
				http.Error(w, "bad token", http.StatusUnauthorized)
				return
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/sdp" {
				http.Error(w, "content type "+ct, http.StatusUnsupportedMediaType)
				return
			}
			offer, _ := io.ReadAll(r.Body)
			s.mu.Lock()
			s.offers[r.URL.Path] = string(offer)
			s.mu.Unlock()
			quoted, _ := json.Marshal(string(offer))
			var answer string
			ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
			defer cancel()
			if err := s.peer.Load().Eval(ctx, fmt.Sprintf("answer(%s, %t)", quoted, send), &answer); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Location", r.URL.Path+"/session/1") // relative, as servers usually send it
			w.Header().Set("Content-Type", "application/sdp")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, answer)
		}
	}
	mux.HandleFunc("POST /whip", endpoint(false, "s3cret"))
	mux.HandleFunc("POST /whep", endpoint(true, ""))
	mux.HandleFunc("DELETE /", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.deletes = append(s.deletes, r.URL.Path+" "+r.Header.Get("Authorization"))
		s.mu.Unlock()
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// firstVideoCodec is the encoding name of the first payload type of the
// offer's video section: the preferred codec.
func firstVideoCodec(sdp string) string {
	m := regexp.MustCompile(`(?m)^m=video \d+ \S+ (\d+)`).FindStringSubmatch(sdp)
	if m == nil {
		return ""
	}
	r := regexp.MustCompile(`(?m)^a=rtpmap:` + m[1] + ` ([^/\r\n]+)`).FindStringSubmatch(sdp)
	if r == nil {
		return ""
	}
	return r[1]
}

// TestWHIPWHEPHelpers runs the helpers against a Chromium peer standing in
// for the server's media side: it checks the HTTP exchange (token, content
// type, 201 and Location, DELETE) and that media flows; the WebRTC
// engineer's tests run them against Vitrine itself.
func TestWHIPWHEPHelpers(t *testing.T) {
	srv := newWHIPServer(t)
	b := Launch(t, WithFakeMedia())
	ctx := timeout(t, 30*time.Second)
	peer, err := b.NewPage(ctx, srv.URL+"/peer")
	if err != nil {
		t.Fatal(err)
	}
	srv.peer.Store(peer)
	ScreenshotOnFailure(t, peer, "")

	pub, err := b.NewPage(ctx, srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	ScreenshotOnFailure(t, pub, "")
	err = pub.Eval(ctx, WHIPPublishJS(srv.URL+"/whip", "wrong"), nil)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401: bad token") {
		t.Fatalf("publish with a wrong token: %v", err)
	}
	began := time.Now()
	var res WHIPResult
	if err := pub.Eval(ctx, WHIPPublishJS(srv.URL+"/whip", "s3cret"), &res); err != nil {
		t.Fatal(err)
	}
	t.Logf("WHIP connected in %v: %+v", time.Since(began).Round(time.Millisecond), res)
	if res.Status != 201 || res.Location != srv.URL+"/whip/session/1" || res.ContentType != "application/sdp" {
		t.Errorf("result = %+v", res)
	}
	srv.mu.Lock()
	offer := srv.offers["/whip"]
	srv.mu.Unlock()
	if c := firstVideoCodec(offer); c != "H264" {
		t.Errorf("offer prefers %q, want H264", c)
	}
	if res.VideoCodec != "video/H264" || res.AudioCodec != "audio/opus" {
		t.Errorf("negotiated %s and %s, want H.264 and Opus", res.VideoCodec, res.AudioCodec)
	}
	if !strings.Contains(offer, "a=sendonly") || !strings.Contains(offer, "a=candidate:") {
		t.Errorf("offer is not sendonly with candidates:\n%s", offer)
	}
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := peer.WaitFor(wait, "framesDecoded(0).then((n) => n > 0)", 50*time.Millisecond); err != nil {
		t.Fatalf("published video never decoded: %v", err)
	}
	var stop struct{ Status int }
	if err := pub.Eval(ctx, WHIPStopJS, &stop); err != nil || stop.Status != 200 {
		t.Fatalf("stop = %+v, %v", stop, err)
	}

	view, err := b.NewPage(ctx, srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	ScreenshotOnFailure(t, view, "")
	var play WHEPResult
	if err := view.Eval(ctx, WHEPPlayJS(srv.URL+"/whep"), &play); err != nil {
		t.Fatal(err)
	}
	if play.Status != 201 || play.Location != srv.URL+"/whep/session/1" {
		t.Errorf("play = %+v", play)
	}
	srv.mu.Lock()
	offer = srv.offers["/whep"]
	srv.mu.Unlock()
	if strings.Count(offer, "a=recvonly") != 2 {
		t.Errorf("WHEP offer is not recvonly video and audio:\n%s", offer)
	}
	wait, cancel = context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := view.WaitFor(wait, "("+WHEPStatsJS+").then((s) => s.framesDecoded > 10 && s.firstFrameMs !== null && s.videoWidth > 0)", 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var st WHEPStats
	if err := view.Eval(ctx, WHEPStatsJS, &st); err != nil {
		t.Fatal(err)
	}
	if st.FirstFrameMs == nil || *st.FirstFrameMs <= 0 || st.AudioPacketsReceived == 0 || st.ConnectionState != "connected" {
		t.Fatalf("stats = %+v", st)
	}
	t.Logf("WHEP: first frame %.0f ms after the POST; %d frames decoded (%s %dx%d), %d dropped, %d freezes, %d audio packets (%s)",
		*st.FirstFrameMs, st.FramesDecoded, st.VideoCodec, st.VideoWidth, st.VideoHeight, st.FramesDropped, st.FreezeCount, st.AudioPacketsReceived, st.AudioCodec)
	if err := view.Eval(ctx, WHEPStopJS, &stop); err != nil || stop.Status != 200 {
		t.Fatalf("stop = %+v, %v", stop, err)
	}
	srv.mu.Lock()
	deletes := srv.deletes
	srv.mu.Unlock()
	if want := []string{"/whip/session/1 Bearer s3cret", "/whep/session/1 "}; fmt.Sprint(deletes) != fmt.Sprint(want) {
		t.Errorf("DELETEs = %q, want %q", deletes, want)
	}
}
