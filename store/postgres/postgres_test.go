package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"vitrine/store"
	"vitrine/store/internal/sqlstore"
	"vitrine/store/storetest"
)

const defaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func serverURL() string {
	if u := os.Getenv("VITRINE_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return defaultURL
}

// admin connects to the test server outside any test schema. An
// unreachable server fails the test: CI runs one, and a silent skip would
// pass a suite that never ran.
func admin(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL())
	if err != nil {
		t.Fatalf("PostgreSQL is unreachable (%v).\n"+
			"Start the local server with:\n"+
			"    pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"+
			"or point VITRINE_TEST_POSTGRES_URL at one (default %s).", err, defaultURL)
	}
	return conn
}

// freshSchema creates an empty schema, dropped when the test ends, and
// returns the server URL with search_path set to it: each test gets its
// own database as far as the store can tell.
func freshSchema(t *testing.T) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "vt_" + hex.EncodeToString(b[:])
	conn := admin(t)
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn := admin(t)
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(serverURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// poolURL limits a store's pool: parallel tests each have one, and together
// they must stay within the server's max_connections.
func poolURL(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("pool_max_conns", "4")
	u.RawQuery = q.Encode()
	return u.String()
}

func open(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(t.Context(), poolURL(t, url))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, freshSchema(t))
	})
}

func versions(t *testing.T, url string) []int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
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
	url := freshSchema(t)
	const nodes = 6
	stores := make([]*Store, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range nodes {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(t.Context(), poolURL(t, url))
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
	files, _ := fs.Glob(migrations, "migrations/*.sql")
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
	open(t, url).Close()
	if vs := versions(t, url); len(vs) != len(files) {
		t.Fatalf("reopen applied again: %v", vs)
	}
}

func TestSchemaTooNew(t *testing.T) {
	url := freshSchema(t)
	open(t, url).Close()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, now())`); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), url)
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
	s, err := Open(ctx, "postgres://postgres:secret@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err == nil {
		s.Close()
		t.Fatal("opened a server that does not exist")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error leaks the password: %v", err)
	}
}
