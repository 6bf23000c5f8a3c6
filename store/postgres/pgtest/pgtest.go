// Package pgtest gives tests outside the store (notify, api) a PostgreSQL
// store of their own on the test server: a fresh schema per call, dropped
// when the test ends, so parallel tests do not see each other.
//
// The server is VITRINE_TEST_POSTGRES_URL, or postgres://postgres@127.0.0.1:5432/test.
// An unreachable server fails the test rather than skipping it: a silent
// skip would pass a suite that never ran.
//
// It imports store/postgres.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"vitrine/store/postgres"
)

// DefaultURL is the test server when VITRINE_TEST_POSTGRES_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func serverURL() string {
	if u := os.Getenv("VITRINE_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultURL
}

func connect(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL())
	if err != nil {
		t.Fatalf("PostgreSQL is unreachable (%v).\n"+
			"Start the local server with:\n"+
			"    pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"+
			"or point VITRINE_TEST_POSTGRES_URL at one (default %s).", err, DefaultURL)
	}
	return conn
}

// FreshURL creates an empty schema, dropped when the test ends, and returns
// a store URL whose search_path is that schema, with a small pool so that
// parallel tests stay within the server's max_connections. Opening it
// several times gives several "nodes" on one database.
func FreshURL(t testing.TB) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "vt_" + hex.EncodeToString(b[:])
	conn := connect(t)
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn := connect(t)
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
	q.Set("pool_max_conns", "4")
	u.RawQuery = q.Encode()
	return u.String()
}

// Open opens the store at url (from FreshURL), closed when the test ends.
// Cleanups run last-in first-out, so it closes before the schema is dropped.
func Open(t testing.TB, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
