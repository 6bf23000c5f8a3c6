package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCanonicalMoney(t *testing.T) {
	for in, want := range map[string]string{
		"129": "129.00", "129.5": "129.50", "0129.5000": "129.50", "1.2345": "1.2345",
		"1.2340": "1.234", "0": "0.00", "0.001": "0.001", "9999999999.9999": "9999999999.9999",
	} {
		if got, ok := canonicalMoney(in); !ok || got != want {
			t.Errorf("canonicalMoney(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "1.", ".5", "1,00", "1e3", "12345678901", "1.23456", " 1", "１"} {
		if got, ok := canonicalMoney(in); ok {
			t.Errorf("canonicalMoney(%q) = %q, want refusal", in, got)
		}
	}
}

func TestProductCRUD(t *testing.T) {
	e := newEnv(t)
	p := e.createProduct("BOOT-1", map[string]any{"price": "0129.5", "image_url": "https://cdn.example.com/b.png",
		"url": "https://shop.example.com/boot"})
	if p.ID == "" || p.Price != "129.50" || p.Currency != "EUR" || p.Stock != 5 || p.CreatedAt.IsZero() {
		t.Fatalf("created %+v", p)
	}

	var got productView
	e.must(http.StatusOK, "GET", "/api/v1/products/"+p.ID, nil).decode(t, &got)
	if got.SKU != "BOOT-1" || got.URL != "https://shop.example.com/boot" {
		t.Fatalf("got %+v", got)
	}

	e.must(http.StatusOK, "PATCH", "/api/v1/products/"+p.ID, `{"stock": 0, "price": "99"}`).decode(t, &got)
	if got.Stock != 0 || got.Price != "99.00" || got.Name != p.Name {
		t.Fatalf("patched %+v", got)
	}

	// Duplicate SKU, on create and on rename.
	other := e.createProduct("COAT-1", map[string]any{"category": "coats", "name": "Wool coat"})
	if c := e.must(http.StatusConflict, "POST", "/api/v1/products", map[string]any{"sku": "BOOT-1", "name": "x",
		"price": "1", "currency": "EUR"}).errCode(t); c != "duplicate_sku" {
		t.Fatalf("code %s", c)
	}
	e.must(http.StatusConflict, "PATCH", "/api/v1/products/"+other.ID, `{"sku": "BOOT-1"}`)

	// Search and pagination.
	e.createProduct("HAT-1", map[string]any{"category": "hats", "name": "Bobble hat"})
	var list struct {
		Items      []productView `json:"items"`
		NextCursor string        `json:"next_cursor"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/products?q=COAT", nil).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != other.ID {
		t.Fatalf("q=COAT: %+v", list.Items)
	}
	e.must(http.StatusOK, "GET", "/api/v1/products?category=hats", nil).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].SKU != "HAT-1" {
		t.Fatalf("category=hats: %+v", list.Items)
	}
	var seen []string
	cursor := ""
	for page := 0; ; page++ {
		path := "/api/v1/products?limit=2"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		e.must(http.StatusOK, "GET", path, nil).decode(t, &list)
		for _, p := range list.Items {
			seen = append(seen, p.SKU)
		}
		if cursor = list.NextCursor; cursor == "" || page > 5 {
			break
		}
	}
	if !slices.Equal(seen, []string{"HAT-1", "BOOT-1", "COAT-1"}) { // by name
		t.Fatalf("pages gave %v", seen)
	}

	e.must(http.StatusNoContent, "DELETE", "/api/v1/products/"+p.ID, nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/products/"+p.ID, nil).errCode(t)
	e.must(http.StatusNotFound, "DELETE", "/api/v1/products/"+p.ID, nil).errCode(t)
	e.must(http.StatusNotFound, "PATCH", "/api/v1/products/"+p.ID, `{"stock": 1}`).errCode(t)
}

func TestProductValidation(t *testing.T) {
	e := newEnv(t)
	valid := map[string]any{"sku": "S1", "name": "Shoe", "price": "10", "currency": "EUR"}
	for _, tc := range []struct {
		name  string
		set   map[string]any
		field string
	}{
		{"missing sku", map[string]any{"sku": ""}, "sku"},
		{"long sku", map[string]any{"sku": strings.Repeat("x", 65)}, "sku"},
		{"blank name", map[string]any{"name": "   "}, "name"},
		{"long name", map[string]any{"name": strings.Repeat("é", 201)}, "name"},
		{"control char", map[string]any{"name": "a\x00b"}, "name"},
		{"negative price", map[string]any{"price": "-1"}, "price"},
		{"price with comma", map[string]any{"price": "1,50"}, "price"},
		{"too many decimals", map[string]any{"price": "1.23456"}, "price"},
		{"too many digits", map[string]any{"price": "12345678901"}, "price"},
		{"lowercase currency", map[string]any{"currency": "eur"}, "currency"},
		{"unknown currency", map[string]any{"currency": "ABC"}, "currency"},
		{"negative stock", map[string]any{"stock": -1}, "stock"},
		{"javascript url", map[string]any{"url": "javascript:alert(1)"}, "url"},
		{"relative image", map[string]any{"image_url": "/img.png"}, "image_url"},
		{"ftp url", map[string]any{"url": "ftp://example.com/x"}, "url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{}
			for k, v := range valid {
				body[k] = v
			}
			for k, v := range tc.set {
				body[k] = v
			}
			r := e.must(http.StatusUnprocessableEntity, "POST", "/api/v1/products", body)
			if c := r.errCode(t); c != "validation_failed" {
				t.Fatalf("code %s", c)
			}
			if f := r.fields(t); !slices.Contains(f, tc.field) {
				t.Fatalf("fields %v, want %s", f, tc.field)
			}
		})
	}
	// Several errors at once are all reported (members left out are
	// reported first, all of them: TestRequiredMembers).
	r := e.must(http.StatusUnprocessableEntity, "POST", "/api/v1/products", `{"sku": "", "name": "", "price": "x", "currency": "x"}`)
	if f := r.fields(t); len(f) < 4 {
		t.Fatalf("fields %v", f)
	}
}

func TestVoucherCRUD(t *testing.T) {
	e := newEnv(t)
	v := e.createVoucher("WINTER10")
	if v.DiscountValue != "10" || v.MinSpend != "0.00" || v.Currency != "" {
		t.Fatalf("created %+v", v)
	}
	var got voucherView
	e.must(http.StatusOK, "PATCH", "/api/v1/vouchers/"+v.ID,
		`{"discount_type": "amount", "discount_value": "5", "currency": "EUR", "min_spend": "50"}`).decode(t, &got)
	if got.DiscountType != "amount" || got.DiscountValue != "5.00" || got.MinSpend != "50.00" || got.Code != "WINTER10" {
		t.Fatalf("patched %+v", got)
	}
	e.must(http.StatusOK, "GET", "/api/v1/vouchers/"+v.ID, nil).decode(t, &got)
	if !got.StartsAt.Equal(t0) {
		t.Fatalf("starts_at %v", got.StartsAt)
	}
	if c := e.must(http.StatusConflict, "POST", "/api/v1/vouchers", map[string]any{"code": "WINTER10", "name": "x",
		"discount_type": "percent", "discount_value": "5", "starts_at": t0.Format(time.RFC3339),
		"ends_at": t0.Add(time.Hour).Format(time.RFC3339)}).errCode(t); c != "duplicate_code" {
		t.Fatalf("code %s", c)
	}
	e.createVoucher("SPRING5")
	var list struct {
		Items []voucherView `json:"items"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/vouchers?q=spring", nil).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Code != "SPRING5" {
		t.Fatalf("q=spring: %+v", list.Items)
	}
	e.must(http.StatusNoContent, "DELETE", "/api/v1/vouchers/"+v.ID, nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/vouchers/"+v.ID, nil).errCode(t)
}

func TestVoucherValidation(t *testing.T) {
	e := newEnv(t)
	valid := map[string]any{"code": "C1", "name": "Ten off", "discount_type": "percent", "discount_value": "10",
		"starts_at": t0.Format(time.RFC3339), "ends_at": t0.Add(time.Hour).Format(time.RFC3339)}
	for _, tc := range []struct {
		name  string
		set   map[string]any
		field string
	}{
		{"zero percent", map[string]any{"discount_value": "0"}, "discount_value"},
		{"over 100 percent", map[string]any{"discount_value": "100.01"}, "discount_value"},
		{"bad type", map[string]any{"discount_type": "bogo"}, "discount_type"},
		{"amount without currency", map[string]any{"discount_type": "amount", "discount_value": "5"}, "currency"},
		{"zero amount", map[string]any{"discount_type": "amount", "discount_value": "0.00", "currency": "EUR"}, "discount_value"},
		{"min spend without currency", map[string]any{"min_spend": "20"}, "currency"},
		{"bad min spend", map[string]any{"min_spend": "twenty"}, "min_spend"},
		{"negative quantity", map[string]any{"quantity": -5}, "quantity"},
		{"ends before start", map[string]any{"ends_at": t0.Add(-time.Hour).Format(time.RFC3339)}, "ends_at"},
		{"equal times", map[string]any{"ends_at": t0.Format(time.RFC3339)}, "ends_at"},
		{"bad time", map[string]any{"starts_at": "tomorrow"}, "starts_at"},
		{"missing time", map[string]any{"ends_at": ""}, "ends_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{}
			for k, v := range valid {
				body[k] = v
			}
			for k, v := range tc.set {
				body[k] = v
			}
			r := e.must(http.StatusUnprocessableEntity, "POST", "/api/v1/vouchers", body)
			if f := r.fields(t); !slices.Contains(f, tc.field) {
				t.Fatalf("fields %v, want %s", f, tc.field)
			}
		})
	}
	// 100 % is allowed and canonical.
	body := map[string]any{}
	for k, v := range valid {
		body[k] = v
	}
	body["discount_value"] = "100.00"
	var v voucherView
	e.must(http.StatusCreated, "POST", "/api/v1/vouchers", body).decode(t, &v)
	if v.DiscountValue != "100" {
		t.Fatalf("discount %q", v.DiscountValue)
	}
}
