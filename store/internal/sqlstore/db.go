// Package sqlstore is the store.Store implementation shared by the SQLite
// and PostgreSQL backends.
//
// Both backends are reached through database/sql and every query is written
// once with $N placeholders, which modernc.org/sqlite accepts as well as
// PostgreSQL. What really differs between the two — how a time is bound,
// which error code means "unique violation", how Unicode text is
// lower-cased, how text sorts, how migrations are serialised — is described
// by a Dialect, so the SQL of each entity lives in one place.
//
// It imports store.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"vitrine/store"
)

// Violation classifies a driver error raised by a constraint.
type Violation int

// Constraint violations the store translates into store errors.
const (
	NoViolation Violation = iota
	UniqueViolation
	ForeignKeyViolation
)

// Dialect is what a backend tells the shared code about its SQL.
type Dialect struct {
	// Name prefixes error messages ("sqlite", "postgres").
	Name string
	// TimeArg encodes a UTC, microsecond-precision time as a query
	// argument: SQLite stores integer microseconds, PostgreSQL timestamptz.
	// Scanning accepts either (see timeScanner).
	TimeArg func(time.Time) any
	// Lower is the SQL function that lower-cases Unicode text.
	Lower string
	// Instr is the SQL function (haystack, needle) returning the 1-based
	// position of needle in haystack, 0 when absent. Substring search uses
	// it rather than LIKE so that '%' and '_' in a user's query are plain
	// characters, with no escaping to get wrong.
	Instr string
	// TextOrder follows a text column in ORDER BY and keyset comparisons.
	// PostgreSQL sorts by the database's locale; `COLLATE "C"` makes it
	// sort bytewise like SQLite, so both backends list in the same order.
	TextOrder string
	// MigrationsDDL creates schema_migrations if it does not exist.
	MigrationsDDL string
	// MigrationLock, when set, is executed first in every migration
	// transaction to serialise nodes that start at the same time
	// (PostgreSQL: a transaction-scoped advisory lock). SQLite needs none:
	// its write transactions begin IMMEDIATE and so already exclude each other.
	MigrationLock string
	// Classify tells which constraint, if any, an error reports.
	Classify func(error) Violation
	// SkipLocked ends the SELECT that picks rows to claim (webhook
	// deliveries): PostgreSQL's " FOR UPDATE SKIP LOCKED" lets concurrent
	// claimers on other connections pass over each other's rows instead of
	// taking them too or queueing behind them. SQLite needs none: the claim
	// runs in an IMMEDIATE transaction on the single writer connection, so
	// claims never overlap.
	SkipLocked string
	// InsertRows is how many rows one multi-row INSERT of tracked events
	// carries (0: 200), and Positional makes its placeholders `?` rather
	// than `$N`. PostgreSQL gains from many rows (a round trip each
	// statement). On SQLite, a statement in a transaction that may fail
	// part way (an INSERT checking a foreign key) opens a statement journal,
	// which the driver allocates and frees each time: one row a statement
	// pays that per row. And its driver binds each `$N` by formatting and
	// comparing the numbers of all the arguments (a cost in the square of
	// the parameters), `?` by comparing integers: a few dozen rows with `?`
	// are the fastest there.
	InsertRows int
	Positional bool
}

// DB implements store.Store over database/sql.
type DB struct {
	// r serves reads outside transactions, w every write. They are the same
	// pool on PostgreSQL; on SQLite w holds a single connection so that
	// writers queue in Go instead of failing with SQLITE_BUSY, while r lets
	// reads run beside the writer (WAL).
	r, w  *sql.DB
	d     Dialect
	close func() error
}

// New returns a DB reading through r and writing through w; closeFn
// releases everything (both pools and whatever lies beneath).
func New(r, w *sql.DB, d Dialect, closeFn func() error) *DB {
	return &DB{r: r, w: w, d: d, close: closeFn}
}

// Close releases the database.
func (db *DB) Close() error { return db.close() }

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// inTx runs fn in a write transaction, committing if it returns nil.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", db.d.Name, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // the error from fn is the one worth reporting
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", db.d.Name, err)
	}
	return nil
}

// inReadTx runs fn in a read-only transaction on the read pool, for reads
// that span several queries (a campaign and its links) and must see one
// snapshot. REPEATABLE READ gives that on PostgreSQL; SQLite transactions
// always read a snapshot (the driver ignores the level).
func (db *DB) inReadTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("%s: begin: %w", db.d.Name, err)
	}
	defer tx.Rollback() // nothing was written
	return fn(tx)
}

// fail turns a driver error into the error a caller branches on: a unique
// violation becomes store.ErrConflict with the conflict message, a foreign
// key violation store.ErrNotFound with the notFound message (when given),
// sql.ErrNoRows store.ErrNotFound; anything else is wrapped with op.
func (db *DB) fail(err error, op, conflict, notFound string) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if notFound == "" {
			notFound = op
		}
		return fmt.Errorf("%s: %w", notFound, store.ErrNotFound)
	case conflict != "" && db.d.Classify(err) == UniqueViolation:
		return fmt.Errorf("%s: %w", conflict, store.ErrConflict)
	case notFound != "" && db.d.Classify(err) == ForeignKeyViolation:
		return fmt.Errorf("%s: %w", notFound, store.ErrNotFound)
	}
	return fmt.Errorf("%s: %s: %w", db.d.Name, op, err)
}

// affected reports store.ErrNotFound when a statement matched no row.
func affected(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// contains is the SQL condition "col contains arg, ignoring case".
func (db *DB) contains(col, arg string) string {
	return fmt.Sprintf("%s(%s(%s), %s(%s)) > 0", db.d.Instr, db.d.Lower, col, db.d.Lower, arg)
}
