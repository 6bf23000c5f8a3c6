package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"vitrine/stream"
)

// TestCampaignTransportAndCountry: a campaign's transport (auto by default,
// webrtc, llhls) and country (ISO 3166-1 alpha-2, optional) are validated,
// stored, kept by a clone, and the transport is handed to the player in
// /live/{id}/info.
func TestCampaignTransportAndCountry(t *testing.T) {
	e := newEnv(t)
	c := e.createCampaign(map[string]any{"published": true})
	if c.Transport != "auto" || c.Country != "" {
		t.Fatalf("defaults: transport %q, country %q", c.Transport, c.Country)
	}
	c = e.createCampaign(map[string]any{"published": true, "transport": "webrtc", "country": "fr"})
	if c.Transport != "webrtc" || c.Country != "FR" {
		t.Fatalf("created with webrtc, fr: transport %q, country %q", c.Transport, c.Country)
	}
	var got campaignView
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID, nil).decode(t, &got)
	if got.Transport != "webrtc" || got.Country != "FR" {
		t.Fatalf("read back: transport %q, country %q", got.Transport, got.Country)
	}

	// Refused: each says what it takes.
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"transport": "whep"}, "transport"},
		{map[string]any{"transport": "WebRTC"}, "transport"},
		{map[string]any{"country": "France"}, "country"},
		{map[string]any{"country": "XX"}, "country"},
		{map[string]any{"country": "F1"}, "country"},
	} {
		r := e.must(http.StatusUnprocessableEntity, "PATCH", "/api/v1/campaigns/"+c.ID, tc.body)
		if f := r.fields(t); !slices.Equal(f, []string{tc.field}) || strings.Contains(string(r.Body), "E.164") {
			t.Errorf("PATCH %v: fields %v: %s", tc.body, f, r.Body)
		}
		r = e.must(http.StatusUnprocessableEntity, "POST", "/api/v1/campaigns", map[string]any{"title": "x",
			"starts_at": t0.Add(time.Hour).Format(time.RFC3339), "ends_at": t0.Add(2 * time.Hour).Format(time.RFC3339),
			"transport": tc.body["transport"], "country": tc.body["country"]})
		if f := r.fields(t); !slices.Contains(f, tc.field) {
			t.Errorf("POST %v: fields %v", tc.body, f)
		}
	}

	// Changed, a field at a time; an empty country clears it.
	e.must(http.StatusOK, "PATCH", "/api/v1/campaigns/"+c.ID, map[string]any{"transport": "llhls"}).decode(t, &got)
	if got.Transport != "llhls" || got.Country != "FR" {
		t.Fatalf("PATCH transport: transport %q, country %q", got.Transport, got.Country)
	}
	e.must(http.StatusOK, "PATCH", "/api/v1/campaigns/"+c.ID, map[string]any{"country": " gb "}).decode(t, &got)
	if got.Transport != "llhls" || got.Country != "GB" {
		t.Fatalf("PATCH country: transport %q, country %q", got.Transport, got.Country)
	}

	// The player's info carries the choice.
	var info viewerInfo
	e.must(http.StatusOK, "GET", "/live/"+c.ID+"/info", nil, noAuth).decode(t, &info)
	if info.Transport != "llhls" {
		t.Errorf("/live/{id}/info: transport %q, want llhls", info.Transport)
	}

	// A clone keeps both.
	var cl campaignView
	e.must(http.StatusCreated, "POST", "/api/v1/campaigns/"+c.ID+"/clone", nil).decode(t, &cl)
	if cl.Transport != "llhls" || cl.Country != "GB" {
		t.Errorf("clone: transport %q, country %q", cl.Transport, cl.Country)
	}

	e.must(http.StatusOK, "PATCH", "/api/v1/campaigns/"+c.ID, map[string]any{"country": "", "transport": "auto"}).decode(t, &got)
	if got.Transport != "auto" || got.Country != "" {
		t.Fatalf("PATCH back: transport %q, country %q", got.Transport, got.Country)
	}
}

