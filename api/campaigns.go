package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"vitrine/store"
	"vitrine/stream"
)

// Bounds of campaign fields.
const (
	maxTitle          = 200
	maxDescription    = 5000
	maxImages         = 20
	maxAttached       = 200
	maxNotifyBefore   = 7 * 24 * time.Hour
	visibilitySuggest = "suggested"
	visibilityFollow  = "followers"
)

var campaignStatuses = []string{store.StatusUpcoming, store.StatusOngoing, store.StatusEnded, store.StatusCompleted}

type campaignView struct {
	ID                string       `json:"id"`
	Status            string       `json:"status" enum:"upcoming,ongoing,ended,completed" doc:"derived: ongoing while live; completed once ends_at has passed (and not live); ended when the live was ended before ends_at; upcoming otherwise. A preparation leaves it as it was (upcoming or ended): see stage"`
	Stage             string       `json:"stage" enum:"off_air,preparing,live" doc:"where the campaign stands with its stream: preparing between POST …/prepare and POST …/live (its stream key is accepted and the host sees the picture, viewers still see the prelive page), live while ongoing, off_air otherwise"`
	PreparingSince    *time.Time   `json:"preparing_since" doc:"when the preparation began; null unless stage is preparing"`
	Title             string       `json:"title"`
	Description       string       `json:"description"`
	Images            []string     `json:"images" doc:"image ids, in display order"`
	ImageURLs         []string     `json:"image_urls" doc:"public URLs of images, same order"`
	StartsAt          time.Time    `json:"starts_at"`
	EndsAt            time.Time    `json:"ends_at"`
	Visibility        string       `json:"visibility" enum:"suggested,followers"`
	ProductIDs        []string     `json:"product_ids"`
	VoucherIDs        []string     `json:"voucher_ids"`
	NotifyAtCreation  bool         `json:"notify_at_creation"`
	NotifyBeforeStart string       `json:"notify_before_start" doc:"Go duration before starts_at when followers are notified; \"0s\" for none" example:"30m0s"`
	Published         bool         `json:"published"`
	Transport         string       `json:"transport" enum:"auto,webrtc,llhls" doc:"how the player page plays the live: auto (WebRTC, sub-second, but LL-HLS when the stream has B-frames, which WebRTC cannot carry at their full frame rate), webrtc (always WebRTC, even at a third of the frame rate), llhls (always LL-HLS, a few seconds behind, full frame rate); a page's ?transport=whep or ?transport=hls overrides it"`
	Country           string       `json:"country" doc:"ISO 3166-1 alpha-2 country of the campaign's audience: the default country of the national phone numbers (06 12 34 56 78) shoppers leave for an SMS reminder; empty for none (then the country of the products' currency, where it has one)" example:"FR"`
	StreamKey         string       `json:"stream_key" doc:"secret: the publishing key"`
	LiveStartedAt     *time.Time   `json:"live_started_at" doc:"last go-live"`
	LiveEndedAt       *time.Time   `json:"live_ended_at" doc:"last end, if after live_started_at"`
	CreatedAt         time.Time    `json:"created_at"`
	UpdatedAt         time.Time    `json:"updated_at"`
	Version           int64        `json:"version" doc:"1 at creation, one more on every change of the campaign (edits, prepare, go-live, end, key rotation, and a product or voucher of it being deleted)"`
	Ingest            ingestView   `json:"ingest"`
	Playback          playbackView `json:"playback"`
	Stream            *streamView  `json:"stream,omitempty" doc:"present while the media server holds a stream for this campaign"`
	// Recording is filled in by GET /campaigns/{id} only (a list would
	// read every campaign's index).
	Recording *RecordingView `json:"recording,omitempty" doc:"the live's recording, on GET of one campaign; its state says when a write error (disk full...) stopped it"`
}

type streamView struct {
	Online       bool           `json:"online" doc:"a publisher is connected"`
	Protocol     string         `json:"protocol,omitempty" doc:"of the connected publisher: rtmp, rtsp, whip"`
	Since        *time.Time     `json:"since,omitempty" doc:"when the connected publisher started"`
	Tracks       []trackView    `json:"tracks"`
	Bitrate      int64          `json:"bitrate" doc:"measured ingest rate over the last seconds, bits/s"`
	Readers      map[string]int `json:"readers" doc:"readers by kind (hls, whep, recorder)"`
	DroppedUnits uint64         `json:"dropped_units" doc:"units slow readers lost"`
	BFrames      bool           `json:"b_frames" doc:"the encoder sends B-frames: browsers cannot decode them over WebRTC, so the player plays LL-HLS (full frame rate) unless the campaign's transport is webrtc (then WebRTC viewers see about a third of the frames) or the page says ?transport=whep; encode without B-frames (x264 -bf 0 or -tune zerolatency, OBS: B-frames 0)"`
	Player       string         `json:"player" enum:"webrtc,llhls" doc:"what the player page plays now, from the campaign's transport and the stream (B-frames, WebRTC on the server): webrtc or llhls; a page's ?transport= overrides it"`
	WebRTC       *WebRTCView    `json:"webrtc,omitempty" doc:"how the stream plays over WebRTC (WHEP), when WebRTC is enabled"`
}

