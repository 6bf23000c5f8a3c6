package sqlstore

import (
	"context"
	"fmt"

	"vitrine/store"
)

const reminderCols = `id, campaign_id, phone, opt_in, created_at`

func scanReminder(r rowScanner, m *store.Reminder) error {
	return r.Scan(&m.ID, &m.CampaignID, &m.Phone, &m.OptIn, scanTime(&m.CreatedAt))
}

// CreateReminder records r, or updates the opt-in flag of the reminder the
// same phone already has for the campaign; either way r is filled with the
// stored ID and CreatedAt (those of the first request). It was created
// when the stored ID is the one this call generated: a repeat keeps the
// first ID, so the two can only be equal for a new row.
func (db *DB) CreateReminder(ctx context.Context, r *store.Reminder) (bool, error) {
	id := newID("rem_")
	err := db.w.QueryRowContext(ctx, `INSERT INTO reminders (`+reminderCols+`) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (campaign_id, phone) DO UPDATE SET opt_in = excluded.opt_in
		RETURNING id, created_at`,
		id, r.CampaignID, r.Phone, r.OptIn, db.timeArg(now()),
	).Scan(&r.ID, scanTime(&r.CreatedAt))
	if err != nil {
		return false, db.fail(err, "create reminder", "", fmt.Sprintf("campaign %q", r.CampaignID))
	}
	return r.ID == id, nil
}

// ListReminders returns a campaign's reminders oldest first.
func (db *DB) ListReminders(ctx context.Context, campaignID string, p store.Page) ([]store.Reminder, string, error) {
	var s sel
	s.where("campaign_id = " + s.arg(campaignID))
	return list(ctx, db, db.r, listSpec[store.Reminder]{
		scope: "reminders:" + campaignID,
		cols:  reminderCols,
		from:  "reminders",
		key:   sortKey{col: "created_at", time: true},
		scan:  scanReminder,
		keyOf: func(m *store.Reminder) (any, string) { return m.CreatedAt, m.ID },
	}, &s, p)
}
