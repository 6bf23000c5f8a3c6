package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"vitrine/events"
	"vitrine/store"
)

func (a *API) liveRoutes() []*route {
	const tag = "Live"
	return []*route{
		{Method: "POST", Path: "/api/v1/campaigns/{id}/prepare", ID: "prepareLive", Tag: tag,
			Summary: "Prepare the live (rehearsal)",
			Doc: "Puts an upcoming or ended campaign in preparation, the step before going live: from now on its stream key " +
				"is accepted, and the host sees the picture (GET …/preflight; the LL-HLS and WHEP routes with the admin token), " +
				"while viewers still get the prelive page (the media routes answer them 404, as for a campaign that is not live). " +
				"Nothing is recorded and no event or webhook is sent: the live, its start time, its recording and stream.live begin " +
				"with POST …/live. The campaign's status does not change; its stage becomes preparing. " +
				"Idempotent while in preparation; 409 campaign_live when live, campaign_completed once its end time has passed.",
			Status: http.StatusOK, Response: campaignView{}, Errors: []int{http.StatusConflict}, handle: a.prepareLive},
		{Method: "DELETE", Path: "/api/v1/campaigns/{id}/prepare", ID: "abandonPreparation", Tag: tag,
			Summary: "Abandon the preparation",
			Doc: "Ends the preparation without going live: the encoder is disconnected and its key refused again, and the " +
				"campaign is left as it was before (status, no recording, no event, no webhook). POST …/end from the preparation " +
				"does the same. Nothing to do (200) when the campaign is not in preparation; 409 campaign_live when it is live.",
			Status: http.StatusOK, Response: campaignView{}, Errors: []int{http.StatusConflict}, handle: a.abandonPreparation},
		{Method: "POST", Path: "/api/v1/campaigns/{id}/live", ID: "goLive", Tag: tag,
			Summary: "Go live",
			Doc: "Opens the campaign to viewers and makes it ongoing: from its preparation (the encoder already connected goes " +
				"on air), or directly, opening its stream key to encoders at the same time. The live's start time, its recording " +
				"and the stream.live event start now. " +
				"Idempotent while ongoing; an ended campaign may go live again; 409 campaign_completed once its end time has passed. " +
				"Sends campaign.live.",
			Status: http.StatusOK, Response: campaignView{}, Errors: []int{http.StatusConflict}, handle: a.goLive},
		{Method: "POST", Path: "/api/v1/campaigns/{id}/end", ID: "endLive", Tag: tag,
			Summary: "End the live",
			Doc: "Disconnects the publisher, finalises the stream (players see its end) and makes the campaign ended " +
				"(or completed past its end time). Sends campaign.ended. From the preparation, abandons it instead " +
				"(as DELETE …/prepare: the campaign stays as it was, nothing is sent). 409 campaign_not_live otherwise.",
			Status: http.StatusOK, Response: campaignView{}, Errors: []int{http.StatusConflict}, handle: a.endLive},
		{Method: "GET", Path: "/api/v1/campaigns/{id}/preflight", ID: "preflight", Tag: tag,
			Summary: "Preparation check",
			Doc: "What the host checks before starting: is an encoder connected, with which tracks, at what measured bitrate " +
				"(the internet speed verdict), which products and vouchers are attached, and the link to share.",
			Status: http.StatusOK, Response: preflightView{}, handle: a.preflight},
	}
}

// prepareLive starts the campaign's preparation: the publish authoriser
// accepts its key from now on, the viewer rule keeps its media from
// viewers, and the recorder waits for the live (see server and recorder).
func (a *API) prepareLive(w http.ResponseWriter, r *http.Request) error {
	c, now, wrote, err := a.modifyCampaign(r, func(c *store.Campaign, now time.Time) (bool, error) {
		switch c.Status(now) {
		case store.StatusCompleted:
			return false, conflict("campaign_completed", "the campaign is completed: its end time has passed; clone it to go live again")
		case store.StatusOngoing:
			return false, conflict("campaign_live", "the campaign is live: viewers already see it; end it before preparing another live")
		}
		if c.PreparingSince != nil {
			return false, nil // already in preparation
		}
		since := now
		c.PreparingSince, c.LastPreparedAt = &since, &since
		return true, nil
	})
	if err != nil {
		return err
	}
	ctx := r.Context()
	if wrote {
		a.log.InfoContext(ctx, "campaign in preparation", "campaign", c.ID, "request_id", requestIDFrom(ctx))
	}
	return writeJSON(w, http.StatusOK, a.campaignOut(a.links(r), c, now))
}

