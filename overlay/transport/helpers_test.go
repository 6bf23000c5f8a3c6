package transport

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"vitrine/events"
	"vitrine/overlay"
	"vitrine/store"
	"vitrine/store/sqlite"
)

func openSQLite(t testing.TB) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "vitrine.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newCampaign(t testing.TB, s store.Store) string {
	t.Helper()
	c := &store.Campaign{Title: "Live", Description: "x", StartsAt: time.Now(), EndsAt: time.Now().Add(time.Hour),
		Visibility: "suggested", Published: true}
	if err := s.CreateCampaign(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func newRooms(t testing.TB, cfg overlay.Config) *overlay.Rooms {
	t.Helper()
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = -1 // tests see the bus and gap filling alone
	}
	h, err := overlay.NewRooms(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Start()
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func room(t testing.TB, h *overlay.Rooms, id string) *overlay.Room {
	t.Helper()
	r, err := h.Room(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func product(i int) events.ProductRef {
	return events.ProductRef{ID: fmt.Sprintf("prd_%d", i), Name: fmt.Sprintf("Product %d", i), Price: "129.00", Currency: "EUR"}
}
