package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"vitrine/stream"
)

// sps720 is a real 1280x720 30 fps High profile SPS.
var sps720 = []byte{
	0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50,
	0x05, 0xbb, 0x01, 0x6c, 0x80, 0x00, 0x00, 0x03,
	0x00, 0x80, 0x00, 0x00, 0x1e, 0x07, 0x8c, 0x18,
	0xcb,
}

func h264AACTracks() []*stream.Track {
	return []*stream.Track{
		{Index: 0, Codec: &stream.H264{SPS: sps720, PPS: []byte{0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0}}},
		{Index: 1, Codec: &stream.MPEG4Audio{Config: &mpeg4audio.AudioSpecificConfig{
			Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 2}}},
	}
}

func TestGoLiveAndEnd(t *testing.T) {
	e := newEnv(t)
	c := e.createCampaign(map[string]any{"published": true})
	e.notes.reset()

	// End before going live: nothing to end.
	if r := e.must(http.StatusConflict, "POST", "/api/v1/campaigns/"+c.ID+"/end", nil); r.errCode(t) != "campaign_not_live" {
		t.Fatalf("end upcoming: %s", r.Body)
	}

	var got campaignView
	e.clock.Set(t0.Add(55 * time.Minute))
	e.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/live", nil).decode(t, &got)
	if got.Status != "ongoing" || got.LiveStartedAt == nil || !got.LiveStartedAt.Equal(t0.Add(55*time.Minute)) || got.LiveEndedAt != nil {
		t.Fatalf("live %+v", got)
	}
	// Idempotent: the start time and notifications do not change.
	e.clock.Set(t0.Add(56 * time.Minute))
	e.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/live", nil).decode(t, &got)
	if !got.LiveStartedAt.Equal(t0.Add(55 * time.Minute)) {
		t.Fatalf("second go-live moved the start: %v", got.LiveStartedAt)
	}
	if types := e.notes.types(); !slices.Equal(types, []string{EventCampaignLive}) {
		t.Fatalf("notifications %v", types)
	}

	// A publisher connects (as the RTMP server would after authorisation).
	pub, err := e.hub.Publish(c.ID, stream.PublisherInfo{Protocol: "rtmp", Remote: "192.0.2.1:5000"}, h264AACTracks())
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID, nil).decode(t, &got)
	if got.Stream == nil || !got.Stream.Online || got.Stream.Protocol != "rtmp" || len(got.Stream.Tracks) != 2 ||
		got.Stream.Tracks[0].Width != 1280 {
		t.Fatalf("stream %+v", got.Stream)
	}

	e.clock.Set(t0.Add(2 * time.Hour))
	got = campaignView{}
	e.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/end", nil).decode(t, &got)
	if got.Status != "ended" || got.LiveEndedAt == nil || !got.LiveEndedAt.Equal(t0.Add(2*time.Hour)) || got.Stream != nil {
		t.Fatalf("ended %+v", got)
	}
	select {
	case <-pub.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("end did not disconnect the publisher")
	}
	if _, ok := e.hub.Get(c.ID); ok {
		t.Fatal("stream still in the hub after end")
	}
	if n, ok := e.notes.last(EventCampaignEnded); !ok || n.Data["status"] != "ended" {
		t.Fatalf("ended notification %v", n)
	}
	e.must(http.StatusConflict, "POST", "/api/v1/campaigns/"+c.ID+"/end", nil)

	// An ended campaign may go live again; past its end time it may not.
	e.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/live", nil).decode(t, &got)
	if got.Status != "ongoing" || got.LiveEndedAt != nil {
		t.Fatalf("live again %+v", got)
	}
	e.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/end", nil)
	e.clock.Set(t0.Add(3 * time.Hour))
	if r := e.must(http.StatusConflict, "POST", "/api/v1/campaigns/"+c.ID+"/live", nil); r.errCode(t) != "campaign_completed" {
		t.Fatalf("live completed: %s", r.Body)
	}
	e.must(http.StatusNotFound, "POST", "/api/v1/campaigns/nope/live", nil)
	e.must(http.StatusNotFound, "POST", "/api/v1/campaigns/nope/end", nil)
}

// An ongoing campaign past its end time is still ongoing until ended; end
// then makes it completed.
func TestEndAfterEndTime(t *testing.T) {
	e := newEnv(t)
	c := e.createCampaign(map[string]any{"go_live": true})
	e.clock.Set(t0.Add(4 * time.Hour))
	var got campaignView
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID, nil).decode(t, &got)
	if got.Status != "ongoing" {
		t.Fatalf("status %s", got.Status)
	}
	e.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/end", nil).decode(t, &got)
	if got.Status != "completed" {
		t.Fatalf("status after end %s", got.Status)
	}
}

