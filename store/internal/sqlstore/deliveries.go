package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"vitrine/store"
)

const deliveryCols = `id, webhook_id, type, payload, status, attempts, next_attempt_at, last_status,
	last_error, created_at, delivered_at`

func scanDelivery(r rowScanner, d *store.Delivery) error {
	err := r.Scan(&d.ID, &d.WebhookID, &d.Type, &d.Payload, &d.Status, &d.Attempts, scanTime(&d.NextAttemptAt),
		&d.LastStatus, &d.LastError, scanTime(&d.CreatedAt), scanNullTime(&d.DeliveredAt))
	d.Payload = nonNil(d.Payload)
	return err
}

// CreateDelivery queues d and sets ID and CreatedAt. An empty Status means
// pending and a zero NextAttemptAt means now, so a bare delivery is due at
// once. The payload is kept byte for byte (BLOB / bytea, not JSON) because
// its signature covers those exact bytes.
func (db *DB) CreateDelivery(ctx context.Context, d *store.Delivery) error {
	id, t := newID("dlv_"), now()
	if d.Status == "" {
		d.Status = store.DeliveryPending
	}
	if d.NextAttemptAt.IsZero() {
		d.NextAttemptAt = t
	}
	d.Payload, d.NextAttemptAt, d.DeliveredAt = nonNil(d.Payload), normTime(d.NextAttemptAt), normPtr(d.DeliveredAt)
	_, err := db.w.ExecContext(ctx, `INSERT INTO deliveries (`+deliveryCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		id, d.WebhookID, d.Type, d.Payload, d.Status, d.Attempts, db.timeArg(d.NextAttemptAt), d.LastStatus,
		d.LastError, db.timeArg(t), db.nullTimeArg(d.DeliveredAt))
	if err != nil {
		return db.fail(err, "create delivery", "", fmt.Sprintf("webhook %q", d.WebhookID))
	}
	d.ID, d.CreatedAt = id, t
	return nil
}

// ClaimDueDeliveries takes up to limit (clamped like a page) pending
// deliveries due at now, the longest-waiting first (by NextAttemptAt, then
// CreatedAt, then ID), and moves their NextAttemptAt to now+lease, in one
// statement of one write transaction: the claimed rows are no longer due
// for anyone until the lease runs out. On PostgreSQL the pick skips rows
// another transaction is claiming (FOR UPDATE SKIP LOCKED), and a row
// claimed and committed meanwhile fails the re-checked WHERE clause; on
// SQLite the IMMEDIATE transaction of the single writer excludes every
// other claim. The CTE is MATERIALIZED so that the LIMIT is evaluated once
// (a subquery can be re-run by the planner, and with SKIP LOCKED a re-run
// may pick other rows). The result is sorted by CreatedAt, then ID.
func (db *DB) ClaimDueDeliveries(ctx context.Context, at time.Time, lease time.Duration, limit int) ([]store.Delivery, error) {
	if lease <= 0 {
		return nil, fmt.Errorf("%s: claim deliveries: lease %v is not positive", db.d.Name, lease)
	}
	var out []store.Delivery
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		out = []store.Delivery{}
		// 'pending' is a literal: it selects the partial index.
		rows, err := tx.QueryContext(ctx, `WITH due AS MATERIALIZED (
				SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $1
				ORDER BY next_attempt_at, created_at, id LIMIT $2`+db.d.SkipLocked+`)
			UPDATE deliveries SET next_attempt_at = $3 WHERE id IN (SELECT id FROM due)
			RETURNING `+deliveryCols,
			db.timeArg(at), limitOf(limit), db.timeArg(at.Add(lease)))
		if err != nil {
			return db.fail(err, "claim deliveries", "", "")
		}
		defer rows.Close()
		for rows.Next() {
			var d store.Delivery
			if err := scanDelivery(rows, &d); err != nil {
				return db.fail(err, "scan delivery", "", "")
			}
			out = append(out, d)
		}
		if err := rows.Err(); err != nil {
			return db.fail(err, "claim deliveries", "", "")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.Delivery) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// UpdateDelivery records the outcome of an attempt: Status, Attempts,
// NextAttemptAt, LastStatus, LastError and DeliveredAt. The rest is
// immutable and filled from the stored row.
func (db *DB) UpdateDelivery(ctx context.Context, d *store.Delivery) error {
	d.NextAttemptAt, d.DeliveredAt = normTime(d.NextAttemptAt), normPtr(d.DeliveredAt)
	err := db.w.QueryRowContext(ctx, `UPDATE deliveries SET status = $2, attempts = $3, next_attempt_at = $4,
		last_status = $5, last_error = $6, delivered_at = $7 WHERE id = $1
		RETURNING webhook_id, type, payload, created_at`,
		d.ID, d.Status, d.Attempts, db.timeArg(d.NextAttemptAt), d.LastStatus, d.LastError,
		db.nullTimeArg(d.DeliveredAt),
	).Scan(&d.WebhookID, &d.Type, &d.Payload, scanTime(&d.CreatedAt))
	if err != nil {
		return db.fail(err, "update delivery", "", fmt.Sprintf("delivery %q", d.ID))
	}
	d.Payload = nonNil(d.Payload)
	return nil
}

// ListDeliveries returns a webhook's deliveries oldest first.
func (db *DB) ListDeliveries(ctx context.Context, webhookID string, p store.Page) ([]store.Delivery, string, error) {
	var s sel
	s.where("webhook_id = " + s.arg(webhookID))
	return list(ctx, db, db.r, listSpec[store.Delivery]{
		scope: "deliveries:" + webhookID,
		cols:  deliveryCols,
		from:  "deliveries",
		key:   sortKey{col: "created_at", time: true},
		scan:  scanDelivery,
		keyOf: func(d *store.Delivery) (any, string) { return d.CreatedAt, d.ID },
	}, &s, p)
}
