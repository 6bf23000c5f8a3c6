// Package payload is the data of the campaign.* webhook notifications, in
// one place for the two packages that send them: the API (created,
// published, live, ended) and the notifier's scheduler (starting_soon). A
// receiver gets the same fields whichever sent the event.
//
// It depends on the store only, so that notify can use it without
// importing api and api without depending on notify's internals.
//
// It imports store.
package payload

import (
	"net/url"
	"strings"
	"time"

	"vitrine/store"
)

// Campaign is a campaign as told to webhooks: the stored fields, the
// derived status and the viewers' URLs; never the stream key. The tags
// other than json document it in the OpenAPI document.
type Campaign struct {
	ID                string     `json:"id"`
	Status            string     `json:"status" enum:"upcoming,ongoing,ended,completed"`
	Title             string     `json:"title"`
	Description       string     `json:"description"`
	Images            []string   `json:"images"`
	ImageURLs         []string   `json:"image_urls"`
	StartsAt          time.Time  `json:"starts_at"`
	EndsAt            time.Time  `json:"ends_at"`
	Visibility        string     `json:"visibility" enum:"suggested,followers"`
	ProductIDs        []string   `json:"product_ids"`
	VoucherIDs        []string   `json:"voucher_ids"`
	NotifyAtCreation  bool       `json:"notify_at_creation"`
	NotifyBeforeStart string     `json:"notify_before_start" example:"30m0s"`
	Published         bool       `json:"published"`
	LiveStartedAt     *time.Time `json:"live_started_at"`
	LiveEndedAt       *time.Time `json:"live_ended_at"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
	Version           int64      `json:"version" doc:"the campaign's version once the change this event reports was stored"`
	WatchURL          string     `json:"watch_url" format:"uri-reference" doc:"absolute when the server knows its public URL"`
	CalendarURL       string     `json:"calendar_url" format:"uri-reference"`
}

// NewCampaign describes c at now. base is where viewers reach the server
// (scheme://host[/prefix], no trailing slash); with base "" the URLs are
// root-relative paths, for a sender that knows neither a configured public
// URL nor a request to derive one from.
func NewCampaign(c *store.Campaign, now time.Time, base string) Campaign {
	return Campaign{
		ID: c.ID, Status: c.Status(now), Title: c.Title, Description: c.Description,
		Images: nonNil(c.Images), ImageURLs: ImageURLs(base, c.Images), StartsAt: c.StartsAt, EndsAt: c.EndsAt,
		Visibility: c.Visibility, ProductIDs: nonNil(c.ProductIDs), VoucherIDs: nonNil(c.VoucherIDs),
		NotifyAtCreation: c.NotifyAtCreation, NotifyBeforeStart: c.NotifyBeforeStart.String(),
		Published: c.Published, LiveStartedAt: c.LiveStartedAt, LiveEndedAt: c.LiveEndedAt,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Version: c.Version,
		WatchURL: WatchURL(base, c.ID), CalendarURL: CalendarURL(base, c.ID),
	}
}

// URL joins base and path segments, each escaped.
func URL(base string, parts ...string) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(base, "/"))
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(p))
	}
	return b.String()
}

// WatchURL is a campaign's player page, the link to share.
func WatchURL(base, campaignID string) string { return URL(base, "watch", campaignID) }

// CalendarURL is a campaign's iCalendar file.
func CalendarURL(base, campaignID string) string {
	return URL(base, "live", campaignID, "calendar.ics")
}

// ImageURL is where an uploaded image is served.
func ImageURL(base, imageID string) string { return URL(base, "media", "images", imageID) }

// ImageURLs maps ImageURL over ids (never nil).
func ImageURLs(base string, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = ImageURL(base, id)
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
