package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"vitrine/store"
)

const webhookCols = `id, url, secret, events, created_at`

func scanWebhook(r rowScanner, w *store.Webhook) error {
	return r.Scan(&w.ID, &w.URL, &w.Secret, jsonScanner{&w.Events}, scanTime(&w.CreatedAt))
}

// CreateWebhook inserts w and sets ID and CreatedAt. A webhook without a
// secret gets a fresh Standard Webhooks one ("whsec_" + base64 of 32
// random bytes): an unsigned subscription would be worthless.
func (db *DB) CreateWebhook(ctx context.Context, w *store.Webhook) error {
	w.Events = nonNil(w.Events)
	events, err := jsonArg(w.Events)
	if err != nil {
		return fmt.Errorf("webhook events: %w", err)
	}
	if w.Secret == "" {
		w.Secret = newWebhookSecret()
	}
	id, t := newID("wh_"), now()
	if _, err := db.w.ExecContext(ctx, `INSERT INTO webhooks (`+webhookCols+`) VALUES ($1, $2, $3, $4, $5)`,
		id, w.URL, w.Secret, events, db.timeArg(t)); err != nil {
		return db.fail(err, "create webhook", "", "")
	}
	w.ID, w.CreatedAt = id, t
	return nil
}

// GetWebhook returns the webhook with that id.
func (db *DB) GetWebhook(ctx context.Context, id string) (*store.Webhook, error) {
	var w store.Webhook
	err := scanWebhook(db.r.QueryRowContext(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE id = $1`, id), &w)
	if err != nil {
		return nil, db.fail(err, "get webhook", "", fmt.Sprintf("webhook %q", id))
	}
	return &w, nil
}

// ListWebhooks returns webhooks oldest first.
func (db *DB) ListWebhooks(ctx context.Context, p store.Page) ([]store.Webhook, string, error) {
	return list(ctx, db, db.r, listSpec[store.Webhook]{
		scope: "webhooks",
		cols:  webhookCols,
		from:  "webhooks",
		key:   sortKey{col: "created_at", time: true},
		scan:  scanWebhook,
		keyOf: func(w *store.Webhook) (any, string) { return w.CreatedAt, w.ID },
	}, &sel{}, p)
}

// DeleteWebhook removes the webhook and its deliveries (pending ones would
// have nowhere to go) in one transaction.
func (db *DB) DeleteWebhook(ctx context.Context, id string) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE webhook_id = $1`, id); err != nil {
			return db.fail(err, "delete webhook deliveries", "", "")
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
		if err != nil {
			return db.fail(err, "delete webhook", "", "")
		}
		return affected(res, fmt.Sprintf("webhook %q", id))
	})
}
