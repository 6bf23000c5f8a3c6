package api

import (
	"net/http"
	"regexp"
	"time"

	"vitrine/store"
)

// maxReminderBody bounds the public reminder body: a phone and a flag.
const maxReminderBody = 4 << 10

// e164 is an international phone number: +, country code, subscriber
// number, 7 to 15 digits in all.
var e164 = regexp.MustCompile(`^\+[1-9]\d{6,14}$`)

type reminderCreate struct {
	Phone string `json:"phone" required:"true" pattern:"^\\+[1-9]\\d{6,14}$" doc:"E.164, e.g. +33612345678" example:"+33612345678"`
	OptIn bool   `json:"opt_in" doc:"the viewer accepts commercial messages from the seller"`
}

type reminderView struct {
	ID         string    `json:"id"`
	CampaignID string    `json:"campaign_id"`
	Phone      string    `json:"phone"`
	OptIn      bool      `json:"opt_in"`
	CreatedAt  time.Time `json:"created_at"`
}

func (a *API) reminderRoutes() []*route {
	return []*route{
		{Method: "POST", Path: "/live/{id}/reminders", ID: "createReminder", Tag: "Viewers", Public: true,
			Summary: "Ask for an SMS reminder",
			Doc: "A viewer leaves a phone number (and the commercial opt-in) to be reminded before the live. " +
				"Stored, and handed to the seller's SMS provider through the reminder.created notification (sent once per phone " +
				"and campaign). 201 for a new reminder; a repeat for the same phone answers 200 with the first reminder, " +
				"opt_in updated. Published campaigns only (404), not completed (409). " +
				"Rate-limited per client address (10 per minute by default, 429).",
			Body: reminderCreate{}, Status: http.StatusCreated, Response: reminderView{},
			Errors:    []int{http.StatusOK, http.StatusConflict},
			RepeatDoc: "A repeat for the same phone: the first reminder, with opt_in as sent now.",
			Limit:     a.reminderLimit, handle: a.createReminder},
	}
}

func (a *API) createReminder(w http.ResponseWriter, r *http.Request) error {
	var in reminderCreate
	if err := decodeJSON(w, r, &in, maxReminderBody, false); err != nil {
		return err
	}
	c, err := a.publishedCampaign(r)
	if err != nil {
		return err
	}
	now := a.now()
	if c.Status(now) == store.StatusCompleted {
		return conflict("campaign_completed", "this live is over")
	}
	if !e164.MatchString(in.Phone) {
		return invalidField("phone", "must be an international number such as +33612345678 (E.164)")
	}
	ctx := r.Context()
	rem := &store.Reminder{CampaignID: c.ID, Phone: in.Phone, OptIn: in.OptIn}
	created, err := a.st.CreateReminder(ctx, rem)
	if err != nil {
		return storeErr(err, "campaign", c.ID) // deleted since it was read: 404
	}
	out := reminderView{ID: rem.ID, CampaignID: rem.CampaignID, Phone: rem.Phone, OptIn: rem.OptIn, CreatedAt: rem.CreatedAt}
	if !created {
		return writeJSON(w, http.StatusOK, out)
	}
	l := a.links(r)
	a.notify(ctx, EventReminderCreated, reminderEvent{ID: rem.ID, CampaignID: c.ID, Phone: rem.Phone,
		OptIn: rem.OptIn, CreatedAt: rem.CreatedAt, CampaignTitle: c.Title, StartsAt: c.StartsAt, WatchURL: l.watch(c.ID)})
	return writeJSON(w, http.StatusCreated, out)
}
