package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"vitrine/store"
)

const voucherCols = `id, code, name, discount_type, discount_value, currency, min_spend, quantity,
	starts_at, ends_at, created_at, updated_at`

func scanVoucher(r rowScanner, v *store.Voucher) error {
	return r.Scan(&v.ID, &v.Code, &v.Name, &v.DiscountType, &v.DiscountValue, &v.Currency, &v.MinSpend,
		&v.Quantity, scanTime(&v.StartsAt), scanTime(&v.EndsAt), scanTime(&v.CreatedAt), scanTime(&v.UpdatedAt))
}

func codeTaken(code string) string {
	return fmt.Sprintf("code %q is already used by another voucher", code)
}

// CreateVoucher inserts v and sets its ID, CreatedAt and UpdatedAt.
func (db *DB) CreateVoucher(ctx context.Context, v *store.Voucher) error {
	id, t := newID("vch_"), now()
	v.StartsAt, v.EndsAt = normTime(v.StartsAt), normTime(v.EndsAt)
	_, err := db.w.ExecContext(ctx, `INSERT INTO vouchers (`+voucherCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)`,
		id, v.Code, v.Name, v.DiscountType, v.DiscountValue, v.Currency, v.MinSpend, v.Quantity,
		db.timeArg(v.StartsAt), db.timeArg(v.EndsAt), db.timeArg(t))
	if err != nil {
		return db.fail(err, "create voucher", codeTaken(v.Code), "")
	}
	v.ID, v.CreatedAt, v.UpdatedAt = id, t, t
	return nil
}

// GetVoucher returns the voucher with that id.
func (db *DB) GetVoucher(ctx context.Context, id string) (*store.Voucher, error) {
	var v store.Voucher
	err := scanVoucher(db.r.QueryRowContext(ctx, `SELECT `+voucherCols+` FROM vouchers WHERE id = $1`, id), &v)
	if err != nil {
		return nil, db.fail(err, "get voucher", "", fmt.Sprintf("voucher %q", id))
	}
	return &v, nil
}

// UpdateVoucher writes every field of v but ID and CreatedAt, sets
// UpdatedAt, and fills CreatedAt from the stored row.
func (db *DB) UpdateVoucher(ctx context.Context, v *store.Voucher) error {
	t := now()
	v.StartsAt, v.EndsAt = normTime(v.StartsAt), normTime(v.EndsAt)
	err := db.w.QueryRowContext(ctx, `UPDATE vouchers SET code = $2, name = $3, discount_type = $4,
		discount_value = $5, currency = $6, min_spend = $7, quantity = $8, starts_at = $9, ends_at = $10,
		updated_at = $11 WHERE id = $1 RETURNING created_at`,
		v.ID, v.Code, v.Name, v.DiscountType, v.DiscountValue, v.Currency, v.MinSpend, v.Quantity,
		db.timeArg(v.StartsAt), db.timeArg(v.EndsAt), db.timeArg(t),
	).Scan(scanTime(&v.CreatedAt))
	if err != nil {
		return db.fail(err, "update voucher", codeTaken(v.Code), fmt.Sprintf("voucher %q", v.ID))
	}
	v.UpdatedAt = t
	return nil
}

// DeleteVoucher removes the voucher and detaches it from every campaign,
// like DeleteProduct.
func (db *DB) DeleteVoucher(ctx context.Context, id string) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.bumpLinked(ctx, tx, "campaign_vouchers", "voucher_id", id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM campaign_vouchers WHERE voucher_id = $1`, id); err != nil {
			return db.fail(err, "detach voucher", "", "")
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM vouchers WHERE id = $1`, id)
		if err != nil {
			return db.fail(err, "delete voucher", "", "")
		}
		return affected(res, fmt.Sprintf("voucher %q", id))
	})
}

// ListVouchers returns vouchers by name, then id; Query matches the name
// or the code.
func (db *DB) ListVouchers(ctx context.Context, f store.VoucherFilter) ([]store.Voucher, string, error) {
	var s sel
	if f.Query != "" {
		q := s.arg(f.Query)
		s.where("(" + db.contains("name", q) + " OR " + db.contains("code", q) + ")")
	}
	return list(ctx, db, db.r, listSpec[store.Voucher]{
		scope: "vouchers",
		cols:  voucherCols,
		from:  "vouchers",
		key:   sortKey{col: "name" + db.d.TextOrder},
		scan:  scanVoucher,
		keyOf: func(v *store.Voucher) (any, string) { return v.Name, v.ID },
	}, &s, f.Page)
}
