package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"vitrine/store"
)

func testCampaignCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	ps, vs := createProducts(t, s, 3), createVouchers(t, s, 2)
	started := base.Add(-time.Hour)
	c := &store.Campaign{
		Title:       "Winter drop",
		Description: "Coats and scarves, live",
		Images:      []string{"img_b", "img_a"},
		StartsAt:    base,
		EndsAt:      base.Add(2 * time.Hour),
		Visibility:  "followers",
		// Not in creation order: the lists keep the order given.
		ProductIDs:        []string{ps[2], ps[0], ps[1]},
		VoucherIDs:        []string{vs[1], vs[0]},
		NotifyAtCreation:  true,
		NotifyBeforeStart: 15*time.Minute + 1500*time.Nanosecond,
		Published:         true,
		LiveStartedAt:     &started,
		Transport:         store.TransportWebRTC,
		Country:           "FR",
	}
	before := time.Now()
	must(t, s.CreateCampaign(ctx, c))
	checkID(t, c.ID, "cmp_")
	checkStamp(t, "CreatedAt", c.CreatedAt, before, time.Now())
	if len(c.StreamKey) < 20 {
		t.Fatalf("generated stream key %q is too short", c.StreamKey)
	}
	equal(t, "StartsAt, normalised", c.StartsAt, norm(base))
	equal(t, "LiveStartedAt, normalised", *c.LiveStartedAt, norm(started))
	equal(t, "Version after create", c.Version, int64(1))
	equal(t, "NotifyBeforeStart, to the microsecond", c.NotifyBeforeStart, 15*time.Minute+time.Microsecond)

	got, err := s.GetCampaign(ctx, c.ID)
	must(t, err)
	equal(t, "read back", got, c)
	got, err = s.GetCampaignByStreamKey(ctx, c.StreamKey)
	must(t, err)
	equal(t, "read back by stream key", got, c)
	for _, key := range []string{"", "sk_unknown"} {
		_, err = s.GetCampaignByStreamKey(ctx, key)
		isErr(t, err, store.ErrNotFound)
	}

	// Update from a decoded body: no stream key, no CreatedAt, nil lists.
	key, created := c.StreamKey, c.CreatedAt
	ended := base.Add(-time.Minute)
	c.Title, c.Images, c.ProductIDs, c.VoucherIDs = "Winter drop II", nil, []string{ps[1], ps[2]}, nil
	c.LiveEndedAt, c.NotifiedBeforeStart, c.StreamKey, c.CreatedAt = &ended, true, "", time.Time{}
	c.Transport, c.Country = store.TransportLLHLS, ""
	must(t, s.UpdateCampaign(ctx, c))
	equal(t, "Version after update", c.Version, int64(2))
	equal(t, "stream key kept", c.StreamKey, key)
	equal(t, "CreatedAt filled", c.CreatedAt, created)
	equal(t, "Images normalised", c.Images, []string{})
	got, err = s.GetCampaign(ctx, c.ID)
	must(t, err)
	equal(t, "read back after update", got, c)

	// Rotating the key: the old one no longer finds the campaign.
	c.StreamKey = "sk_rotated_0123456789"
	must(t, s.UpdateCampaign(ctx, c))
	equal(t, "Version after rotation", c.Version, int64(3))
	_, err = s.GetCampaignByStreamKey(ctx, key)
	isErr(t, err, store.ErrNotFound)
	got, err = s.GetCampaignByStreamKey(ctx, "sk_rotated_0123456789")
	must(t, err)
	equal(t, "read back by new key", got, c)

	// A bare campaign reads back with empty, not nil, lists.
	bare := createCampaign(t, s, newCampaign("Bare", base, base.Add(time.Hour)))
	got, err = s.GetCampaign(ctx, bare.ID)
	must(t, err)
	equal(t, "bare campaign", got, bare)
	if got.ProductIDs == nil || got.VoucherIDs == nil || got.Images == nil {
		t.Errorf("nil lists in %+v", got)
	}
	if bare.StreamKey == c.StreamKey || bare.StreamKey == key {
		t.Error("stream keys repeat")
	}

	isErr(t, s.UpdateCampaign(ctx, &store.Campaign{ID: "cmp_missing"}), store.ErrNotFound)
	_, err = s.GetCampaign(ctx, "cmp_missing")
	isErr(t, err, store.ErrNotFound)
}

