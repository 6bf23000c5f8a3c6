package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
)

// ErrSchemaTooNew: the database was migrated by a newer Vitrine than this
// one. Running would risk misreading or damaging data it does not know.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary")

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string // file name, for messages
	SQL     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// LoadMigrations reads dir of fsys: files NNNN_name.sql, numbered from
// 0001 without gaps (a gap is a merge mistake, caught at build-test time
// rather than at a customer's start-up).
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migrations: unexpected file %q", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		v, _ := strconv.Atoi(m[1])
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations: %s: expected version %04d", m.Name, i+1)
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("migrations: none in %s", dir)
	}
	return ms, nil
}

// Migrate brings the schema of db up to the last of ms, each migration in
// its own transaction together with its schema_migrations row, so a failed
// migration leaves the schema at the previous version. Every transaction
// first takes d.MigrationLock and re-reads the version, so nodes starting
// together apply each migration once. A schema newer than ms is refused
// with ErrSchemaTooNew. Given a prefix of the migrations, it stops at the
// last of the prefix (tests put data in an older schema that way).
func Migrate(ctx context.Context, db *sql.DB, d Dialect, ms []Migration) error {
	err := migrateTx(ctx, db, d, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, d.MigrationsDDL)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: migrate: create schema_migrations: %w", d.Name, err)
	}
	latest := ms[len(ms)-1].Version
	for _, m := range ms {
		err := migrateTx(ctx, db, d, func(tx *sql.Tx) error {
			var current int
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
				return fmt.Errorf("read version: %w", err)
			}
			if current > latest {
				return fmt.Errorf("schema version %d, this binary knows up to %d; run a newer Vitrine: %w",
					current, latest, ErrSchemaTooNew)
			}
			if m.Version <= current {
				return nil // applied, perhaps by another node a moment ago
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
				m.Version, d.TimeArg(now())); err != nil {
				return fmt.Errorf("%s: record: %w", m.Name, err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s: migrate: %w", d.Name, err)
		}
	}
	return nil
}

// migrateTx runs fn in a transaction holding the migration lock.
func migrateTx(ctx context.Context, db *sql.DB, d Dialect, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	if d.MigrationLock != "" {
		if _, err := tx.ExecContext(ctx, d.MigrationLock); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