// WebRTCView says what WHEP viewers of a stream get, so that a source WebRTC
// cannot fully carry (AAC audio, B-frames) is visible, not silent.
type WebRTCView struct {
	Video   string   `json:"video" doc:"H264, or none: and the reason" example:"H264"`
	Audio   string   `json:"audio" doc:"Opus, or none: and the reason (AAC sources)" example:"none: AAC source (not playable over WebRTC)"`
	Viewers int      `json:"viewers" doc:"WHEP sessions watching"`
	Notes   []string `json:"notes,omitempty" doc:"other limits, e.g. B-frames dropped for WebRTC viewers"`
}

type trackView struct {
	Codec      string  `json:"codec" example:"H264"`
	Width      int     `json:"width,omitempty"`
	Height     int     `json:"height,omitempty"`
	FrameRate  float64 `json:"frame_rate,omitempty"`
	SampleRate int     `json:"sample_rate,omitempty"`
	Channels   int     `json:"channels,omitempty"`
}

func streamOut(st stream.Stats) *streamView {
	v := &streamView{Online: st.Online, Since: st.Since, Bitrate: st.Bitrate, Readers: st.Readers,
		DroppedUnits: st.Dropped, BFrames: st.BFrames, Tracks: make([]trackView, len(st.Tracks))}
	if st.Publisher != nil {
		v.Protocol = st.Publisher.Protocol
	}
	if v.Readers == nil {
		v.Readers = map[string]int{}
	}
	for i, t := range st.Tracks {
		v.Tracks[i] = trackView(t)
	}
	return v
}

func (a *API) campaignOut(l links, c *store.Campaign, now time.Time) campaignView {
	v := campaignView{
		ID: c.ID, Status: c.Status(now), Title: c.Title, Description: c.Description,
		Images: nonNil(c.Images), ImageURLs: l.images(c.Images),
		StartsAt: c.StartsAt, EndsAt: c.EndsAt, Visibility: c.Visibility,
		ProductIDs: nonNil(c.ProductIDs), VoucherIDs: nonNil(c.VoucherIDs),
		NotifyAtCreation: c.NotifyAtCreation, NotifyBeforeStart: c.NotifyBeforeStart.String(),
		Published: c.Published, Transport: transportOf(c), Country: c.Country, StreamKey: c.StreamKey,
		LiveStartedAt: c.LiveStartedAt, LiveEndedAt: c.LiveEndedAt, Stage: c.Stage(),
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Version: c.Version,
		Ingest: l.ingest(c.ID, c.StreamKey), Playback: l.playback(c.ID),
	}
	if v.Stage == store.StagePreparing {
		v.PreparingSince = c.PreparingSince
	}
	if s, ok := a.hub.Get(c.ID); ok {
		v.Stream = streamOut(s.Stats())
		v.Stream.Player = playerTransport(transportOf(c), a.webrtcInfo != nil, v.Stream.BFrames)
		if a.webrtcInfo != nil {
			v.Stream.WebRTC = a.webrtcInfo(c.ID)
		}
	}
	return v
}

// transportOf is the campaign's transport, auto when unset.
func transportOf(c *store.Campaign) string {
	if c.Transport == "" {
		return store.TransportAuto
	}
	return c.Transport
}

// playerTransport is what the player page plays (webrtc or llhls) for a
// campaign's transport, whether the server plays WebRTC at all, and
// whether the stream has B-frames, as the player's preferWebRTC decides
// (web/src/player/transport.js).
func playerTransport(transport string, webrtc, bframes bool) string {
	if !webrtc || transport == store.TransportLLHLS || (transport != store.TransportWebRTC && bframes) {
		return store.TransportLLHLS
	}
	return store.TransportWebRTC
}

