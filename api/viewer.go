package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"vitrine/store"
)

// Viewer endpoints for the player page (/watch/{id}) and the embeddable
// widget (/embed.js): what a campaign is, where to play it, and which live
// features a product. Public, published campaigns only, and readable from
// other origins (a seller's shop embeds the widget): no cookies are
// involved, and every public route of the Viewers tag answers the origins
// of http.allow_origins (crossOrigin in routes.go), "*" by default.

func (a *API) viewerRoutes() []*route {
	return []*route{
		{Method: "GET", Path: "/live/{id}/info", ID: "campaignInfo", Tag: "Viewers", Public: true,
			Summary: "What the player page shows",
			Doc: "The campaign as viewers see it: title, description, status, window, cover image, the products " +
				"of the show, playback URLs (WHEP, LL-HLS, events socket, replay) and whether WebRTC carries its video " +
				"and audio. now is the server's clock (the media clock), for players to line their clock up with it. " +
				"Published campaigns only (404 otherwise). CORS: the origins of http.allow_origins (any by default).",
			Status: http.StatusOK, Response: viewerInfo{}, handle: a.viewerInfo},
		{Method: "GET", Path: "/embed/products/{id}", ID: "productLive", Tag: "Viewers", Public: true,
			Summary: "The live featuring a product (widget)",
			Doc: "For the product widget of embed.js on the seller's product pages: the published campaign featuring " +
				"product {id} that is live now, else the next upcoming one, else the latest with a replay window " +
				"still open (ended). 404 when none features it. CORS: the origins of http.allow_origins (any by default).",
			Status: http.StatusOK, Response: productLiveView{}, handle: a.productLive},
	}
}

// viewerProduct is a product of the show as viewers see it (the fields of
// a pinned product).
type viewerProduct struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Price    string `json:"price" doc:"decimal string" example:"129.00"`
	Currency string `json:"currency" example:"EUR"`
	ImageURL string `json:"image_url"`
	URL      string `json:"url" doc:"the product page on the seller's shop"`
}

type viewerPlayback struct {
	WHEP      string `json:"whep" doc:"WebRTC playback (WHEP), sub-second" format:"uri"`
	HLS       string `json:"hls" doc:"LL-HLS playlist" format:"uri"`
	Events    string `json:"events" doc:"WebSocket of the shopping data channel" format:"uri"`
	Replay    string `json:"replay" doc:"replay playlist (HLS VOD), once recorded" format:"uri"`
	Watch     string `json:"watch" doc:"the player page" format:"uri"`
	Calendar  string `json:"calendar" doc:"iCalendar file" format:"uri"`
	Reminders string `json:"reminders" doc:"POST a phone number for an SMS reminder" format:"uri"`
	Track     string `json:"track" doc:"POST tracking beacons" format:"uri"`
}

type viewerWebRTC struct {
	Enabled bool   `json:"enabled" doc:"the server plays WHEP at all"`
	Video   string `json:"video" doc:"H264, or none: and the reason (not live yet...)" example:"H264"`
	Audio   string `json:"audio" doc:"Opus, or none: and the reason (AAC sources play over LL-HLS only)"`
	BFrames bool   `json:"b_frames" doc:"the stream has B-frames, which WebRTC drops (a third of the frame rate): the player prefers LL-HLS unless transport is webrtc"`
}

type viewerInfo struct {
	ID            string          `json:"id"`
	Title         string          `json:"title"`
	Description   string          `json:"description"`
	Status        string          `json:"status" enum:"upcoming,ongoing,ended,completed"`
	StartsAt      time.Time       `json:"starts_at"`
	EndsAt        time.Time       `json:"ends_at"`
	LiveStartedAt *time.Time      `json:"live_started_at"`
	LiveEndedAt   *time.Time      `json:"live_ended_at"`
	CoverURL      string          `json:"cover_url" doc:"the campaign's first image, empty if none"`
	ImageURLs     []string        `json:"image_urls"`
	Products      []viewerProduct `json:"products" doc:"the products of the show, in the campaign's order"`
	Online        bool            `json:"online" doc:"an encoder is publishing now (false while the campaign is in preparation: its picture is the host's until the live)"`
	Playback      viewerPlayback  `json:"playback"`
	Transport     string          `json:"transport" enum:"auto,webrtc,llhls" doc:"the seller's choice of transport for the live: auto (WebRTC, or LL-HLS when webrtc.b_frames), webrtc (WebRTC whenever webrtc.enabled, B-frames or not), llhls (LL-HLS); the page's ?transport=whep or ?transport=hls overrides it"`
	WebRTC        viewerWebRTC    `json:"webrtc"`
	Now           time.Time       `json:"now" doc:"the server's clock when answering, to the millisecond"`
}

