package storetest

import (
	"slices"
	"testing"
	"time"

	"vitrine/store"
)

// testCampaignPreparation: a campaign's preparation (PreparingSince, and
// LastPreparedAt) is kept like its live times (normalised, read back by id
// and by stream key, written optimistically), leaves its status and the
// status filters as they were, and goes with a go-live, an abandonment or
// a reset; LastPreparedAt stays until the reset.
func testCampaignPreparation(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := createCampaign(t, s, newCampaign("Rehearsed show", base, base.Add(2*time.Hour)))
	if c.PreparingSince != nil || c.Stage() != store.StageOffAir {
		t.Fatalf("new campaign: preparing_since %v, stage %s", c.PreparingSince, c.Stage())
	}
	now := base.Add(-time.Hour) // before the window: upcoming

	// Two copies read at version 1: a prepare, and an edit on another node.
	prepare, err := s.GetCampaign(ctx, c.ID)
	must(t, err)
	edit, err := s.GetCampaign(ctx, c.ID)
	must(t, err)
	since := base.Add(-time.Hour + time.Second) // non-UTC, with nanoseconds
	prepare.PreparingSince, prepare.LastPreparedAt = &since, &since
	must(t, s.UpdateCampaign(ctx, prepare))
	equal(t, "PreparingSince, normalised", *prepare.PreparingSince, norm(since))
	equal(t, "LastPreparedAt, normalised", *prepare.LastPreparedAt, norm(since))
	equal(t, "Version after prepare", prepare.Version, int64(2))

	got, err := s.GetCampaign(ctx, c.ID)
	must(t, err)
	equal(t, "read back", got, prepare)
	got, err = s.GetCampaignByStreamKey(ctx, c.StreamKey)
	must(t, err)
	equal(t, "read back by stream key", got, prepare)
	if got.Stage() != store.StagePreparing || !got.Preparing() || got.Status(now) != store.StatusUpcoming {
		t.Fatalf("in preparation: stage %s, status %s; want preparing, upcoming", got.Stage(), got.Status(now))
	}

	// The edit read before the prepare is stale; read again, it keeps the
	// preparation.
	edit.Title = "Renamed"
	isErr(t, s.UpdateCampaign(ctx, edit), store.ErrStale, c.ID)
	edit, err = s.GetCampaign(ctx, c.ID)
	must(t, err)
	edit.Title = "Renamed"
	must(t, s.UpdateCampaign(ctx, edit))
	got, err = s.GetCampaign(ctx, c.ID)
	must(t, err)
	if got.PreparingSince == nil || !got.PreparingSince.Equal(norm(since)) || got.Title != "Renamed" || got.Version != 3 {
		t.Fatalf("after an edit during the preparation: %+v", got)
	}

	// A campaign in preparation stays in its status's list tab.
	list := func(status string) []string {
		cs, _, err := s.ListCampaigns(ctx, store.CampaignFilter{Status: status, Now: now})
		must(t, err)
		return ids(cs, campaignID)
	}
	if l := list(store.StatusUpcoming); !slices.Contains(l, c.ID) {
		t.Fatalf("upcoming list %v lacks the campaign in preparation", l)
	}
	if l := list(store.StatusOngoing); slices.Contains(l, c.ID) {
		t.Fatalf("ongoing list %v has the campaign in preparation", l)
	}

	// Abandoned: back to what it was.
	got.PreparingSince = nil
	must(t, s.UpdateCampaign(ctx, got))
	got, err = s.GetCampaign(ctx, c.ID)
	must(t, err)
	if got.PreparingSince != nil || got.Stage() != store.StageOffAir || got.Status(now) != store.StatusUpcoming ||
		got.LastPreparedAt == nil || !got.LastPreparedAt.Equal(norm(since)) {
		t.Fatalf("abandoned: %+v", got)
	}

	// Prepared again, then live: the go-live ends the preparation.
	got.PreparingSince = &since
	must(t, s.UpdateCampaign(ctx, got))
	started := since.Add(time.Minute)
	got.LiveStartedAt, got.PreparingSince = &started, nil
	must(t, s.UpdateCampaign(ctx, got))
	got, err = s.GetCampaign(ctx, c.ID)
	must(t, err)
	if got.PreparingSince != nil || got.Stage() != store.StageLive || got.Status(now) != store.StatusOngoing {
		t.Fatalf("live: %+v", got)
	}
	// The stage of a live campaign is live whatever PreparingSince says.
	both := *got
	both.PreparingSince = &since
	if both.Stage() != store.StageLive || both.Preparing() {
		t.Fatalf("live with PreparingSince: stage %s", both.Stage())
	}

	// Ended, prepared again for another live, then reset: the reset clears
	// the preparation with the live times.
	ended := started.Add(time.Minute)
	got.LiveEndedAt = &ended
	must(t, s.UpdateCampaign(ctx, got))
	got.PreparingSince = ptr(ended.Add(time.Second))
	must(t, s.UpdateCampaign(ctx, got))
	if got.Stage() != store.StagePreparing || got.Status(now) != store.StatusEnded {
		t.Fatalf("ended, prepared again: stage %s, status %s", got.Stage(), got.Status(now))
	}
	reset, err := s.ResetCampaignLive(ctx, c.ID)
	must(t, err)
	if reset.PreparingSince != nil || reset.LastPreparedAt != nil || reset.LiveStartedAt != nil ||
		reset.Stage() != store.StageOffAir {
		t.Fatalf("reset: %+v", reset)
	}
}
