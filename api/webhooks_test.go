package api

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"vitrine/notify"
	"vitrine/store"
)

func TestWebhooks(t *testing.T) {
	e := newEnv(t)
	var created struct {
		webhookView
		Secret string `json:"secret"`
	}
	e.must(http.StatusCreated, "POST", "/api/v1/webhooks",
		`{"url": "https://hooks.example.com/vitrine", "events": ["order.created", "campaign.live", "order.created"]}`).decode(t, &created)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(created.Secret, "whsec_"))
	if !strings.HasPrefix(created.Secret, "whsec_") || err != nil || len(raw) != 24 {
		t.Fatalf("secret %q: %v", created.Secret, err)
	}
	if created.ID == "" || !slices.Equal(created.Events, []string{"order.created", "campaign.live"}) {
		t.Fatalf("created %+v", created)
	}
	stored, err := e.st.GetWebhook(t.Context(), created.ID)
	if err != nil || stored.Secret != created.Secret {
		t.Fatalf("stored %+v %v", stored, err)
	}

	// Never shown again.
	r := e.must(http.StatusOK, "GET", "/api/v1/webhooks/"+created.ID, nil)
	if strings.Contains(string(r.Body), created.Secret) || strings.Contains(string(r.Body), "secret") {
		t.Fatalf("get shows the secret: %s", r.Body)
	}
	var all struct {
		webhookView
	}
	e.must(http.StatusCreated, "POST", "/api/v1/webhooks", `{"url": "http://10.0.0.1:9000/h", "events": ["*", "order.created"]}`).decode(t, &all)
	if !slices.Equal(all.Events, []string{"*"}) {
		t.Fatalf("events %v", all.Events)
	}
	r = e.must(http.StatusOK, "GET", "/api/v1/webhooks", nil)
	var list struct {
		Items []webhookView `json:"items"`
	}
	r.decode(t, &list)
	if len(list.Items) != 2 || strings.Contains(string(r.Body), "whsec_") {
		t.Fatalf("list %s", r.Body)
	}

	// Deliveries, as the notifier records them.
	now := time.Now().UTC()
	d := &store.Delivery{WebhookID: created.ID, Type: EventOrderCreated, Payload: []byte(`{}`),
		Status: store.DeliveryPending, NextAttemptAt: now}
	if err := e.st.CreateDelivery(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	d.Attempts, d.LastStatus, d.LastError, d.Status = 1, 503, "503 Service Unavailable", store.DeliveryPending
	if err := e.st.UpdateDelivery(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	var ds struct {
		Items []deliveryView `json:"items"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/webhooks/"+created.ID+"/deliveries", nil).decode(t, &ds)
	if len(ds.Items) != 1 || ds.Items[0].Attempts != 1 || ds.Items[0].LastStatus != 503 || ds.Items[0].Status != "pending" ||
		ds.Items[0].Type != EventOrderCreated || ds.Items[0].DeliveredAt != nil {
		t.Fatalf("deliveries %+v", ds.Items)
	}
	e.must(http.StatusNotFound, "GET", "/api/v1/webhooks/nope/deliveries", nil)

	for _, tc := range []struct {
		name, body, field string
	}{
		{"no events", `{"url": "https://x.example.com", "events": []}`, "events"},
		{"unknown event", `{"url": "https://x.example.com", "events": ["order.deleted"]}`, "events[0]"},
		{"no url", `{"events": ["*"]}`, "url"},
		{"ftp url", `{"url": "ftp://x.example.com", "events": ["*"]}`, "url"},
		{"relative url", `{"url": "/hook", "events": ["*"]}`, "url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(http.StatusUnprocessableEntity, "POST", "/api/v1/webhooks", tc.body)
			if !slices.Contains(r.fields(t), tc.field) {
				t.Fatalf("fields %v, want %s", r.fields(t), tc.field)
			}
		})
	}
	e.must(http.StatusBadRequest, "POST", "/api/v1/webhooks", `{"url": "https://x.example.com", "events": ["*"], "secret": "mine"}`)

	e.must(http.StatusNoContent, "DELETE", "/api/v1/webhooks/"+created.ID, nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/webhooks/"+created.ID, nil).errCode(t)
	e.must(http.StatusNotFound, "DELETE", "/api/v1/webhooks/"+created.ID, nil).errCode(t)
}

// TestWebhookURLVetted: with the server's vetting (notify.ValidateURL,
// webhooks.allow_private off) a URL the deliveries would never reach is
// refused when the webhook is created, saying which setting allows it;
// with allow_private on it is taken.
func TestWebhookURLVetted(t *testing.T) {
	for _, allowPrivate := range []bool{false, true} {
		e := newEnv(t, func(c *Config) {
			c.WebhookURL = func(raw string) error { return notify.ValidateURL(raw, allowPrivate) }
		})
		for _, u := range []string{"http://127.0.0.1:9999/hook", "http://localhost:3000/h", "http://10.0.0.7/h", "http://[::1]/h"} {
			body := `{"url": "` + u + `", "events": ["*"]}`
			if allowPrivate {
				e.must(http.StatusCreated, "POST", "/api/v1/webhooks", body)
				continue
			}
			r := e.must(http.StatusUnprocessableEntity, "POST", "/api/v1/webhooks", body)
			if !slices.Contains(r.fields(t), "url") || !strings.Contains(string(r.Body), "webhooks.allow_private") {
				t.Fatalf("%s: %s, want a url error naming webhooks.allow_private", u, r.Body)
			}
		}
		e.must(http.StatusCreated, "POST", "/api/v1/webhooks", `{"url": "https://hooks.example.com/v", "events": ["*"]}`)
		if !allowPrivate {
			r := e.must(http.StatusUnprocessableEntity, "POST", "/api/v1/webhooks", `{"url": "https://u:p@hooks.example.com/v", "events": ["*"]}`)
			if !slices.Contains(r.fields(t), "url") || !strings.Contains(string(r.Body), "credentials") {
				t.Fatalf("credentials: %s", r.Body)
			}
		}
	}
}
