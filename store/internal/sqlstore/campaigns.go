package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"vitrine/store"
)

const campaignCols = `id, title, description, images, starts_at, ends_at, visibility,
	notify_at_creation, notify_before_start_us, notified_before_start, published, stream_key,
	live_started_at, live_ended_at, preparing_since, last_prepared_at, transport, country, created_at, updated_at, version`

// microsScanner reads a duration stored as integer microseconds.
type microsScanner struct{ d *time.Duration }

func (s microsScanner) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("duration column holds %T", src)
	}
	*s.d = time.Duration(v) * time.Microsecond
	return nil
}

func scanCampaign(r rowScanner, c *store.Campaign) error {
	return r.Scan(&c.ID, &c.Title, &c.Description, jsonScanner{&c.Images}, scanTime(&c.StartsAt),
		scanTime(&c.EndsAt), &c.Visibility, &c.NotifyAtCreation, microsScanner{&c.NotifyBeforeStart},
		&c.NotifiedBeforeStart, &c.Published, &c.StreamKey, scanNullTime(&c.LiveStartedAt),
		scanNullTime(&c.LiveEndedAt), scanNullTime(&c.PreparingSince), scanNullTime(&c.LastPreparedAt),
		&c.Transport, &c.Country, scanTime(&c.CreatedAt), scanTime(&c.UpdatedAt), &c.Version)
}

// normCampaign puts c in the form it reads back in: times in UTC to the
// microsecond, lists never nil.
func normCampaign(c *store.Campaign) {
	c.Images, c.ProductIDs, c.VoucherIDs = nonNil(c.Images), nonNil(c.ProductIDs), nonNil(c.VoucherIDs)
	c.StartsAt, c.EndsAt = normTime(c.StartsAt), normTime(c.EndsAt)
	c.LiveStartedAt, c.LiveEndedAt = normPtr(c.LiveStartedAt), normPtr(c.LiveEndedAt)
	c.PreparingSince, c.LastPreparedAt = normPtr(c.PreparingSince), normPtr(c.LastPreparedAt)
	c.NotifyBeforeStart = c.NotifyBeforeStart.Truncate(time.Microsecond)
}

const keyTaken = "stream key is already used by another campaign"

// campaignArgs are $2.. of the INSERT and UPDATE statements below.
func (db *DB) campaignArgs(c *store.Campaign) ([]any, error) {
	images, err := jsonArg(c.Images)
	if err != nil {
		return nil, fmt.Errorf("campaign images: %w", err)
	}
	return []any{c.Title, c.Description, images, db.timeArg(c.StartsAt), db.timeArg(c.EndsAt),
		c.Visibility, c.NotifyAtCreation, c.NotifyBeforeStart.Microseconds(), c.NotifiedBeforeStart,
		c.Published, c.StreamKey, db.nullTimeArg(c.LiveStartedAt), db.nullTimeArg(c.LiveEndedAt),
		db.nullTimeArg(c.PreparingSince), db.nullTimeArg(c.LastPreparedAt), c.Transport, c.Country}, nil
}

