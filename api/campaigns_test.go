package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func rfc(t time.Time) string { return t.Format(time.RFC3339) }

func TestCampaignCreate(t *testing.T) {
	e := newEnv(t)
	p1, p2 := e.createProduct("P1", nil), e.createProduct("P2", nil)
	v1 := e.createVoucher("V1")
	img := e.uploadPNG()

	c := e.createCampaign(map[string]any{
		"images": []string{img.ID}, "visibility": "followers", "product_ids": []string{p2.ID, p1.ID},
		"voucher_ids": []string{v1.ID}, "notify_at_creation": true, "notify_before_start": "30m", "published": true,
	})
	base := e.srv.URL
	host := strings.TrimPrefix(base, "http://")
	hostname := host[:strings.LastIndex(host, ":")]
	if c.ID == "" || c.Status != "upcoming" || !strings.HasPrefix(c.StreamKey, "sk_") || len(c.StreamKey) < 30 {
		t.Fatalf("created %+v", c)
	}
	if !slices.Equal(c.ProductIDs, []string{p2.ID, p1.ID}) || !slices.Equal(c.VoucherIDs, []string{v1.ID}) ||
		!slices.Equal(c.Images, []string{img.ID}) || c.ImageURLs[0] != base+"/media/images/"+img.ID {
		t.Fatalf("lists %+v", c)
	}
	if c.Visibility != "followers" || c.NotifyBeforeStart != "30m0s" || !c.Published || !c.NotifyAtCreation ||
		!c.StartsAt.Equal(t0.Add(time.Hour)) || c.LiveStartedAt != nil {
		t.Fatalf("fields %+v", c)
	}
	wantIngest := ingestView{
		RTMP:       "rtmp://" + hostname + ":1935/live/" + c.StreamKey,
		RTMPServer: "rtmp://" + hostname + ":1935/live",
		RTSP:       "rtsp://" + hostname + ":8554/live/" + c.StreamKey,
		WHIP:       base + "/whip/" + c.ID,
	}
	if c.Ingest != wantIngest {
		t.Fatalf("ingest %+v, want %+v", c.Ingest, wantIngest)
	}
	wantPlay := playbackView{
		HLS: base + "/live/" + c.ID + "/index.m3u8", WHEP: base + "/live/" + c.ID + "/whep",
		Events: "ws://" + host + "/live/" + c.ID + "/events", Watch: base + "/watch/" + c.ID,
		Replay: base + "/replay/" + c.ID + "/index.m3u8", Calendar: base + "/live/" + c.ID + "/calendar.ics",
	}
	if c.Playback != wantPlay {
		t.Fatalf("playback %+v, want %+v", c.Playback, wantPlay)
	}
	if c.Stream != nil {
		t.Fatalf("stream %+v without a publisher", c.Stream)
	}

	if got := e.notes.types(); !slices.Equal(got, []string{EventCampaignCreated, EventCampaignPublished}) {
		t.Fatalf("notifications %v", got)
	}
	n, _ := e.notes.last(EventCampaignCreated)
	if n.Data["notify_followers"] != true || n.Data["id"] != c.ID {
		t.Fatalf("created data %v", n.Data)
	}
	for _, n := range e.notes.notes {
		if strings.Contains(toJSON(t, n.Data), c.StreamKey) {
			t.Fatalf("%s notification leaks the stream key", n.Type)
		}
	}

	var got campaignView
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID, nil).decode(t, &got)
	if got.StreamKey != c.StreamKey || got.Title != c.Title || got.NotifyBeforeStart != "30m0s" {
		t.Fatalf("get %+v", got)
	}

	// A deleted product leaves the campaign.
	e.must(http.StatusNoContent, "DELETE", "/api/v1/products/"+p1.ID, nil)
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID, nil).decode(t, &got)
	if !slices.Equal(got.ProductIDs, []string{p2.ID}) {
		t.Fatalf("products after delete %v", got.ProductIDs)
	}

	// PublicURL and trusted proxies.
	e.api.publicURL, _ = url.Parse("https://live.example.com")
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID, nil).decode(t, &got)
	if got.Ingest.RTMP != "rtmp://live.example.com:1935/live/"+c.StreamKey || got.Playback.Events != "wss://live.example.com/live/"+c.ID+"/events" {
		t.Fatalf("with public URL: %+v %+v", got.Ingest, got.Playback)
	}
	e.api.publicURL = nil
	fwd := []reqOpt{withHeader("X-Forwarded-Proto", "https"), withHeader("X-Forwarded-Host", "shop.example.org")}
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID, nil, fwd...).decode(t, &got)
	if strings.Contains(got.Playback.Watch, "example.org") {
		t.Fatalf("untrusted X-Forwarded-Host used: %s", got.Playback.Watch)
	}
	e.api.trustProxy = true
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID, nil, fwd...).decode(t, &got)
	if got.Playback.Watch != "https://shop.example.org/watch/"+c.ID {
		t.Fatalf("trusted proxy: %s", got.Playback.Watch)
	}
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID, nil, withHeader("X-Forwarded-Host", "evil.com/path?x")).decode(t, &got)
	if strings.Contains(got.Playback.Watch, "evil") {
		t.Fatalf("malformed X-Forwarded-Host used: %s", got.Playback.Watch)
	}
}