// abandonPreparation ends the preparation without going live.
func (a *API) abandonPreparation(w http.ResponseWriter, r *http.Request) error {
	c, now, wrote, err := a.modifyCampaign(r, func(c *store.Campaign, now time.Time) (bool, error) {
		switch c.Stage() {
		case store.StageLive:
			return false, conflict("campaign_live", "the campaign is live, not in preparation: end it with POST /api/v1/campaigns/%s/end", c.ID)
		case store.StageOffAir:
			return false, nil // nothing to abandon
		}
		c.PreparingSince = nil
		return true, nil
	})
	if err != nil {
		return err
	}
	if wrote {
		a.preparationAbandoned(r, c)
	}
	return writeJSON(w, http.StatusOK, a.campaignOut(a.links(r), c, now))
}

// preparationAbandoned disconnects the encoder of a preparation just
// abandoned (stored first: the authoriser refuses it if it comes back).
// Nothing else: the campaign is as it was before the preparation.
func (a *API) preparationAbandoned(r *http.Request, c *store.Campaign) {
	ctx := r.Context()
	hadStream := a.hub.End(c.ID)
	a.log.InfoContext(ctx, "campaign preparation abandoned", "campaign", c.ID, "stream_closed", hadStream,
		"request_id", requestIDFrom(ctx))
}

func (a *API) goLive(w http.ResponseWriter, r *http.Request) error {
	prepared := false
	c, now, wrote, err := a.modifyCampaign(r, func(c *store.Campaign, now time.Time) (bool, error) {
		switch c.Status(now) {
		case store.StatusCompleted:
			return false, conflict("campaign_completed", "the campaign is completed: its end time has passed; clone it to go live again")
		case store.StatusOngoing:
			return false, nil // already live (perhaps from another node just now)
		}
		started := now
		prepared = c.Preparing()
		// From the preparation, the live starts now: the recorder keeps
		// only what was captured from this instant (LiveStartedAt).
		c.LiveStartedAt, c.LiveEndedAt, c.PreparingSince = &started, nil, nil
		return true, nil
	})
	if err != nil {
		return err
	}
	ctx := r.Context()
	l := a.links(r)
	if wrote {
		a.log.InfoContext(ctx, "campaign live", "campaign", c.ID, "from_preparation", prepared,
			"request_id", requestIDFrom(ctx))
		a.notifyCampaign(ctx, l, EventCampaignLive, c, now)
		a.tellViewers(ctx, c.ID, events.TypeStreamLive)
	}
	return writeJSON(w, http.StatusOK, a.campaignOut(l, c, now))
}

func (a *API) endLive(w http.ResponseWriter, r *http.Request) error {
	// The store first: once the campaign is not live, the authorizer
	// refuses the publisher if it tries to come back.
	abandoned := false
	c, now, _, err := a.modifyCampaign(r, func(c *store.Campaign, now time.Time) (bool, error) {
		abandoned = false
		if c.Preparing() {
			abandoned = true
			c.PreparingSince = nil
			return true, nil
		}
		if st := c.Status(now); st != store.StatusOngoing {
			return false, conflict("campaign_not_live", "the campaign is %s, not live: there is nothing to end", st)
		}
		ended := now
		if ended.Before(*c.LiveStartedAt) { // clock stepped back: keep end after start
			ended = *c.LiveStartedAt
		}
		c.LiveEndedAt = &ended
		return true, nil
	})
	if err != nil {
		return err
	}
	if abandoned {
		a.preparationAbandoned(r, c)
		return writeJSON(w, http.StatusOK, a.campaignOut(a.links(r), c, now))
	}
	ctx := r.Context()
	hadStream := a.hub.End(c.ID)
	a.log.InfoContext(ctx, "campaign ended", "campaign", c.ID, "stream_closed", hadStream,
		"request_id", requestIDFrom(ctx))
	l := a.links(r)
	a.notifyCampaign(ctx, l, EventCampaignEnded, c, now)
	a.tellViewers(ctx, c.ID, events.TypeStreamEnded)
	return writeJSON(w, http.StatusOK, a.campaignOut(l, c, now))
}

// tellViewers puts a stream event on the campaign's data channel. The
// campaign's change is already stored and stands; a failure here is logged,
// and viewers still see the media start or stop.
func (a *API) tellViewers(ctx context.Context, campaignID, eventType string) {
	if a.overlay == nil {
		return
	}
	room, err := a.overlay.Room(ctx, campaignID)
	if err == nil {
		_, err = room.Publish(ctx, eventType, struct{}{})
	}
	if err != nil {
		a.log.WarnContext(ctx, "viewers not told", "campaign", campaignID, "event", eventType, "error", err)
	}
}

