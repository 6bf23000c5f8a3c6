package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"vitrine/analytics"
	"vitrine/events"
	"vitrine/store"
)

// Bounds of orders.
const (
	maxOrderCode     = 64
	maxOrderItems    = 100
	maxQuantity      = 100_000
	maxIdempotency   = 255
	idempotentHeader = "Idempotency-Key"
)

type orderItemView struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

type orderView struct {
	ID           string          `json:"id"`
	CampaignID   string          `json:"campaign_id"`
	Code         string          `json:"code" doc:"the shop's order code"`
	Items        []orderItemView `json:"items"`
	ProductCount int             `json:"product_count" doc:"number of products: the sum of quantities"`
	ItemCount    int             `json:"item_count" doc:"number of order lines"`
	CustomerName string          `json:"customer_name"`
	Total        string          `json:"total" example:"259.00"`
	Currency     string          `json:"currency" example:"EUR"`
	ViewerID     string          `json:"viewer_id" doc:"the viewer the shop said the order came from; empty if none"`
	SessionID    string          `json:"session_id" doc:"the player page's session the shop said the order came from; empty if none"`
	CreatedAt    time.Time       `json:"created_at" doc:"when the order was reported: the phase it counts in (live, replay) follows it"`
}

func orderOut(o *store.Order) orderView {
	v := orderView{ID: o.ID, CampaignID: o.CampaignID, Code: o.Code, Items: make([]orderItemView, len(o.Items)),
		ItemCount: len(o.Items), CustomerName: o.CustomerName, Total: o.Total, Currency: o.Currency,
		ViewerID: o.ViewerID, SessionID: o.SessionID, CreatedAt: o.CreatedAt}
	for i, it := range o.Items {
		v.Items[i] = orderItemView(it)
		v.ProductCount += it.Quantity
	}
	return v
}

type orderItemInput struct {
	ProductID string `json:"product_id" required:"true"`
	Quantity  int    `json:"quantity" required:"true" minimum:"1" maximum:"100000"`
}

type orderCreate struct {
	Code         string           `json:"code" required:"true" minLength:"1" maxLength:"64" doc:"the shop's order code"`
	Items        []orderItemInput `json:"items" required:"true" minItems:"1" maxItems:"100" doc:"at least one; product ids must exist"`
	CustomerName string           `json:"customer_name" required:"true" minLength:"1" maxLength:"200"`
	Total        string           `json:"total" required:"true" pattern:"^\\d{1,10}(\\.\\d{1,4})?$" doc:"decimal string, canonicalised"`
	Currency     string           `json:"currency" required:"true" pattern:"^[A-Z]{3}$" doc:"the campaign's products' currency when they have one (else 422); any when they have none or several"`
	ViewerID     string           `json:"viewer_id" pattern:"^[A-Za-z0-9_-]{1,64}$" doc:"optional: the viewer the order came from, the player's anonymous viewer id (v_…) as its tracking beacons carry it; attributes the order to that viewer in the analytics"`
	SessionID    string           `json:"session_id" pattern:"^[A-Za-z0-9_-]{1,64}$" doc:"optional: the player page's session id (its tracking batches' session_id), when the shop has it rather than the viewer id: the order goes to that session's viewer"`
}

func (a *API) orderRoutes() []*route {
	const tag = "Orders"
	return []*route{
		{Method: "POST", Path: "/api/v1/campaigns/{id}/orders", ID: "createOrder", Tag: tag,
			Summary: "Report an order placed during the live",
			Doc: "Idempotent on the Idempotency-Key header: a repeat with the same key and body answers 200 with the first order; " +
				"the same key with another body is 422 idempotency_key_reused; the same order code under another key is 409 " +
				"duplicate_order_code. 409 campaign_not_live_yet before the campaign " +
				"ever went live. Sends order.created.\n\n" +
				"Currency: when the campaign's products are priced in one currency, the order must be in it (422 " +
				"validation_failed on currency, naming it): an amount in another currency could not be added to the " +
				"sales. When they have none (no products) or several, any currency is taken; the analytics then total " +
				"only the amounts in the report's currency (the campaign's first product's, else the most frequent among " +
				"the purchases) and count the others without their amounts: nothing is converted.\n\n" +
				"Analytics: every order counts as a purchase of the phase it is reported in, by its created_at (live " +
				"until the end of the live, replay after; the time range narrows the replay), with its total in the " +
				"sales, its items in the per-product purchases and sales. viewer_id (or session_id) attributes it to " +
				"a viewer, for the per-viewer rates (purchases rate, engagement rate); an order without them is still " +
				"counted. A viewer's purchase beacon (POST /live/{id}/track, type purchase) whose order_id is the " +
				"order's code is the same purchase, counted once, and gives the order its viewer when the order names " +
				"none. Getting the viewer id: the player's add_to_cart and checkout messages to the seller's page " +
				"(embed.js Vitrine.on, or the postMessage {source: \"vitrine\", type, campaign_id, viewer_id, product, ...}; " +
				"checkout adds items, amount and currency) carry viewer_id: keep it with the cart and send it here. " +
				"Or call Vitrine.purchase({order_id: <the order's code>, amount, currency, product_ids}) on the order " +
				"page, which makes the floating player send that beacon with its viewer id.",
			Header: []param{{Name: idempotentHeader, Type: "string", Required: true, Pattern: idempotencyPattern,
				MaxLength: maxIdempotency, Doc: "1 to 255 visible ASCII characters, unique per order (e.g. the shop's order id)"}},
			Body: orderCreate{}, Status: http.StatusCreated, Response: orderView{},
			Errors: []int{http.StatusOK, http.StatusConflict}, handle: a.createOrder},
		{Method: "GET", Path: "/api/v1/campaigns/{id}/orders", ID: "listOrders", Tag: tag,
			Summary: "List a campaign's orders", Doc: "Oldest first, as the live screen shows them.",
			Query:  pageParams,
			Status: http.StatusOK, Response: listOf(orderView{}), handle: a.listOrders},
	}
}