func TestCampaignValidation(t *testing.T) {
	e := newEnv(t)
	p := e.createProduct("P1", nil)
	for _, tc := range []struct {
		name  string
		set   map[string]any
		field string
	}{
		{"missing title", map[string]any{"title": ""}, "title"},
		{"long description", map[string]any{"description": strings.Repeat("a", 5001)}, "description"},
		{"unknown image", map[string]any{"images": []string{"0123456789abcdef0123456789abcdef"}}, "images[0]"},
		{"unknown product", map[string]any{"product_ids": []string{p.ID, "nope"}}, "product_ids[1]"},
		{"duplicate product", map[string]any{"product_ids": []string{p.ID, p.ID}}, "product_ids[1]"},
		{"unknown voucher", map[string]any{"voucher_ids": []string{"nope"}}, "voucher_ids[0]"},
		{"ends before start", map[string]any{"ends_at": rfc(t0.Add(30 * time.Minute))}, "ends_at"},
		{"already over", map[string]any{"starts_at": rfc(t0.Add(-3 * time.Hour)), "ends_at": rfc(t0.Add(-time.Hour))}, "ends_at"},
		{"bad time", map[string]any{"starts_at": "2026-11-22 10:00"}, "starts_at"},
		{"bad visibility", map[string]any{"visibility": "everyone"}, "visibility"},
		{"duration without unit", map[string]any{"notify_before_start": "30"}, "notify_before_start"},
		{"negative duration", map[string]any{"notify_before_start": "-5m"}, "notify_before_start"},
		{"duration too long", map[string]any{"notify_before_start": "200h"}, "notify_before_start"},
		{"fractional seconds", map[string]any{"notify_before_start": "1.5s"}, "notify_before_start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"title": "T", "starts_at": rfc(t0.Add(time.Hour)), "ends_at": rfc(t0.Add(2 * time.Hour))}
			for k, v := range tc.set {
				body[k] = v
			}
			r := e.must(http.StatusUnprocessableEntity, "POST", "/api/v1/campaigns", body)
			if f := r.fields(t); !slices.Contains(f, tc.field) {
				t.Fatalf("fields %v, want %s", f, tc.field)
			}
		})
	}
	// A campaign may start in the past (go live now) as long as it ends later.
	e.createCampaign(map[string]any{"starts_at": rfc(t0.Add(-time.Hour))})
}

