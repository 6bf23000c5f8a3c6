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
