package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"vitrine/store"
)

// runScheduler sends campaign.starting_soon for each campaign whose chosen
// "notify before start" moment has come. Run owns it.
func (n *Notifier) runScheduler(ctx context.Context) {
	t := time.NewTicker(n.cfg.PollInterval)
	defer t.Stop()
	// published holds campaigns whose notice is in the outbox but not yet
	// marked on the campaign, so a failed mark is retried without
	// publishing the notice again.
	published := make(map[string]bool)
	for {
		if err := n.sendStartingSoon(ctx, published); err != nil && ctx.Err() == nil {
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
func (n *Notifier) sendStartingSoon(ctx context.Context, published map[string]bool) error {
	now := n.cfg.Now()
	f := store.CampaignFilter{
		Status:        store.StatusUpcoming,
		Now:           now,
		PublishedOnly: true,
		Page:          store.Page{Limit: 200},
	}
	var errs []error
	due := make(map[string]bool)
	for {
		cs, next, err := n.st.ListCampaigns(ctx, f)
		if err != nil {
			return fmt.Errorf("notify: list upcoming campaigns: %w", err)
		}
		for i := range cs {
			if startingSoonDue(&cs[i], now) {
				due[cs[i].ID] = true
				if err := n.notifyStartingSoon(ctx, cs[i].ID, now, published); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if next == "" {
			for id := range published {
				if !due[id] {
					delete(published, id) // marked, or out of its window
				}
			}
			return errors.Join(errs...)
		}
		f.Cursor = next
	}
}

// notifyStartingSoon publishes first and marks the campaign second: a crash
// in between sends the notice twice, which beats never sending it.
func (n *Notifier) notifyStartingSoon(ctx context.Context, id string, now time.Time, published map[string]bool) error {
	// Re-read right before writing: UpdateCampaign rewrites the whole
	// campaign, and the listed copy may predate an edit from the API.
	c, err := n.st.GetCampaign(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return fmt.Errorf("notify: load campaign %s: %w", id, err)
	}
	if !startingSoonDue(c, now) {
		return nil
	}
	if !published[id] {
		if err := n.Publish(ctx, EventCampaignStartingSoon, c); err != nil {
			return err
		}
		published[id] = true
	}
	c.NotifiedBeforeStart = true
	if err := n.st.UpdateCampaign(ctx, c); err != nil {
		return fmt.Errorf("notify: mark campaign %s notified: %w", id, err)
	}
	delete(published, id)
	n.log.Info("starting-soon notification sent", "campaign", id, "starts_at", c.StartsAt)
	return nil
}
