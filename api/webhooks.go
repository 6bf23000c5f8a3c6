package api

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"vitrine/store"
)

const maxWebhookEvents = 32

type webhookView struct {
	ID        string    `json:"id"`
	URL       string    `json:"url" format:"uri"`
	Events    []string  `json:"events" doc:"notification types, or [\"*\"] for all"`
	CreatedAt time.Time `json:"created_at"`
}

// webhookCreated is the only response that shows the secret.
type webhookCreated struct {
	webhookView
	Secret string `json:"secret" doc:"whsec_ + base64: the Standard Webhooks signing secret; shown once" example:"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"`
}

func webhookOut(wh *store.Webhook) webhookView {
	return webhookView{ID: wh.ID, URL: wh.URL, Events: nonNil(wh.Events), CreatedAt: wh.CreatedAt}
}

type webhookCreate struct {
	URL    string   `json:"url" required:"true" format:"uri" doc:"http(s) endpoint receiving POSTs"`
	Events []string `json:"events" required:"true" minItems:"1" maxItems:"32" doc:"notification types (see the webhooks section), or \"*\" for all"`
}

type deliveryView struct {
	ID            string     `json:"id" doc:"also the webhook-id header of the delivery"`
	WebhookID     string     `json:"webhook_id"`
	Type          string     `json:"type"`
	Status        string     `json:"status" enum:"pending,delivered,failed"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	LastStatus    int        `json:"last_status" doc:"HTTP status of the last attempt, 0 if none"`
	LastError     string     `json:"last_error"`
	CreatedAt     time.Time  `json:"created_at"`
	DeliveredAt   *time.Time `json:"delivered_at"`
}

func deliveryOut(d *store.Delivery) deliveryView {
	return deliveryView{ID: d.ID, WebhookID: d.WebhookID, Type: d.Type, Status: d.Status, Attempts: d.Attempts,
		NextAttemptAt: d.NextAttemptAt, LastStatus: d.LastStatus, LastError: d.LastError,
		CreatedAt: d.CreatedAt, DeliveredAt: d.DeliveredAt}
}

// newWebhookSecret makes a Standard Webhooks secret: "whsec_" and the
// base64 of 24 random bytes, the format the notifier signs with.
func newWebhookSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate webhook secret: %w", err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b), nil
}

func (a *API) webhookRoutes() []*route {
	const tag = "Webhooks"
	return []*route{
		{Method: "POST", Path: "/api/v1/webhooks", ID: "createWebhook", Tag: tag,
			Summary: "Subscribe an endpoint to notifications",
			Doc: "Deliveries are signed the Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature) " +
				"with the secret returned here, once.",
			Body: webhookCreate{}, Status: http.StatusCreated, Response: webhookCreated{}, handle: a.createWebhook},
		{Method: "GET", Path: "/api/v1/webhooks", ID: "listWebhooks", Tag: tag,
			Summary: "List webhooks", Query: pageParams,
			Status: http.StatusOK, Response: listOf(webhookView{}), handle: a.listWebhooks},
		{Method: "GET", Path: "/api/v1/webhooks/{id}", ID: "getWebhook", Tag: tag,
			Summary: "Get a webhook", Status: http.StatusOK, Response: webhookView{}, handle: a.getWebhook},
		{Method: "DELETE", Path: "/api/v1/webhooks/{id}", ID: "deleteWebhook", Tag: tag,
			Summary: "Delete a webhook", Status: http.StatusNoContent, handle: a.deleteWebhook},
		{Method: "GET", Path: "/api/v1/webhooks/{id}/deliveries", ID: "listDeliveries", Tag: tag,
			Summary: "List a webhook's deliveries", Doc: "Each notification sent to it and its outcome.",
			Query:  pageParams,
			Status: http.StatusOK, Response: listOf(deliveryView{}), handle: a.listDeliveries},
	}
}

func (a *API) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var in webhookCreate
	if err := decodeJSON(w, r, &in, maxJSONBody, false); err != nil {
		return err
	}
	var v validator
	checkURL(&v, "url", in.URL, true)
	if v.ok() && a.webhookURL != nil {
		if err := a.webhookURL(in.URL); err != nil {
			v.add("url", "%s", strings.TrimPrefix(err.Error(), "notify: "))
		}
	}
	events := []string{}
	switch {
	case len(in.Events) == 0:
		v.add("events", "name at least one notification type, or \"*\" for all")
	case len(in.Events) > maxWebhookEvents:
		v.add("events", "must have at most %d entries", maxWebhookEvents)
	default:
		for i, e := range in.Events {
			switch {
			case e == "*" || slices.Contains(EventTypes, e):
				if !slices.Contains(events, e) {
					events = append(events, e)
				}
			default:
				v.add(fmt.Sprintf("events[%d]", i), "unknown notification type %q; known: %s or \"*\"",
					clip(e), strings.Join(EventTypes, ", "))
			}
		}
		if slices.Contains(events, "*") {
			events = []string{"*"} // all includes the rest
		}
	}
	if err := v.err(); err != nil {
		return err
	}
	secret, err := newWebhookSecret()
	if err != nil {
		return err
	}
	wh := &store.Webhook{URL: in.URL, Secret: secret, Events: events}
	if err := a.st.CreateWebhook(r.Context(), wh); err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	a.log.InfoContext(r.Context(), "webhook created", "webhook", wh.ID, "url", wh.URL,
		"request_id", requestIDFrom(r.Context()))
	return writeJSON(w, http.StatusCreated, webhookCreated{webhookView: webhookOut(wh), Secret: secret})
}

func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	page, err := pageFrom(r)
	if err != nil {
		return err
	}
	whs, next, err := a.st.ListWebhooks(r.Context(), page)
	if err != nil {
		return listErr(err, "webhooks")
	}
	out := make([]webhookView, len(whs))
	for i := range whs {
		out[i] = webhookOut(&whs[i])
	}
	return writeJSON(w, http.StatusOK, listResponse{Items: out, NextCursor: next})
}

func (a *API) loadWebhook(r *http.Request) (*store.Webhook, error) {
	id, err := idParam(r, "webhook")
	if err != nil {
		return nil, err
	}
	wh, err := a.st.GetWebhook(r.Context(), id)
	if err != nil {
		return nil, storeErr(err, "webhook", id)
	}
	return wh, nil
}

func (a *API) getWebhook(w http.ResponseWriter, r *http.Request) error {
	wh, err := a.loadWebhook(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, webhookOut(wh))
}

func (a *API) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r, "webhook")
	if err != nil {
		return err
	}
	if err := a.st.DeleteWebhook(r.Context(), id); err != nil {
		return storeErr(err, "webhook", id)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	page, err := pageFrom(r)
	if err != nil {
		return err
	}
	wh, err := a.loadWebhook(r)
	if err != nil {
		return err
	}
	ds, next, err := a.st.ListDeliveries(r.Context(), wh.ID, page)
	if err != nil {
		return listErr(err, "deliveries")
	}
	out := make([]deliveryView, len(ds))
	for i := range ds {
		out[i] = deliveryOut(&ds[i])
	}
	return writeJSON(w, http.StatusOK, listResponse{Items: out, NextCursor: next})
}