var transports = []string{store.TransportAuto, store.TransportWebRTC, store.TransportLLHLS}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type campaignCreate struct {
	Title             string   `json:"title" required:"true" minLength:"1" maxLength:"200"`
	Description       string   `json:"description" maxLength:"5000"`
	Images            []string `json:"images" maxItems:"20" doc:"uploaded images (POST /api/v1/images): their ids, or their urls"`
	StartsAt          string   `json:"starts_at" required:"true" format:"date-time"`
	EndsAt            string   `json:"ends_at" required:"true" format:"date-time" doc:"after starts_at, in the future"`
	Visibility        string   `json:"visibility" enum:"suggested,followers," doc:"default suggested (also when empty)"`
	ProductIDs        []string `json:"product_ids" maxItems:"200"`
	VoucherIDs        []string `json:"voucher_ids" maxItems:"200"`
	NotifyAtCreation  bool     `json:"notify_at_creation" doc:"tell followers now: the campaign.created notification carries notify_followers=true"`
	NotifyBeforeStart string   `json:"notify_before_start" doc:"Go duration (\"30m\", \"1h30m\", whole seconds, at most 168h) before starts_at to send campaign.starting_soon; empty or \"0s\" for none" example:"30m"`
	Published         bool     `json:"published" doc:"public: visible to viewers"`
	Transport         string   `json:"transport" enum:"auto,webrtc,llhls," doc:"how the player page plays the live: auto (default, also when empty): WebRTC, or LL-HLS when the stream has B-frames; webrtc: always WebRTC (sub-second, at a third of the frame rate with B-frames); llhls: always LL-HLS (a few seconds behind)"`
	Country           string   `json:"country" pattern:"^([A-Za-z]{2})?$" doc:"ISO 3166-1 alpha-2 country of the audience, the default of national phone numbers in SMS reminders; empty for none" example:"FR"`
	GoLive            bool     `json:"go_live" doc:"save and go live in one call"`
}

// campaignPatch changes the fields it carries; absent (or null) fields stay.
type campaignPatch struct {
	Title             *string   `json:"title" maxLength:"200"`
	Description       *string   `json:"description" maxLength:"5000"`
	Images            *[]string `json:"images" maxItems:"20" doc:"replaces the list: uploaded images' ids (or their urls)"`
	StartsAt          *string   `json:"starts_at" format:"date-time"`
	EndsAt            *string   `json:"ends_at" format:"date-time"`
	Visibility        *string   `json:"visibility" enum:"suggested,followers"`
	ProductIDs        *[]string `json:"product_ids" maxItems:"200" doc:"replaces the list"`
	VoucherIDs        *[]string `json:"voucher_ids" maxItems:"200" doc:"replaces the list"`
	NotifyAtCreation  *bool     `json:"notify_at_creation"`
	NotifyBeforeStart *string   `json:"notify_before_start" doc:"Go duration; changing it (or starts_at) re-arms campaign.starting_soon"`
	Published         *bool     `json:"published" doc:"turning it on sends campaign.published"`
	Transport         *string   `json:"transport" enum:"auto,webrtc,llhls" doc:"how the player page plays the live; players that already play keep their choice until they reload"`
	Country           *string   `json:"country" pattern:"^([A-Za-z]{2})?$" doc:"ISO 3166-1 alpha-2; empty for none" example:"FR"`
}

func (in *campaignCreate) patch() campaignPatch {
	p := campaignPatch{Title: &in.Title, Description: &in.Description, Images: &in.Images,
		StartsAt: &in.StartsAt, EndsAt: &in.EndsAt, ProductIDs: &in.ProductIDs, VoucherIDs: &in.VoucherIDs,
		NotifyAtCreation: &in.NotifyAtCreation, NotifyBeforeStart: &in.NotifyBeforeStart, Published: &in.Published,
		Country: &in.Country}
	if in.Visibility != "" {
		p.Visibility = &in.Visibility
	}
	if in.Transport != "" {
		p.Transport = &in.Transport
	}
	return p
}