// TestCampaignStatusRules walks a campaign through the four statuses with
// the Now hook and checks edit and delete at each.
func TestCampaignStatusRules(t *testing.T) {
	e := newEnv(t)
	status := func(id string) string {
		var c campaignView
		e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+id, nil).decode(t, &c)
		return c.Status
	}
	edit := `{"title": "Edited"}`

	// upcoming: editable, deletable.
	up := e.createCampaign(nil)
	if s := status(up.ID); s != "upcoming" {
		t.Fatalf("status %s", s)
	}
	var c campaignView
	e.must(http.StatusOK, "PATCH", "/api/v1/campaigns/"+up.ID, edit).decode(t, &c)
	if c.Title != "Edited" || c.Description != up.Description || c.StreamKey != up.StreamKey {
		t.Fatalf("patched %+v", c)
	}
	// Fields of the answer that no request sets say what sets them.
	for body, want := range map[string]string{`{"status": "ongoing"}`: "POST …/live", `{"stream_key": "k"}`: "/stream-key"} {
		r := e.must(http.StatusBadRequest, "PATCH", "/api/v1/campaigns/"+up.ID, body)
		if r.errCode(t) != "unknown_field" || !strings.Contains(string(r.Body), want) {
			t.Fatalf("PATCH %s: %s, want unknown_field naming %s", body, r.Body, want)
		}
	}
	e.must(http.StatusNoContent, "DELETE", "/api/v1/campaigns/"+up.ID, nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/campaigns/"+up.ID, nil)

	// ongoing: neither.
	live := e.createCampaign(nil)
	e.must(http.StatusOK, "POST", "/api/v1/campaigns/"+live.ID+"/live", nil)
	if s := status(live.ID); s != "ongoing" {
		t.Fatalf("status %s", s)
	}
	for _, m := range []string{"PATCH", "DELETE"} {
		var body any
		if m == "PATCH" {
			body = edit
		}
		r := e.must(http.StatusConflict, m, "/api/v1/campaigns/"+live.ID, body)
		if r.errCode(t) != "campaign_not_editable" || !strings.Contains(string(r.Body), "end the live first") {
			t.Fatalf("%s ongoing: %s", m, r.Body)
		}
	}

	// ended: both (and it may go live again).
	e.clock.Set(t0.Add(90 * time.Minute))
	e.must(http.StatusOK, "POST", "/api/v1/campaigns/"+live.ID+"/end", nil)
	if s := status(live.ID); s != "ended" {
		t.Fatalf("status %s", s)
	}
	e.must(http.StatusOK, "PATCH", "/api/v1/campaigns/"+live.ID, edit)

	// completed: neither, whether it was ended or never went live.
	never := e.createCampaign(nil)
	e.clock.Set(t0.Add(3 * time.Hour)) // ends_at
	for _, id := range []string{live.ID, never.ID} {
		if s := status(id); s != "completed" {
			t.Fatalf("status %s", s)
		}
		for _, m := range []string{"PATCH", "DELETE"} {
			var body any
			if m == "PATCH" {
				body = edit
			}
			r := e.must(http.StatusConflict, m, "/api/v1/campaigns/"+id, body)
			if r.errCode(t) != "campaign_not_editable" || !strings.Contains(string(r.Body), "its end time has passed") {
				t.Fatalf("%s completed: %s", m, r.Body)
			}
		}
	}

	// Back before the end: the ended campaign is deletable.
	e.clock.Set(t0.Add(2 * time.Hour))
	e.must(http.StatusNoContent, "DELETE", "/api/v1/campaigns/"+live.ID, nil)
}

func TestCampaignPatch(t *testing.T) {
	e := newEnv(t)
	p := e.createProduct("P1", nil)
	c := e.createCampaign(map[string]any{"notify_before_start": "15m"})
	e.notes.reset()

	var got campaignView
	e.must(http.StatusOK, "PATCH", "/api/v1/campaigns/"+c.ID, map[string]any{
		"product_ids": []string{p.ID}, "published": true, "notify_before_start": "1h", "visibility": "followers",
	}).decode(t, &got)
	if !slices.Equal(got.ProductIDs, []string{p.ID}) || !got.Published || got.NotifyBeforeStart != "1h0m0s" ||
		got.Visibility != "followers" || got.Title != c.Title || !got.StartsAt.Equal(c.StartsAt) {
		t.Fatalf("patched %+v", got)
	}
	if types := e.notes.types(); !slices.Equal(types, []string{EventCampaignPublished}) {
		t.Fatalf("notifications %v", types)
	}
	// Publishing again is not news.
	e.must(http.StatusOK, "PATCH", "/api/v1/campaigns/"+c.ID, `{"published": true}`)
	if n := len(e.notes.types()); n != 1 {
		t.Fatalf("%d notifications", n)
	}
	// A window ending before its start is refused and changes nothing.
	e.must(http.StatusUnprocessableEntity, "PATCH", "/api/v1/campaigns/"+c.ID, map[string]any{"ends_at": rfc(t0.Add(30 * time.Minute))})
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID, nil).decode(t, &got)
	if !got.EndsAt.Equal(c.EndsAt) {
		t.Fatalf("ends_at changed to %v", got.EndsAt)
	}
	e.must(http.StatusNotFound, "PATCH", "/api/v1/campaigns/nope", `{"title": "x"}`)
}

