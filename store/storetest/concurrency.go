package storetest

import (
	"fmt"
	"sync"
	"testing"

	"vitrine/store"
)

// testConcurrentWriters: writers and readers at once, none failing (SQLite
// must not answer SQLITE_BUSY); then the page size limits.
func testConcurrentWriters(t *testing.T, s store.Store) {
	ctx := t.Context()
	const writers, each = 8, 26
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*2)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				p := newProduct(fmt.Sprintf("W%d-%d", w, i), fmt.Sprintf("Product %02d-%02d", w, i), "misc")
				if err := s.CreateProduct(ctx, p); err != nil {
					errs <- err
					return
				}
				if i%5 == 0 {
					c := newCampaign(p.Name, base, base.Add(1))
					c.ProductIDs = []string{p.ID}
					if err := s.CreateCampaign(ctx, c); err != nil {
						errs <- err
					}
					if _, _, err := s.ListProducts(ctx, store.ProductFilter{Query: "product"}); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	total := writers * each
	all := walk(t, 200, productID, func(p store.Page) ([]store.Product, string, error) {
		return s.ListProducts(ctx, store.ProductFilter{Page: p})
	})
	if len(all) != total {
		t.Fatalf("%d products listed, want %d", len(all), total)
	}
	for _, tc := range []struct{ limit, want int }{{0, 50}, {-3, 50}, {7, 7}, {200, 200}, {1000, 200}} {
		page, next, err := s.ListProducts(ctx, store.ProductFilter{Page: store.Page{Limit: tc.limit}})
		must(t, err)
		if len(page) != tc.want || next == "" {
			t.Errorf("limit %d: %d rows (next %q), want %d and a next page", tc.limit, len(page), next, tc.want)
		}
	}
}