// applyCampaign sets the fields of in on c and validates the result; ids
// are checked against the store and the image directory. The campaign's
// window must end in the future: saving one that is already over would
// make it completed at once.
func (a *API) applyCampaign(ctx context.Context, c *store.Campaign, in campaignPatch, now time.Time) error {
	var v validator
	if in.Title != nil {
		c.Title = *in.Title
		checkText(&v, "title", c.Title, true, maxTitle, false)
	}
	if in.Description != nil {
		c.Description = *in.Description
		checkText(&v, "description", c.Description, false, maxDescription, true)
	}
	if in.Images != nil {
		c.Images = slices.Clone(*in.Images)
		for i, ref := range c.Images {
			c.Images[i] = imageID(ref)
		}
		if checkIDs(&v, "images", c.Images, maxImages) {
			for i, id := range c.Images {
				if p, _ := a.imagePath(id); p == "" {
					v.add(fmt.Sprintf("images[%d]", i), "no uploaded image has id %q: give the id or the url that POST /api/v1/images answered", clip(id))
				}
			}
		}
	}
	windowChanged := false
	if in.StartsAt != nil {
		t := checkTime(&v, "starts_at", *in.StartsAt)
		windowChanged = !t.Equal(c.StartsAt)
		c.StartsAt = t
	}
	if in.EndsAt != nil {
		c.EndsAt = checkTime(&v, "ends_at", *in.EndsAt)
	}
	if v.ok() {
		if !c.StartsAt.Before(c.EndsAt) {
			v.add("ends_at", "must be after starts_at")
		} else if !c.EndsAt.After(now) {
			v.add("ends_at", "must be in the future")
		}
	}
	if in.Visibility != nil {
		c.Visibility = *in.Visibility
		if c.Visibility != visibilitySuggest && c.Visibility != visibilityFollow {
			v.add("visibility", "must be %q or %q, got %q", visibilitySuggest, visibilityFollow, clip(c.Visibility))
		}
	}
	if in.Transport != nil {
		c.Transport = *in.Transport
		if !slices.Contains(transports, c.Transport) {
			v.add("transport", "must be %q, %q or %q, got %q", store.TransportAuto, store.TransportWebRTC, store.TransportLLHLS, clip(c.Transport))
		}
	}
	if in.Country != nil {
		c.Country = strings.ToUpper(strings.TrimSpace(*in.Country))
		if c.Country != "" && !isPhoneCountry(c.Country) {
			v.add("country", "is not a country: write its two-letter code (ISO 3166-1), such as FR or GB, or leave it empty; got %q", clip(*in.Country))
		}
	}
	if in.NotifyAtCreation != nil {
		c.NotifyAtCreation = *in.NotifyAtCreation
	}
	if in.NotifyBeforeStart != nil {
		d, err := parseNotifyBefore(*in.NotifyBeforeStart)
		if err != nil {
			v.add("notify_before_start", "%s", err.Error())
		} else {
			windowChanged = windowChanged || d != c.NotifyBeforeStart
			c.NotifyBeforeStart = d
		}
	}
	if windowChanged {
		c.NotifiedBeforeStart = false // a new start time deserves its own reminder
	}
	if in.Published != nil {
		c.Published = *in.Published
	}
	if in.ProductIDs != nil {
		c.ProductIDs = slices.Clone(*in.ProductIDs)
		if checkIDs(&v, "product_ids", c.ProductIDs, maxAttached) {
			_, err := a.st.GetProducts(ctx, c.ProductIDs)
			if err := checkFound(&v, "product_ids", "product", c.ProductIDs, err); err != nil {
				return err
			}
		}
	}
	if in.VoucherIDs != nil {
		c.VoucherIDs = slices.Clone(*in.VoucherIDs)
		if checkIDs(&v, "voucher_ids", c.VoucherIDs, maxAttached) {
			_, err := a.st.GetVouchers(ctx, c.VoucherIDs)
			if err := checkFound(&v, "voucher_ids", "voucher", c.VoucherIDs, err); err != nil {
				return err
			}
		}
	}
	return v.err()
}

// checkFound turns the error of a batch lookup of ids (GetProducts,
// GetVouchers) into a field error for each missing id, field[i]. Other
// errors are returned.
func checkFound(v *validator, field, what string, ids []string, err error) error {
	var missing *store.MissingError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &missing) && len(missing.IDs) > 0:
		gone := make(map[string]bool, len(missing.IDs))
		for _, id := range missing.IDs {
			gone[id] = true
		}
		for i, id := range ids {
			if gone[id] {
				v.add(fmt.Sprintf("%s[%d]", field, i), "no %s has id %q", what, clip(id))
			}
		}
		return nil
	}
	return fmt.Errorf("check %s: %w", field, err)
}

// parseNotifyBefore reads a Go duration string; "" and "0" mean none.
func parseNotifyBefore(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("must be a duration such as \"30m\" or \"1h30m\", got %q", clip(s))
	case d < 0:
		return 0, errors.New("must not be negative")
	case d > maxNotifyBefore:
		return 0, fmt.Errorf("must be at most %s", maxNotifyBefore)
	case d%time.Second != 0:
		return 0, errors.New("must be a whole number of seconds")
	}
	return d, nil
}

// newStreamKey makes a publishing key like the server's static keys.
func newStreamKey() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate stream key: %w", err)
	}
	return "sk_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// saveErr maps the store's answer to saving campaign id ("" for a new
