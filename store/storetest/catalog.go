package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"vitrine/store"
)

func testProductCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := newProduct("SKU-1", "Linen shirt", "shirts")
	before := time.Now()
	must(t, s.CreateProduct(ctx, p))
	checkID(t, p.ID, "prd_")
	checkStamp(t, "CreatedAt", p.CreatedAt, before, time.Now())
	equal(t, "UpdatedAt", p.UpdatedAt, p.CreatedAt)

	got, err := s.GetProduct(ctx, p.ID)
	must(t, err)
	equal(t, "read back", got, p)

	// An update from a body that lacks CreatedAt gets it back.
	created := p.CreatedAt
	p.Name, p.Stock, p.Price, p.CreatedAt = "Linen shirt, blue", 0, "99.90", time.Time{}
	must(t, s.UpdateProduct(ctx, p))
	equal(t, "CreatedAt after update", p.CreatedAt, created)
	if p.UpdatedAt.Before(created) {
		t.Errorf("UpdatedAt %v before CreatedAt %v", p.UpdatedAt, created)
	}
	got, err = s.GetProduct(ctx, p.ID)
	must(t, err)
	equal(t, "read back after update", got, p)

	isErr(t, s.UpdateProduct(ctx, &store.Product{ID: "prd_missing", SKU: "X"}), store.ErrNotFound)
	_, err = s.GetProduct(ctx, "prd_missing")
	isErr(t, err, store.ErrNotFound)

	must(t, s.DeleteProduct(ctx, p.ID))
	_, err = s.GetProduct(ctx, p.ID)
	isErr(t, err, store.ErrNotFound)
	isErr(t, s.DeleteProduct(ctx, p.ID), store.ErrNotFound)
}

func testProductConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newProduct("SKU-A", "A", "c")
	must(t, s.CreateProduct(ctx, a))
	dup := newProduct("SKU-A", "Another", "c")
	isErr(t, s.CreateProduct(ctx, dup), store.ErrConflict, "sku", "SKU-A")
	if dup.ID != "" {
		t.Errorf("failed create set ID %q", dup.ID)
	}
	b := newProduct("SKU-B", "B", "c")
	must(t, s.CreateProduct(ctx, b))
	b.SKU = "SKU-A"
	isErr(t, s.UpdateProduct(ctx, b), store.ErrConflict, "sku")
	got, err := s.GetProduct(ctx, b.ID)
	must(t, err)
	equal(t, "SKU after refused update", got.SKU, "SKU-B")
	// Products without a SKU do not collide with each other.
	must(t, s.CreateProduct(ctx, newProduct("", "No SKU 1", "c")))
	must(t, s.CreateProduct(ctx, newProduct("", "No SKU 2", "c")))
}

func testProductList(t *testing.T, s store.Store) {
	ctx := t.Context()
	names := map[string]string{ // name -> category
		"Apple tart":      "food",
		"apple juice":     "drinks",
		"Banana":          "food",
		"ÉTÉ hat":         "hats",
		"été scarf":       "scarves",
		"100% cotton tee": "shirts",
		"cotton 1000 tee": "shirts",
		"50_50 blend":     "shirts",
		"50x50 mesh":      "shirts",
		"Zebra":           "misc",
	}
	all := map[string]store.Product{}
	i := 0
	for name, cat := range names {
		p := newProduct(fmt.Sprintf("SKU-%d", i), name, cat)
		must(t, s.CreateProduct(ctx, p))
		all[name] = *p
		i++
	}
	// Two products with the same name: the tie breaks on id.
	dup := newProduct("SKU-dup", "Banana", "food")
	must(t, s.CreateProduct(ctx, dup))

	// Every product, by name (bytewise, as on both databases) then id, in
	// pages of 2, deep-equal to what was written.
	want := []store.Product{*dup}
	for _, p := range all {
		want = append(want, p)
	}
	sort.Slice(want, func(i, j int) bool {
		if want[i].Name != want[j].Name {
			return want[i].Name < want[j].Name
		}
		return want[i].ID < want[j].ID
	})
	got := walk(t, 2, productID, func(p store.Page) ([]store.Product, string, error) {
		return s.ListProducts(ctx, store.ProductFilter{Page: p})
	})
	equal(t, "all products", got, want)

	names2 := func(f store.ProductFilter) []string {
		t.Helper()
		ps := walk(t, 3, productID, func(p store.Page) ([]store.Product, string, error) {
			f.Page = p
			return s.ListProducts(ctx, f)
		})
		out := []string{}
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	for _, tc := range []struct {
		f    store.ProductFilter
		want []string
	}{
		{store.ProductFilter{Query: "APPLE"}, []string{"Apple tart", "apple juice"}},
		{store.ProductFilter{Query: "été"}, []string{"ÉTÉ hat", "été scarf"}},
		{store.ProductFilter{Query: "100%"}, []string{"100% cotton tee"}},
		{store.ProductFilter{Query: "0_5"}, []string{"50_50 blend"}},
		{store.ProductFilter{Query: "%"}, []string{"100% cotton tee"}},
		{store.ProductFilter{Query: "nothing like it"}, []string{}},
		{store.ProductFilter{Category: "food"}, []string{"Apple tart", "Banana", "Banana"}},
		{store.ProductFilter{Category: "Food"}, []string{}},
		{store.ProductFilter{Category: "shirts", Query: "COTTON"}, []string{"100% cotton tee", "cotton 1000 tee"}},
	} {
		equal(t, fmt.Sprintf("names for %+v", tc.f), names2(tc.f), tc.want)
	}
}

func testVoucherCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	v := &store.Voucher{Code: "LIVE10", Name: "Live 10 %", DiscountType: "percent", DiscountValue: "10",
		Currency: "EUR", MinSpend: "50.00", Quantity: 200, StartsAt: base, EndsAt: base.Add(24 * time.Hour)}
	before := time.Now()
	must(t, s.CreateVoucher(ctx, v))
	checkID(t, v.ID, "vch_")
	checkStamp(t, "CreatedAt", v.CreatedAt, before, time.Now())
	equal(t, "StartsAt, normalised", v.StartsAt, norm(base))
	got, err := s.GetVoucher(ctx, v.ID)
	must(t, err)
	equal(t, "read back", got, v)

	v.DiscountType, v.DiscountValue, v.EndsAt, v.CreatedAt = "amount", "5.00", base.Add(time.Hour+time.Nanosecond), time.Time{}
	must(t, s.UpdateVoucher(ctx, v))
	got, err = s.GetVoucher(ctx, v.ID)
	must(t, err)
	equal(t, "read back after update", got, v)

	other := newVoucher("OTHER", "Other")
	must(t, s.CreateVoucher(ctx, other))
	isErr(t, s.CreateVoucher(ctx, newVoucher("LIVE10", "Dup")), store.ErrConflict, "code", "LIVE10")
	other.Code = "LIVE10"
	isErr(t, s.UpdateVoucher(ctx, other), store.ErrConflict, "code")
	isErr(t, s.UpdateVoucher(ctx, &store.Voucher{ID: "vch_missing"}), store.ErrNotFound)
	_, err = s.GetVoucher(ctx, "vch_missing")
	isErr(t, err, store.ErrNotFound)

	must(t, s.DeleteVoucher(ctx, v.ID))
	_, err = s.GetVoucher(ctx, v.ID)
	isErr(t, err, store.ErrNotFound)
	isErr(t, s.DeleteVoucher(ctx, v.ID), store.ErrNotFound)
}

