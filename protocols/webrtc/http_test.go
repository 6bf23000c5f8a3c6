package webrtc

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/interceptor"
	pion "github.com/pion/webrtc/v4"

	"vitrine/internal/httperr"
)

// vp8Offer is a real offer from a client that only sends VP8 video.
func vp8Offer(t *testing.T) string {
	t.Helper()
	m := &pion.MediaEngine{}
	if err := m.RegisterCodec(pion.RTPCodecParameters{
		RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96,
	}, pion.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	pc, err := pion.NewAPI(pion.WithMediaEngine(m), pion.WithInterceptorRegistry(&interceptor.Registry{})).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	tr, err := pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeVP8, ClockRate: 90000}, "v", "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(tr); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return offer.SDP
}

// whipOfferSDP is a real H.264 + Opus offer from a pion client.
func whipOfferSDP(t *testing.T) string {
	t.Helper()
	pc, err := clientAPI(t, false).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	for _, c := range []pion.RTPCodecCapability{
		{MimeType: pion.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
		{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2},
	} {
		tr, err := pion.NewTrackLocalStaticSample(c, c.MimeType, "s")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTrack(tr); err != nil {
			t.Fatal(err)
		}
	}
	return offerOf(t, pc)
}

// Every refusal has its status and the JSON error envelope.
func TestHTTPErrors(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	offer := whipOfferSDP(t)

	// A first publisher (never sending media) holds the stream.
	resp, body := post(t, ts.base+"/whip/held", testKey, "application/sdp", offer)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("first WHIP: %d %s", resp.StatusCode, body)
	}

	cases := []struct {
		name        string
		method, url string
		key, ctype  string
		body        string
		want        int
		code        string
	}{
		{"no key", "POST", "/whip/c1", "", "application/sdp", offer, 401, "unauthorized"},
		{"wrong key", "POST", "/whip/c1", "nope", "application/sdp", offer, 401, "unauthorized"},
		{"content type", "POST", "/whip/c1", testKey, "text/plain", offer, 415, "unsupported_media_type"},
		{"garbage SDP", "POST", "/whip/c1", testKey, "application/sdp", "this is not SDP", 400, "bad_sdp"},
		{"no media", "POST", "/whip/c1", testKey, "application/sdp", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", 400, "bad_sdp"},
		{"VP8 only", "POST", "/whip/c1", testKey, "application/sdp", vp8Offer(t), 406, "unsupported_codec"},
		{"second publisher", "POST", "/whip/held", testKey, "application/sdp", offer, 409, "already_publishing"},
		{"too large", "POST", "/whip/c1", testKey, "application/sdp", strings.Repeat("a", 70<<10), 413, "body_too_large"},
		{"empty", "POST", "/whip/c1", testKey, "application/sdp", "", 400, "empty_body"},
		{"WHEP unknown stream", "POST", "/live/nobody/whep", "", "application/sdp", offer, 404, "stream_not_found"},
		{"WHEP content type", "POST", "/live/held/whep", "", "application/json", offer, 415, "unsupported_media_type"},
		{"PATCH unknown session", "PATCH", "/whip/c1/sessions/abc", "", "application/trickle-ice-sdpfrag", "a=end-of-candidates", 404, "session_not_found"},
		{"DELETE unknown session", "DELETE", "/live/c1/whep/sessions/abc", "", "", "", 404, "session_not_found"},
		{"GET WHIP", "GET", "/whip/c1", "", "", "", 405, "method_not_allowed"},
		{"GET WHEP", "GET", "/live/c1/whep", "", "", "", 405, "method_not_allowed"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, ts.base+c.url, strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		req.Header.Set("Origin", "https://shop.example")
		resp, body := do(t, req)
		if resp.StatusCode != c.want {
			t.Errorf("%s: status %d, want %d (%s)", c.name, resp.StatusCode, c.want, body)
			continue
		}
		var env httperr.Body
		if err := json.Unmarshal([]byte(body), &env); err != nil || env.Error.Code != c.code {
			t.Errorf("%s: body %q, want error code %q", c.name, body, c.code)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: no CORS header on the error", c.name)
		}
	}
}

// OPTIONS gives the ICE servers and answers CORS preflights; a 201 carries
// the session URL, ETag and ICE servers, readable across origins.
func TestOptionsAndCreatedHeaders(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	req, _ := http.NewRequest(http.MethodOptions, ts.base+"/whip/c1", nil)
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	resp, _ := do(t, req)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("OPTIONS: %d", resp.StatusCode)
	}
	links := resp.Header.Values("Link")
	want := []string{
		`<stun:stun.example.net:3478>; rel="ice-server"`,
		`<turn:turn.example.net:3478?transport=udp>; rel="ice-server"; username="user"; credential="p\"w"; credential-type="password"`,
	}
	if strings.Join(links, "\n") != strings.Join(want, "\n") {
		t.Errorf("Link headers:\n%s\nwant:\n%s", strings.Join(links, "\n"), strings.Join(want, "\n"))
	}
	for h, v := range map[string]string{
		"Access-Control-Allow-Origin":  "*",
		"Access-Control-Allow-Methods": corsPolicy.Methods,
		"Access-Control-Allow-Headers": corsPolicy.AllowHeaders,
	} {
		if got := resp.Header.Get(h); got != v {
			t.Errorf("%s = %q, want %q", h, got, v)
		}
	}

	resp, body := post(t, ts.base+"/whip/c1", testKey, "application/sdp", whipOfferSDP(t))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/sdp" {
		t.Errorf("Content-Type %q", ct)
	}
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/whip/c1/sessions/") {
		t.Errorf("Location %q", loc)
	}
	if resp.Header.Get("ETag") == "" || len(resp.Header.Values("Link")) != 2 {
		t.Errorf("ETag %q, Link %q", resp.Header.Get("ETag"), resp.Header.Values("Link"))
	}
	if !strings.Contains(body, "a=candidate:") || !strings.Contains(body, "typ host") {
		t.Errorf("the answer has no host candidate:\n%s", body)
	}
	if !strings.Contains(body, " tcp ") {
		t.Errorf("the answer has no ICE-TCP candidate:\n%s", body)
	}
	// Session URL preflight (PATCH and DELETE from a page).
	req, _ = http.NewRequest(http.MethodOptions, ts.base+resp.Header.Get("Location"), nil)
	req.Header.Set("Origin", "https://shop.example")
	resp, _ = do(t, req)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Methods") == "" {
		t.Errorf("session OPTIONS: %d %v", resp.StatusCode, resp.Header)
	}
}

