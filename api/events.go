package api

import (
	"context"
	"time"

	"vitrine/notify/payload"
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

// campaignEvent is the data of every campaign.* notification: the
// payload.Campaign that the notifier's scheduler also sends for
// campaign.starting_soon, built by the same function, plus one field of
// campaign.created.
type campaignEvent struct {
	payload.Campaign
	// NotifyFollowers is set on campaign.created only: the seller asked
	// for followers to be told now (notify_at_creation).
	NotifyFollowers *bool `json:"notify_followers,omitempty" doc:"campaign.created only: the seller chose to notify followers at creation"`
}

func (a *API) notifyCampaign(ctx context.Context, l links, eventType string, c *store.Campaign, now time.Time) {
	ev := campaignEvent{Campaign: payload.NewCampaign(c, now, l.base)}
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

// eventSchemas documents each notification's data in the OpenAPI
// document's webhooks section.
var eventSchemas = map[string]struct {
	summary string
	data    any
}{
	EventCampaignCreated:      {"A campaign was created (or cloned)", campaignEvent{}},
	EventCampaignPublished:    {"A campaign became public", campaignEvent{}},
	EventCampaignStartingSoon: {"A published campaign starts in notify_before_start (sent by the scheduler)", campaignEvent{}},
	EventCampaignLive:         {"A campaign went live", campaignEvent{}},
	EventCampaignEnded:        {"A campaign's live was ended", campaignEvent{}},
	EventOrderCreated:         {"The shop reported an order", orderView{}},
	EventReminderCreated:      {"A viewer asked for an SMS reminder", reminderEvent{}},
}