// TestTransportWarnings: with a B-frame stream, the preflight warns in
// plain words as the campaign's transport makes it matter (auto: LL-HLS
// is played; webrtc: a third of the frames; llhls: nothing to say), the
// stream view says what the player plays, and a transport of webrtc on a
// server without WebRTC is flagged.
func TestTransportWarnings(t *testing.T) {
	for _, webrtc := range []bool{true, false} {
		var opts []func(*Config)
		if webrtc {
			opts = append(opts, func(c *Config) {
				// A server whose ffmpeg cannot transcode AAC.
				c.WebRTCInfo = func(string) *WebRTCView {
					return &WebRTCView{Video: "H264", Audio: "none: AAC source: ffmpeg not found (install ffmpeg)"}
				}
			})
		}
		e := newEnv(t, opts...)
		c := e.createCampaign(map[string]any{"published": true})
		e.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/live", nil)
		pub, err := e.hub.Publish(c.ID, stream.PublisherInfo{Protocol: "rtmp", Remote: "192.0.2.1:5000"}, h264AACTracks())
		if err != nil {
			t.Fatal(err)
		}
		// I P B B: presented out of decoding order.
		for i, pts := range []int{0, 3, 1, 2, 6, 4, 5} {
			pub.Write(&stream.Unit{Track: 0, DTS: time.Duration(i) * time.Second / 30, PTS: time.Duration(pts+1) * time.Second / 30,
				Key: i == 0, Payload: [][]byte{make([]byte, 1000)}})
		}
		for _, tc := range []struct {
			transport string
			bframes   string // a word the b_frames warning says; "" for no warning
			aac       bool
			player    string
		}{
			{"auto", "LL-HLS instead", true, "llhls"},
			{"webrtc", "a third of the frames", true, "webrtc"},
			{"llhls", "", false, "llhls"},
		} {
			// The campaign is live: its transport is set in the store, as
			// an edit before the live would have.
			sc, err := e.st.GetCampaign(t.Context(), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			sc.Transport = tc.transport
			if err := e.st.UpdateCampaign(t.Context(), sc); err != nil {
				t.Fatal(err)
			}
			var pf preflightView
			e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID+"/preflight", nil).decode(t, &pf)
			warned := map[string]string{}
			for _, w := range pf.Warnings {
				warned[w.Code] = w.Message
			}
			name := tc.transport
			if !webrtc {
				name += ", no WebRTC"
				if tc.transport == "webrtc" {
					tc.bframes = "" // no_webrtc says it: LL-HLS is played
				}
			}
			switch b, ok := warned["b_frames"]; {
			case tc.bframes == "" && ok:
				t.Errorf("%s: warns of B-frames: %q", name, b)
			case tc.bframes != "" && !strings.Contains(b, tc.bframes):
				t.Errorf("%s: b_frames warning %q, want it to say %q", name, b, tc.bframes)
			}
			if _, ok := warned["aac_webrtc"]; ok != (tc.aac && webrtc) {
				t.Errorf("%s: aac_webrtc warning %v, want %v", name, ok, tc.aac)
			}
			if _, ok := warned["no_webrtc"]; ok != (!webrtc && tc.transport == "webrtc") {
				t.Errorf("%s: no_webrtc warning %v", name, ok)
			}
			var cv campaignView
			e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID, nil).decode(t, &cv)
			want := tc.player
			if !webrtc {
				want = "llhls"
			}
			if cv.Transport != tc.transport || cv.Stream == nil || !cv.Stream.BFrames || cv.Stream.Player != want {
				t.Errorf("%s: campaign transport %q, stream %+v; want the player on %s", name, cv.Transport, cv.Stream, want)
			}
			t.Logf("%s: %v", name, warned)
		}
		pub.Close()
	}
}