// idempotencyPattern is what idempotencyKey accepts, for the document:
// 1 to 255 visible ASCII characters (0x21 "!" to 0x7e "~").
const idempotencyPattern = `^[!-~]{1,255}$`

func idempotencyKey(r *http.Request) (string, error) {
	vals := r.Header.Values(idempotentHeader)
	if len(vals) != 1 || vals[0] == "" || len(vals[0]) > maxIdempotency {
		return "", badRequest("invalid_idempotency_key", "send exactly one %s header of 1 to %d characters", idempotentHeader, maxIdempotency)
	}
	for _, b := range []byte(vals[0]) {
		if b < 0x21 || b > 0x7e {
			return "", badRequest("invalid_idempotency_key", "the %s header must be visible ASCII without spaces", idempotentHeader)
		}
	}
	return vals[0], nil
}

func (a *API) createOrder(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r, "campaign")
	if err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var in orderCreate
	if err := decodeJSON(w, r, &in, maxJSONBody, false); err != nil {
		return err
	}
	ctx := r.Context()
	c, err := a.st.GetCampaign(ctx, id)
	if err != nil {
		return storeErr(err, "campaign", id)
	}
	if c.LiveStartedAt == nil {
		return conflict("campaign_not_live_yet", "the campaign has not gone live yet: orders come from a live")
	}

	o := &store.Order{CampaignID: id, IdempotencyKey: key, Code: in.Code, CustomerName: in.CustomerName,
		Total: in.Total, Currency: in.Currency, ViewerID: in.ViewerID, SessionID: in.SessionID,
		Items: make([]store.OrderItem, len(in.Items))}
	var v validator
	checkCode(&v, "code", o.Code, maxOrderCode)
	checkText(&v, "customer_name", o.CustomerName, true, maxName, false)
	checkMoney(&v, "total", &o.Total)
	checkCurrency(&v, "currency", o.Currency)
	if validCurrency(o.Currency) {
		want, err := a.campaignCurrency(ctx, c)
		if err != nil {
			return err
		}
		if want != "" && o.Currency != want {
			v.add("currency", "must be %s, the currency of the campaign's products, got %s", want, o.Currency)
		}
	}
	if o.ViewerID != "" && !analytics.ValidID(o.ViewerID) {
		v.add("viewer_id", "must be a viewer id: 1 to 64 letters, digits, _ or -")
	}
	if o.SessionID != "" && !analytics.ValidID(o.SessionID) {
		v.add("session_id", "must be a session id: 1 to 64 letters, digits, _ or -")
	}
	switch {
	case len(in.Items) == 0:
		v.add("items", "must hold at least one item")
	case len(in.Items) > maxOrderItems:
		v.add("items", "must hold at most %d items", maxOrderItems)
	default:
		// Every product id checked in one lookup.
		var ids []string
		for _, it := range in.Items {
			if it.ProductID != "" && len(it.ProductID) <= 128 {
				ids = append(ids, it.ProductID)
			}
		}
		gone := map[string]bool{}
		var missing *store.MissingError
		if _, err := a.st.GetProducts(ctx, ids); errors.As(err, &missing) {
			for _, id := range missing.IDs {
				gone[id] = true
			}
		} else if err != nil {
			return fmt.Errorf("check order products: %w", err)
		}
		for i, it := range in.Items {
			field := fmt.Sprintf("items[%d]", i)
			o.Items[i] = store.OrderItem(it)
			if it.Quantity < 1 || it.Quantity > maxQuantity {
				v.add(field+".quantity", "must be from 1 to %d", maxQuantity)
			}
			switch {
			case it.ProductID == "" || len(it.ProductID) > 128:
				v.add(field+".product_id", "must be a product id")
			case gone[it.ProductID]:
				v.add(field+".product_id", "no product has id %q", clip(it.ProductID))
			}
		}
	}
	if err := v.err(); err != nil {
		return err
	}

	want := *o
	created, err := a.st.CreateOrder(ctx, o)
	switch {
	case errors.Is(err, store.ErrConflict):
		// The store resolves racing repeats of one key itself; a conflict
		// is the same order code reported under another key.
		return conflict("duplicate_order_code", "order %q is already recorded for this campaign under another %s",
			clip(want.Code), idempotentHeader)
	case err != nil:
		return storeErr(err, "campaign", id)
	}
	if !created {
		if !sameOrder(o, &want) {
			return errorf(http.StatusUnprocessableEntity, "idempotency_key_reused",
				"the %s %q was used for order %q with another body", idempotentHeader, clip(key), clip(o.Code))
		}
		return writeJSON(w, http.StatusOK, orderOut(o))
	}
	a.log.InfoContext(ctx, "order created", "campaign", id, "order", o.ID, "request_id", requestIDFrom(ctx))
	a.notify(ctx, EventOrderCreated, orderOut(o))
	a.tellOrder(ctx, o)
	return writeJSON(w, http.StatusCreated, orderOut(o))
}

