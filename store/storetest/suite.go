// Package storetest is the test suite every store.Store implementation
// passes: the SQLite and PostgreSQL stores run the very same tests, against
// real databases.
//
// It imports store and store/internal/sqlstore.
package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"vitrine/store"
)

// Run runs the suite. open returns a new, empty store for one test (its
// own file or schema, so tests run in parallel without seeing each other);
// Run closes it when the test ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"ProductCRUD", testProductCRUD},
		{"ProductConflict", testProductConflict},
		{"ProductList", testProductList},
		{"VoucherCRUD", testVoucherCRUD},
		{"VoucherList", testVoucherList},
		{"BatchGet", testBatchGet},
		{"CampaignCRUD", testCampaignCRUD},
		{"CampaignUnknownRefs", testCampaignUnknownRefs},
		{"CampaignStreamKeyConflict", testCampaignStreamKeyConflict},
		{"CampaignDeleteCascade", testCampaignDeleteCascade},
		{"CampaignDetachOnDelete", testCampaignDetachOnDelete},
		{"CampaignStatusFilter", testCampaignStatusFilter},
		{"CampaignFilters", testCampaignFilters},
		{"CampaignSort", testCampaignSort},
		{"CampaignStale", testCampaignStale},
		{"CampaignEditRacesGoLive", testCampaignEditRacesGoLive},
		{"CampaignConcurrentUpdates", testCampaignConcurrentUpdates},
		{"CampaignDeleteStale", testCampaignDeleteStale},
		{"CampaignDeleteRacesUpdate", testCampaignDeleteRacesUpdate},
		{"CampaignPreparation", testCampaignPreparation},
		{"Cursors", testCursors},
		{"ConcurrentWriters", testConcurrentWriters},
		{"Orders", testOrders},
		{"OrdersConcurrentIdempotent", testOrdersConcurrentIdempotent},
		{"Reminders", testReminders},
		{"RemindersConcurrent", testRemindersConcurrent},
		{"Webhooks", testWebhooks},
		{"Deliveries", testDeliveries},
		{"DeliveriesConcurrentClaims", testDeliveriesConcurrentClaims},
		{"Events", testEvents},
		{"EventsConcurrent", testEventsConcurrent},
		{"Recordings", testRecordings},
		{"ResetCampaignLive", testResetCampaignLive},
		{"Tracked", testTracked},
		{"TrackedLargeBatch", testTrackedLargeBatch},
		{"TrackedSessionsRollup", testTrackedSessionsRollup},
		{"TrackedBrief", testTrackedBrief},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// base is a time in a non-UTC zone with nanoseconds: what the store keeps
// of it is the same instant in UTC, truncated to the microsecond.
var base = time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.FixedZone("ICT", 7*3600))

func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// isErr fails unless err wraps want and its message mentions each of words.
func isErr(t *testing.T, err, want error, words ...string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

// equal fails unless got and want are deeply equal (times included: the
// store must return exactly what it was given, normalised).
func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %s\n want %s", what, show(got), show(want))
	}
}

func show(v any) string {
	s := fmt.Sprintf("%+v", v)
	// Pointers print as addresses; print what they point to.
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		s = fmt.Sprintf("&%+v", rv.Elem().Interface())
	}
	return s
}

var idChars = regexp.MustCompile(`^[0-9a-z]{20}$`)

// checkID fails unless id is prefix and 20 base32 characters.
func checkID(t *testing.T, id, prefix string) {
	t.Helper()
	if !strings.HasPrefix(id, prefix) || !idChars.MatchString(strings.TrimPrefix(id, prefix)) {
		t.Fatalf("id %q: want %s + 20 base32 characters", id, prefix)
	}
}

// checkStamp fails unless t is a store timestamp taken between from and to.
func checkStamp(t *testing.T, what string, ts, from, to time.Time) {
	t.Helper()
	if ts.Location() != time.UTC || ts.Nanosecond()%1000 != 0 {
		t.Errorf("%s = %v: want UTC, whole microseconds", what, ts)
	}
	if ts.Before(from.Truncate(time.Microsecond)) || ts.After(to) {
		t.Errorf("%s = %v: want between %v and %v", what, ts, from, to)
	}
}

// walk collects every page of a list with page size limit, failing on a
// repeated id or a cursor loop.
func walk[T any](t *testing.T, limit int, id func(T) string, list func(p store.Page) ([]T, string, error)) []T {
	t.Helper()
	var all []T
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("pagination does not end")
		}
		page, next, err := list(store.Page{Limit: limit, Cursor: cursor})
		must(t, err)
		if len(page) > limit {
			t.Fatalf("page of %d rows, limit %d", len(page), limit)
		}
		if next != "" && len(page) != limit {
			t.Fatalf("short page (%d of %d) with a next cursor", len(page), limit)
		}
		for _, v := range page {
			if seen[id(v)] {
				t.Fatalf("%s listed twice", id(v))
			}
			seen[id(v)] = true
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		cursor = next
	}
}

func ids[T any](vs []T, id func(T) string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = id(v)
	}
	return out
}

func sorted(ss []string) []string {
	out := append([]string(nil), ss...)
	sort.Strings(out)
	return out
}

func productID(p store.Product) string   { return p.ID }
func voucherID(v store.Voucher) string   { return v.ID }
func campaignID(c store.Campaign) string { return c.ID }

// Fixtures.

func newProduct(sku, name, category string) *store.Product {
	return &store.Product{SKU: sku, Name: name, Category: category, Price: "129.00", Currency: "EUR",
		ImageURL: "https://cdn.example/" + sku + ".jpg", Stock: 12, URL: "https://shop.example/p/" + sku}
}

func createProducts(t *testing.T, s store.Store, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		p := newProduct(fmt.Sprintf("SKU-%d", i), fmt.Sprintf("Product %d", i), "misc")
		must(t, s.CreateProduct(t.Context(), p))
		out[i] = p.ID
	}
	return out
}

func newVoucher(code, name string) *store.Voucher {
	return &store.Voucher{Code: code, Name: name, DiscountType: "percent", DiscountValue: "10",
		MinSpend: "50.00", Currency: "EUR", Quantity: 100, StartsAt: base, EndsAt: base.Add(48 * time.Hour)}
}

func createVouchers(t *testing.T, s store.Store, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		v := newVoucher(fmt.Sprintf("CODE%d", i), fmt.Sprintf("Voucher %d", i))
		must(t, s.CreateVoucher(t.Context(), v))
		out[i] = v.ID
	}
	return out
}

func newCampaign(title string, start, end time.Time) *store.Campaign {
	return &store.Campaign{Title: title, Description: "A live show", StartsAt: start, EndsAt: end, Visibility: "suggested"}
}

func createCampaign(t *testing.T, s store.Store, c *store.Campaign) *store.Campaign {
	t.Helper()
	must(t, s.CreateCampaign(t.Context(), c))
	return c
}

func ptr(t time.Time) *time.Time { return &t }

// deleteCampaign deletes campaign id at the version it has now.
func deleteCampaign(t *testing.T, s store.Store, id string) {
	t.Helper()
	c, err := s.GetCampaign(t.Context(), id)
	must(t, err)
	must(t, s.DeleteCampaign(t.Context(), id, c.Version))
}
