package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"vitrine/store"
)

// maxReminderBody bounds the public reminder body: a phone and a flag.
const maxReminderBody = 4 << 10

type reminderCreate struct {
	Phone   string `json:"phone" required:"true" minLength:"1" maxLength:"40" doc:"the number as the viewer wrote it: international (+33 6 12 34 56 78, 0033 6 12 34 56 78) or national (06 12 34 56 78, (415) 555-0123) with spaces, dots, dashes or parentheses; stored and answered in E.164 (+33612345678)" example:"+33 6 12 34 56 78"`
	Country string `json:"country,omitempty" pattern:"^[A-Za-z]{2}$" doc:"ISO 3166-1 alpha-2 country of a national number (the player sends the one of the viewer's browser language); without it, or when the number is not valid there, the campaign's country is tried (its country setting, then that of its products' currency, where the currency has one country)" example:"FR"`
	OptIn   bool   `json:"opt_in" doc:"the viewer accepts commercial messages from the seller"`
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
	if in.Country != "" && !isCountryCode(in.Country) {
		return invalidField("country", "must be a two-letter country code such as FR")
	}
	ctx := r.Context()
	phone, err := normalisePhone(in.Phone, in.Country, func() string { return c.Country },
		func() string { return a.productsCountry(ctx, c) })
	if err != nil {
		return err
	}
	rem := &store.Reminder{CampaignID: c.ID, Phone: phone, OptIn: in.OptIn}
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

// Plain words for the viewer: the player shows these messages as they are.
const (
	phoneNotANumber = "this is not a phone number: write it with digits, e.g. +33 6 12 34 56 78"
	phoneNeedsCode  = "add your country code in front, e.g. +33 6 12 34 56 78"
	phoneInvalid    = "this number does not look right: check it, with your country code in front (e.g. +33 6 12 34 56 78)"
)

// normalisePhone reads a phone number as people write it (spaces, dots,
// dashes, parentheses, 00 for +, a national number) and returns it in
// E.164. A number with its country code (+ or 00) is taken when its length
// is possible for that country; a national one must be a valid number of
// country, else of the campaign's countries, in order (each asked for only
// when the ones before did not fit).
func normalisePhone(raw, country string, campaignCountries ...func() string) (string, error) {
	raw = strings.TrimSpace(raw)
	digits := 0
	for _, r := range raw {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune(" .-()/+\u00a0", r):
		default:
			return "", invalidField("phone", phoneNotANumber)
		}
	}
	if digits < 4 {
		return "", invalidField("phone", phoneNotANumber)
	}
	if strings.HasPrefix(raw, "00") {
		raw = "+" + raw[2:]
	}
	if strings.HasPrefix(raw, "+") {
		n, err := phonenumbers.Parse(raw, "ZZ")
		if err != nil || phonenumbers.IsPossibleNumberWithReason(n) != phonenumbers.IS_POSSIBLE ||
			phonenumbers.GetRegionCodeForCountryCode(int(n.GetCountryCode())) == "ZZ" {
			return "", invalidField("phone", phoneInvalid)
		}
		return phonenumbers.Format(n, phonenumbers.E164), nil
	}
	tried := map[string]bool{}
	for _, get := range append([]func() string{func() string { return country }}, campaignCountries...) {
		region := strings.ToUpper(strings.TrimSpace(get()))
		if region == "" || tried[region] || phonenumbers.GetCountryCodeForRegion(region) == 0 {
			continue
		}
		tried[region] = true
		if n, err := phonenumbers.Parse(raw, region); err == nil && phonenumbers.IsValidNumber(n) {
			return phonenumbers.Format(n, phonenumbers.E164), nil
		}
	}
	if len(tried) == 0 {
		return "", invalidField("phone", phoneNeedsCode)
	}
	return "", invalidField("phone", phoneInvalid)
}

func isCountryCode(s string) bool {
	return len(s) == 2 && strings.Trim(strings.ToUpper(s), "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == ""
}

// isPhoneCountry reports whether s (upper case) is an ISO 3166-1 alpha-2
// country with a phone numbering plan, as a campaign's country must be.
func isPhoneCountry(s string) bool {
	return isCountryCode(s) && s == strings.ToUpper(s) && phonenumbers.GetCountryCodeForRegion(s) != 0
}

// currencyCountry is the country of the currencies that have one (the
// euro and other shared currencies have none).
var currencyCountry = map[string]string{
	"GBP": "GB", "USD": "US", "CHF": "CH", "CAD": "CA", "AUD": "AU", "NZD": "NZ", "JPY": "JP", "CNY": "CN",
	"SEK": "SE", "NOK": "NO", "DKK": "DK", "PLN": "PL", "CZK": "CZ", "HUF": "HU", "RON": "RO", "BGN": "BG",
	"TRY": "TR", "BRL": "BR", "MXN": "MX", "INR": "IN", "SGD": "SG", "HKD": "HK", "KRW": "KR", "ZAR": "ZA",
	"MAD": "MA", "TND": "TN", "AED": "AE", "SAR": "SA", "ILS": "IL", "THB": "TH", "IDR": "ID", "MYR": "MY",
	"PHP": "PH", "VND": "VN", "TWD": "TW", "ARS": "AR", "CLP": "CL", "COP": "CO", "PEN": "PE", "UAH": "UA",
}

// productsCountry is the country of a campaign's national numbers when the
// seller set none (or the number does not fit it): that of its products'
// currency when they share one that belongs to one country; "" otherwise.
func (a *API) productsCountry(ctx context.Context, c *store.Campaign) string {
	currency := ""
	for _, id := range c.ProductIDs {
		p, err := a.st.GetProduct(ctx, id)
		if err != nil || p.Currency == "" {
			continue
		}
		if currency != "" && p.Currency != currency {
			return ""
		}
		currency = p.Currency
	}
	return currencyCountry[strings.ToUpper(currency)]
}
