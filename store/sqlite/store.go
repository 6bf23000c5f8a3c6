// Package sqlite is the embedded store: one SQLite file in the data
// directory, through modernc.org/sqlite (pure Go, no cgo).
//
// Concurrency: SQLite has one writer at a time, and a second writer that
// finds the database locked fails with SQLITE_BUSY once busy_timeout runs
// out. So all writes go through a pool of exactly one connection — writers
// queue in Go, for as long as their context allows — and its transactions
// begin IMMEDIATE (_txlock), taking the write lock up front instead of
// failing on upgrade from a read lock. Reads use a separate pool; in WAL
// mode they neither wait for nor block the writer. busy_timeout remains for
// what Go cannot queue: another process (a backup, the sqlite3 shell) on
// the same file.
//
// It imports store and store/internal/sqlstore.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"vitrine/store"
	"vitrine/store/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite store.Store.
type Store struct {
	*sqlstore.DB
}

var _ store.Store = (*Store)(nil)

func init() {
	// SQLite's lower() folds ASCII only; vt_lower folds like Go (and like
	// PostgreSQL's lower() in a UTF-8 database), so "ÉTÉ" finds "été".
	sqlite.MustRegisterDeterministicScalarFunction("vt_lower", 1,
		func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			switch v := args[0].(type) {
			case string:
				return strings.ToLower(v), nil
			case []byte:
				return strings.ToLower(string(v)), nil
			}
			return args[0], nil
		})
}

// Dialect describes SQLite to the shared implementation.
var Dialect = sqlstore.Dialect{
	Name:          "sqlite",
	TimeArg:       func(t time.Time) any { return t.UnixMicro() },
	Lower:         "vt_lower",
	Instr:         "instr",
	TextOrder:     "", // BINARY: bytewise, like Go's string comparison
	MigrationsDDL: `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`,
	Classify:      classify,
	InsertRows:    32,
	Positional:    true,
}

func classify(err error) sqlstore.Violation {
	var e *sqlite.Error
	if errors.As(err, &e) {
		switch e.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return sqlstore.UniqueViolation
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return sqlstore.ForeignKeyViolation
		}
	}
	return sqlstore.NoViolation
}

// dsn is the modernc.org/sqlite data source for path.
//
// synchronous=FULL: in WAL mode NORMAL can lose the last commits on power
// loss (never corrupt, but lose). An order or a webhook delivery acknowledged
// to its sender must survive that, and Vitrine writes rarely enough that an
// fsync per commit costs nothing that matters.
//
// The writer's page cache is 32 MB (cache_size, default 2 MB), so that a
// large batch into indexed tables (analytics' tracked events) does not read
// the same index pages back from the OS again and again.
func dsn(path string, write bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	if write {
		q.Add("_pragma", "journal_mode(WAL)") // persistent: set once by the writer
		q.Set("_txlock", "immediate")
		q.Add("_pragma", "cache_size(-32768)")
	} else {
		q.Add("_pragma", "query_only(1)") // a read connection that writes is a bug
	}
	return path + "?" + q.Encode()
}

// Open opens (creating if needed) the database file at path and migrates it.
// The directory must exist.
func Open(ctx context.Context, path string) (*Store, error) {
	// The driver takes everything after '?' as options, and an in-memory
	// database would be a different one on each connection of the two pools.
	if path == "" || strings.ContainsRune(path, '?') || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: %q: need a plain file path", path)
	}
	ms, err := sqlstore.LoadMigrations(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	// The file holds stream keys and webhook secrets: create it private.
	// SQLite gives its -wal and -shm files the same mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	f.Close()
	w, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := sqlstore.Migrate(ctx, w, Dialect, ms); err != nil {
		w.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	closeFn := func() error {
		return errors.Join(r.Close(), w.Close())
	}
	return &Store{sqlstore.New(r, w, Dialect, closeFn)}, nil
}