// one): its product and voucher lists were checked just before, so a
// missing item was deleted meanwhile; a missing campaign too.
func saveErr(err error, id string) error {
	var missing *store.MissingError
	switch {
	case errors.As(err, &missing):
		field := "product_ids"
		if missing.What == "voucher" {
			field = "voucher_ids"
		}
		if len(missing.IDs) == 0 {
			return invalidField(field, "a product or voucher was deleted meanwhile; check the lists")
		}
		return invalidField(field, "no %s has id %q: it was deleted meanwhile", missing.What, clip(missing.IDs[0]))
	case errors.Is(err, store.ErrNotFound) && id != "":
		return notFound("campaign", id)
	}
	return fmt.Errorf("save campaign: %w", err)
}

// campaignAttempts bounds the read-modify-write attempts of one change of
// a campaign that keeps losing races with other changes.
const campaignAttempts = 4

// modifyCampaign is every change of a stored campaign (edit, go-live, end,
// key rotation): read the {id} campaign, let change check and modify it,
// and write it with the store's optimistic check. change returns write ==
// false to answer with the campaign as read (nothing to do), or an error
// (an apiError) to refuse.
//
// When the write finds the campaign changed since it was read
// (store.ErrStale: another request, on this node or another, wrote it in
// between), the whole sequence runs again on a fresh read, so that the
// rules change enforces see the other change (an edit that loses to a
// go-live is then refused as not editable, as it would have been had it
// come second) and the other change is kept. A change that loses
// campaignAttempts times in a row answers 409 campaign_changed.
//
// The per-campaign lock makes requests on this node queue instead of
// racing; the retries are for the other nodes (and the notifier).
func (a *API) modifyCampaign(r *http.Request, change func(c *store.Campaign, now time.Time) (write bool, err error)) (
	c *store.Campaign, now time.Time, wrote bool, err error) {
	id, err := idParam(r, "campaign")
	if err != nil {
		return nil, now, false, err
	}
	ctx := r.Context()
	defer a.locks.lock("campaign/" + id)()
	for attempt := 1; ; attempt++ {
		if c, err = a.loadCampaign(r); err != nil {
			return nil, now, false, err
		}
		now = a.now()
		write, err := change(c, now)
		if err != nil || !write {
			return c, now, false, err
		}
		err = a.st.UpdateCampaign(ctx, c)
		switch {
		case err == nil:
			return c, now, true, nil
		case !errors.Is(err, store.ErrStale):
			return nil, now, false, saveErr(err, id)
		case attempt == campaignAttempts:
			a.log.WarnContext(ctx, "campaign change kept losing races", "campaign", id, "attempts", attempt,
				"request_id", requestIDFrom(ctx))
			return nil, now, false, conflict("campaign_changed",
				"the campaign kept changing while this request was saving it; read it again and retry")
		}
		a.log.DebugContext(ctx, "campaign changed meanwhile; applying again", "campaign", id, "attempt", attempt,
			"request_id", requestIDFrom(ctx))
	}
}

// createWithKey stores a new campaign with a fresh stream key, retrying
// once in the (vanishingly unlikely) event of a key collision.
func (a *API) createWithKey(ctx context.Context, c *store.Campaign) error {
	for attempt := 0; ; attempt++ {
		key, err := newStreamKey()
		if err != nil {
			return err
		}
		c.StreamKey = key
		err = a.st.CreateCampaign(ctx, c)
		if errors.Is(err, store.ErrConflict) && attempt == 0 {
			continue
		}
		if err != nil {
			return saveErr(err, "")
		}
		return nil
	}
}

// editable enforces the seller rule: only upcoming and ended campaigns
// may be edited or deleted.
func editable(c *store.Campaign, now time.Time) error {
	switch c.Status(now) {
	case store.StatusOngoing:
		return conflict("campaign_not_editable", "the campaign is ongoing: end the live first")
	case store.StatusCompleted:
		return conflict("campaign_not_editable", "the campaign is completed: its end time has passed")
	}
	return nil
}

