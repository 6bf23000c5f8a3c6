package sqlstore

import (
	"context"

	"vitrine/store"
)

// batchSize bounds the ids of one IN (...) list, well below both
// databases' limits on bound parameters (SQLite 32766, PostgreSQL 65535).
const batchSize = 500

// byIDs runs `SELECT cols FROM table WHERE id IN (ids)` through q, a batch
// of distinct ids at a time, and calls scan for each row found.
func (db *DB) byIDs(ctx context.Context, q querier, cols, table string, ids []string, scan func(rowScanner) error) error {
	distinct := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			distinct = append(distinct, id)
		}
	}
	for len(distinct) > 0 {
		n := min(len(distinct), batchSize)
		var s sel
		rows, err := q.QueryContext(ctx, `SELECT `+cols+` FROM `+table+` WHERE id IN (`+s.placeholders(distinct[:n])+`)`, s.args...)
		if err != nil {
			return db.fail(err, "get "+table, "", "")
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return db.fail(err, "scan "+table, "", "")
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return db.fail(err, "get "+table, "", "")
		}
		distinct = distinct[n:]
	}
	return nil
}

// missing returns a *store.MissingError listing the ids (each once, in
// order) that found does not hold, or nil.
func missing(what string, ids []string, found map[string]bool) error {
	var gone []string
	for _, id := range ids {
		if !found[id] {
			found[id] = true // list it once
			gone = append(gone, id)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	return &store.MissingError{What: what, IDs: gone}
}

// getByIDs is GetProducts and GetVouchers: the rows with ids, in the order
// asked, or a *store.MissingError.
func getByIDs[T any](ctx context.Context, db *DB, what, table, cols string, ids []string,
	scan func(rowScanner, *T) error, idOf func(*T) string) ([]T, error) {
	got := make(map[string]*T, len(ids))
	err := db.byIDs(ctx, db.r, cols, table, ids, func(r rowScanner) error {
		v := new(T)
		if err := scan(r, v); err != nil {
			return err
		}
		got[idOf(v)] = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	found := make(map[string]bool, len(got))
	for id := range got {
		found[id] = true
	}
	if err := missing(what, ids, found); err != nil {
		return nil, err
	}
	out := make([]T, len(ids))
	for i, id := range ids {
		out[i] = *got[id]
	}
	return out, nil
}

// GetProducts returns the products with those ids in the order asked; if
// any is missing, a *store.MissingError naming them.
func (db *DB) GetProducts(ctx context.Context, ids []string) ([]store.Product, error) {
	return getByIDs(ctx, db, "product", "products", productCols, ids, scanProduct,
		func(p *store.Product) string { return p.ID })
}

// GetVouchers returns the vouchers with those ids in the order asked; if
// any is missing, a *store.MissingError naming them.
func (db *DB) GetVouchers(ctx context.Context, ids []string) ([]store.Voucher, error) {
	return getByIDs(ctx, db, "voucher", "vouchers", voucherCols, ids, scanVoucher,
		func(v *store.Voucher) string { return v.ID })
}
