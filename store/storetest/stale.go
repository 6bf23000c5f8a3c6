package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"vitrine/store"
)

// testCampaignStale: a write from a copy read before another write is
// refused with ErrStale and changes nothing; read again, it goes through.
func testCampaignStale(t *testing.T, s store.Store) {
	ctx := t.Context()
	ps := createProducts(t, s, 2)
	c := newCampaign("Show", base, base.Add(time.Hour))
	c.ProductIDs = ps[:1]
	createCampaign(t, s, c)

	edit, err := s.GetCampaign(ctx, c.ID) // an admin's edit...
	must(t, err)
	live, err := s.GetCampaign(ctx, c.ID) // ...and a go-live on another node
	must(t, err)

	started := norm(base.Add(-time.Minute))
	live.LiveStartedAt = &started
	must(t, s.UpdateCampaign(ctx, live))
	equal(t, "Version of the first write", live.Version, int64(2))

	edit.Title, edit.ProductIDs = "Renamed", ps
	err = s.UpdateCampaign(ctx, edit)
	isErr(t, err, store.ErrStale, c.ID)
	equal(t, "Version of the refused copy", edit.Version, int64(1))
	got, err := s.GetCampaign(ctx, c.ID)
	must(t, err)
	equal(t, "after a stale write", got, live) // title, links and live state as the first write left them

	// Read again, re-apply, write: both changes are kept.
	fresh, err := s.GetCampaign(ctx, c.ID)
	must(t, err)
	fresh.Title, fresh.ProductIDs = "Renamed", ps
	must(t, s.UpdateCampaign(ctx, fresh))
	got, err = s.GetCampaign(ctx, c.ID)
	must(t, err)
	if got.Title != "Renamed" || got.LiveStartedAt == nil || !got.LiveStartedAt.Equal(started) ||
		!slices.Equal(got.ProductIDs, ps) || got.Version != 3 {
		t.Fatalf("after the retried edit: %+v", got)
	}

	// A version from the future is stale too (not a blind write).
	fresh.Version = 99
	isErr(t, s.UpdateCampaign(ctx, fresh), store.ErrStale)
	// A missing campaign is not found, whatever the version.
	isErr(t, s.UpdateCampaign(ctx, &store.Campaign{ID: "cmp_missing", Version: 1}), store.ErrNotFound, "cmp_missing")
}

// updateRetrying is the read-modify-write loop callers run: read, change,
// write, and on ErrStale start again. It returns how many writes were
// refused as stale.
func updateRetrying(ctx context.Context, s store.Store, id string, change func(c *store.Campaign)) (stale int, err error) {
	for {
		c, err := s.GetCampaign(ctx, id)
		if err != nil {
			return stale, err
		}
		change(c)
		err = s.UpdateCampaign(ctx, c)
		if !errors.Is(err, store.ErrStale) {
			return stale, err
		}
		stale++
	}
}

// testCampaignEditRacesGoLive: an edit and a go-live of one campaign start
// together, each from its own read, many times over; whichever writes
// second is refused as stale and retries, so neither change is ever lost.
func testCampaignEditRacesGoLive(t *testing.T, s store.Store) {
	const rounds = 20
	staleTotal := 0
	for i := range rounds {
		c := createCampaign(t, s, newCampaign(fmt.Sprint("Show ", i), base, base.Add(time.Hour)))
		started := norm(base.Add(time.Duration(i) * time.Second))
		var wg sync.WaitGroup
		ready := make(chan struct{})
		var editStale, liveStale int
		var editErr, liveErr error
		wg.Go(func() {
			<-ready
			editStale, editErr = updateRetrying(t.Context(), s, c.ID, func(c *store.Campaign) {
				c.Title, c.Description = "Edited", "new description"
			})
		})
		wg.Go(func() {
			<-ready
			liveStale, liveErr = updateRetrying(t.Context(), s, c.ID, func(c *store.Campaign) {
				c.LiveStartedAt, c.LiveEndedAt = &started, nil
			})
		})
		close(ready)
		wg.Wait()
		must(t, editErr)
		must(t, liveErr)
		staleTotal += editStale + liveStale
		got, err := s.GetCampaign(t.Context(), c.ID)
		must(t, err)
		if got.Title != "Edited" || got.Description != "new description" {
			t.Fatalf("round %d: the edit was lost: %+v", i, got)
		}
		if got.LiveStartedAt == nil || !got.LiveStartedAt.Equal(started) || got.Status(base) != store.StatusOngoing {
			t.Fatalf("round %d: the go-live was lost: %+v", i, got)
		}
		if got.Version != 3 {
			t.Fatalf("round %d: version %d, want 3 (created, then two writes)", i, got.Version)
		}
	}
	t.Logf("%d rounds, %d stale writes refused and retried", rounds, staleTotal)
}

