package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"vitrine/notify/payload"
	"vitrine/store"
)

// runScheduler sends campaign.starting_soon for each campaign whose chosen
// "notify before start" moment has come. Run owns it.
func (n *Notifier) runScheduler(ctx context.Context) {
	t := time.NewTicker(n.cfg.PollInterval)
	defer t.Stop()
	for {
		if err := n.sendStartingSoon(ctx); err != nil && ctx.Err() == nil {
			n.log.Error("starting-soon notifications", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// startingSoonDue reports whether c's starting-soon notification is due at
// now: asked for, not yet sent, published, and inside the window from
// StartsAt-NotifyBeforeStart up to StartsAt. Once the show has started the
// notice would be late, so a window missed while the server was down is
// skipped rather than sent.
func startingSoonDue(c *store.Campaign, now time.Time) bool {
	return c.NotifyBeforeStart > 0 && !c.NotifiedBeforeStart && c.Published &&
		c.Status(now) == store.StatusUpcoming &&
		!now.Before(c.StartsAt.Add(-c.NotifyBeforeStart)) && now.Before(c.StartsAt)
}

// sendStartingSoon makes one pass over the upcoming published campaigns.
// It filters in Go because the store has no query for "due" campaigns; the
// list is small (upcoming and published only).
func (n *Notifier) sendStartingSoon(ctx context.Context) error {
	now := n.cfg.Now()
	f := store.CampaignFilter{
		Status:        store.StatusUpcoming,
		Now:           now,
		PublishedOnly: true,
		Page:          store.Page{Limit: 200},
	}
	var errs []error
	for {
		cs, next, err := n.st.ListCampaigns(ctx, f)
		if err != nil {
			return fmt.Errorf("notify: list upcoming campaigns: %w", err)
		}
		for i := range cs {
			if startingSoonDue(&cs[i], now) {
				if err := n.notifyStartingSoon(ctx, cs[i].ID, now); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if next == "" {
			return errors.Join(errs...)
		}
		f.Cursor = next
	}
}

// markAttempts bounds how many times one pass re-reads a campaign whose
// marking lost a race with another write (store.ErrStale); past it, the
// next pass tries again.
const markAttempts = 3

// notifyStartingSoon marks the campaign notified, then publishes the
// notice.
//
// The mark is an optimistic write (store.UpdateCampaign checks the version
// read), which makes it an election when several nodes run a scheduler
// on one store: they all see the notice due, one mark succeeds, the others
// get store.ErrStale, read the campaign again, find it marked and send
// nothing. So the notice goes out once, not once per node. The same check
// keeps the mark from overwriting an edit or a go-live made meanwhile: on
// ErrStale the campaign is read again and, if the notice is still due,
// marked on the fresh copy.
//
// Marking first makes the notice at most once: if the outbox write then
// fails, the mark is undone so that the next pass retries; only a crash
// between the two writes loses it.
func (n *Notifier) notifyStartingSoon(ctx context.Context, id string, now time.Time) error {
	var c *store.Campaign
	for attempt := 1; ; attempt++ {
		var err error
		c, err = n.st.GetCampaign(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("notify: load campaign %s: %w", id, err)
		}
		if !startingSoonDue(c, now) {
			return nil // marked by another node, or unpublished, moved, started
		}
		c.NotifiedBeforeStart = true
		err = n.st.UpdateCampaign(ctx, c)
		if err == nil {
			break
		}
		if errors.Is(err, store.ErrStale) && attempt < markAttempts {
			continue
		}
		return fmt.Errorf("notify: mark campaign %s notified: %w", id, err)
	}
	if err := n.Publish(ctx, EventCampaignStartingSoon, payload.NewCampaign(c, now, n.base)); err != nil {
		n.unmark(ctx, c)
		return err
	}
	n.log.Info("starting-soon notification sent", "campaign", id, "starts_at", c.StartsAt)
	return nil
}

// unmark clears the "notified" mark that notifyStartingSoon set on c when
// the notice could not be recorded, unless the campaign was changed in a
// way that settles it anyway (its window moved, which re-arms the notice).
func (n *Notifier) unmark(ctx context.Context, marked *store.Campaign) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	for range markAttempts {
		c, err := n.st.GetCampaign(ctx, marked.ID)
		if errors.Is(err, store.ErrNotFound) {
			return
		}
		if err == nil {
			if !c.NotifiedBeforeStart || !c.StartsAt.Equal(marked.StartsAt) || c.NotifyBeforeStart != marked.NotifyBeforeStart {
				return
			}
			c.NotifiedBeforeStart = false
			if err = n.st.UpdateCampaign(ctx, c); err == nil {
				return
			}
		}
		if !errors.Is(err, store.ErrStale) {
			n.log.Error("starting-soon notice not recorded, and the campaign stays marked: it will not be sent",
				"campaign", marked.ID, "error", err)
			return
		}
	}
	n.log.Error("starting-soon notice not recorded, and the campaign stays marked: it will not be sent",
		"campaign", marked.ID, "error", "the campaign kept changing")
}
