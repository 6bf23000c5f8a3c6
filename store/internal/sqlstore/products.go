package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"vitrine/store"
)

const productCols = `id, sku, name, category, price, currency, image_url, stock, url, created_at, updated_at`

func scanProduct(r rowScanner, p *store.Product) error {
	return r.Scan(&p.ID, &p.SKU, &p.Name, &p.Category, &p.Price, &p.Currency, &p.ImageURL,
		&p.Stock, &p.URL, scanTime(&p.CreatedAt), scanTime(&p.UpdatedAt))
}

func skuTaken(sku string) string {
	return fmt.Sprintf("sku %q is already used by another product", sku)
}

// CreateProduct inserts p and sets its ID, CreatedAt and UpdatedAt.
func (db *DB) CreateProduct(ctx context.Context, p *store.Product) error {
	id, t := newID("prd_"), now()
	_, err := db.w.ExecContext(ctx, `INSERT INTO products (`+productCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
		id, p.SKU, p.Name, p.Category, p.Price, p.Currency, p.ImageURL, p.Stock, p.URL, db.timeArg(t))
	if err != nil {
		return db.fail(err, "create product", skuTaken(p.SKU), "")
	}
	p.ID, p.CreatedAt, p.UpdatedAt = id, t, t
	return nil
}

// GetProduct returns the product with that id.
func (db *DB) GetProduct(ctx context.Context, id string) (*store.Product, error) {
	var p store.Product
	err := scanProduct(db.r.QueryRowContext(ctx, `SELECT `+productCols+` FROM products WHERE id = $1`, id), &p)
	if err != nil {
		return nil, db.fail(err, "get product", "", fmt.Sprintf("product %q", id))
	}
	return &p, nil
}

// UpdateProduct writes every field of p but ID and CreatedAt, sets
// UpdatedAt, and fills CreatedAt from the stored row.
func (db *DB) UpdateProduct(ctx context.Context, p *store.Product) error {
	t := now()
	err := db.w.QueryRowContext(ctx, `UPDATE products SET sku = $2, name = $3, category = $4,
		price = $5, currency = $6, image_url = $7, stock = $8, url = $9, updated_at = $10
		WHERE id = $1 RETURNING created_at`,
		p.ID, p.SKU, p.Name, p.Category, p.Price, p.Currency, p.ImageURL, p.Stock, p.URL, db.timeArg(t),
	).Scan(scanTime(&p.CreatedAt))
	if err != nil {
		return db.fail(err, "update product", skuTaken(p.SKU), fmt.Sprintf("product %q", p.ID))
	}
	p.UpdatedAt = t
	return nil
}

// DeleteProduct removes the product and detaches it from every campaign in
// one transaction. The foreign key would cascade too; the explicit delete
// keeps the rule visible here and independent of the SQLite pragma. The
// campaigns it is detached from move to their next Version: their lists
// changed, so a copy read before must not be written back.
func (db *DB) DeleteProduct(ctx context.Context, id string) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.bumpLinked(ctx, tx, "campaign_products", "product_id", id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM campaign_products WHERE product_id = $1`, id); err != nil {
			return db.fail(err, "detach product", "", "")
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM products WHERE id = $1`, id)
		if err != nil {
			return db.fail(err, "delete product", "", "")
		}
		return affected(res, fmt.Sprintf("product %q", id))
	})
}

// ListProducts returns products by name, then id.
func (db *DB) ListProducts(ctx context.Context, f store.ProductFilter) ([]store.Product, string, error) {
	var s sel
	if f.Query != "" {
		s.where(db.contains("name", s.arg(f.Query)))
	}
	if f.Category != "" {
		s.where("category = " + s.arg(f.Category))
	}
	return list(ctx, db, db.r, listSpec[store.Product]{
		scope: "products",
		cols:  productCols,
		from:  "products",
		key:   sortKey{col: "name" + db.d.TextOrder},
		scan:  scanProduct,
		keyOf: func(p *store.Product) (any, string) { return p.Name, p.ID },
	}, &s, f.Page)
}

// bumpLinked moves every campaign linked to item (through table's col) to
// its next Version.
func (db *DB) bumpLinked(ctx context.Context, tx *sql.Tx, table, col, item string) error {
	_, err := tx.ExecContext(ctx, `UPDATE campaigns SET version = version + 1
		WHERE id IN (SELECT campaign_id FROM `+table+` WHERE `+col+` = $1)`, item)
	if err != nil {
		return db.fail(err, "detach from campaigns", "", "")
	}
	return nil
}