type preflightView struct {
	CampaignID         string        `json:"campaign_id"`
	Status             string        `json:"status" enum:"upcoming,ongoing,ended,completed"`
	Stage              string        `json:"stage" enum:"off_air,preparing,live" doc:"as the campaign's: preparing between POST …/prepare and POST …/live"`
	Published          bool          `json:"published"`
	PublisherConnected bool          `json:"publisher_connected"`
	Protocol           string        `json:"protocol,omitempty" doc:"of the connected publisher"`
	Tracks             []trackView   `json:"tracks" doc:"codecs and parameters of the connected encoder"`
	Bitrate            int64         `json:"bitrate" doc:"measured ingest bitrate, bits/s, over the last seconds"`
	Speed              speedView     `json:"speed" doc:"the internet speed check"`
	Warnings           []warningView `json:"warnings"`
	Products           []productView `json:"products"`
	Vouchers           []voucherView `json:"vouchers"`
	ShareURL           string        `json:"share_url" format:"uri" doc:"the watch page"`
	Ingest             ingestView    `json:"ingest"`
}

type speedView struct {
	Verdict string `json:"verdict" enum:"ok,low,poor,unknown" doc:"ok: bitrate >= required; low: >= half of it; poor: below; unknown: no encoder or nothing measured yet"`
	// Required is what the video's resolution needs to look right.
	Required int64  `json:"required" doc:"bits/s the resolution needs: 3 Mbit/s from 1080 lines, 1.5 from 720, 0.8 from 480, 0.4 below, 64 kbit/s audio only"`
	Message  string `json:"message"`
}

type warningView struct {
	Code    string `json:"code" enum:"no_publisher,not_live,preparing,completed,no_video,no_audio,aac_webrtc,b_frames,low_frame_rate,low_resolution,low_bitrate,no_webrtc,no_products,not_published"`
	Message string `json:"message"`
}

// requiredBitrate is the ingest rate below which a resolution looks
// visibly degraded with H.264 at usual frame rates (the lower ends of
// common streaming guidance).
func requiredBitrate(height int, hasVideo bool) int64 {
	switch {
	case !hasVideo:
		return 64_000
	case height >= 1080:
		return 3_000_000
	case height >= 720:
		return 1_500_000
	case height >= 480:
		return 800_000
	default:
		return 400_000
	}
}

func speedVerdict(connected bool, bitrate, required int64) speedView {
	s := speedView{Required: required}
	mbps := func(b int64) string { return fmt.Sprintf("%.2f Mbit/s", float64(b)/1e6) }
	switch {
	case !connected:
		s.Verdict, s.Message = "unknown", "no encoder is connected"
	case bitrate <= 0:
		s.Verdict, s.Message = "unknown", "measuring: no media received in the last seconds"
	case bitrate >= required:
		s.Verdict, s.Message = "ok", fmt.Sprintf("%s received, %s needed", mbps(bitrate), mbps(required))
	case bitrate*2 >= required:
		s.Verdict, s.Message = "low", fmt.Sprintf("%s received, %s needed: lower the resolution or check the connection", mbps(bitrate), mbps(required))
	default:
		s.Verdict, s.Message = "poor", fmt.Sprintf("only %s received, %s needed: the connection cannot carry this stream", mbps(bitrate), mbps(required))
	}
	return s
}

