package sqlstore

import (
	"errors"
	"testing"
	"testing/fstest"

	"vitrine/store"
)

// FuzzDecodeCursor: a cursor comes from the client. Whatever it holds,
// decoding neither panics nor accepts anything but a well-formed cursor of
// the right list, and what it accepts encodes back to itself.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(cursor{Scope: "products", Text: "Banana", ID: "prd_1"}.encode())
	f.Add(cursor{Scope: "products", Time: -62135596800000000, ID: "prd_1"}.encode())
	f.Add("")
	f.Add("e30")
	f.Add("garbage!")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s, "products")
		if err != nil {
			if !errors.Is(err, store.ErrInvalidCursor) {
				t.Fatalf("error %v does not wrap ErrInvalidCursor", err)
			}
			return
		}
		if c.Scope != "products" || c.ID == "" {
			t.Fatalf("accepted %+v", c)
		}
		again, err := decodeCursor(c.encode(), "products")
		if err != nil || again != c {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, c)
		}
	})
}

func TestLimit(t *testing.T) {
	for in, want := range map[int]int{-1: 50, 0: 50, 1: 1, 50: 50, 200: 200, 201: 200, 1 << 40: 200} {
		if got := limitOf(in); got != want {
			t.Errorf("limitOf(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestLoadMigrations(t *testing.T) {
	good := fstest.MapFS{
		"m/0002_more.sql": {Data: []byte("B")},
		"m/0001_init.sql": {Data: []byte("A")},
	}
	ms, err := LoadMigrations(good, "m")
	if err != nil || len(ms) != 2 || ms[0].SQL != "A" || ms[1].Version != 2 {
		t.Fatalf("got %+v, %v", ms, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":      {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"bad name": {"m/0001_a.sql": {}, "m/2_b.sql": {}},
		"empty":    {"m/.keep": {}},
	} {
		if _, err := LoadMigrations(fsys, "m"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newID("prd_")
		if len(id) != 24 || seen[id] {
			t.Fatalf("id %q (repeat: %v)", id, seen[id])
		}
		seen[id] = true
	}
}
