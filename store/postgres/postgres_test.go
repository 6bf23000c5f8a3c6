package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"vitrine/store"
	"vitrine/store/internal/sqlstore"
	"vitrine/store/postgres"
	"vitrine/store/postgres/pgtest"
	"vitrine/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return pgtest.Open(t, pgtest.FreshURL(t))
	})
}

// TestSessionsBackfill: migration 0007 fills tracked_sessions from the
// tracked events of a database that already holds them.
func TestSessionsBackfill(t *testing.T) {
	url := pgtest.FreshURL(t)
	ms, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", plainURL(t, url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	storetest.SessionsBackfill(t, db, postgres.Dialect, ms, func(t *testing.T) store.Store {
		return pgtest.Open(t, url)
	})
}

// plainURL is a store URL from pgtest without its pool settings, which a
// single connection refuses.
func plainURL(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("pool_max_conns")
	u.RawQuery = q.Encode()
	return u.String()
}

// connect opens a plain connection to a store URL from pgtest (its pool
// settings are for pgxpool, which a single connection refuses).
func connect(t *testing.T, raw string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), plainURL(t, raw))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func versions(t *testing.T, url string) []int {
	t.Helper()
	conn := connect(t, url)
	rows, err := conn.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// TestConcurrentOpen: nodes starting together migrate once, and all work.
func TestConcurrentOpen(t *testing.T) {
	url := pgtest.FreshURL(t)
	const nodes = 6
	stores := make([]*postgres.Store, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range nodes {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = postgres.Open(t.Context(), url)
		})
	}
	close(start)
	wg.Wait()
	for i := range nodes {
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		}
		defer stores[i].Close()
	}
	files, _ := filepath.Glob("migrations/*.sql") // the embedded ones
	if len(files) == 0 {
		t.Fatal("no migrations found")
	}
	if vs := versions(t, url); len(vs) != len(files) || vs[len(vs)-1] != len(files) {
		t.Fatalf("applied %v, want 1..%d once each", vs, len(files))
	}
	// One node writes, another reads it.
	p := &store.Product{SKU: "SKU-1", Name: "Shirt"}
	if err := stores[0].CreateProduct(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if _, err := stores[nodes-1].GetProduct(t.Context(), p.ID); err != nil {
		t.Fatal(err)
	}
	// And a restart applies nothing.
	pgtest.Open(t, url).Close()
	if vs := versions(t, url); len(vs) != len(files) {
		t.Fatalf("reopen applied again: %v", vs)
	}
}

func TestSchemaTooNew(t *testing.T) {
	url := pgtest.FreshURL(t)
	pgtest.Open(t, url).Close()
	conn := connect(t, url)
	if _, err := conn.Exec(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, now())`); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(t.Context(), url)
	if err == nil {
		s.Close()
		t.Fatal("opened a schema from the future")
	}
	if !errors.Is(err, sqlstore.ErrSchemaTooNew) {
		t.Fatalf("error %v, want ErrSchemaTooNew", err)
	}
	t.Log(err)
}

func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, "postgres://postgres:secret@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err == nil {
		s.Close()
		t.Fatal("opened a server that does not exist")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error leaks the password: %v", err)
	}
}