func TestPreflight(t *testing.T) {
	// The server transcodes AAC for WebRTC viewers: nothing to warn of.
	e := newEnv(t, func(c *Config) {
		c.WebRTCInfo = func(string) *WebRTCView { return &WebRTCView{Video: "H264", Audio: "Opus (transcoded from AAC)"} }
	})
	p := e.createProduct("P1", nil)
	v := e.createVoucher("V1")
	c := e.createCampaign(map[string]any{"product_ids": []string{p.ID}, "voucher_ids": []string{v.ID}})

	var pf preflightView
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID+"/preflight", nil).decode(t, &pf)
	codes := func() []string {
		out := []string{}
		for _, w := range pf.Warnings {
			out = append(out, w.Code)
		}
		return out
	}
	if pf.PublisherConnected || pf.Speed.Verdict != "unknown" || len(pf.Tracks) != 0 ||
		!slices.Contains(codes(), "no_publisher") || !slices.Contains(codes(), "not_live") || !slices.Contains(codes(), "not_published") {
		t.Fatalf("no publisher: %+v", pf)
	}
	if len(pf.Products) != 1 || pf.Products[0].SKU != "P1" || len(pf.Vouchers) != 1 || pf.Vouchers[0].Code != "V1" ||
		pf.ShareURL != e.srv.URL+"/watch/"+c.ID {
		t.Fatalf("shop: %+v", pf)
	}

	e.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/live", nil)
	pub, err := e.hub.Publish(c.ID, stream.PublisherInfo{Protocol: "rtmp", Remote: "192.0.2.1:5000"}, h264AACTracks())
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	// 1 MB in the current second: after it, the window's complete seconds
	// average 2 Mbit/s, above the 1.5 Mbit/s 720p needs.
	for i := range 100 {
		pub.Write(&stream.Unit{Track: 0, PTS: time.Duration(i) * time.Second / 30, DTS: time.Duration(i) * time.Second / 30,
			Key: i == 0, Payload: [][]byte{make([]byte, 10_000)}})
	}
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))

	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID+"/preflight", nil).decode(t, &pf)
	if !pf.PublisherConnected || pf.Protocol != "rtmp" || len(pf.Tracks) != 2 {
		t.Fatalf("connected: %+v", pf)
	}
	video, audio := pf.Tracks[0], pf.Tracks[1]
	if video.Codec != "H264" || video.Width != 1280 || video.Height != 720 || video.FrameRate != 30 {
		t.Fatalf("video %+v", video)
	}
	if audio.Codec != "AAC" || audio.SampleRate != 48000 || audio.Channels != 2 {
		t.Fatalf("audio %+v", audio)
	}
	if pf.Bitrate != 2_000_000 || pf.Speed.Verdict != "ok" || pf.Speed.Required != 1_500_000 {
		t.Fatalf("speed: bitrate %d %+v", pf.Bitrate, pf.Speed)
	}
	got := codes()
	if slices.Contains(got, "aac_webrtc") || slices.Contains(got, "no_publisher") || slices.Contains(got, "not_live") ||
		slices.Contains(got, "no_audio") || slices.Contains(got, "low_bitrate") {
		t.Fatalf("warnings %v", got)
	}
	e.must(http.StatusNotFound, "GET", "/api/v1/campaigns/nope/preflight", nil)
}

func TestSpeedVerdict(t *testing.T) {
	for _, tc := range []struct {
		connected bool
		bitrate   int64
		height    int
		video     bool
		want      string
	}{
		{false, 0, 0, false, "unknown"},
		{true, 0, 720, true, "unknown"},
		{true, 1_500_000, 720, true, "ok"},
		{true, 1_000_000, 720, true, "low"},
		{true, 700_000, 720, true, "poor"},
		{true, 2_999_999, 1080, true, "low"},
		{true, 900_000, 480, true, "ok"},
		{true, 100_000, 0, false, "ok"},
	} {
		s := speedVerdict(tc.connected, tc.bitrate, requiredBitrate(tc.height, tc.video))
		if s.Verdict != tc.want || s.Message == "" {
			t.Errorf("%+v: %+v", tc, s)
		}
	}
	if !strings.Contains(speedVerdict(true, 1_000_000, 1_500_000).Message, "1.00 Mbit/s") {
		t.Error("message without the measured rate")
	}
}