// A publisher that negotiates but never connects is dropped after the
// connect timeout, and frees the stream for another one.
func TestWHIPNeverConnects(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *Config) { c.ConnectTimeout = 700 * time.Millisecond })
	offer := whipOfferSDP(t) // its peer connection never gets the answer
	resp, body := post(t, ts.base+"/whip/c1", testKey, "application/sdp", offer)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", resp.StatusCode, body)
	}
	waitFor(t, 3*time.Second, "session dropped", func() bool { return ts.sessionCount() == 0 })
	resp, body = post(t, ts.base+"/whip/c1", testKey, "application/sdp", whipOfferSDP(t))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHIP after the timeout: %d %s", resp.StatusCode, body)
	}
}

// Session limits answer 503.
func TestSessionLimits(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *Config) { c.MaxSessions = 1 })
	offer := whipOfferSDP(t)
	if resp, body := post(t, ts.base+"/whip/c1", testKey, "application/sdp", offer); resp.StatusCode != http.StatusCreated {
		t.Fatalf("first: %d %s", resp.StatusCode, body)
	}
	resp, body := post(t, ts.base+"/whip/c2", testKey, "application/sdp", whipOfferSDP(t))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "too_many_sessions") {
		t.Fatalf("second: %d %s", resp.StatusCode, body)
	}
}

// TestPublishersKeepTheirSlots: viewers that never connect cannot take the
// last sessions: a publisher still gets in when they have taken all they
// may (MaxSessions 10: a slot is kept for publishers).
func TestPublishersKeepTheirSlots(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *Config) { c.MaxSessions = 10 })
	m := loadMedia(t)
	startPublisher(t, ts, "c1", m, true)
	waitFor(t, 8*time.Second, "WHIP stream online", func() bool {
		st, ok := ts.hub.Get("c1")
		return ok && st.Online() && len(st.Tracks()) > 0
	})
	whepOffer := func() string {
		pc, err := clientAPI(t, false).NewPeerConnection(pion.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		if _, err := pc.AddTransceiverFromKind(pion.RTPCodecTypeVideo, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
		return offerOf(t, pc)
	}
	for i := range 8 { // with the publisher, 9 of 10
		if resp, body := post(t, ts.base+"/live/c1/whep", "", "application/sdp", whepOffer()); resp.StatusCode != http.StatusCreated {
			t.Fatalf("viewer %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := post(t, ts.base+"/live/c1/whep", "", "application/sdp", whepOffer())
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "too_many_sessions") {
		t.Fatalf("a viewer past the viewers' share: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, ts.base+"/whip/c2", testKey, "application/sdp", whipOfferSDP(t))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("a publisher when the viewers have taken their share: %d %s", resp.StatusCode, body)
	}
}