// sameOrder compares what the client sent (canonicalised) with a stored
// order.
func sameOrder(a, b *store.Order) bool {
	return a.Code == b.Code && a.CustomerName == b.CustomerName && a.Total == b.Total &&
		a.Currency == b.Currency && a.ViewerID == b.ViewerID && a.SessionID == b.SessionID &&
		slices.Equal(a.Items, b.Items)
}

// campaignCurrency is the one currency of the campaign's products, ""
// when they have none (no products) or several.
func (a *API) campaignCurrency(ctx context.Context, c *store.Campaign) (string, error) {
	ids := slices.Clone(c.ProductIDs)
	for len(ids) > 0 {
		ps, err := a.st.GetProducts(ctx, ids)
		var missing *store.MissingError
		if errors.As(err, &missing) && len(missing.IDs) > 0 {
			// Deleted meanwhile: the others decide.
			n := len(ids)
			if ids = slices.DeleteFunc(ids, func(id string) bool { return slices.Contains(missing.IDs, id) }); len(ids) < n {
				continue
			}
		}
		if err != nil {
			return "", fmt.Errorf("campaign products' currency: %w", err)
		}
		cur := ""
		for _, p := range ps {
			switch {
			case p.Currency == "" || p.Currency == cur:
			case cur == "":
				cur = p.Currency
			default:
				return "", nil // several
			}
		}
		return cur, nil
	}
	return "", nil
}

func (a *API) listOrders(w http.ResponseWriter, r *http.Request) error {
	page, err := pageFrom(r)
	if err != nil {
		return err
	}
	c, err := a.loadCampaign(r)
	if err != nil {
		return err
	}
	os, next, err := a.st.ListOrders(r.Context(), c.ID, page)
	if err != nil {
		return listErr(err, "orders")
	}
	out := make([]orderView, len(os))
	for i := range os {
		out[i] = orderOut(&os[i])
	}
	return writeJSON(w, http.StatusOK, listResponse{Items: out, NextCursor: next})
}

// tellOrder puts the order on the campaign's channel (order.placed: the
// orders ticker, the replay, analytics) with the customer's first name
// only. The order is durable already: a failure here is logged, not
// answered.
func (a *API) tellOrder(ctx context.Context, o *store.Order) {
	if a.overlay == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	room, err := a.overlay.Room(ctx, o.CampaignID)
	if err == nil {
		first, _, _ := strings.Cut(strings.TrimSpace(o.CustomerName), " ")
		ev := events.OrderPlaced{OrderID: o.ID, Name: first, Items: make([]events.OrderLine, len(o.Items))}
		for i, it := range o.Items {
			ev.Items[i] = events.OrderLine{ProductID: it.ProductID, Quantity: it.Quantity}
		}
		_, err = room.OrderPlaced(ctx, ev)
	}
	if err != nil {
		a.log.WarnContext(ctx, "order not put on the channel", "campaign", o.CampaignID, "order", o.ID, "err", err)
	}
}