// CreateCampaign inserts c with its product and voucher lists in one
// transaction and sets ID, Version (1), CreatedAt and UpdatedAt. A campaign without a
// stream key gets a fresh secret one, so that two campaigns never share "".
func (db *DB) CreateCampaign(ctx context.Context, c *store.Campaign) error {
	normCampaign(c)
	if err := checkDistinct(c); err != nil {
		return err
	}
	id, t := newID("cmp_"), now()
	if c.StreamKey == "" {
		c.StreamKey = newStreamKey()
	}
	args, err := db.campaignArgs(c)
	if err != nil {
		return err
	}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.checkRefs(ctx, tx, c); err != nil {
			return err
		}
		args = append([]any{id}, append(args, db.timeArg(t))...)
		if _, err := tx.ExecContext(ctx, `INSERT INTO campaigns (`+campaignCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19, 1)`, args...); err != nil {
			return db.fail(err, "create campaign", keyTaken, "")
		}
		return db.writeLinks(ctx, tx, id, c)
	})
	if err != nil {
		return err
	}
	c.ID, c.CreatedAt, c.UpdatedAt, c.Version = id, t, t, 1
	return nil
}

// UpdateCampaign writes every field of c but ID and CreatedAt, replaces its
// product and voucher lists, and sets UpdatedAt and the next Version, in
// one transaction, provided the stored campaign is still at c.Version;
// otherwise it writes nothing and fails with store.ErrStale. An empty
// StreamKey keeps the stored one (the key is never part of an API body, so
// a campaign decoded from one must not lose it); c is filled with the
// stored key and CreatedAt.
//
// The check is the UPDATE's own WHERE clause, so it holds across
// connections and nodes: on PostgreSQL a concurrent writer of the row
// waits for the first to commit and then finds the version moved on
// (READ COMMITTED re-checks the WHERE clause on the new row); on SQLite
// writes are serialised anyway.
func (db *DB) UpdateCampaign(ctx context.Context, c *store.Campaign) error {
	normCampaign(c)
	if err := checkDistinct(c); err != nil {
		return err
	}
	t := now()
	args, err := db.campaignArgs(c)
	if err != nil {
		return err
	}
	var key string
	var created time.Time
	var version int64
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		args = append([]any{c.ID}, append(args, db.timeArg(t), c.Version)...)
		err := tx.QueryRowContext(ctx, `UPDATE campaigns SET title = $2, description = $3, images = $4,
			starts_at = $5, ends_at = $6, visibility = $7, notify_at_creation = $8,
			notify_before_start_us = $9, notified_before_start = $10, published = $11,
			stream_key = COALESCE(NULLIF($12, ''), stream_key), live_started_at = $13,
			live_ended_at = $14, preparing_since = $15, last_prepared_at = $16, transport = $17,
			country = $18, updated_at = $19, version = version + 1 WHERE id = $1 AND version = $20 RETURNING stream_key, created_at, version`, args...).
			Scan(&key, scanTime(&created), &version)
		if errors.Is(err, sql.ErrNoRows) {
			return db.staleOrMissing(ctx, tx, "update", c.ID, c.Version)
		}
		if err != nil {
			return db.fail(err, "update campaign", keyTaken, fmt.Sprintf("campaign %q", c.ID))
		}
		if err := db.checkRefs(ctx, tx, c); err != nil {
			return err
		}
		for _, table := range []string{"campaign_products", "campaign_vouchers"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE campaign_id = $1`, c.ID); err != nil {
				return db.fail(err, "update campaign links", "", "")
			}
		}
		return db.writeLinks(ctx, tx, c.ID, c)
	})
	if err != nil {
		return err
	}
	c.StreamKey, c.CreatedAt, c.UpdatedAt, c.Version = key, created, t, version
	return nil
}

// staleOrMissing explains why the UPDATE or DELETE (op) of campaign id,
// read at version, matched no row: the campaign is gone (store.ErrNotFound)
// or at another version (store.ErrStale).
func (db *DB) staleOrMissing(ctx context.Context, tx *sql.Tx, op, id string, version int64) error {
	var current int64
	err := tx.QueryRowContext(ctx, `SELECT version FROM campaigns WHERE id = $1`, id).Scan(&current)
	if err != nil {
		return db.fail(err, op+" campaign", "", fmt.Sprintf("campaign %q", id))
	}
	return fmt.Errorf("campaign %q was read at version %d and is now at version %d: %w",
		id, version, current, store.ErrStale)
}

// checkDistinct refuses a list naming the same product or voucher twice:
// the links are keyed on (campaign, item), and silently dropping the
// repeat would store something other than what was asked.
func checkDistinct(c *store.Campaign) error {
	for field, ids := range map[string][]string{"product_ids": c.ProductIDs, "voucher_ids": c.VoucherIDs} {
		seen := make(map[string]bool, len(ids))
		for _, id := range ids {
			if seen[id] {
				return fmt.Errorf("%s lists %q twice: %w", field, id, store.ErrConflict)
			}
			seen[id] = true
		}
	}
	return nil
}

// checkRefs fails with a *store.MissingError (store.ErrNotFound), naming
// the unknown ids, if a product or voucher of c does not exist. The
// foreign keys would refuse the links too, but could not say which id was
// wrong; they remain the guard against a concurrent delete.
func (db *DB) checkRefs(ctx context.Context, tx *sql.Tx, c *store.Campaign) error {
	for _, ref := range []struct {
		table, what string
		ids         []string
	}{{"products", "product", c.ProductIDs}, {"vouchers", "voucher", c.VoucherIDs}} {
		found := make(map[string]bool, len(ref.ids))
		err := db.byIDs(ctx, tx, "id", ref.table, ref.ids, func(r rowScanner) error {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			found[id] = true
			return nil
		})
		if err != nil {
			return err
		}
		if err := missing(ref.what, ref.ids, found); err != nil {
			return err
		}
	}
	return nil
}