func (a *API) preflight(w http.ResponseWriter, r *http.Request) error {
	c, err := a.loadCampaign(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := a.now()
	l := a.links(r)
	v := preflightView{
		CampaignID: c.ID, Status: c.Status(now), Stage: c.Stage(), Published: c.Published,
		Tracks: []trackView{}, Warnings: []warningView{},
		Products: make([]productView, 0, len(c.ProductIDs)), Vouchers: make([]voucherView, 0, len(c.VoucherIDs)),
		ShareURL: l.watch(c.ID), Ingest: l.ingest(c.ID, c.StreamKey),
	}
	warn := func(code, format string, args ...any) {
		v.Warnings = append(v.Warnings, warningView{Code: code, Message: fmt.Sprintf(format, args...)})
	}

	transport := transportOf(c)
	var hasVideo, hasAudio, aac, bframes bool
	height := 0
	fps := 0.0
	if s, ok := a.hub.Get(c.ID); ok {
		st := s.Stats()
		v.PublisherConnected = st.Online
		if st.Publisher != nil {
			v.Protocol = st.Publisher.Protocol
		}
		v.Bitrate = st.Bitrate
		bframes = st.BFrames
		for _, t := range st.Tracks {
			v.Tracks = append(v.Tracks, trackView(t))
			switch t.Codec {
			case "AAC":
				hasAudio, aac = true, true
			case "Opus":
				hasAudio = true
			default:
				if t.Width > 0 || t.Codec == "H264" {
					hasVideo = true
					height, fps = max(height, t.Height), t.FrameRate
				} else {
					hasAudio = true
				}
			}
		}
	}
	v.Speed = speedVerdict(v.PublisherConnected, v.Bitrate, requiredBitrate(height, hasVideo))

	switch {
	case v.Status == store.StatusCompleted:
		warn("completed", "the campaign is completed: it can no longer go live; clone it")
	case v.Stage == store.StagePreparing:
		warn("preparing", "the campaign is in preparation: only you see the picture; start the livestream "+
			"(POST /api/v1/campaigns/%s/live) to open it to viewers", c.ID)
	case v.Status == store.StatusUpcoming || v.Status == store.StatusEnded:
		warn("not_live", "the campaign is not live: prepare it (POST /api/v1/campaigns/%s/prepare) to check the encoder "+
			"before viewers see it, or go live; encoders are refused until then", c.ID)
	}
	if !v.PublisherConnected {
		warn("no_publisher", "no encoder is connected: publish to an ingest URL with the stream key")
	}
	if len(v.Tracks) > 0 {
		if !hasVideo {
			warn("no_video", "the encoder sends no video")
		}
		if !hasAudio {
			warn("no_audio", "the encoder sends no audio: viewers will hear nothing")
		}
		// AAC is transcoded to Opus for WebRTC viewers; only a server that
		// cannot (no ffmpeg with libopus) leaves them without sound.
		if aac && transport != store.TransportLLHLS && a.webrtcInfo != nil {
			if w := a.webrtcInfo(c.ID); w != nil && strings.HasPrefix(w.Audio, "none") {
				warn("aac_webrtc", "WebRTC viewers get the picture without sound: the server cannot turn the encoder's AAC audio "+
					"into Opus (%s). LL-HLS viewers hear it; install ffmpeg with libopus on the server, or send Opus over RTSP or WHIP",
					strings.TrimPrefix(strings.TrimPrefix(w.Audio, "none: "), "AAC source: "))
			}
		}
		if hasVideo && bframes {
			switch {
			case transport == store.TransportWebRTC && a.webrtcInfo != nil:
				warn("b_frames", "the encoder sends B-frames and the campaign plays WebRTC (its transport setting): viewers see "+
					"only about a third of the frames, so motion looks jerky. Turn B-frames off in the encoder "+
					"(OBS: Settings > Output > B-frames 0; ffmpeg: -bf 0 or -tune zerolatency), or set the campaign's transport "+
					"to auto to play LL-HLS at the full frame rate (a few seconds behind)")
			case transport == store.TransportAuto:
				warn("b_frames", "the encoder sends B-frames: over WebRTC, viewers would see about a third of the frames, so the "+
					"player uses LL-HLS instead (a few seconds behind). Turn B-frames off in the encoder for sub-second video "+
					"(OBS: Settings > Output > B-frames 0; ffmpeg: -bf 0 or -tune zerolatency)")
			}
		}
		if hasVideo && fps > 0 && fps < 24 {
			warn("low_frame_rate", "%.0f frames per second: motion will look jerky; 25 or 30 is usual", fps)
		}
		if hasVideo && height > 0 && height < 480 {
			warn("low_resolution", "%d lines: products will look blurry; 720 or more is usual", height)
		}
	}
	if v.Speed.Verdict == "low" || v.Speed.Verdict == "poor" {
		warn("low_bitrate", "%s", v.Speed.Message)
	}
	if transport == store.TransportWebRTC && a.webrtcInfo == nil {
		warn("no_webrtc", "the campaign's transport is webrtc, but WebRTC is off on this server: viewers play LL-HLS (a few seconds behind)")
	}
	if !c.Published {
		warn("not_published", "the campaign is not published: it is not shown to viewers")
	}

	ps, err := attached(ctx, c.ProductIDs, a.st.GetProducts)
	if err != nil {
		return fmt.Errorf("preflight products: %w", err)
	}
	for i := range ps {
		v.Products = append(v.Products, productOut(&ps[i]))
	}
	vs, err := attached(ctx, c.VoucherIDs, a.st.GetVouchers)
	if err != nil {
		return fmt.Errorf("preflight vouchers: %w", err)
	}
	for i := range vs {
		v.Vouchers = append(v.Vouchers, voucherOut(&vs[i]))
	}
	if len(v.Products) == 0 {
		warn("no_products", "no product is attached: viewers will have nothing to buy")
	}
	return writeJSON(w, http.StatusOK, v)
}

// attached reads a campaign's products or vouchers in one query. An item
// deleted since the campaign was read is left out (the store detaches it
// from the campaign anyway): the lookup is repeated without it, at most a
// few times, as deletions could keep coming.
func attached[T any](ctx context.Context, ids []string, get func(context.Context, []string) ([]T, error)) ([]T, error) {
	for range 3 {
		items, err := get(ctx, ids)
		var missing *store.MissingError
		if !errors.As(err, &missing) || len(missing.IDs) == 0 {
			return items, err
		}
		ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return slices.Contains(missing.IDs, id) })
	}
	return get(ctx, ids)
}
