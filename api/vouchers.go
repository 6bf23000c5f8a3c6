package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"vitrine/store"
)

// Voucher discount types.
const (
	discountPercent = "percent"
	discountAmount  = "amount"
)

type voucherView struct {
	ID            string    `json:"id"`
	Code          string    `json:"code"`
	Name          string    `json:"name"`
	DiscountType  string    `json:"discount_type" enum:"percent,amount"`
	DiscountValue string    `json:"discount_value" doc:"percent: \"10\" is 10 %; amount: money in currency" example:"10"`
	Currency      string    `json:"currency" doc:"ISO 4217; empty for a percent voucher without minimum spend"`
	MinSpend      string    `json:"min_spend" example:"0.00"`
	Quantity      int       `json:"quantity"`
	StartsAt      time.Time `json:"starts_at"`
	EndsAt        time.Time `json:"ends_at"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func voucherOut(v *store.Voucher) voucherView {
	return voucherView{ID: v.ID, Code: v.Code, Name: v.Name, DiscountType: v.DiscountType,
		DiscountValue: v.DiscountValue, Currency: v.Currency, MinSpend: v.MinSpend, Quantity: v.Quantity,
		StartsAt: v.StartsAt, EndsAt: v.EndsAt, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
}

type voucherCreate struct {
	Code          string `json:"code" required:"true" minLength:"1" maxLength:"64" doc:"unique code the buyer enters"`
	Name          string `json:"name" required:"true" minLength:"1" maxLength:"200"`
	DiscountType  string `json:"discount_type" required:"true" enum:"percent,amount"`
	DiscountValue string `json:"discount_value" required:"true" pattern:"^\\d{1,10}(\\.\\d{1,4})?$" doc:"percent: more than 0, at most 100 (canonical \"12.5\"); amount: more than 0, money (canonical \"5.00\")"`
	Currency      string `json:"currency" pattern:"^([A-Z]{3})?$" doc:"ISO 4217; required for an amount voucher and for a minimum spend"`
	MinSpend      string `json:"min_spend" pattern:"^(\\d{1,10}(\\.\\d{1,4})?)?$" doc:"minimum order value; empty means none (\"0.00\")"`
	Quantity      int    `json:"quantity" minimum:"0" maximum:"1000000000" doc:"how many can be used"`
	StartsAt      string `json:"starts_at" required:"true" format:"date-time"`
	EndsAt        string `json:"ends_at" required:"true" format:"date-time" doc:"after starts_at"`
}

// voucherPatch changes the fields it carries; absent (or null) fields stay.
type voucherPatch struct {
	Code          *string `json:"code" maxLength:"64"`
	Name          *string `json:"name" maxLength:"200"`
	DiscountType  *string `json:"discount_type" enum:"percent,amount"`
	DiscountValue *string `json:"discount_value" pattern:"^\\d{1,10}(\\.\\d{1,4})?$"`
	Currency      *string `json:"currency" pattern:"^([A-Z]{3})?$"`
	MinSpend      *string `json:"min_spend" pattern:"^(\\d{1,10}(\\.\\d{1,4})?)?$"`
	Quantity      *int    `json:"quantity" minimum:"0" maximum:"1000000000"`
	StartsAt      *string `json:"starts_at" format:"date-time"`
	EndsAt        *string `json:"ends_at" format:"date-time"`
}

func (in voucherCreate) patch() voucherPatch {
	return voucherPatch{Code: &in.Code, Name: &in.Name, DiscountType: &in.DiscountType,
		DiscountValue: &in.DiscountValue, Currency: &in.Currency, MinSpend: &in.MinSpend,
		Quantity: &in.Quantity, StartsAt: &in.StartsAt, EndsAt: &in.EndsAt}
}

// apply sets the fields of in on vo and validates the whole voucher.
func (in voucherPatch) apply(vo *store.Voucher) error {
	var v validator
	set(&vo.Code, in.Code)
	set(&vo.Name, in.Name)
	set(&vo.DiscountType, in.DiscountType)
	set(&vo.DiscountValue, in.DiscountValue)
	set(&vo.Currency, in.Currency)
	set(&vo.MinSpend, in.MinSpend)
	set(&vo.Quantity, in.Quantity)
	if in.StartsAt != nil {
		vo.StartsAt = checkTime(&v, "starts_at", *in.StartsAt)
	}
	if in.EndsAt != nil {
		vo.EndsAt = checkTime(&v, "ends_at", *in.EndsAt)
	}

	checkCode(&v, "code", vo.Code, maxSKU)
	checkText(&v, "name", vo.Name, true, maxName, false)
	if vo.MinSpend == "" {
		vo.MinSpend = "0.00"
	}
	checkMoney(&v, "min_spend", &vo.MinSpend)
	switch vo.DiscountType {
	case discountPercent:
		if c, ok := canonicalDecimal(vo.DiscountValue, 0); !ok || isZero(c) || decimal(c).Cmp(decimal("100")) > 0 {
			v.add("discount_value", "a percent discount must be more than 0 and at most 100, got %q", clip(vo.DiscountValue))
		} else {
			vo.DiscountValue = c
		}
		// A percent voucher needs a currency only to express its minimum.
		if vo.Currency != "" || (v.ok() && !isZero(vo.MinSpend)) {
			checkCurrency(&v, "currency", vo.Currency)
		}
	case discountAmount:
		if c, ok := canonicalMoney(vo.DiscountValue); !ok || isZero(c) {
			v.add("discount_value", "an amount discount must be money more than 0, such as \"5.00\", got %q", clip(vo.DiscountValue))
		} else {
			vo.DiscountValue = c
		}
		checkCurrency(&v, "currency", vo.Currency)
	default:
		v.add("discount_type", "must be %q or %q, got %q", discountPercent, discountAmount, clip(vo.DiscountType))
	}
	if vo.Quantity < 0 || vo.Quantity > maxStock {
		v.add("quantity", "must be from 0 to %d", maxStock)
	}
	if v.ok() && !vo.StartsAt.Before(vo.EndsAt) {
		v.add("ends_at", "must be after starts_at")
	}
	return v.err()
}

func voucherConflict(err error, code string) error {
	if errors.Is(err, store.ErrConflict) {
		return conflict("duplicate_code", "a voucher with code %q exists already", clip(code))
	}
	return fmt.Errorf("save voucher: %w", err)
}

func (a *API) voucherRoutes() []*route {
	const tag = "Vouchers"
	return []*route{
		{Method: "POST", Path: "/api/v1/vouchers", ID: "createVoucher", Tag: tag,
			Summary: "Create a voucher", Body: voucherCreate{}, Status: http.StatusCreated,
			Response: voucherView{}, Errors: []int{http.StatusConflict}, handle: a.createVoucher},
		{Method: "GET", Path: "/api/v1/vouchers", ID: "listVouchers", Tag: tag,
			Summary: "List vouchers", Doc: "Sorted by name, then id.",
			Query: append([]param{
				{Name: "q", Type: "string", Doc: "case-insensitive substring of the name or code"},
			}, pageParams...),
			Status: http.StatusOK, Response: listOf(voucherView{}), handle: a.listVouchers},
		{Method: "GET", Path: "/api/v1/vouchers/{id}", ID: "getVoucher", Tag: tag,
			Summary: "Get a voucher", Status: http.StatusOK, Response: voucherView{}, handle: a.getVoucher},
		{Method: "PATCH", Path: "/api/v1/vouchers/{id}", ID: "updateVoucher", Tag: tag,
			Summary: "Update a voucher", Doc: "Changes the fields present in the body.",
			Body: voucherPatch{}, Status: http.StatusOK, Response: voucherView{},
			Errors: []int{http.StatusConflict}, handle: a.updateVoucher},
		{Method: "DELETE", Path: "/api/v1/vouchers/{id}", ID: "deleteVoucher", Tag: tag,
			Summary: "Delete a voucher", Doc: "Also detaches it from the campaigns that list it.",
			Status: http.StatusNoContent, handle: a.deleteVoucher},
	}
}

func (a *API) createVoucher(w http.ResponseWriter, r *http.Request) error {
	var in voucherCreate
	if err := decodeJSON(w, r, &in, maxJSONBody, false); err != nil {
		return err
	}
	vo := &store.Voucher{}
	if err := in.patch().apply(vo); err != nil {
		return err
	}
	if err := a.st.CreateVoucher(r.Context(), vo); err != nil {
		return voucherConflict(err, vo.Code)
	}
	return writeJSON(w, http.StatusCreated, voucherOut(vo))
}

func (a *API) listVouchers(w http.ResponseWriter, r *http.Request) error {
	page, err := pageFrom(r)
	if err != nil {
		return err
	}
	f := store.VoucherFilter{Query: r.URL.Query().Get("q"), Page: page}
	if len(f.Query) > maxQuery {
		return badRequest("invalid_parameter", "search terms must have at most %d bytes", maxQuery)
	}
	vs, next, err := a.st.ListVouchers(r.Context(), f)
	if err != nil {
		return listErr(err, "vouchers")
	}
	out := make([]voucherView, len(vs))
	for i := range vs {
		out[i] = voucherOut(&vs[i])
	}
	return writeJSON(w, http.StatusOK, listResponse{Items: out, NextCursor: next})
}

func (a *API) getVoucher(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r, "voucher")
	if err != nil {
		return err
	}
	vo, err := a.st.GetVoucher(r.Context(), id)
	if err != nil {
		return storeErr(err, "voucher", id)
	}
	return writeJSON(w, http.StatusOK, voucherOut(vo))
}

func (a *API) updateVoucher(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r, "voucher")
	if err != nil {
		return err
	}
	var in voucherPatch
	if err := decodeJSON(w, r, &in, maxJSONBody, false); err != nil {
		return err
	}
	defer a.locks.lock("voucher/" + id)()
	vo, err := a.st.GetVoucher(r.Context(), id)
	if err != nil {
		return storeErr(err, "voucher", id)
	}
	if err := in.apply(vo); err != nil {
		return err
	}
	if err := a.st.UpdateVoucher(r.Context(), vo); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("voucher", id)
		}
		return voucherConflict(err, vo.Code)
	}
	return writeJSON(w, http.StatusOK, voucherOut(vo))
}

func (a *API) deleteVoucher(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r, "voucher")
	if err != nil {
		return err
	}
	if err := a.st.DeleteVoucher(r.Context(), id); err != nil {
		return storeErr(err, "voucher", id)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