// writeLinks inserts the product and voucher lists of campaign id, each
// item with its position so the lists read back in order.
func (db *DB) writeLinks(ctx context.Context, tx *sql.Tx, id string, c *store.Campaign) error {
	for _, l := range []struct {
		table, col string
		ids        []string
	}{{"campaign_products", "product_id", c.ProductIDs}, {"campaign_vouchers", "voucher_id", c.VoucherIDs}} {
		if len(l.ids) == 0 {
			continue
		}
		var s sel
		values := make([]string, len(l.ids))
		cid := s.arg(id)
		for i, item := range l.ids {
			values[i] = fmt.Sprintf("(%s, %s, %s)", cid, s.arg(item), s.arg(i))
		}
		q := fmt.Sprintf("INSERT INTO %s (campaign_id, %s, position) VALUES %s", l.table, l.col, strings.Join(values, ", "))
		if _, err := tx.ExecContext(ctx, q, s.args...); err != nil {
			if db.d.Classify(err) == ForeignKeyViolation {
				// Deleted after checkRefs, by a concurrent transaction.
				return &store.MissingError{What: "product or voucher of the campaign"}
			}
			return db.fail(err, "write "+l.table, "", "")
		}
	}
	return nil
}

// loadLinks fills the product and voucher lists of cs.
func (db *DB) loadLinks(ctx context.Context, q querier, cs []store.Campaign) error {
	if len(cs) == 0 {
		return nil
	}
	at := make(map[string]*store.Campaign, len(cs))
	ids := make([]string, len(cs))
	for i := range cs {
		cs[i].ProductIDs, cs[i].VoucherIDs = []string{}, []string{}
		at[cs[i].ID], ids[i] = &cs[i], cs[i].ID
	}
	for _, l := range []struct {
		table, col string
		dst        func(*store.Campaign) *[]string
	}{
		{"campaign_products", "product_id", func(c *store.Campaign) *[]string { return &c.ProductIDs }},
		{"campaign_vouchers", "voucher_id", func(c *store.Campaign) *[]string { return &c.VoucherIDs }},
	} {
		var s sel
		rows, err := q.QueryContext(ctx, fmt.Sprintf(`SELECT campaign_id, %s FROM %s
			WHERE campaign_id IN (%s) ORDER BY campaign_id, position`, l.col, l.table, s.placeholders(ids)), s.args...)
		if err != nil {
			return db.fail(err, "load "+l.table, "", "")
		}
		for rows.Next() {
			var cid, item string
			if err := rows.Scan(&cid, &item); err != nil {
				rows.Close()
				return db.fail(err, "load "+l.table, "", "")
			}
			dst := l.dst(at[cid])
			*dst = append(*dst, item)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return db.fail(err, "load "+l.table, "", "")
		}
	}
	return nil
}

// getCampaign reads one campaign by a unique column and its lists in one
// snapshot.
func (db *DB) getCampaign(ctx context.Context, col, val, what string) (*store.Campaign, error) {
	c := make([]store.Campaign, 1) // a slice for loadLinks
	err := db.inReadTx(ctx, func(tx *sql.Tx) error {
		err := scanCampaign(tx.QueryRowContext(ctx, `SELECT `+campaignCols+` FROM campaigns WHERE `+col+` = $1`, val), &c[0])
		if err != nil {
			return db.fail(err, "get campaign", "", what)
		}
		return db.loadLinks(ctx, tx, c)
	})
	if err != nil {
		return nil, err
	}
	return &c[0], nil
}

// GetCampaign returns the campaign with that id.
func (db *DB) GetCampaign(ctx context.Context, id string) (*store.Campaign, error) {
	return db.getCampaign(ctx, "id", id, fmt.Sprintf("campaign %q", id))
}

// GetCampaignByStreamKey returns the campaign publishing with that key. The
// key is a secret: it is not repeated in the error.
func (db *DB) GetCampaignByStreamKey(ctx context.Context, key string) (*store.Campaign, error) {
	return db.getCampaign(ctx, "stream_key", key, "campaign with that stream key")
}