func (a *API) campaignRoutes() []*route {
	const tag = "Campaigns"
	return []*route{
		{Method: "POST", Path: "/api/v1/campaigns", ID: "createCampaign", Tag: tag,
			Summary: "Create a campaign",
			Doc: "Returns the campaign with its secret stream_key and ready-to-paste ingest and playback URLs. " +
				"With go_live it is live at once. Sends campaign.created (and campaign.published, campaign.live).",
			Body: campaignCreate{}, Status: http.StatusCreated, Response: campaignView{}, handle: a.createCampaign},
		{Method: "GET", Path: "/api/v1/campaigns", ID: "listCampaigns", Tag: tag,
			Summary: "List campaigns",
			Query: append([]param{
				{Name: "q", Type: "string", Doc: "case-insensitive substring of the title"},
				{Name: "status", Type: "string", Enum: campaignStatuses, Doc: "derived status"},
				{Name: "active_only", Type: "boolean", Doc: "published campaigns only"},
				{Name: "from", Type: "string", Format: "date-time", Doc: "campaigns whose window overlaps [from, to)"},
				{Name: "to", Type: "string", Format: "date-time"},
				{Name: "sort", Type: "string", Enum: []string{"starts_at", "-starts_at", "created_at", "-created_at", "title", "-title"},
					Doc: "default starts_at; ties break on id"},
			}, pageParams...),
			Status: http.StatusOK, Response: listOf(campaignView{}), handle: a.listCampaigns},
		{Method: "GET", Path: "/api/v1/campaigns/{id}", ID: "getCampaign", Tag: tag,
			Summary: "Get a campaign", Status: http.StatusOK, Response: campaignView{}, handle: a.getCampaign},
		{Method: "PATCH", Path: "/api/v1/campaigns/{id}", ID: "updateCampaign", Tag: tag,
			Summary: "Edit a campaign",
			Doc: "Only upcoming and ended campaigns; 409 campaign_not_editable otherwise. Changes the fields present in the body. " +
				"If another change of the campaign (say a go-live on another node) is saved while this one is applied, this one " +
				"is applied again to the campaign as it now is, its rules checked again; 409 campaign_changed if that keeps happening.",
			Body: campaignPatch{}, Status: http.StatusOK, Response: campaignView{},
			Errors: []int{http.StatusConflict}, handle: a.updateCampaign},
		{Method: "DELETE", Path: "/api/v1/campaigns/{id}", ID: "deleteCampaign", Tag: tag,
			Summary: "Delete a campaign",
			Doc: "Only upcoming and ended campaigns; 409 campaign_not_editable otherwise, and 409 campaign_preparing while it is in " +
				"preparation (abandon the preparation first). Its orders and reminders go with it. " +
				"The delete is optimistic, as an edit is: if another change of the campaign (say a go-live on another node) is " +
				"saved between this request's read and its delete, nothing is deleted and the request runs again on the campaign " +
				"as it now is, its rules checked again (409 campaign_not_editable if it went live); 409 campaign_changed if that keeps happening.",
			Status: http.StatusNoContent, Errors: []int{http.StatusConflict}, handle: a.deleteCampaign},
		{Method: "POST", Path: "/api/v1/campaigns/{id}/clone", ID: "cloneCampaign", Tag: tag,
			Summary: "Clone a campaign",
			Doc: "A new upcoming, unpublished campaign with a new id and stream key and the same content. " +
				"The body is optional; if the copied window is already over, starts_at and ends_at are required (422).",
			Body: campaignClone{}, BodyOptional: true, Status: http.StatusCreated, Response: campaignView{},
			handle: a.cloneCampaign},
		{Method: "POST", Path: "/api/v1/campaigns/{id}/stream-key", ID: "rotateStreamKey", Tag: tag,
			Summary: "Rotate the stream key",
			Doc: "The old key stops working for new connections; a publisher already connected stays " +
				"(end the live to cut it). Returns the campaign with its new key and ingest URLs.",
			Status: http.StatusOK, Response: campaignView{}, Errors: []int{http.StatusConflict}, handle: a.rotateStreamKey},
	}
}

func (a *API) createCampaign(w http.ResponseWriter, r *http.Request) error {
	var in campaignCreate
	if err := decodeJSON(w, r, &in, maxJSONBody, false); err != nil {
		return err
	}
	ctx := r.Context()
	now := a.now()
	c := &store.Campaign{Visibility: visibilitySuggest, Transport: store.TransportAuto}
	if err := a.applyCampaign(ctx, c, in.patch(), now); err != nil {
		return err
	}
	if in.GoLive {
		c.LiveStartedAt = &now
	}
	if err := a.createWithKey(ctx, c); err != nil {
		return err
	}
	l := a.links(r)
	a.log.InfoContext(ctx, "campaign created", "campaign", c.ID, "go_live", in.GoLive,
		"request_id", requestIDFrom(ctx))
	a.notifyCampaign(ctx, l, EventCampaignCreated, c, now)
	if c.Published {
		a.notifyCampaign(ctx, l, EventCampaignPublished, c, now)
	}
	if in.GoLive {
		a.notifyCampaign(ctx, l, EventCampaignLive, c, now)
	}
	return writeJSON(w, http.StatusCreated, a.campaignOut(l, c, now))
}

