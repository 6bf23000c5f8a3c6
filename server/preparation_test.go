package server

import (
	"bufio"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"vitrine/internal/testenv"
	"vitrine/store"
)

// preparedView is what the preparation test reads of a campaign.
type preparedView struct {
	ID             string     `json:"id"`
	Status         string     `json:"status"`
	Stage          string     `json:"stage"`
	StreamKey      string     `json:"stream_key"`
	PreparingSince *time.Time `json:"preparing_since"`
	LiveStartedAt  *time.Time `json:"live_started_at"`
	LiveEndedAt    *time.Time `json:"live_ended_at"`
}

// eventually polls status until it answers want, at most within.
func eventually(t *testing.T, what string, want int, within time.Duration, status func() int) {
	t.Helper()
	got := 0
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		if got = status(); got == want || time.Now().After(deadline) {
			break
		}
	}
	if got != want {
		t.Fatalf("%s: %d, want %d", what, got, want)
	}
}

// hlsURIs lists the URIs an LL-HLS playlist references (its lines that
// are not tags, and the URI attributes of its tags).
func hlsURIs(playlist []byte) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(string(playlist)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case !strings.HasPrefix(line, "#"):
			out = append(out, line)
		default:
			for _, m := range uriAttr.FindAllStringSubmatch(line, -1) {
				out = append(out, m[1])
			}
		}
	}
	return out
}

var uriAttr = regexp.MustCompile(`URI="([^"]+)"`)

func (w *eventWatcher) types() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := []string{}
	for _, m := range w.msgs {
		if strings.HasPrefix(m.Type, "stream.") {
			out = append(out, m.Type)
		}
	}
	return out
}

