package api

import (
	"context"
	"time"

	"vitrine/store"
)

// Notification types the API sends (campaign.starting_soon is sent by the
// notifier's scheduler, from NotifyBeforeStart). Webhook subscriptions may
// name these or "*".
const (
	EventCampaignCreated      = "campaign.created"
	EventCampaignPublished    = "campaign.published"
	EventCampaignStartingSoon = "campaign.starting_soon"
	EventCampaignLive         = "campaign.live"
	EventCampaignEnded        = "campaign.ended"
	EventOrderCreated         = "order.created"
	EventReminderCreated      = "reminder.created"
)

// EventTypes lists every notification type, for webhook validation and
// the OpenAPI document.
var EventTypes = []string{
	EventCampaignCreated, EventCampaignPublished, EventCampaignStartingSoon,
	EventCampaignLive, EventCampaignEnded, EventOrderCreated, EventReminderCreated,
}

// campaignPublic is a campaign as told to webhooks: the fields of the
// store's campaign JSON (what the notifier's scheduler sends for
// campaign.starting_soon) plus the derived status and viewer URLs; never
// the stream key.
type campaignPublic struct {
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
	WatchURL          string     `json:"watch_url" format:"uri"`
	CalendarURL       string     `json:"calendar_url" format:"uri"`
}

// campaignEvent is the data of the campaign.* notifications the API sends.
type campaignEvent struct {
	campaignPublic
	// NotifyFollowers is set on campaign.created only: the seller asked
	// for followers to be told now (notify_at_creation).
	NotifyFollowers *bool `json:"notify_followers,omitempty" doc:"campaign.created only: the seller chose to notify followers at creation"`
}

func campaignPublicOut(l links, c *store.Campaign, now time.Time) campaignPublic {
	return campaignPublic{
		ID: c.ID, Status: c.Status(now), Title: c.Title, Description: c.Description,
		Images: nonNil(c.Images), ImageURLs: l.images(c.Images), StartsAt: c.StartsAt, EndsAt: c.EndsAt,
		Visibility: c.Visibility, ProductIDs: nonNil(c.ProductIDs), VoucherIDs: nonNil(c.VoucherIDs),
		NotifyAtCreation: c.NotifyAtCreation, NotifyBeforeStart: c.NotifyBeforeStart.String(),
		Published: c.Published, LiveStartedAt: c.LiveStartedAt, LiveEndedAt: c.LiveEndedAt,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		WatchURL: l.watch(c.ID), CalendarURL: l.http("live", c.ID, "calendar.ics"),
	}
}

func (a *API) notifyCampaign(ctx context.Context, l links, eventType string, c *store.Campaign, now time.Time) {
	ev := campaignEvent{campaignPublic: campaignPublicOut(l, c, now)}
	if eventType == EventCampaignCreated {
		ev.NotifyFollowers = &c.NotifyAtCreation
	}
	a.notify(ctx, eventType, ev)
}

// reminderEvent is the data of reminder.created: the reminder, and what
// the seller's SMS provider needs to word the message.
type reminderEvent struct {
	ID            string    `json:"id"`
	CampaignID    string    `json:"campaign_id"`
	Phone         string    `json:"phone" doc:"E.164"`
	OptIn         bool      `json:"opt_in" doc:"commercial messages accepted"`
	CreatedAt     time.Time `json:"created_at"`
	CampaignTitle string    `json:"campaign_title"`
	StartsAt      time.Time `json:"starts_at"`
	WatchURL      string    `json:"watch_url" format:"uri"`
}

// storedCampaign documents campaign.starting_soon, which the notifier's
// scheduler sends with the store's campaign JSON.
type storedCampaign store.Campaign

// eventSchemas documents each notification's data in the OpenAPI
// document's webhooks section.
var eventSchemas = map[string]struct {
	summary string
	data    any
}{
	EventCampaignCreated:      {"A campaign was created (or cloned)", campaignEvent{}},
	EventCampaignPublished:    {"A campaign became public", campaignEvent{}},
	EventCampaignStartingSoon: {"A published campaign starts in notify_before_start (sent by the scheduler)", storedCampaign{}},
	EventCampaignLive:         {"A campaign went live", campaignEvent{}},
	EventCampaignEnded:        {"A campaign's live was ended", campaignEvent{}},
	EventOrderCreated:         {"The shop reported an order", orderView{}},
	EventReminderCreated:      {"A viewer asked for an SMS reminder", reminderEvent{}},
}