func (a *API) listCampaigns(w http.ResponseWriter, r *http.Request) error {
	page, err := pageFrom(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	now := a.now()
	f := store.CampaignFilter{Query: q.Get("q"), Status: q.Get("status"), Now: now,
		Sort: q.Get("sort"), Page: page}
	if len(f.Query) > maxQuery {
		return badRequest("invalid_parameter", "search terms must have at most %d bytes", maxQuery)
	}
	if f.PublishedOnly, err = boolParam(r, "active_only"); err != nil {
		return err
	}
	if f.From, err = timeParam(r, "from"); err != nil {
		return err
	}
	if f.To, err = timeParam(r, "to"); err != nil {
		return err
	}
	if f.From != nil && f.To != nil && !f.From.Before(*f.To) {
		return badRequest("invalid_parameter", "from must be before to")
	}
	cs, next, err := a.st.ListCampaigns(r.Context(), f)
	if err != nil {
		return listErr(err, "campaigns")
	}
	l := a.links(r)
	out := make([]campaignView, len(cs))
	for i := range cs {
		out[i] = a.campaignOut(l, &cs[i], now)
	}
	return writeJSON(w, http.StatusOK, listResponse{Items: out, NextCursor: next})
}

// loadCampaign reads the {id} campaign.
func (a *API) loadCampaign(r *http.Request) (*store.Campaign, error) {
	id, err := idParam(r, "campaign")
	if err != nil {
		return nil, err
	}
	c, err := a.st.GetCampaign(r.Context(), id)
	if err != nil {
		return nil, storeErr(err, "campaign", id)
	}
	return c, nil
}

func (a *API) getCampaign(w http.ResponseWriter, r *http.Request) error {
	c, err := a.loadCampaign(r)
	if err != nil {
		return err
	}
	v := a.campaignOut(a.links(r), c, a.now())
	if a.recordings != nil {
		rec, err := a.recordings.Recording(r.Context(), c.ID)
		switch {
		case err == nil:
			v.Recording = rec
		case !errors.Is(err, ErrNoRecording):
			return fmt.Errorf("recording of %s: %w", c.ID, err)
		}
	}
	return writeJSON(w, http.StatusOK, v)
}

// updateCampaign applies a PATCH. The body names the fields to change, so
// when another change of the campaign wins the race to the store (a
// go-live on another node, an edit of other fields), the PATCH is applied
// again to the campaign as it now is: the fields it names get its values,
// the others keep the other change, and the rules are checked again (409
// campaign_not_editable if the campaign went live meanwhile). That is what
// a client sending a partial update expects. Two PATCHes of the same field
// are settled by the later write, as they would be one after the other.
func (a *API) updateCampaign(w http.ResponseWriter, r *http.Request) error {
	if _, err := idParam(r, "campaign"); err != nil {
		return err
	}
	var in campaignPatch
	if err := decodeJSON(w, r, &in, maxJSONBody, false); err != nil {
		return err
	}
	ctx := r.Context()
	var wasPublished bool
	c, now, _, err := a.modifyCampaign(r, func(c *store.Campaign, now time.Time) (bool, error) {
		if err := editable(c, now); err != nil {
			return false, err
		}
		wasPublished = c.Published
		return true, a.applyCampaign(ctx, c, in, now)
	})
	if err != nil {
		return err
	}
	l := a.links(r)
	if c.Published && !wasPublished {
		a.notifyCampaign(ctx, l, EventCampaignPublished, c, now)
	}
	return writeJSON(w, http.StatusOK, a.campaignOut(l, c, now))
}

// deleteCampaign deletes the {id} campaign as modifyCampaign changes one:
// read it, check the rules (upcoming or ended), and delete it with the
// store's optimistic check, at the version read. When another change of
// the campaign is saved in between (a go-live on another node: the store
// answers ErrStale), the delete runs again on a fresh read, its rules
// checked again, so that a campaign that went live meanwhile is refused as
// not editable instead of deleted live; one that loses campaignAttempts
// times in a row answers 409 campaign_changed. As for PATCH, the client
// sends no version: the check is between this request's read and its
// write.
func (a *API) deleteCampaign(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r, "campaign")
	if err != nil {
		return err
	}
	ctx := r.Context()
	defer a.locks.lock("campaign/" + id)()
	for attempt := 1; ; attempt++ {
		c, err := a.loadCampaign(r)
		if err != nil {
			return err
		}
		if err := editable(c, a.now()); err != nil {
			return err
		}
		if c.Preparing() {
			return conflict("campaign_preparing",
				"the campaign is in preparation: abandon the preparation first (DELETE /api/v1/campaigns/%s/prepare)", c.ID)
		}
		err = a.st.DeleteCampaign(ctx, id, c.Version)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrStale) {
			return storeErr(err, "campaign", id)
		}
		if attempt == campaignAttempts {
			a.log.WarnContext(ctx, "campaign delete kept losing races", "campaign", id, "attempts", attempt,
				"request_id", requestIDFrom(ctx))
			return conflict("campaign_changed",
				"the campaign kept changing while this request was deleting it; read it again and retry")
		}
		a.log.DebugContext(ctx, "campaign changed meanwhile; deleting again", "campaign", id, "attempt", attempt,
			"request_id", requestIDFrom(ctx))
	}
	// Nothing should be publishing (not live), but make sure nothing can
	// linger under a deleted id.
	a.hub.End(id)
	if a.recordings != nil {
		if err := a.recordings.Remove(r.Context(), id); err != nil {
			a.log.WarnContext(r.Context(), "recording files of a deleted campaign not removed; retention will", "campaign", id, "error", err)
		}
	}
	a.log.InfoContext(r.Context(), "campaign deleted", "campaign", id, "request_id", requestIDFrom(r.Context()))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// campaignClone overrides parts of the copy.