func testCampaignUnknownRefs(t *testing.T, s store.Store) {
	ctx := t.Context()
	ps, vs := createProducts(t, s, 2), createVouchers(t, s, 1)
	listAll := func() []store.Campaign {
		cs, _, err := s.ListCampaigns(ctx, store.CampaignFilter{})
		must(t, err)
		return cs
	}

	c := newCampaign("Ghost", base, base.Add(time.Hour))
	c.ProductIDs = []string{ps[0], "prd_missing", ps[1]}
	c.VoucherIDs = vs
	isErr(t, s.CreateCampaign(ctx, c), store.ErrNotFound, "prd_missing")
	c.ProductIDs, c.VoucherIDs = ps, []string{"vch_missing"}
	isErr(t, s.CreateCampaign(ctx, c), store.ErrNotFound, "vch_missing")
	if c.ID != "" || len(listAll()) != 0 {
		t.Fatal("a refused campaign was written")
	}

	// A list naming an item twice is refused too, and writes nothing.
	c.VoucherIDs = []string{vs[0], vs[0]}
	isErr(t, s.CreateCampaign(ctx, c), store.ErrConflict, "voucher_ids")
	if len(listAll()) != 0 {
		t.Fatal("a refused campaign was written")
	}

	c.VoucherIDs = vs
	must(t, s.CreateCampaign(ctx, c))
	want := *c
	bad := *c
	bad.Title, bad.ProductIDs, bad.VoucherIDs = "Changed", []string{ps[1]}, []string{vs[0], "vch_missing"}
	isErr(t, s.UpdateCampaign(ctx, &bad), store.ErrNotFound, "vch_missing")
	got, err := s.GetCampaign(ctx, c.ID)
	must(t, err)
	equal(t, "campaign after refused update", got, &want)
}

func testCampaignStreamKeyConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newCampaign("A", base, base.Add(time.Hour))
	a.StreamKey = "sk_same_key"
	must(t, s.CreateCampaign(ctx, a))
	b := newCampaign("B", base, base.Add(time.Hour))
	b.StreamKey = "sk_same_key"
	isErr(t, s.CreateCampaign(ctx, b), store.ErrConflict, "stream key")
	b.StreamKey = ""
	must(t, s.CreateCampaign(ctx, b))
	b.StreamKey = "sk_same_key"
	isErr(t, s.UpdateCampaign(ctx, b), store.ErrConflict, "stream key")
}

func testCampaignDeleteCascade(t *testing.T, s store.Store) {
	ctx := t.Context()
	ps, vs := createProducts(t, s, 2), createVouchers(t, s, 1)
	var cs [2]*store.Campaign
	for i := range cs {
		c := newCampaign(fmt.Sprint("Show ", i), base, base.Add(time.Hour))
		c.ProductIDs, c.VoucherIDs = ps, vs
		cs[i] = createCampaign(t, s, c)
		_, err := s.CreateOrder(ctx, &store.Order{CampaignID: c.ID, IdempotencyKey: "k1", Code: "A-1",
			Items: []store.OrderItem{{ProductID: ps[0], Quantity: 1}}, CustomerName: "Ana", Total: "10.00", Currency: "EUR"})
		must(t, err)
		_, err = s.CreateReminder(ctx, &store.Reminder{CampaignID: c.ID, Phone: "+33600000000", OptIn: true})
		must(t, err)
	}
	must(t, s.DeleteCampaign(ctx, cs[0].ID, cs[0].Version))
	_, err := s.GetCampaign(ctx, cs[0].ID)
	isErr(t, err, store.ErrNotFound)
	isErr(t, s.DeleteCampaign(ctx, cs[0].ID, cs[0].Version), store.ErrNotFound)
	orders, _, err := s.ListOrders(ctx, cs[0].ID, store.Page{})
	must(t, err)
	reminders, _, err := s.ListReminders(ctx, cs[0].ID, store.Page{})
	must(t, err)
	if len(orders) != 0 || len(reminders) != 0 {
		t.Fatalf("left behind: %d orders, %d reminders", len(orders), len(reminders))
	}
	// The other campaign, its orders and reminders, and the catalog stay.
	got, err := s.GetCampaign(ctx, cs[1].ID)
	must(t, err)
	equal(t, "other campaign", got, cs[1])
	orders, _, err = s.ListOrders(ctx, cs[1].ID, store.Page{})
	must(t, err)
	reminders, _, err = s.ListReminders(ctx, cs[1].ID, store.Page{})
	must(t, err)
	if len(orders) != 1 || len(reminders) != 1 {
		t.Fatalf("other campaign lost data: %d orders, %d reminders", len(orders), len(reminders))
	}
	_, err = s.GetProduct(ctx, ps[0])
	must(t, err)
	_, err = s.GetVoucher(ctx, vs[0])
	must(t, err)
}

func testCampaignDetachOnDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	ps, vs := createProducts(t, s, 3), createVouchers(t, s, 2)
	c := newCampaign("Show", base, base.Add(time.Hour))
	c.ProductIDs, c.VoucherIDs = []string{ps[2], ps[1], ps[0]}, []string{vs[1], vs[0]}
	createCampaign(t, s, c)
	must(t, s.DeleteProduct(ctx, ps[1]))
	must(t, s.DeleteVoucher(ctx, vs[1]))
	got, err := s.GetCampaign(ctx, c.ID)
	must(t, err)
	equal(t, "products after delete", got.ProductIDs, []string{ps[2], ps[0]})
	equal(t, "vouchers after delete", got.VoucherIDs, []string{vs[0]})
	// Each detach changed the campaign: a copy read before is stale.
	equal(t, "Version after two detaches", got.Version, int64(3))
	isErr(t, s.UpdateCampaign(ctx, c), store.ErrStale)
	// The deleted product cannot be attached again.
	got.ProductIDs = []string{ps[1]}
	isErr(t, s.UpdateCampaign(ctx, got), store.ErrNotFound, ps[1])
	var missing *store.MissingError
	if !errors.As(s.UpdateCampaign(ctx, got), &missing) || missing.What != "product" || !slices.Equal(missing.IDs, []string{ps[1]}) {
		t.Fatalf("unknown product: want a MissingError naming %s, got %+v", ps[1], missing)
	}
	// Deleting an item no campaign uses changes no campaign.
	unused := newProduct("SKU-unused", "Unused", "misc")
	must(t, s.CreateProduct(ctx, unused))
	must(t, s.DeleteProduct(ctx, unused.ID))
	again, err := s.GetCampaign(ctx, c.ID)
	must(t, err)
	equal(t, "Version after an unrelated delete", again.Version, int64(3))
}

// testCampaignStatusFilter checks that the SQL status filter and
// Campaign.Status agree, on every combination of live start, live end and
// end time around several instants, boundaries included.
func testCampaignStatusFilter(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := norm(base)
	starts := []*time.Time{nil, ptr(now.Add(-2 * time.Hour)), ptr(now.Add(-30 * time.Minute))}
	ends := []*time.Time{nil, ptr(now.Add(-3 * time.Hour)), ptr(now.Add(-2 * time.Hour)), ptr(now.Add(-time.Hour)), ptr(now.Add(-10 * time.Minute))}
	windowEnds := []time.Time{now.Add(-time.Hour), now, now.Add(time.Hour)}
	var all []*store.Campaign
	for i, ls := range starts {
		for j, le := range ends {
			for k, end := range windowEnds {
				c := newCampaign(fmt.Sprintf("c%d%d%d", i, j, k), end.Add(-4*time.Hour), end)
				c.LiveStartedAt, c.LiveEndedAt = ls, le
				all = append(all, createCampaign(t, s, c))
			}
		}
	}
	seen := map[string]bool{}
	for _, at := range []time.Time{now, now.Add(-90 * time.Minute), now.Add(-time.Hour), now.Add(3 * time.Hour)} {
		for _, status := range []string{store.StatusUpcoming, store.StatusOngoing, store.StatusEnded, store.StatusCompleted} {
			want := []string{}
			for _, c := range all {
				if c.Status(at) == status {
					want = append(want, c.ID)
				}
			}
			got := walk(t, 200, campaignID, func(p store.Page) ([]store.Campaign, string, error) {
				return s.ListCampaigns(ctx, store.CampaignFilter{Status: status, Now: at, Page: p})
			})
			equal(t, fmt.Sprintf("%s at %v", status, at), sorted(ids(got, campaignID)), sorted(want))
			for _, c := range got {
				if c.Status(at) != status {
					t.Errorf("%s listed as %s at %v, is %s", c.Title, status, at, c.Status(at))
				}
			}
			if len(want) > 0 {
				seen[status] = true
			}
		}
	}
	if len(seen) != 4 {
		t.Fatalf("the table covers only %v", seen)
	}
	_, _, err := s.ListCampaigns(ctx, store.CampaignFilter{Status: "paused"})
	isErr(t, err, store.ErrInvalidFilter, "paused")
}

func testCampaignFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	h := time.Hour
	mk := func(title string, from, to time.Duration, published bool) string {
		c := newCampaign(title, base.Add(from), base.Add(to))
		c.Published = published
		return createCampaign(t, s, c).ID
	}
	a := mk("Summer 100% sale", 0, h, true)
	b := mk("summer_fun", h, 2*h, false)
	c := mk("Winter sale", 2*h, 3*h, true)
	d := mk("SUMMER 1000 sale", -3*h, -2*h, true)
	e := mk("summerXfun", 5*h, 6*h, false)
	at := func(d time.Duration) *time.Time { return ptr(base.Add(d)) }
	for _, tc := range []struct {
		name string
		f    store.CampaignFilter
		want []string
	}{
		{"all", store.CampaignFilter{}, []string{a, b, c, d, e}},
		{"query, any case", store.CampaignFilter{Query: "SuMmEr"}, []string{a, b, d, e}},
		{"query with %", store.CampaignFilter{Query: "100%"}, []string{a}},
		{"query with _", store.CampaignFilter{Query: "r_f"}, []string{b}},
		{"published only", store.CampaignFilter{PublishedOnly: true}, []string{a, c, d}},
		{"query and published", store.CampaignFilter{Query: "summer", PublishedOnly: true}, []string{a, d}},
		// [starts_at, ends_at) overlaps [From, To): touching is not overlapping.
		{"period", store.CampaignFilter{From: at(h), To: at(2 * h)}, []string{b}},
		{"period inside a window", store.CampaignFilter{From: at(h + time.Minute), To: at(h + 2*time.Minute)}, []string{b}},
		{"from only", store.CampaignFilter{From: at(2 * h)}, []string{c, e}},
		{"to only", store.CampaignFilter{To: at(h)}, []string{a, d}},
		{"empty period", store.CampaignFilter{From: at(10 * h), To: at(11 * h)}, []string{}},
	} {
		got := walk(t, 2, campaignID, func(p store.Page) ([]store.Campaign, string, error) {
			f := tc.f
			f.Page = p
			return s.ListCampaigns(ctx, f)
		})
		equal(t, tc.name, sorted(ids(got, campaignID)), sorted(tc.want))
	}
}