type productLiveView struct {
	Product  viewerProduct `json:"product"`
	Campaign viewerInfo    `json:"campaign"`
}

func (a *API) viewerInfo(w http.ResponseWriter, r *http.Request) error {
	c, err := a.publishedCampaign(r)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, a.viewerInfoOf(r, c))
}

func (a *API) viewerInfoOf(r *http.Request, c *store.Campaign) viewerInfo {
	l := a.links(r)
	now := a.now()
	v := viewerInfo{
		ID: c.ID, Title: c.Title, Description: c.Description, Status: c.Status(now),
		StartsAt: c.StartsAt, EndsAt: c.EndsAt, LiveStartedAt: c.LiveStartedAt, LiveEndedAt: c.LiveEndedAt,
		ImageURLs: l.images(c.Images), Products: []viewerProduct{},
		Playback: viewerPlayback{
			WHEP: l.http("live", c.ID, "whep"), HLS: l.http("live", c.ID, "index.m3u8"),
			Events: l.wsBase + "/live/" + url.PathEscape(c.ID) + "/events",
			Replay: l.http("replay", c.ID, "index.m3u8"), Watch: l.watch(c.ID),
			Calendar: l.http("live", c.ID, "calendar.ics"), Reminders: l.http("live", c.ID, "reminders"),
			Track: l.http("live", c.ID, "track"),
		},
		Transport: transportOf(c),
		Now:       now.Truncate(time.Millisecond),
	}
	if len(v.ImageURLs) > 0 {
		v.CoverURL = v.ImageURLs[0]
	}
	ctx := r.Context()
	for _, id := range c.ProductIDs {
		p, err := a.st.GetProduct(ctx, id)
		if err != nil {
			continue // deleted since: the campaign no longer shows it
		}
		v.Products = append(v.Products, viewerProductOf(p))
	}
	if s, ok := a.hub.Get(c.ID); ok && !c.Preparing() {
		// A preparation's encoder is for the host only: viewers wait for
		// the live (stream.live) as if none were connected.
		v.Online = s.Stats().Online
		v.WebRTC.BFrames = s.BFrames()
	}
	if a.webrtcInfo != nil {
		v.WebRTC.Enabled = true
		if i := a.webrtcInfo(c.ID); i != nil {
			v.WebRTC.Video, v.WebRTC.Audio = i.Video, i.Audio
		}
	}
	return v
}

func viewerProductOf(p *store.Product) viewerProduct {
	return viewerProduct{ID: p.ID, Name: p.Name, Price: p.Price, Currency: p.Currency, ImageURL: p.ImageURL, URL: p.URL}
}

// maxFeaturingScan bounds how many published campaigns productLive reads
// per status.
const maxFeaturingScan = 1000

func (a *API) productLive(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r, "product")
	if err != nil {
		return err
	}
	ctx := r.Context()
	p, err := a.st.GetProduct(ctx, id)
	if err != nil {
		return storeErr(err, "product", id)
	}
	now := a.now()
	// Live first, then the soonest upcoming, then the latest ended.
	for _, f := range []struct {
		status string
		sort   string
	}{
		{store.StatusOngoing, "-starts_at"},
		{store.StatusUpcoming, "starts_at"},
		{store.StatusEnded, "-starts_at"},
	} {
		cursor := ""
		for scanned := 0; scanned < maxFeaturingScan; {
			list, next, err := a.st.ListCampaigns(ctx, store.CampaignFilter{
				Status: f.status, Now: now, PublishedOnly: true, Sort: f.sort,
				Page: store.Page{Limit: 200, Cursor: cursor},
			})
			if err != nil {
				return err
			}
			for i := range list {
				c := &list[i]
				if c.Published && slices.Contains(c.ProductIDs, p.ID) {
					w.Header().Set("Cache-Control", "public, max-age=15")
					return writeJSON(w, http.StatusOK, productLiveView{Product: viewerProductOf(p), Campaign: a.viewerInfoOf(r, c)})
				}
			}
			scanned += len(list)
			if next == "" || len(list) == 0 {
				break
			}
			cursor = next
		}
	}
	return errorf(http.StatusNotFound, "not_found", "no published live features product %s", strings.TrimSpace(clip(p.ID)))
}
