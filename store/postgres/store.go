// Package postgres is the store for several Vitrine nodes: PostgreSQL
// through pgx, its pool (pgxpool) beneath database/sql so that the SQL is
// shared with the SQLite store.
//
// It imports store and store/internal/sqlstore.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"vitrine/store"
	"vitrine/store/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the PostgreSQL store.Store.
type Store struct {
	*sqlstore.DB
}

var _ store.Store = (*Store)(nil)

// Dialect describes PostgreSQL to the shared implementation.
var Dialect = sqlstore.Dialect{
	Name:          "postgres",
	TimeArg:       func(t time.Time) any { return t },
	Lower:         "lower",
	Instr:         "strpos",
	TextOrder:     ` COLLATE "C"`,
	MigrationsDDL: `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)`,
	// Nodes starting together queue here; the key is per schema so that
	// separate schemas (tests, several tenants) do not wait on each other.
	// The lock is transaction-scoped: it cannot outlive a failed start.
	MigrationLock: `SELECT pg_advisory_xact_lock(hashtextextended('vitrine.migrate.' || current_schema(), 0))`,
	Classify:      classify,
	SkipLocked:    " FOR UPDATE SKIP LOCKED",
}

func classify(err error) sqlstore.Violation {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		switch e.Code {
		case "23505": // unique_violation
			return sqlstore.UniqueViolation
		case "23503": // foreign_key_violation
			return sqlstore.ForeignKeyViolation
		}
	}
	return sqlstore.NoViolation
}

// Open connects to the database at url (postgres://user@host/db?...; pool
// settings such as pool_max_conns and runtime parameters such as
// search_path go in the URL) and migrates it.
func Open(ctx context.Context, url string) (*Store, error) {
	ms, err := sqlstore.LoadMigrations(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, errors.New("postgres: invalid store URL (want postgres://user:password@host:5432/db?sslmode=...)")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	db := stdlib.OpenDBFromPool(pool)
	closeFn := func() error {
		err := db.Close()
		pool.Close()
		return err
	}
	if err := sqlstore.Migrate(ctx, db, Dialect, ms); err != nil {
		closeFn()
		return nil, err
	}
	return &Store{sqlstore.New(db, db, Dialect, closeFn)}, nil
}