// testCampaignConcurrentUpdates: many writers each add their own marks to
// one campaign through the read-modify-write loop; every mark survives and
// the version counts exactly the successful writes.
func testCampaignConcurrentUpdates(t *testing.T, s store.Store) {
	c := createCampaign(t, s, newCampaign("Show", base, base.Add(time.Hour)))
	const writers, each = 8, 6
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	start := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			<-start
			for i := range each {
				mark := fmt.Sprintf("w%d-%d", w, i)
				if _, err := updateRetrying(t.Context(), s, c.ID, func(c *store.Campaign) { c.Images = append(c.Images, mark) }); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := s.GetCampaign(t.Context(), c.ID)
	must(t, err)
	if len(got.Images) != writers*each {
		t.Fatalf("%d marks kept of %d: updates were lost", len(got.Images), writers*each)
	}
	equal(t, "Version", got.Version, int64(1+writers*each))
}

// testCampaignDeleteStale: a delete decided on a read of the campaign is
// refused with ErrStale once another write changed it (a go-live on
// another node), and deletes nothing: not the campaign, its links, its
// orders or its reminders. At the current version it deletes all of them.
func testCampaignDeleteStale(t *testing.T, s store.Store) {
	ctx := t.Context()
	ps, vs := createProducts(t, s, 2), createVouchers(t, s, 1)
	c := newCampaign("Show", base, base.Add(time.Hour))
	c.ProductIDs, c.VoucherIDs = ps, vs
	createCampaign(t, s, c)
	_, err := s.CreateOrder(ctx, &store.Order{CampaignID: c.ID, IdempotencyKey: "k1", Code: "A-1",
		Items: []store.OrderItem{{ProductID: ps[0], Quantity: 1}}, CustomerName: "Ana", Total: "10.00", Currency: "EUR"})
	must(t, err)
	_, err = s.CreateReminder(ctx, &store.Reminder{CampaignID: c.ID, Phone: "+33600000000", OptIn: true})
	must(t, err)

	del, err := s.GetCampaign(ctx, c.ID) // an admin's delete of an upcoming campaign...
	must(t, err)
	live, err := s.GetCampaign(ctx, c.ID) // ...and a go-live on another node
	must(t, err)
	started := norm(base.Add(-time.Minute))
	live.LiveStartedAt = &started
	must(t, s.UpdateCampaign(ctx, live))

	kept := func(what string) {
		t.Helper()
		got, err := s.GetCampaign(ctx, c.ID)
		must(t, err)
		equal(t, what+": campaign", got, live)
		orders, _, err := s.ListOrders(ctx, c.ID, store.Page{})
		must(t, err)
		reminders, _, err := s.ListReminders(ctx, c.ID, store.Page{})
		must(t, err)
		if len(orders) != 1 || len(reminders) != 1 {
			t.Fatalf("%s: %d orders, %d reminders left, want 1 and 1", what, len(orders), len(reminders))
		}
	}
	isErr(t, s.DeleteCampaign(ctx, c.ID, del.Version), store.ErrStale, c.ID)
	kept("after a stale delete")
	// A version from the future is stale too (not a blind delete).
	isErr(t, s.DeleteCampaign(ctx, c.ID, 99), store.ErrStale, c.ID)
	kept("after a delete at a future version")
	// A missing campaign is not found, whatever the version.
	isErr(t, s.DeleteCampaign(ctx, "cmp_missing", 1), store.ErrNotFound, "cmp_missing")

	// At the version it now has, the delete goes through, with everything of it.
	must(t, s.DeleteCampaign(ctx, c.ID, live.Version))
	_, err = s.GetCampaign(ctx, c.ID)
	isErr(t, err, store.ErrNotFound)
	orders, _, err := s.ListOrders(ctx, c.ID, store.Page{})
	must(t, err)
	reminders, _, err := s.ListReminders(ctx, c.ID, store.Page{})
	must(t, err)
	if len(orders) != 0 || len(reminders) != 0 {
		t.Fatalf("after the delete: %d orders, %d reminders", len(orders), len(reminders))
	}
	isErr(t, s.DeleteCampaign(ctx, c.ID, live.Version), store.ErrNotFound)
	// The products and vouchers stay.
	got, err := s.GetProducts(ctx, ps)
	must(t, err)
	if len(got) != len(ps) {
		t.Fatalf("%d products left of %d", len(got), len(ps))
	}
}

// testCampaignDeleteRacesUpdate: a delete and a go-live of one campaign,
// each from its own read at version 1, start together many times over.
// Exactly one of them takes effect: the go-live first, and the delete is
// stale and the live campaign stays; or the delete first, and the go-live
// finds the campaign gone. Never both (a deleted campaign that had gone
// live), never a deadlock between the two transactions.
func testCampaignDeleteRacesUpdate(t *testing.T, s store.Store) {
	const rounds = 20
	deletes := 0
	ps := createProducts(t, s, 2)
	for i := range rounds {
		c := newCampaign(fmt.Sprint("Show ", i), base, base.Add(time.Hour))
		c.ProductIDs = ps
		createCampaign(t, s, c)
		del, err := s.GetCampaign(t.Context(), c.ID)
		must(t, err)
		live, err := s.GetCampaign(t.Context(), c.ID)
		must(t, err)
		started := norm(base.Add(time.Duration(i) * time.Second))
		live.LiveStartedAt = &started
		var wg sync.WaitGroup
		ready := make(chan struct{})
		var delErr, liveErr error
		wg.Go(func() {
			<-ready
			delErr = s.DeleteCampaign(t.Context(), del.ID, del.Version)
		})
		wg.Go(func() {
			<-ready
			liveErr = s.UpdateCampaign(t.Context(), live)
		})
		close(ready)
		wg.Wait()
		got, getErr := s.GetCampaign(t.Context(), c.ID)
		switch {
		case delErr == nil:
			deletes++
			isErr(t, liveErr, store.ErrNotFound, c.ID)
			isErr(t, getErr, store.ErrNotFound)
		case liveErr == nil:
			isErr(t, delErr, store.ErrStale, c.ID)
			must(t, getErr)
			if got.Status(base) != store.StatusOngoing || got.Version != 2 || !slices.Equal(got.ProductIDs, ps) {
				t.Fatalf("round %d: the go-live won but the campaign is %+v", i, got)
			}
		default:
			t.Fatalf("round %d: neither took effect: delete %v, go-live %v", i, delErr, liveErr)
		}
	}
	t.Logf("%d rounds: the delete won %d, the go-live %d", rounds, deletes, rounds-deletes)
}