func TestCampaignList(t *testing.T) {
	e := newEnv(t)
	a := e.createCampaign(map[string]any{"title": "Alpha boots", "published": true})
	b := e.createCampaign(map[string]any{"title": "Beta coats", "starts_at": rfc(t0.Add(24 * time.Hour)), "ends_at": rfc(t0.Add(26 * time.Hour))})
	c := e.createCampaign(map[string]any{"title": "Gamma hats", "published": true, "go_live": true})
	if c.Status != "ongoing" || c.LiveStartedAt == nil {
		t.Fatalf("go_live: %+v", c)
	}

	ids := func(path string) []string {
		var l struct {
			Items []campaignView `json:"items"`
		}
		e.must(http.StatusOK, "GET", path, nil).decode(t, &l)
		out := []string{}
		for _, c := range l.Items {
			out = append(out, c.ID)
		}
		return out
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", append(slices.Sorted(slices.Values([]string{a.ID, c.ID})), b.ID)}, // by starts_at, then id
		{"?sort=-title", []string{c.ID, b.ID, a.ID}},
		{"?sort=title", []string{a.ID, b.ID, c.ID}},
		{"?q=COATS", []string{b.ID}},
		{"?status=ongoing", []string{c.ID}},
		{"?status=upcoming&sort=title", []string{a.ID, b.ID}},
		{"?status=completed", []string{}},
		{"?active_only=true&sort=title", []string{a.ID, c.ID}},
		{"?from=" + url.QueryEscape(rfc(t0.Add(20*time.Hour))), []string{b.ID}},
		{"?to=" + url.QueryEscape(rfc(t0.Add(5*time.Hour))) + "&sort=title", []string{a.ID, c.ID}},
	} {
		if got := ids("/api/v1/campaigns" + tc.query); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.query, got, tc.want)
		}
	}
	var l struct {
		Items []campaignView `json:"items"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/campaigns?status=ongoing", nil).decode(t, &l)
	if l.Items[0].StreamKey == "" || l.Items[0].Ingest.WHIP == "" {
		t.Fatalf("list item lacks key or URLs: %+v", l.Items[0])
	}

	for _, q := range []string{"?status=live", "?sort=price", "?active_only=yes", "?from=yesterday",
		"?limit=0", "?limit=201", "?limit=x", "?cursor=garbage", "?stauts=ongoing", "?status=ongoing&status=ended",
		"?from=" + url.QueryEscape(rfc(t0)) + "&to=" + url.QueryEscape(rfc(t0))} {
		r := e.do("GET", "/api/v1/campaigns"+q, nil)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d: %s", q, r.Status, r.Body)
			continue
		}
		r.errCode(t)
	}
}

func TestCampaignClone(t *testing.T) {
	e := newEnv(t)
	p := e.createProduct("P1", nil)
	v := e.createVoucher("V1")
	img := e.uploadPNG()
	src := e.createCampaign(map[string]any{"published": true, "product_ids": []string{p.ID}, "voucher_ids": []string{v.ID},
		"images": []string{img.ID}, "notify_before_start": "10m", "visibility": "followers", "go_live": true})
	e.notes.reset()

	var c campaignView
	e.must(http.StatusCreated, "POST", "/api/v1/campaigns/"+src.ID+"/clone", nil).decode(t, &c)
	if c.ID == src.ID || c.StreamKey == src.StreamKey || c.Status != "upcoming" || c.Published || c.LiveStartedAt != nil {
		t.Fatalf("clone %+v", c)
	}
	if c.Title != src.Title+" (copy)" || c.Description != src.Description || !slices.Equal(c.ProductIDs, src.ProductIDs) ||
		!slices.Equal(c.VoucherIDs, src.VoucherIDs) || !slices.Equal(c.Images, src.Images) ||
		c.NotifyBeforeStart != "10m0s" || c.Visibility != "followers" || !c.StartsAt.Equal(src.StartsAt) {
		t.Fatalf("clone content %+v", c)
	}
	if types := e.notes.types(); !slices.Equal(types, []string{EventCampaignCreated}) {
		t.Fatalf("notifications %v", types)
	}

	// Overrides.
	e.must(http.StatusCreated, "POST", "/api/v1/campaigns/"+src.ID+"/clone", map[string]any{
		"title": "Encore", "starts_at": rfc(t0.Add(48 * time.Hour)), "ends_at": rfc(t0.Add(50 * time.Hour)), "published": true,
	}).decode(t, &c)
	if c.Title != "Encore" || !c.StartsAt.Equal(t0.Add(48*time.Hour)) || !c.Published {
		t.Fatalf("clone with overrides %+v", c)
	}

	// Once the window is over, new times are required.
	e.clock.Set(t0.Add(4 * time.Hour))
	r := e.must(http.StatusUnprocessableEntity, "POST", "/api/v1/campaigns/"+src.ID+"/clone", nil)
	if f := r.fields(t); !slices.Contains(f, "ends_at") {
		t.Fatalf("fields %v", f)
	}
	e.must(http.StatusUnprocessableEntity, "POST", "/api/v1/campaigns/"+src.ID+"/clone", `{"title": "Again"}`)
	e.must(http.StatusCreated, "POST", "/api/v1/campaigns/"+src.ID+"/clone", map[string]any{
		"starts_at": rfc(t0.Add(5 * time.Hour)), "ends_at": rfc(t0.Add(6 * time.Hour))})
	e.must(http.StatusNotFound, "POST", "/api/v1/campaigns/nope/clone", nil)
	e.must(http.StatusBadRequest, "POST", "/api/v1/campaigns/"+src.ID+"/clone", `{"stream_key": "x"}`)
}

// A clone's title tells it from its source in the list.
func TestCopyTitle(t *testing.T) {
	long := strings.Repeat("é", maxTitle)
	for in, want := range map[string]string{
		"Autumn sale":          "Autumn sale (copy)",
		"Autumn sale (copy)":   "Autumn sale (copy 2)",
		"Autumn sale (copy 9)": "Autumn sale (copy 10)",
		"(copy)":               "(copy) (copy)",
		long:                   strings.Repeat("é", maxTitle-8) + "… (copy)",
	} {
		got := copyTitle(in)
		if got != want || utf8.RuneCountInString(got) > maxTitle {
			t.Errorf("copyTitle(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRotateStreamKey(t *testing.T) {
	e := newEnv(t)
	c := e.createCampaign(nil)
	var got campaignView
	e.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/stream-key", nil).decode(t, &got)
	if got.StreamKey == c.StreamKey || !strings.HasPrefix(got.StreamKey, "sk_") ||
		!strings.HasSuffix(got.Ingest.RTMP, "/live/"+got.StreamKey) {
		t.Fatalf("rotated %+v", got)
	}
	stored, err := e.st.GetCampaignByStreamKey(t.Context(), got.StreamKey)
	if err != nil || stored.ID != c.ID {
		t.Fatalf("new key: %v %v", stored, err)
	}
	if _, err := e.st.GetCampaignByStreamKey(t.Context(), c.StreamKey); err == nil {
		t.Fatal("old key still works")
	}
	e.must(http.StatusNotFound, "POST", "/api/v1/campaigns/nope/stream-key", nil)
}

func TestIngestPorts(t *testing.T) {
	e := newEnv(t)
	c := e.createCampaign(nil)
	e.api.SetIngestPorts(0, 0)
	var got campaignView
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID, nil).decode(t, &got)
	if got.Ingest.RTMP != "" || got.Ingest.RTSP != "" || got.Ingest.WHIP == "" {
		t.Fatalf("disabled protocols: %+v", got.Ingest)
	}
	e.api.SetIngestPorts(41935, 0)
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID, nil).decode(t, &got)
	if !strings.Contains(got.Ingest.RTMP, ":41935/live/") {
		t.Fatalf("rtmp %q", got.Ingest.RTMP)
	}
}
