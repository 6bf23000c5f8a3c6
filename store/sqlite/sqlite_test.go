package sqlite

import (
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"vitrine/store"
	"vitrine/store/internal/sqlstore"
	"vitrine/store/storetest"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "vitrine.db"))
	})
}

// inspect opens the file beside the store, as an operator's shell would.
func inspect(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

type applied struct {
	Version   int
	AppliedAt int64
}

func migrationsApplied(t *testing.T, db *sql.DB) []applied {
	t.Helper()
	rows, err := db.Query(`SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []applied
	for rows.Next() {
		var a applied
		if err := rows.Scan(&a.Version, &a.AppliedAt); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func TestReopenPersistsAndMigratesOnce(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "vitrine.db")
	s := open(t, path)
	p := &store.Product{SKU: "SKU-1", Name: "Shirt", Price: "10.00", Currency: "EUR"}
	if err := s.CreateProduct(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := fs.Glob(migrations, "migrations/*.sql")
	first := migrationsApplied(t, inspect(t, path))
	if len(first) != len(files) || first[len(first)-1].Version != len(files) {
		t.Fatalf("applied %v, want versions 1..%d", first, len(files))
	}

	s = open(t, path)
	defer s.Close()
	got, err := s.GetProduct(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("after reopen got %+v, want %+v", got, p)
	}
	if again := migrationsApplied(t, inspect(t, path)); !reflect.DeepEqual(again, first) {
		t.Fatalf("reopen changed schema_migrations: %v, was %v", again, first)
	}
}

// TestSessionsBackfill: migration 0007 fills tracked_sessions from the
// tracked events of a database that already holds them.
func TestSessionsBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vitrine.db")
	ms, err := sqlstore.LoadMigrations(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	storetest.SessionsBackfill(t, db, Dialect, ms, func(t *testing.T) store.Store {
		s := open(t, path)
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestPragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vitrine.db")
	s := open(t, path)
	defer s.Close()
	db := inspect(t, path)
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q (%v), want wal", mode, err)
	}
	for _, name := range []string{path, path + "-wal"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
}

func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vitrine.db")
	open(t, path).Close()
	if _, err := inspect(t, path).Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("opened a schema from the future")
	}
	if !errors.Is(err, sqlstore.ErrSchemaTooNew) {
		t.Fatalf("error %v, want ErrSchemaTooNew", err)
	}
	t.Log(err)
}

func TestOpenRefuses(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db", "a?b.db", filepath.Join(t.TempDir(), "missing", "vitrine.db")} {
		if s, err := Open(t.Context(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}