// TestPreparationPrivateUntilLive: ffmpeg pushes RTMP to a campaign in
// preparation. The host's admin token plays it; viewers get 404 on its
// LL-HLS playlists, parts and segments, WHEP and RTSP, and the prelive page
// everywhere else; nothing is recorded and no stream.live is sent. After
// POST …/live viewers play it, stream.live arrives, and the replay starts
// at the live: its first PROGRAM-DATE-TIME is the live's start or later and
// it lasts as long as the live, not the rehearsal before it. Prepared again
// and abandoned, the ended campaign keeps its status, times and recording,
// and viewers still get nothing of the abandoned rehearsal.
func TestPreparationPrivateUntilLive(t *testing.T) {
	testenv.RequireFFmpeg(t)
	s := startServer(t, nil)
	admin := newAdmin(t, s)
	addr, rtspAddr := s.HTTPAddr().String(), s.RTSPAddr().String()
	bearer := "Bearer " + admin.token

	var c preparedView
	admin.must(201, "POST", "/api/v1/campaigns", map[string]any{
		"title": "Rehearsed show", "visibility": "suggested", "published": true,
		"starts_at": time.Now().Add(-time.Minute).Format(time.RFC3339), "ends_at": time.Now().Add(2 * time.Hour).Format(time.RFC3339),
	}, &c)
	id := c.ID
	path := "/api/v1/campaigns/" + id
	events := watchEvents(t, s, id)
	admin.must(200, "POST", path+"/prepare", nil, &c)
	if c.Status != "upcoming" || c.Stage != "preparing" || c.PreparingSince == nil {
		t.Fatalf("prepared: %+v", c)
	}
	testenv.Push(t, testenv.DefaultSource(60), s.rtmpURL(c.StreamKey))
	rehearsal := time.Now()

	hls := "http://" + addr + "/live/" + id + "/index.m3u8"
	viewerHLS := func() int { status, _, _ := get(t, hls); return status }
	hostHLS := func() int { status, _, _ := get(t, hls, "Authorization", bearer); return status }
	whep := func(header map[string]string) func() int {
		return func() int {
			h := map[string]string{"Content-Type": "application/sdp"}
			for k, v := range header {
				h[k] = v
			}
			// Not SDP: 400 once past the viewer rule, 404 when refused.
			return rawStatus(t, addr, "POST", "/live/"+id+"/whep", h, "v=0")
		}
	}
	rtsp := func() int { return rtspStatus(t, rtspAddr, "/live/"+id) }

	// The host sees the picture.
	eventually(t, "the host's LL-HLS preview in preparation", 200, 20*time.Second, hostHLS)
	if got := whep(map[string]string{"Authorization": bearer})(); got != 400 {
		t.Fatalf("the host's WHEP preview in preparation: %d, want 400 (past the rule)", got)
	}
	// Viewers get none of the media: the playlists, parts and segments the
	// host's playlists name...
	_, _, multivariant := get(t, hls, "Authorization", bearer)
	uris := hlsURIs(multivariant)
	if len(uris) == 0 {
		t.Fatalf("no media playlist in %s", multivariant)
	}
	_, _, mediaPlaylist := get(t, "http://"+addr+"/live/"+id+"/"+uris[0], "Authorization", bearer)
	uris = append(uris, hlsURIs(mediaPlaylist)...)
	if len(uris) < 3 {
		t.Fatalf("the host's media playlist names no segment:\n%s", mediaPlaylist)
	}
	for _, u := range uris {
		if u == "gap.mp4" {
			continue // gohlslib's stand-in for a missing part
		}
		if status, _, _ := get(t, "http://"+addr+"/live/"+id+"/"+u, "Authorization", bearer); status != 200 {
			t.Errorf("the host's %s: %d", u, status)
		}
		if status, _, _ := get(t, "http://"+addr+"/live/"+id+"/"+u); status != 404 {
			t.Errorf("a viewer's %s in preparation: %d, want 404", u, status)
		}
	}
	// ...nor WHEP nor RTSP; the prelive page's routes answer as before.
	ws := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
	for _, r := range []struct {
		name   string
		status func() int
		want   int
	}{
		{"LL-HLS playlist", viewerHLS, 404},
		{"WHEP offer", whep(nil), 404},
		{"RTSP DESCRIBE", rtsp, 404},
		{"info", func() int { return rawStatus(t, addr, "GET", "/live/"+id+"/info", nil, "") }, 200},
		{"events socket", func() int { return rawStatus(t, addr, "GET", "/live/"+id+"/events", ws, "") }, 101},
		{"player page", func() int { return rawStatus(t, addr, "GET", "/watch/"+id, nil, "") }, 200},
	} {
		if got := r.status(); got != r.want {
			t.Errorf("a viewer's %s in preparation: %d, want %d", r.name, got, r.want)
		}
	}
	var info struct {
		Status string `json:"status"`
		Online bool   `json:"online"`
	}
	_, _, b := get(t, "http://"+addr+"/live/"+id+"/info")
	if err := json.Unmarshal(b, &info); err != nil || info.Status != "upcoming" || info.Online {
		t.Fatalf("viewers' info in preparation: %s", b)
	}
	if status := admin.do("GET", path+"/recording", nil, nil); status != 404 {
		t.Fatalf("recording in preparation: %d, want 404", status)
	}

	// A rehearsal of 5 s, then Start livestream.
	time.Sleep(time.Until(rehearsal.Add(5 * time.Second)))
	if types := events.types(); len(types) != 0 {
		t.Fatalf("stream events in preparation: %v", types)
	}
	admin.must(200, "POST", path+"/live", nil, &c)
	if c.Status != "ongoing" || c.Stage != "live" || c.LiveStartedAt == nil {
		t.Fatalf("live: %+v", c)
	}
	liveAt := *c.LiveStartedAt
	// Viewers play it at once (a refusal of media is never kept).
	eventually(t, "a viewer's LL-HLS once live", 200, 2*time.Second, viewerHLS)
	eventually(t, "a viewer's WHEP once live", 400, 2*time.Second, whep(nil))
	eventually(t, "a viewer's RTSP once live", 200, 2*time.Second, rtsp)
	events.expect(t, "stream.live")

	time.Sleep(6 * time.Second)
	admin.must(200, "POST", path+"/end", nil, &c)
	ended := c
	rec := admin.waitRecording(id, "ready", 30*time.Second)
	live := c.LiveEndedAt.Sub(liveAt).Seconds()
	// A GOP (1 s) may go before the first keyframe from the live's start;
	// the rehearsal's 5 s would be well beyond.
	if rec.Duration > live+1 || rec.Duration < live-2.5 {
		t.Fatalf("the replay lasts %.2f s, the live %.2f s (after a 5 s rehearsal)", rec.Duration, live)
	}
	status, _, replay := get(t, "http://"+addr+"/replay/"+id+"/index.m3u8")
	m := regexp.MustCompile(`#EXT-X-PROGRAM-DATE-TIME:(\S+)`).FindSubmatch(replay)
	if status != 200 || m == nil {
		t.Fatalf("replay %d:\n%s", status, replay)
	}
	first, err := time.Parse(time.RFC3339Nano, string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	if first.Before(liveAt.Add(-time.Millisecond)) || first.Sub(liveAt) > 1500*time.Millisecond {
		t.Fatalf("the replay starts at %v, the live at %v", first, liveAt)
	}
	t.Logf("replay: %.2f s of a %.2f s live; starts %v after the live's start", rec.Duration, live, first.Sub(liveAt))

	// Prepared again, then abandoned: the campaign is as it was. (First
	// the ended live's playlist goes: hls.end_linger, 4 s here.)
	eventually(t, "a viewer's LL-HLS after the end", 404, 10*time.Second, viewerHLS)
	admin.must(200, "POST", path+"/prepare", nil, &c)
	if c.Status != "ended" || c.Stage != "preparing" {
		t.Fatalf("ended, prepared again: %+v", c)
	}
	push := testenv.Push(t, testenv.DefaultSource(60), s.rtmpURL(c.StreamKey))
	eventually(t, "the encoder of the second rehearsal", 200, 20*time.Second, func() int {
		var pf struct {
			Connected bool `json:"publisher_connected"`
		}
		admin.must(200, "GET", path+"/preflight", nil, &pf)
		if pf.Connected {
			return 200
		}
		return 0
	})
	eventually(t, "the host's preview of the second rehearsal", 200, 20*time.Second, hostHLS)
	for _, r := range []struct {
		name   string
		status func() int
	}{{"LL-HLS", viewerHLS}, {"WHEP", whep(nil)}, {"RTSP", rtsp}} {
		if got := r.status(); got != 404 {
			t.Errorf("a viewer's %s in the second rehearsal: %d, want 404", r.name, got)
		}
	}
	admin.must(200, "DELETE", path+"/prepare", nil, &c)
	if c.Status != "ended" || c.Stage != "off_air" || !c.LiveStartedAt.Equal(*ended.LiveStartedAt) ||
		!c.LiveEndedAt.Equal(*ended.LiveEndedAt) {
		t.Fatalf("abandoned: %+v, was %+v", c, ended)
	}
	if err, _ := push.Wait(10 * time.Second); err == nil {
		t.Fatal("the encoder was not disconnected")
	}
	// What the LL-HLS muxer keeps of the rehearsal a while is not for viewers.
	for range 5 {
		if got := viewerHLS(); got != 404 {
			t.Fatalf("a viewer's LL-HLS after the abandoned rehearsal: %d, want 404", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // the recorder would have started by now
	again := admin.waitRecording(id, "ready", time.Second)
	if again != rec {
		t.Fatalf("recording after the abandoned rehearsal: %+v, was %+v", again, rec)
	}
	if _, _, b := get(t, "http://"+addr+"/replay/"+id+"/index.m3u8"); string(b) != string(replay) {
		t.Fatalf("the replay changed:\n%s\nwas\n%s", b, replay)
	}
	if types := events.types(); !slices.Equal(types, []string{"stream.live", "stream.ended"}) {
		t.Fatalf("stream events: %v", types)
	}
}

// TestMediaRule: which viewer paths are the live's media, and when a
// campaign's media are open to viewers.
func TestMediaRule(t *testing.T) {
	for path, want := range map[string]struct {
		id    string
		media bool
	}{
		"/live/cmp_1/index.m3u8":          {"cmp_1", true},
		"/live/cmp_1/video1_stream.m3u8":  {"cmp_1", true},
		"/live/cmp_1/video1_seg7.mp4":     {"cmp_1", true},
		"/live/cmp_1/whep":                {"cmp_1", true},
		"/live/cmp_1/whep/sessions/abc":   {"cmp_1", true},
		"/live/cmp_1/info":                {"cmp_1", false},
		"/live/cmp_1/events":              {"cmp_1", false},
		"/live/cmp_1/calendar.ics":        {"cmp_1", false},
		"/live/cmp_1/actions":             {"cmp_1", false},
		"/replay/cmp_1/index.m3u8":        {"cmp_1", false},
		"/replay/cmp_1/s1/000001.m4s":     {"cmp_1", false},
		"/watch/cmp_1":                    {"", false},
		"/api/v1/campaigns/cmp_1/prepare": {"", false},
	} {
		if id, media := viewerRoute(path); id != want.id || media != want.media {
			t.Errorf("%s: %q, media %v; want %q, %v", path, id, media, want.id, want.media)
		}
	}

	now := time.Now()
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	for _, tc := range []struct {
		name string
		c    store.Campaign
		want bool
	}{
		{"upcoming", store.Campaign{}, false},
		{"in preparation", store.Campaign{PreparingSince: at(-time.Minute), LastPreparedAt: at(-time.Minute)}, false},
		{"live", store.Campaign{LiveStartedAt: at(-time.Minute), LastPreparedAt: at(-2 * time.Minute)}, true},
		{"just ended", store.Campaign{LiveStartedAt: at(-time.Minute), LiveEndedAt: at(-time.Second)}, true},
		{"ended long ago", store.Campaign{LiveStartedAt: at(-time.Hour), LiveEndedAt: at(-30 * time.Minute)}, false},
		{"just ended, prepared before the live", store.Campaign{LiveStartedAt: at(-time.Minute), LiveEndedAt: at(-time.Second),
			LastPreparedAt: at(-2 * time.Minute)}, true},
		{"just ended, prepared again since and abandoned", store.Campaign{LiveStartedAt: at(-time.Minute),
			LiveEndedAt: at(-3 * time.Second), LastPreparedAt: at(-2 * time.Second)}, false},
		{"ended, in preparation again", store.Campaign{LiveStartedAt: at(-time.Minute), LiveEndedAt: at(-3 * time.Second),
			PreparingSince: at(-2 * time.Second), LastPreparedAt: at(-2 * time.Second)}, false},
	} {
		if got := mediaOpen(&tc.c, now); got != tc.want {
			t.Errorf("%s: media open %v, want %v", tc.name, got, tc.want)
		}
	}
}
