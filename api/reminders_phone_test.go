package api

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestNormalisePhone: numbers as shoppers write them become E.164; what
// is refused says why in plain words.
func TestNormalisePhone(t *testing.T) {
	none := func() string { return "" }
	fr := func() string { return "FR" }
	for _, tc := range []struct {
		raw, country string
		campaign     func() string
		want         string
	}{
		{"+33 6 12 34 56 78", "", none, "+33612345678"},
		{"+33612345678", "", none, "+33612345678"},
		{"+33 (0)6 12 34 56 78", "", none, "+33612345678"},
		{"0033 6.12.34.56.78", "", none, "+33612345678"},
		{" +33-6-12-34-56-78 ", "", none, "+33612345678"},
		{"06 12 34 56 78", "FR", none, "+33612345678"},
		{"06.12.34.56.78", "", fr, "+33612345678"},
		{"06-12-34-56-78", "US", fr, "+33612345678"}, // not a US number: the campaign's country
		{"(415) 555-2671", "us", fr, "+14155552671"},
		{"020 7946 0958", "GB", none, "+442079460958"},
		{"+1 415.555.2671", "FR", none, "+14155552671"},
		{"+33700000001", "", none, "+33700000001"}, // a possible length is enough with the country code
	} {
		got, err := normalisePhone(tc.raw, tc.country, tc.campaign)
		if err != nil || got != tc.want {
			t.Errorf("%q (country %q): %q %v, want %q", tc.raw, tc.country, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		raw, country string
		campaign     func() string
		want         string
	}{
		{"", "", fr, phoneNotANumber},
		{"nope", "", fr, phoneNotANumber},
		{"+33abc", "", fr, phoneNotANumber},
		{"06 12 34 56 78", "", none, phoneNeedsCode},
		{"0612345678", "XX", none, phoneNeedsCode},
		{"06 12", "", fr, phoneInvalid},
		{"+0612345678", "", none, phoneInvalid},
		{"+1234567890123456", "", none, phoneInvalid},
		{"+123456", "", none, phoneInvalid},
		{"12 34", "FR", none, phoneInvalid},
	} {
		got, err := normalisePhone(tc.raw, tc.country, tc.campaign)
		var ae *apiError
		if !errors.As(err, &ae) || ae.Code != "validation_failed" || len(ae.Fields) != 1 || ae.Fields[0].Message != tc.want {
			t.Errorf("%q (country %q): %q %v, want the error %q", tc.raw, tc.country, got, err, tc.want)
		}
	}
}

// TestReminderPhoneFormats: the route stores what the shopper wrote in
// E.164, takes a national number in the country sent or the campaign's
// (its products' currency), and its errors never say "E.164".
func TestReminderPhoneFormats(t *testing.T) {
	e := newEnv(t)
	gbp := e.createProduct("UK-1", map[string]any{"currency": "GBP", "price": "20.00"})
	c := e.createCampaign(map[string]any{"published": true, "product_ids": []string{gbp.ID}})
	path := "/live/" + c.ID + "/reminders"
	for _, tc := range []struct{ body, want string }{
		{`{"phone": "+33 6 12 34 56 78"}`, "+33612345678"},
		{`{"phone": "06.12.34.56.78", "country": "fr"}`, "+33612345678"},
		{`{"phone": "020 7946 0958"}`, "+442079460958"},
		{`{"phone": "(415) 555-2671", "country": "US"}`, "+14155552671"},
	} {
		var rem reminderView
		e.do("POST", path, tc.body, noAuth).decode(t, &rem)
		if rem.Phone != tc.want {
			t.Errorf("%s: stored %q, want %q", tc.body, rem.Phone, tc.want)
		}
	}
	for _, body := range []string{`{"phone": "06 12"}`, `{"phone": "call me"}`, `{"phone": "+33612345678", "country": "France"}`} {
		r := e.must(http.StatusUnprocessableEntity, "POST", path, body, noAuth)
		if strings.Contains(string(r.Body), "E.164") {
			t.Errorf("%s: %s", body, r.Body)
		}
	}
}

// TestReminderCampaignCountry: a national number is read in the country
// the viewer's browser gives, else in the campaign's country setting,
// else in the country of its products' currency.
func TestReminderCampaignCountry(t *testing.T) {
	e := newEnv(t)
	gbp := e.createProduct("UK-1", map[string]any{"currency": "GBP", "price": "20.00"})
	c := e.createCampaign(map[string]any{"published": true, "product_ids": []string{gbp.ID}, "country": "FR"})
	path := "/live/" + c.ID + "/reminders"
	for _, tc := range []struct{ body, want string }{
		{`{"phone": "06 12 34 56 78"}`, "+33612345678"},                  // the campaign's country
		{`{"phone": "06.12.34.56.79", "country": "US"}`, "+33612345679"}, // not a US number: the campaign's
		{`{"phone": "020 7946 0958"}`, "+442079460958"},                  // not French: the currency's (GBP)
		{`{"phone": "0470 12 34 56", "country": "BE"}`, "+32470123456"},  // the viewer's country first
	} {
		var rem reminderView
		e.must(http.StatusCreated, "POST", path, tc.body, noAuth).decode(t, &rem)
		if rem.Phone != tc.want {
			t.Errorf("%s: stored %q, want %q", tc.body, rem.Phone, tc.want)
		}
	}
	// Without a country setting nor a currency with one country, a
	// national number needs its country code.
	eur := e.createProduct("EU-1", nil)
	c = e.createCampaign(map[string]any{"published": true, "product_ids": []string{eur.ID}})
	r := e.must(http.StatusUnprocessableEntity, "POST", "/live/"+c.ID+"/reminders", `{"phone": "06 12 34 56 78"}`, noAuth)
	if !strings.Contains(string(r.Body), phoneNeedsCode) {
		t.Errorf("no country: %s", r.Body)
	}
	e.must(http.StatusOK, "PATCH", "/api/v1/campaigns/"+c.ID, map[string]any{"country": "FR"})
	e.must(http.StatusCreated, "POST", "/live/"+c.ID+"/reminders", `{"phone": "06 12 34 56 78"}`, noAuth)
}
