package sqlstore

import (
	"context"
	"fmt"

	"vitrine/store"
)

const orderCols = `id, campaign_id, idempotency_key, code, items, customer_name, total, currency, viewer_id, session_id, created_at`

func scanOrder(r rowScanner, o *store.Order) error {
	return r.Scan(&o.ID, &o.CampaignID, &o.IdempotencyKey, &o.Code, jsonScanner{&o.Items},
		&o.CustomerName, &o.Total, &o.Currency, &o.ViewerID, &o.SessionID, scanTime(&o.CreatedAt))
}

// CreateOrder records o, idempotently on (CampaignID, IdempotencyKey): a
// repeat fills o with the first order and returns created == false, even if
// the repeat's content differs (the first report wins, as with any
// idempotency key). An empty key opts out of deduplication.
//
// An order code is unique within its campaign (when not empty): the code is
// the shop's own order number, so a second order with the same code under
// another key is a client bug, refused with store.ErrConflict rather than
// counted twice.
func (db *DB) CreateOrder(ctx context.Context, o *store.Order) (bool, error) {
	o.Items = nonNil(o.Items)
	items, err := jsonArg(o.Items)
	if err != nil {
		return false, fmt.Errorf("order items: %w", err)
	}
	id, t := newID("ord_"), now()
	q := `INSERT INTO orders (` + orderCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	if o.IdempotencyKey != "" {
		// Only the idempotency index is the arbiter: a clash on the order
		// code must still fail.
		q += ` ON CONFLICT (campaign_id, idempotency_key) WHERE idempotency_key <> '' DO NOTHING`
	}
	res, err := db.w.ExecContext(ctx, q, id, o.CampaignID, o.IdempotencyKey, o.Code, items,
		o.CustomerName, o.Total, o.Currency, o.ViewerID, o.SessionID, db.timeArg(t))
	if err != nil {
		// Two identical requests racing on PostgreSQL may trip the code
		// index before the arbiter sees the other row; it is still a repeat.
		if o.IdempotencyKey != "" && db.d.Classify(err) == UniqueViolation {
			if first, ferr := db.orderByKey(ctx, o.CampaignID, o.IdempotencyKey); ferr == nil {
				*o = *first
				return false, nil
			}
		}
		return false, db.fail(err, "create order",
			fmt.Sprintf("order code %q is already recorded for this campaign", o.Code),
			fmt.Sprintf("campaign %q", o.CampaignID))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, db.fail(err, "create order", "", "")
	}
	if n == 0 { // a repeat: DO NOTHING kept the first
		first, err := db.orderByKey(ctx, o.CampaignID, o.IdempotencyKey)
		if err != nil {
			return false, err
		}
		*o = *first
		return false, nil
	}
	o.ID, o.CreatedAt = id, t
	return true, nil
}

// orderByKey reads the order recorded under an idempotency key, on the
// write pool so that it sees the conflicting row just committed.
func (db *DB) orderByKey(ctx context.Context, campaignID, key string) (*store.Order, error) {
	var o store.Order
	err := scanOrder(db.w.QueryRowContext(ctx, `SELECT `+orderCols+` FROM orders
		WHERE campaign_id = $1 AND idempotency_key = $2`, campaignID, key), &o)
	if err != nil {
		return nil, db.fail(err, "get order", "", "order with that idempotency key")
	}
	return &o, nil
}

// ListOrders returns a campaign's orders oldest first (new orders land on
// later pages, so walking the pages misses none). An unknown campaign has
// no orders: the list is empty, not an error.
func (db *DB) ListOrders(ctx context.Context, campaignID string, p store.Page) ([]store.Order, string, error) {
	var s sel
	s.where("campaign_id = " + s.arg(campaignID))
	return list(ctx, db, db.r, listSpec[store.Order]{
		scope: "orders:" + campaignID,
		cols:  orderCols,
		from:  "orders",
		key:   sortKey{col: "created_at", time: true},
		scan:  scanOrder,
		keyOf: func(o *store.Order) (any, string) { return o.CreatedAt, o.ID },
	}, &s, p)
}