// copyTitle marks a clone's title so that the list tells it from its
// source: "Sale" → "Sale (copy)" → "Sale (copy 2)" → "Sale (copy 3)",
// shortened to fit maxTitle.
func copyTitle(t string) string {
	base, mark := t, " (copy)"
	if m := copyMark.FindStringSubmatch(t); m != nil {
		base = t[:len(t)-len(m[0])]
		n := 1
		if m[1] != "" {
			n, _ = strconv.Atoi(m[1])
		}
		mark = fmt.Sprintf(" (copy %d)", n+1)
	}
	if r := []rune(base); len(r)+len(mark) > maxTitle {
		base = strings.TrimSpace(string(r[:maxTitle-len(mark)-1])) + "…"
	}
	return base + mark
}

var copyMark = regexp.MustCompile(` \(copy(?: ([0-9]{1,6}))?\)$`)

type campaignClone struct {
	Title     *string `json:"title" maxLength:"200" doc:"default: the source's title marked as a copy: \"Autumn sale (copy)\", then \"(copy 2)\"..."`
	StartsAt  *string `json:"starts_at" format:"date-time" doc:"default: the source's"`
	EndsAt    *string `json:"ends_at" format:"date-time" doc:"default: the source's"`
	Published *bool   `json:"published" doc:"default false: a clone is reviewed before it is public"`
}

func (a *API) cloneCampaign(w http.ResponseWriter, r *http.Request) error {
	var in campaignClone
	if err := decodeJSON(w, r, &in, maxJSONBody, true); err != nil && !errors.Is(err, errNoBody) {
		return err
	}
	src, err := a.loadCampaign(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := a.now()
	if in.StartsAt == nil && in.EndsAt == nil && !src.EndsAt.After(now) {
		return invalidField("ends_at", "the copied window ended at %s: give new starts_at and ends_at",
			src.EndsAt.Format(time.RFC3339))
	}
	c := &store.Campaign{
		Title: copyTitle(src.Title), Description: src.Description, Images: slices.Clone(src.Images),
		StartsAt: src.StartsAt, EndsAt: src.EndsAt, Visibility: src.Visibility,
		ProductIDs: slices.Clone(src.ProductIDs), VoucherIDs: slices.Clone(src.VoucherIDs),
		NotifyAtCreation: src.NotifyAtCreation, NotifyBeforeStart: src.NotifyBeforeStart,
		Transport: transportOf(src), Country: src.Country,
	}
	// Only the overrides are validated one by one; the window is always
	// checked, as it may now be over.
	if err := a.applyCampaign(ctx, c, campaignPatch{Title: in.Title, StartsAt: in.StartsAt,
		EndsAt: in.EndsAt, Published: in.Published}, now); err != nil {
		return err
	}
	if err := a.createWithKey(ctx, c); err != nil {
		return err
	}
	l := a.links(r)
	a.log.InfoContext(ctx, "campaign cloned", "campaign", c.ID, "source", src.ID, "request_id", requestIDFrom(ctx))
	a.notifyCampaign(ctx, l, EventCampaignCreated, c, now)
	if c.Published {
		a.notifyCampaign(ctx, l, EventCampaignPublished, c, now)
	}
	return writeJSON(w, http.StatusCreated, a.campaignOut(l, c, now))
}

func (a *API) rotateStreamKey(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	for attempt := 0; ; attempt++ {
		c, now, _, err := a.modifyCampaign(r, func(c *store.Campaign, _ time.Time) (bool, error) {
			key, err := newStreamKey()
			c.StreamKey = key
			return true, err
		})
		if errors.Is(err, store.ErrConflict) && attempt == 0 {
			continue // the new key is taken: draw another
		}
		if err != nil {
			return err
		}
		a.log.InfoContext(ctx, "stream key rotated", "campaign", c.ID, "request_id", requestIDFrom(ctx))
		return writeJSON(w, http.StatusOK, a.campaignOut(a.links(r), c, now))
	}
}