func testCampaignSort(t *testing.T, s store.Store) {
	ctx := t.Context()
	var all []store.Campaign
	for i, spec := range []struct {
		title string
		start time.Duration
	}{
		{"Beta", 2 * time.Hour}, {"alpha", 0}, {"Alpha", time.Hour}, {"Beta", time.Hour},
		{"Gamma", -time.Hour}, {"Delta", time.Hour}, {"Éclair", 3 * time.Hour},
	} {
		c := newCampaign(spec.title, base.Add(spec.start), base.Add(spec.start+time.Hour))
		c.Description = fmt.Sprint(i)
		all = append(all, *createCampaign(t, s, c))
	}
	cmp := map[string]func(a, b store.Campaign) int{
		"starts_at":  func(a, b store.Campaign) int { return a.StartsAt.Compare(b.StartsAt) },
		"created_at": func(a, b store.Campaign) int { return a.CreatedAt.Compare(b.CreatedAt) },
		"title":      func(a, b store.Campaign) int { return strings.Compare(a.Title, b.Title) },
	}
	for _, sort := range []string{"", "starts_at", "-starts_at", "created_at", "-created_at", "title", "-title"} {
		key, desc := strings.TrimPrefix(sort, "-"), strings.HasPrefix(sort, "-")
		if key == "" {
			key = "starts_at"
		}
		want := append([]store.Campaign(nil), all...)
		// Ties break on id, in the direction of the sort.
		slices.SortFunc(want, func(a, b store.Campaign) int {
			n := cmp[key](a, b)
			if n == 0 {
				n = strings.Compare(a.ID, b.ID)
			}
			if desc {
				n = -n
			}
			return n
		})
		got := walk(t, 2, campaignID, func(p store.Page) ([]store.Campaign, string, error) {
			return s.ListCampaigns(ctx, store.CampaignFilter{Sort: sort, Page: p})
		})
		equal(t, "sort "+sort, got, want)
	}
	_, _, err := s.ListCampaigns(ctx, store.CampaignFilter{Sort: "price"})
	isErr(t, err, store.ErrInvalidSort, "price")
}

func testCursors(t *testing.T, s store.Store) {
	ctx := t.Context()
	createProducts(t, s, 4)
	createVouchers(t, s, 3)
	for i := range 3 {
		createCampaign(t, s, newCampaign(fmt.Sprint("C", i), base, base.Add(time.Hour)))
	}
	// Exactly two full pages: the second has no next cursor.
	page, next, err := s.ListProducts(ctx, store.ProductFilter{Page: store.Page{Limit: 2}})
	must(t, err)
	if len(page) != 2 || next == "" {
		t.Fatalf("first page: %d rows, next %q", len(page), next)
	}
	page, last, err := s.ListProducts(ctx, store.ProductFilter{Page: store.Page{Limit: 2, Cursor: next}})
	must(t, err)
	if len(page) != 2 || last != "" {
		t.Fatalf("last page: %d rows, next %q", len(page), last)
	}

	_, vcur, err := s.ListVouchers(ctx, store.VoucherFilter{Page: store.Page{Limit: 1}})
	must(t, err)
	_, tcur, err := s.ListCampaigns(ctx, store.CampaignFilter{Sort: "title", Page: store.Page{Limit: 1}})
	must(t, err)
	for _, bad := range []string{
		"garbage!", "Zm9v", "bnVsbA", "e30", "%%%", strings.Repeat("A", 100),
		next[:len(next)-2], next + "x", vcur, // truncated, extended, another list's
	} {
		_, _, err := s.ListProducts(ctx, store.ProductFilter{Page: store.Page{Cursor: bad}})
		isErr(t, err, store.ErrInvalidCursor)
	}
	// A cursor of one sort is refused by another.
	_, _, err = s.ListCampaigns(ctx, store.CampaignFilter{Sort: "-title", Page: store.Page{Cursor: tcur}})
	isErr(t, err, store.ErrInvalidCursor)
	_, _, err = s.ListCampaigns(ctx, store.CampaignFilter{Sort: "title", Page: store.Page{Cursor: tcur}})
	must(t, err)
	for _, list := range []func(p store.Page) error{
		func(p store.Page) error { _, _, err := s.ListOrders(ctx, "cmp_x", p); return err },
		func(p store.Page) error { _, _, err := s.ListReminders(ctx, "cmp_x", p); return err },
		func(p store.Page) error { _, _, err := s.ListWebhooks(ctx, p); return err },
		func(p store.Page) error { _, _, err := s.ListDeliveries(ctx, "wh_x", p); return err },
	} {
		isErr(t, list(store.Page{Cursor: "garbage!"}), store.ErrInvalidCursor)
		isErr(t, list(store.Page{Cursor: next}), store.ErrInvalidCursor)
	}
}