// DeleteCampaign removes the campaign, its links, orders and reminders in
// one transaction, provided the stored campaign is still at version;
// otherwise it deletes nothing and fails with store.ErrStale.
//
// As in UpdateCampaign, the check is the statement's own WHERE clause, and
// the campaign row is the first thing the transaction writes: an update
// of the campaign takes its row and then its links, so taking the row
// first too keeps the two from locking each other's rows in opposite
// orders on PostgreSQL (a deadlock); a concurrent update either commits
// first (the DELETE, re-checking its WHERE clause on the new row, matches
// nothing: stale) or waits and then finds the campaign gone. The child
// tables go by ON DELETE CASCADE; they are deleted again explicitly so
// that nothing of the campaign can stay should a connection ever run
// without foreign key enforcement (SQLite's is per connection).
func (db *DB) DeleteCampaign(ctx context.Context, id string, version int64) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM campaigns WHERE id = $1 AND version = $2`, id, version)
		if err != nil {
			return db.fail(err, "delete campaign", "", "")
		}
		n, err := res.RowsAffected()
		if err != nil {
			return db.fail(err, "delete campaign", "", "")
		}
		if n == 0 {
			return db.staleOrMissing(ctx, tx, "delete", id, version)
		}
		for _, table := range []string{"reminders", "orders", "campaign_products", "campaign_vouchers"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE campaign_id = $1`, id); err != nil {
				return db.fail(err, "delete campaign "+table, "", "")
			}
		}
		return nil
	})
}

// campaignSorts maps CampaignFilter.Sort to its key.
var campaignSorts = map[string]sortKey{
	"starts_at":   {col: "starts_at", time: true},
	"-starts_at":  {col: "starts_at", time: true, desc: true},
	"created_at":  {col: "created_at", time: true},
	"-created_at": {col: "created_at", time: true, desc: true},
	"title":       {col: "title"},
	"-title":      {col: "title", desc: true},
}

// liveSQL is Campaign.Status's "live": it went live and was not ended
// since. It is never NULL (a NULL live_started_at makes the AND false), so
// NOT (liveSQL) is safe.
const liveSQL = `(live_started_at IS NOT NULL AND (live_ended_at IS NULL OR live_ended_at < live_started_at))`

// statusSQL is the condition "Status(now) == status", written to follow
// Campaign.Status case by case; the suite checks both agree. now adds the
// instant as an argument and returns its placeholder (only when used:
// PostgreSQL refuses a parameter it cannot type).
func statusSQL(status string, now func() string) (string, error) {
	switch status {
	case store.StatusOngoing:
		return liveSQL, nil
	case store.StatusCompleted:
		return "NOT " + liveSQL + " AND ends_at <= " + now(), nil
	case store.StatusEnded:
		return "NOT " + liveSQL + " AND ends_at > " + now() + " AND live_ended_at IS NOT NULL", nil
	case store.StatusUpcoming:
		return "NOT " + liveSQL + " AND ends_at > " + now() + " AND live_ended_at IS NULL", nil
	}
	return "", fmt.Errorf("unknown campaign status %q: %w", status, store.ErrInvalidFilter)
}

// ListCampaigns returns the campaigns matching f in f.Sort order. A Status
// filter with a zero Now uses the current time.
func (db *DB) ListCampaigns(ctx context.Context, f store.CampaignFilter) ([]store.Campaign, string, error) {
	sort := f.Sort
	if sort == "" {
		sort = "starts_at"
	}
	key, ok := campaignSorts[sort]
	if !ok {
		return nil, "", fmt.Errorf("unknown campaign sort %q: %w", f.Sort, store.ErrInvalidSort)
	}
	byTitle := key.col == "title"
	if byTitle {
		key.col += db.d.TextOrder
	}
	var s sel
	if f.Query != "" {
		s.where(db.contains("title", s.arg(f.Query)))
	}
	if f.Status != "" {
		at := f.Now
		if at.IsZero() {
			at = time.Now()
		}
		cond, err := statusSQL(f.Status, func() string { return s.arg(db.timeArg(at)) })
		if err != nil {
			return nil, "", err
		}
		s.where("(" + cond + ")")
	}
	if f.PublishedOnly {
		s.where("published = " + s.arg(true))
	}
	// [starts_at, ends_at) overlaps [From, To).
	if f.From != nil {
		s.where("ends_at > " + s.arg(db.timeArg(*f.From)))
	}
	if f.To != nil {
		s.where("starts_at < " + s.arg(db.timeArg(*f.To)))
	}
	var out []store.Campaign
	var next string
	err := db.inReadTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, next, err = list(ctx, db, tx, listSpec[store.Campaign]{
			scope: "campaigns:" + sort,
			cols:  campaignCols,
			from:  "campaigns",
			key:   key,
			scan:  scanCampaign,
			keyOf: func(c *store.Campaign) (any, string) {
				switch {
				case byTitle:
					return c.Title, c.ID
				case key.col == "created_at":
					return c.CreatedAt, c.ID
				}
				return c.StartsAt, c.ID
			},
		}, &s, f.Page)
		if err != nil {
			return err
		}
		return db.loadLinks(ctx, tx, out)
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}
