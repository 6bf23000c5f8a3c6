package server

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"vitrine/analytics"
	"vitrine/internal/testenv"
	"vitrine/store"
)

// playFFmpeg plays an HLS URL with ffmpeg in real time (-re), copying
// the streams to nowhere, as a viewer with the User-Agent ua (ffmpeg's
// own, Lavf/..., when empty).
func playFFmpeg(t *testing.T, url, ua string) *testenv.Process {
	t.Helper()
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re"}
	if ua != "" {
		args = append(args, "-user_agent", ua)
	}
	return testenv.Start(t, append(args, "-i", url, "-c", "copy", "-f", "null", "-")...)
}

func waitFFmpeg(t *testing.T, p *testenv.Process, what string) {
	t.Helper()
	if err, out := p.Wait(60 * time.Second); err != nil {
		t.Fatalf("ffmpeg playing %s: %v\n%s", what, err, out)
	}
}

// TestAnalyticsReplayViewers: the server counts the replay's viewers
// itself, as it does the live's. After a recorded live has ended:
//   - a playlist asked for with ?viewer=v_check names it on its segments,
//     and that one request is a viewer;
//   - Frank opens the player page (its beacons: viewer v_frank) and plays
//     the replay in ffmpeg with ?viewer=v_frank: the replay's playlist
//     carries it to the segments, and Frank is one viewer, not two;
//   - Gus plays the replay in ffmpeg (VLC's User-Agent, no viewer id)
//     twice in a row: one viewer, one session, kept alive by the
//     segments (a VOD player loads its playlist once);
//   - Hana plays a product sequence's playlist (an iPhone's player): one
//     viewer, a mobile one;
//   - the player page probing the replay (its Referer, no viewer id: its
//     beacons count it), a HEAD, a crawler, failed requests and the
//     replay's events are no viewers.
func TestAnalyticsReplayViewers(t *testing.T) {
	testenv.RequireFFmpeg(t)
	s := startServer(t, nil)
	admin := newAdmin(t, s)
	c, products := liveCampaign(t, admin, 1)
	base := "http://" + s.HTTPAddr().String()
	api := "/api/v1/campaigns/" + c.ID

	push := testenv.Push(t, testenv.DefaultSource(8), c.Ingest.RTMP)
	waitOnline(t, s, c.ID, 15*time.Second)
	time.Sleep(2 * time.Second)
	admin.must(201, "POST", api+"/pins", map[string]any{"kind": "product", "id": products[0]}, nil)
	time.Sleep(3 * time.Second)
	admin.must(200, "DELETE", api+"/pins/product/"+products[0], nil, nil)
	if err, out := push.Wait(30 * time.Second); err != nil {
		t.Fatalf("ffmpeg push: %v\n%s", err, out)
	}
	admin.must(200, "POST", api+"/end", nil, nil)
	rec := admin.waitRecording(c.ID, "ready", 30*time.Second)
	var seqs struct{ Items []sequenceView }
	admin.must(200, "GET", api+"/sequences", nil, &seqs)
	if len(seqs.Items) != 1 {
		t.Fatalf("sequences %+v, want one", seqs)
	}
	index := base + "/replay/" + c.ID + "/index.m3u8"

	// The playlist names its viewer on every segment.
	status, _, body := get(t, index+"?viewer=v_check")
	if status != 200 || bytes.Count(body, []byte(".m4s?viewer=v_check\n")) != rec.Segments {
		t.Fatalf("playlist with ?viewer=v_check: %d\n%s\nwant each of the %d segments with the query", status, body, rec.Segments)
	}
	// That request was a viewer: its session is part of what is counted.
	checkStart := time.Now()
	var segment string // the first segment's path
	for _, l := range strings.Split(string(body), "\n") {
		if u, ok := strings.CutSuffix(l, ".m4s?viewer=v_check"); ok {
			segment = "/replay/" + c.ID + "/" + u + ".m4s"
			break
		}
	}

	// Frank: the page, then ffmpeg with his id.
	tr := &tracker{t: t, url: base + "/live/" + c.ID + "/track"}
	frankPage := map[string]any{"viewer_id": "v_frank", "session_id": "frank-replay"}
	fStart := time.Now()
	tr.send(uaDesktop, frankPage, tr.ev("page.view", fStart), tr.ev("session.start", fStart))
	frank := playFFmpeg(t, index+"?viewer=v_frank", "")
	// Gus: the replay twice, with VLC's User-Agent and no id.
	const vlc = "VLC/3.0.18 LibVLC/3.0.18"
	gusStart := time.Now()
	gus := playFFmpeg(t, index, vlc)
	// Hana: the sequence, as an iPhone's player, once Gus plays.
	time.Sleep(500 * time.Millisecond)
	hanaStart := time.Now()
	hana := playFFmpeg(t, seqs.Items[0].Playlist, "AppleCoreMedia/1.0.0.21A329 (iPhone; U; CPU OS 17_0 like Mac OS X; en_us)")

	// No viewers: the page's probe, a HEAD, a crawler, failures, events.
	for _, r := range []struct {
		method, path, ua, referer string
		status                    int
	}{
		{"GET", "/replay/" + c.ID + "/index.m3u8", uaFirefox, base + "/watch/" + c.ID + "?utm_source=x", 200},
		{"HEAD", "/replay/" + c.ID + "/index.m3u8", "curl/8.5.0", "", 200},
		{"HEAD", segment, "curl/8.5.0", "", 200},
		{"GET", "/replay/" + c.ID + "/index.m3u8", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "", 200},
		{"GET", segment, "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "", 200},
		{"GET", "/replay/" + c.ID + "/sequences/nope/index.m3u8", "Wget/1.21", "", 404},
		{"GET", "/replay/" + c.ID + "/s1/99999.m4s", "Wget/1.21", "", 404},
		{"GET", "/replay/" + c.ID + "/s1/init.mp4", "Wget/1.21", "", 200},
		{"GET", "/replay/" + c.ID + "/events", "Wget/1.21", "", 200},
	} {
		req, _ := http.NewRequest(r.method, base+r.path, nil)
		req.Header.Set("User-Agent", r.ua)
		if r.referer != "" {
			req.Header.Set("Referer", r.referer)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != r.status {
			t.Fatalf("%s %s: %d, want %d", r.method, r.path, res.StatusCode, r.status)
		}
	}

	waitFFmpeg(t, gus, "the replay (Gus, first)")
	gusAgain := time.Now()
	gus = playFFmpeg(t, index, vlc)
	waitFFmpeg(t, hana, "the sequence (Hana)")
	hanaEnd := time.Now()
	waitFFmpeg(t, frank, "the replay (Frank)")
	fEnd := time.Now()
	tr.send(uaDesktop, frankPage, tr.ev("session.end", fEnd))
	waitFFmpeg(t, gus, "the replay (Gus, again)")
	gusEnd := time.Now()

	// The sessions end HLSIdle after their last request: the server's
	// events of the replay's viewers, by viewer.
	type seen struct {
		starts, ends int
		device       string
		first, last  time.Time
	}
	var viewers map[string]*seen
	for deadline := time.Now().Add(analytics.HLSIdle + 15*time.Second); ; time.Sleep(500 * time.Millisecond) {
		viewers = map[string]*seen{}
		ends := 0
		err := s.store.ScanTrackedEvents(t.Context(), store.TrackedQuery{CampaignID: c.ID,
			Types: []string{analytics.TypeHLSStart, analytics.TypeHLSHeartbeat, analytics.TypeHLSEnd}},
			func(e *store.TrackedEvent) error {
				v := viewers[e.ViewerID]
				if v == nil {
					v = &seen{device: e.Device, first: e.At}
					viewers[e.ViewerID] = v
				}
				switch e.Type {
				case analytics.TypeHLSStart:
					v.starts++
				case analytics.TypeHLSEnd:
					v.ends++
					ends++
				}
				v.last = e.At
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if ends >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d HLS sessions ended %v after the last request; want 4 (v_check, Frank, Gus, Hana)", ends, analytics.HLSIdle)
		}
	}
	if len(viewers) != 4 || viewers["v_check"] == nil || viewers["v_frank"] == nil {
		for id, v := range viewers {
			t.Logf("viewer %s: %+v", id, *v)
		}
		t.Fatalf("%d HLS viewers; want v_check, v_frank, Gus and Hana, and nobody else", len(viewers))
	}
	var gusSeen, hanaSeen *seen
	for id, v := range viewers {
		if v.starts != 1 || v.ends != 1 {
			t.Errorf("viewer %s: %d sessions started, %d ended; want one", id, v.starts, v.ends)
		}
		if strings.HasPrefix(id, "hls-") {
			switch v.device {
			case analytics.Other:
				gusSeen = v
			case analytics.Mobile:
				hanaSeen = v
			}
		}
	}
	if gusSeen == nil || hanaSeen == nil {
		t.Fatalf("Gus (other) and Hana (mobile) not told apart by their User-Agents")
	}
	t.Logf("Gus's session %v (plays %v and %v), Hana's %v (play %v), Frank's %v (page %v)",
		gusSeen.last.Sub(gusSeen.first), gusAgain.Sub(gusStart), gusEnd.Sub(gusAgain), hanaSeen.last.Sub(hanaSeen.first),
		hanaEnd.Sub(hanaStart), viewers["v_frank"].last.Sub(viewers["v_frank"].first), fEnd.Sub(fStart))
	// Gus's session runs from his first playlist to, at least, well into
	// his second play: its segments kept it alive (ffmpeg prefetches a
	// few seconds at most). A session of playlists alone would end at
	// his second playlist.
	minGus := gusAgain.Sub(gusStart) + time.Duration((rec.Duration-4)*float64(time.Second))
	if d := gusSeen.last.Sub(gusSeen.first); d < minGus || d > gusEnd.Sub(gusStart) {
		t.Errorf("Gus's session %v, want %v..%v", d, minGus, gusEnd.Sub(gusStart))
	}
	if hanaSeen.first.Before(hanaStart) || hanaSeen.last.After(hanaEnd) {
		t.Errorf("Hana's session %v..%v, out of her play %v..%v", hanaSeen.first, hanaSeen.last, hanaStart, hanaEnd)
	}
	if f := viewers["v_frank"]; f.first.Before(fStart) || f.last.After(fEnd) {
		t.Errorf("Frank's HLS session %v..%v, out of his page's %v..%v", f.first, f.last, fStart, fEnd)
	}

	// The report: four replay viewers, once each.
	var rep analytics.Report
	admin.must(200, "GET", api+"/analytics?phase=replay", nil, &rep)
	rp := rep.Replay
	if rp == nil || rep.EndedAt == nil || rp.Window.From.After(checkStart) {
		t.Fatalf("replay report %+v", rep)
	}
	a := rp.Audience
	check := viewers["v_check"].last.Sub(viewers["v_check"].first).Seconds() // 0: one playlist
	frankSecs := fEnd.Sub(fStart).Seconds()
	lo := (check + frankSecs + minGus.Seconds()) / 4
	hi := (check + frankSecs + gusEnd.Sub(gusStart).Seconds() + hanaEnd.Sub(hanaStart).Seconds()) / 4
	within(t, "replay average session", a.AverageSessionSeconds, lo-0.01, hi+0.01)
	a.AverageSessionSeconds, a.AverageViewers = 0, 0
	eqJSON(t, "replay audience", a, analytics.ViewerAudience{
		TotalViewers:  4, // v_check, Frank (his page and his ffmpeg: one visit), Gus (two plays: one), Hana
		UniqueViewers: 4,
		MaxViewers:    3, // Frank, Gus, Hana; v_check's single request came before
	})
	eqJSON(t, "replay devices", rp.Devices, analytics.DeviceShare{
		Desktop: 25, Mobile: 25, Other: 50,
		DesktopCount: 1, // Frank: his page's
		MobileCount:  1, // Hana's iPhone player
		OtherCount:   2, // v_check (Go), Gus (VLC)
	})
	var live analytics.Report
	admin.must(200, "GET", api+"/analytics?phase=live", nil, &live)
	if live.Live == nil || live.Live.Audience.TotalViewers != 0 {
		t.Errorf("live audience %+v: nobody watched the live", live.Live)
	}

	// Behind the viewers' analytics, each request still counts under its
	// own route in /metrics.
	_, _, metrics := get(t, base+"/metrics")
	for _, want := range []string{`route="GET /replay/{id}/index.m3u8"`, `route="GET /replay/{id}/{session}/{file}"`,
		`route="GET /replay/{id}/sequences/{seq}/index.m3u8"`} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}