func testVoucherList(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, v := range []*store.Voucher{
		newVoucher("WELCOME", "New customers"),
		newVoucher("SHIP_FREE", "Free shipping"),
		newVoucher("SHIPXFREE", "Free shipping too"),
		newVoucher("BLACK", "Black Friday welcome"),
	} {
		must(t, s.CreateVoucher(ctx, v))
	}
	list := func(q string) []string {
		t.Helper()
		vs := walk(t, 2, voucherID, func(p store.Page) ([]store.Voucher, string, error) {
			return s.ListVouchers(ctx, store.VoucherFilter{Query: q, Page: p})
		})
		out := []string{}
		for _, v := range vs {
			out = append(out, v.Code)
		}
		return out
	}
	// By name, then id; Query matches the name or the code.
	equal(t, "all", list(""), []string{"BLACK", "SHIP_FREE", "SHIPXFREE", "WELCOME"})
	equal(t, "welcome", list("Welcome"), []string{"BLACK", "WELCOME"})
	equal(t, "p_f", list("p_f"), []string{"SHIP_FREE"})
}

// testBatchGet: GetProducts and GetVouchers return what was asked, in the
// order asked, or name every missing id.
func testBatchGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	ps, vs := createProducts(t, s, 3), createVouchers(t, s, 2)
	get := func(id string) store.Product {
		p, err := s.GetProduct(ctx, id)
		must(t, err)
		return *p
	}
	got, err := s.GetProducts(ctx, []string{ps[2], ps[0], ps[2], ps[1]})
	must(t, err)
	equal(t, "products in the order asked", got, []store.Product{get(ps[2]), get(ps[0]), get(ps[2]), get(ps[1])})
	got, err = s.GetProducts(ctx, nil)
	must(t, err)
	equal(t, "no ids", got, []store.Product{})

	gotV, err := s.GetVouchers(ctx, []string{vs[1], vs[0]})
	must(t, err)
	equal(t, "voucher ids", ids(gotV, voucherID), []string{vs[1], vs[0]})
	v0, err := s.GetVoucher(ctx, vs[0])
	must(t, err)
	equal(t, "voucher read back", gotV[1], *v0)

	// Missing ids: ErrNotFound naming the first, every one listed once.
	_, err = s.GetProducts(ctx, []string{ps[0], "prd_gone", ps[1], "prd_lost", "prd_gone"})
	isErr(t, err, store.ErrNotFound, `"prd_gone"`)
	var me *store.MissingError
	if !errors.As(err, &me) || me.What != "product" || !reflect.DeepEqual(me.IDs, []string{"prd_gone", "prd_lost"}) {
		t.Fatalf("missing products: %#v", err)
	}
	_, err = s.GetVouchers(ctx, []string{"vch_gone", vs[0]})
	isErr(t, err, store.ErrNotFound, `voucher "vch_gone"`)

	// More ids than one query takes: asked in batches, still in order.
	many := make([]string, 0, 1203)
	for i := range 1200 {
		many = append(many, fmt.Sprintf("prd_missing%04d", i))
	}
	_, err = s.GetProducts(ctx, append(many, ps...))
	if !errors.As(err, &me) || !reflect.DeepEqual(me.IDs, many) {
		t.Fatalf("1200 missing: %v", err)
	}
	long := make([]string, 0, 1200)
	for i := range 1200 {
		long = append(long, ps[i%3])
	}
	got, err = s.GetProducts(ctx, long)
	must(t, err)
	equal(t, "1200 ids", ids(got, productID), long)
}
