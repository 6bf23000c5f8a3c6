package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"vitrine/events"
	"vitrine/overlay"
	"vitrine/store"
)

// Pins: what shows on the video. A pin is an event of the campaign's
// overlay channel (product.pinned, voucher.pinned...), recorded in the
// campaign's log before the request is answered and broadcast to viewers.

func (a *API) pinRoutes() []*route {
	const tag = "Pins"
	return []*route{
		{Method: "GET", Path: "/api/v1/campaigns/{id}/pins", ID: "listPins", Tag: tag,
			Summary: "The current pins",
			Doc: "The products pinned on the video now, oldest first, and the pinned voucher (null if none), as the " +
				"viewers' screens show them.",
			Status: http.StatusOK, Response: currentPinsView{},
			Errors: []int{http.StatusServiceUnavailable}, handle: a.listPins},
		{Method: "POST", Path: "/api/v1/campaigns/{id}/pins", ID: "pin", Tag: tag,
			Summary: "Pin a product or a voucher",
			Doc: "Shows a product or a voucher attached to the campaign on its viewers' screens, on the media clock " +
				"(the pin's at is now). Products pile up to the maximum (default 3): pinning one more is 409 pin_limit, " +
				"unpin one first; pinning a pinned product is 409 already_pinned. A voucher replaces the pinned voucher. " +
				"An item not attached to the campaign is 422. Answers the event's seq and the pins after it.",
			Body: pinRequest{}, Status: http.StatusCreated, Response: pinsView{},
			Errors: []int{http.StatusConflict, http.StatusServiceUnavailable}, handle: a.pin},
		{Method: "DELETE", Path: "/api/v1/campaigns/{id}/pins/{kind}/{item_id}", ID: "unpin", Tag: tag,
			Summary: "Unpin a product or the voucher",
			Doc: "kind is product or voucher. 404 not_pinned when the item is not pinned. " +
				"Answers the event's seq and the pins after it.",
			Status: http.StatusOK, Response: pinsView{},
			Errors: []int{http.StatusServiceUnavailable}, handle: a.unpin},
	}
}

type pinRequest struct {
	Kind string `json:"kind" required:"true" enum:"product,voucher"`
	ID   string `json:"id" required:"true" minLength:"1" doc:"id of a product or voucher attached to the campaign"`
}

type pinsView struct {
	Seq      int64               `json:"seq" doc:"the pin event's sequence number in the campaign's channel"`
	At       time.Time           `json:"at" doc:"the event's time on the media clock"`
	Products []events.ProductRef `json:"products" doc:"pinned products, oldest first"`
	Voucher  *events.VoucherRef  `json:"voucher" doc:"the pinned voucher, null if none"`
}

type currentPinsView struct {
	Products []events.ProductRef `json:"products" doc:"pinned products, oldest first"`
	Voucher  *events.VoucherRef  `json:"voucher" doc:"the pinned voucher, null if none"`
}

func (a *API) listPins(w http.ResponseWriter, r *http.Request) error {
	_, room, err := a.campaignRoom(r)
	if err != nil {
		return err
	}
	st := room.State()
	v := currentPinsView{Products: st.Products, Voucher: st.Voucher}
	if v.Products == nil {
		v.Products = []events.ProductRef{}
	}
	return writeJSON(w, http.StatusOK, v)
}

// campaignRoom finds the campaign (404 first, like every route by id),
// then its overlay room.
func (a *API) campaignRoom(r *http.Request) (*store.Campaign, *overlay.Room, error) {
	id, err := idParam(r, "campaign")
	if err != nil {
		return nil, nil, err
	}
	c, err := a.st.GetCampaign(r.Context(), id)
	if err != nil {
		return nil, nil, storeErr(err, "campaign", id)
	}
	if a.overlay == nil {
		return nil, nil, errorf(http.StatusServiceUnavailable, "overlay_unavailable", "this server runs no overlay channel")
	}
	room, err := a.overlay.Room(r.Context(), id)
	if err != nil {
		return nil, nil, fmt.Errorf("overlay room %s: %w", id, err)
	}
	return c, room, nil
}

