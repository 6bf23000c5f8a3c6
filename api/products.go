package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"vitrine/store"
)

// Bounds of catalog fields.
const (
	maxSKU      = 64
	maxName     = 200
	maxCategory = 100
	maxStock    = 1_000_000_000
	maxQuery    = 200
)

type productView struct {
	ID        string    `json:"id"`
	SKU       string    `json:"sku"`
	Name      string    `json:"name"`
	Category  string    `json:"category"`
	Price     string    `json:"price" doc:"canonical decimal string" example:"129.00"`
	Currency  string    `json:"currency" doc:"ISO 4217" example:"EUR"`
	ImageURL  string    `json:"image_url" doc:"an absolute http(s) URL; empty when none"`
	Stock     int       `json:"stock"`
	URL       string    `json:"url" doc:"the product page on the seller's shop: an absolute http(s) URL; empty when none"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func productOut(p *store.Product) productView {
	return productView{ID: p.ID, SKU: p.SKU, Name: p.Name, Category: p.Category, Price: p.Price,
		Currency: p.Currency, ImageURL: p.ImageURL, Stock: p.Stock, URL: p.URL,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

type productCreate struct {
	SKU      string `json:"sku" required:"true" minLength:"1" maxLength:"64" doc:"unique stock keeping unit"`
	Name     string `json:"name" required:"true" minLength:"1" maxLength:"200"`
	Category string `json:"category" maxLength:"100"`
	Price    string `json:"price" required:"true" pattern:"^\\d{1,10}(\\.\\d{1,4})?$" doc:"decimal string, up to 10 integer and 4 fraction digits; returned in canonical form (\"129\" -> \"129.00\")"`
	Currency string `json:"currency" required:"true" pattern:"^[A-Z]{3}$" doc:"ISO 4217 code of a circulating currency"`
	ImageURL string `json:"image_url" format:"uri" doc:"http(s) URL, e.g. the url returned by POST /api/v1/images (its id is taken too)"`
	Stock    int    `json:"stock" minimum:"0" maximum:"1000000000"`
	URL      string `json:"url" format:"uri" doc:"the product page on the seller's shop, http(s)"`
}

// productPatch changes the fields it carries; absent (or null) fields stay.
type productPatch struct {
	SKU      *string `json:"sku" maxLength:"64"`
	Name     *string `json:"name" maxLength:"200"`
	Category *string `json:"category" maxLength:"100"`
	Price    *string `json:"price" pattern:"^\\d{1,10}(\\.\\d{1,4})?$" doc:"decimal string, canonicalised"`
	Currency *string `json:"currency" pattern:"^[A-Z]{3}$"`
	ImageURL *string `json:"image_url" format:"uri"`
	Stock    *int    `json:"stock" minimum:"0" maximum:"1000000000"`
	URL      *string `json:"url" format:"uri"`
}

func (in productPatch) apply(p *store.Product) {
	set(&p.SKU, in.SKU)
	set(&p.Name, in.Name)
	set(&p.Category, in.Category)
	set(&p.Price, in.Price)
	set(&p.Currency, in.Currency)
	set(&p.ImageURL, in.ImageURL)
	set(&p.Stock, in.Stock)
	set(&p.URL, in.URL)
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// validateProduct checks a whole product after create or patch, and
// canonicalises its price.
func validateProduct(p *store.Product) error {
	var v validator
	checkCode(&v, "sku", p.SKU, maxSKU)
	checkText(&v, "name", p.Name, true, maxName, false)
	checkText(&v, "category", p.Category, false, maxCategory, false)
	checkMoney(&v, "price", &p.Price)
	checkCurrency(&v, "currency", p.Currency)
	checkURL(&v, "image_url", p.ImageURL, false)
	checkURL(&v, "url", p.URL, false)
	if p.Stock < 0 || p.Stock > maxStock {
		v.add("stock", "must be from 0 to %d", maxStock)
	}
	return v.err()
}

func productConflict(err error, sku string) error {
	if errors.Is(err, store.ErrConflict) {
		return conflict("duplicate_sku", "a product with sku %q exists already", clip(sku))
	}
	return fmt.Errorf("save product: %w", err)
}

func (a *API) productRoutes() []*route {
	const tag = "Products"
	idErrs := []int{http.StatusNotFound}
	return []*route{
		{Method: "POST", Path: "/api/v1/products", ID: "createProduct", Tag: tag,
			Summary: "Create a product", Body: productCreate{}, Status: http.StatusCreated,
			Response: productView{}, Errors: []int{http.StatusConflict}, handle: a.createProduct},
		{Method: "GET", Path: "/api/v1/products", ID: "listProducts", Tag: tag,
			Summary: "List products", Doc: "Sorted by name, then id.",
			Query: append([]param{
				{Name: "q", Type: "string", Doc: "case-insensitive substring of the name"},
				{Name: "category", Type: "string", Doc: "exact category"},
			}, pageParams...),
			Status: http.StatusOK, Response: listOf(productView{}), handle: a.listProducts},
		{Method: "GET", Path: "/api/v1/products/{id}", ID: "getProduct", Tag: tag,
			Summary: "Get a product", Status: http.StatusOK, Response: productView{}, handle: a.getProduct},
		{Method: "PATCH", Path: "/api/v1/products/{id}", ID: "updateProduct", Tag: tag,
			Summary: "Update a product", Doc: "Changes the fields present in the body.",
			Body: productPatch{}, Status: http.StatusOK, Response: productView{},
			Errors: append(idErrs, http.StatusConflict), handle: a.updateProduct},
		{Method: "DELETE", Path: "/api/v1/products/{id}", ID: "deleteProduct", Tag: tag,
			Summary: "Delete a product", Doc: "Also detaches it from the campaigns that list it.",
			Status: http.StatusNoContent, handle: a.deleteProduct},
	}
}

func (a *API) createProduct(w http.ResponseWriter, r *http.Request) error {
	var in productCreate
	if err := decodeJSON(w, r, &in, maxJSONBody, false); err != nil {
		return err
	}
	p := &store.Product{SKU: in.SKU, Name: in.Name, Category: in.Category, Price: in.Price,
		Currency: in.Currency, ImageURL: in.ImageURL, Stock: in.Stock, URL: in.URL}
	a.imageRef(r, &p.ImageURL)
	if err := validateProduct(p); err != nil {
		return err
	}
	if err := a.st.CreateProduct(r.Context(), p); err != nil {
		return productConflict(err, p.SKU)
	}
	return writeJSON(w, http.StatusCreated, productOut(p))
}

func (a *API) listProducts(w http.ResponseWriter, r *http.Request) error {
	page, err := pageFrom(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.ProductFilter{Query: q.Get("q"), Category: q.Get("category"), Page: page}
	if len(f.Query) > maxQuery || len(f.Category) > maxQuery {
		return badRequest("invalid_parameter", "search terms must have at most %d bytes", maxQuery)
	}
	ps, next, err := a.st.ListProducts(r.Context(), f)
	if err != nil {
		return listErr(err, "products")
	}
	out := make([]productView, len(ps))
	for i := range ps {
		out[i] = productOut(&ps[i])
	}
	return writeJSON(w, http.StatusOK, listResponse{Items: out, NextCursor: next})
}

func (a *API) getProduct(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r, "product")
	if err != nil {
		return err
	}
	p, err := a.st.GetProduct(r.Context(), id)
	if err != nil {
		return storeErr(err, "product", id)
	}
	return writeJSON(w, http.StatusOK, productOut(p))
}

func (a *API) updateProduct(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r, "product")
	if err != nil {
		return err
	}
	var in productPatch
	if err := decodeJSON(w, r, &in, maxJSONBody, false); err != nil {
		return err
	}
	defer a.locks.lock("product/" + id)()
	p, err := a.st.GetProduct(r.Context(), id)
	if err != nil {
		return storeErr(err, "product", id)
	}
	in.apply(p)
	a.imageRef(r, &p.ImageURL)
	if err := validateProduct(p); err != nil {
		return err
	}
	if err := a.st.UpdateProduct(r.Context(), p); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("product", id)
		}
		return productConflict(err, p.SKU)
	}
	return writeJSON(w, http.StatusOK, productOut(p))
}

func (a *API) deleteProduct(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r, "product")
	if err != nil {
		return err
	}
	if err := a.st.DeleteProduct(r.Context(), id); err != nil {
		return storeErr(err, "product", id)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