func (a *API) pin(w http.ResponseWriter, r *http.Request) error {
	var in pinRequest
	if err := decodeJSON(w, r, &in, maxJSONBody, false); err != nil {
		return err
	}
	c, room, err := a.campaignRoom(r)
	if err != nil {
		return err
	}
	var v validator
	if in.Kind != "product" && in.Kind != "voucher" {
		v.add("kind", "must be product or voucher")
	}
	if in.ID == "" {
		v.add("id", "required")
	}
	if err := v.err(); err != nil {
		return err
	}
	ctx := r.Context()
	var msg *events.Message
	switch in.Kind {
	case "product":
		if !slices.Contains(c.ProductIDs, in.ID) {
			return invalidField("id", "product %q is not attached to the campaign", clip(in.ID))
		}
		p, err := a.st.GetProduct(ctx, in.ID)
		if err != nil {
			return invalidField("id", "product %q is not attached to the campaign", clip(in.ID))
		}
		msg, err = room.PinProduct(ctx, events.ProductRef{ID: p.ID, Name: p.Name, Price: p.Price,
			Currency: p.Currency, ImageURL: p.ImageURL, URL: p.URL})
		if err != nil {
			return pinErr(err)
		}
	case "voucher":
		if !slices.Contains(c.VoucherIDs, in.ID) {
			return invalidField("id", "voucher %q is not attached to the campaign", clip(in.ID))
		}
		vc, err := a.st.GetVoucher(ctx, in.ID)
		if err != nil {
			return invalidField("id", "voucher %q is not attached to the campaign", clip(in.ID))
		}
		msg, err = room.PinVoucher(ctx, events.VoucherRef{ID: vc.ID, Code: vc.Code, Name: vc.Name,
			DiscountType: vc.DiscountType, DiscountValue: vc.DiscountValue, Currency: vc.Currency,
			MinSpend: vc.MinSpend, EndsAt: vc.EndsAt})
		if err != nil {
			return pinErr(err)
		}
	}
	a.log.InfoContext(ctx, "pinned", "campaign", c.ID, "kind", in.Kind, "item", in.ID, "seq", msg.Seq,
		"request_id", requestIDFrom(ctx))
	return writeJSON(w, http.StatusCreated, pinsOut(msg, room))
}

func (a *API) unpin(w http.ResponseWriter, r *http.Request) error {
	kind, item := r.PathValue("kind"), r.PathValue("item_id")
	if kind != "product" && kind != "voucher" {
		return errorf(http.StatusNotFound, "not_found", "no such pin kind %q: product or voucher", clip(kind))
	}
	c, room, err := a.campaignRoom(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var msg *events.Message
	if kind == "product" {
		msg, err = room.UnpinProduct(ctx, item)
	} else {
		msg, err = room.UnpinVoucher(ctx, item)
	}
	if err != nil {
		return pinErr(err)
	}
	a.log.InfoContext(ctx, "unpinned", "campaign", c.ID, "kind", kind, "item", item, "seq", msg.Seq,
		"request_id", requestIDFrom(ctx))
	return writeJSON(w, http.StatusOK, pinsOut(msg, room))
}

func pinErr(err error) error {
	switch {
	case errors.Is(err, overlay.ErrPinLimit):
		return conflict("pin_limit", "%s", err.Error())
	case errors.Is(err, overlay.ErrAlreadyPinned):
		return conflict("already_pinned", "%s", err.Error())
	case errors.Is(err, overlay.ErrNotPinned):
		return errorf(http.StatusNotFound, "not_pinned", "%s", err.Error())
	}
	return err
}

// pinsOut is the pins right after msg was applied (a later event from
// another request may already show; the seq says which event this was).
func pinsOut(msg *events.Message, room *overlay.Room) pinsView {
	st := room.State()
	return pinsView{Seq: msg.Seq, At: msg.Time(), Products: st.Products, Voucher: st.Voucher}
}
