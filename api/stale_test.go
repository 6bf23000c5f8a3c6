package api

import (
	"context"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"vitrine/store"
	"vitrine/store/postgres/pgtest"
	"vitrine/store/sqlite"
)

// twoNodes opens one database twice, as two nodes would: two SQLite
// stores on one file, or two PostgreSQL pools on one schema.
var twoNodes = []struct {
	name string
	open func(t *testing.T) (store.Store, store.Store)
}{
	{"sqlite", func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "vitrine.db")
		open := func() store.Store {
			st, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
		return open(), open()
	}},
	{"postgres", func(t *testing.T) (store.Store, store.Store) {
		url := pgtest.FreshURL(t)
		return pgtest.Open(t, url), pgtest.Open(t, url)
	}},
}

// racingStore runs meanwhile (another node's request) just before each
// campaign write of this node, after this node has read the campaign: the
// interleaving that loses an update without the optimistic check.
type racingStore struct {
	store.Store
	mu        sync.Mutex
	meanwhile func(call int) // call counts the writes, from 1
	calls     int
}

func (s *racingStore) UpdateCampaign(ctx context.Context, c *store.Campaign) error {
	s.mu.Lock()
	s.calls++
	call, fn := s.calls, s.meanwhile
	s.mu.Unlock()
	if fn != nil {
		fn(call)
	}
	return s.Store.UpdateCampaign(ctx, c)
}

func (s *racingStore) race(fn func(call int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.meanwhile, s.calls = fn, 0
}

// TestCampaignRacesAcrossNodes: a request on node A loses the race to the
// store against one on node B, which writes between A's read and A's
// write. A's change is applied again to the fresh campaign, B's is kept.
func TestCampaignRacesAcrossNodes(t *testing.T) {
	for _, b := range twoNodes {
		t.Run(b.name, func(t *testing.T) {
			stA, stB := b.open(t)
			racing := &racingStore{Store: stA}
			a, other := newEnvOn(t, racing), newEnvOn(t, stB)
			get := func(id string) campaignView {
				t.Helper()
				var c campaignView
				a.must(http.StatusOK, "GET", "/api/v1/campaigns/"+id, nil).decode(t, &c)
				return c
			}

			// An edit loses to a go-live: applied again, it finds the campaign
			// ongoing and is refused as any edit of a live campaign; the
			// go-live stands.
			c := a.createCampaign(nil)
			racing.race(func(call int) {
				if call == 1 {
					other.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/live", nil)
				}
			})
			r := a.do("PATCH", "/api/v1/campaigns/"+c.ID, map[string]any{"title": "Renamed"})
			if r.Status != http.StatusConflict || r.errCode(t) != "campaign_not_editable" {
				t.Fatalf("edit racing a go-live: %d %s", r.Status, r.Body)
			}
			if got := get(c.ID); got.Status != "ongoing" || got.Title != c.Title || got.Version != 2 {
				t.Fatalf("after the race: status %s, title %q, version %d", got.Status, got.Title, got.Version)
			}

			// An edit loses to another edit of other fields: both are kept,
			// as a PATCH changes only what it names.
			c = a.createCampaign(nil)
			racing.race(func(call int) {
				if call == 1 {
					other.must(http.StatusOK, "PATCH", "/api/v1/campaigns/"+c.ID, map[string]any{"description": "from node B"})
				}
			})
			var patched campaignView
			a.must(http.StatusOK, "PATCH", "/api/v1/campaigns/"+c.ID, map[string]any{"title": "from node A"}).decode(t, &patched)
			if patched.Title != "from node A" || patched.Description != "from node B" || patched.Version != 3 {
				t.Fatalf("PATCH answer: %+v", patched)
			}
			if got := get(c.ID); got.Title != "from node A" || got.Description != "from node B" {
				t.Fatalf("stored: title %q, description %q", got.Title, got.Description)
			}

			// A go-live loses to an edit: live, and the edit kept; notified once.
			c = a.createCampaign(nil)
			a.notes.reset()
			racing.race(func(call int) {
				if call == 1 {
					other.must(http.StatusOK, "PATCH", "/api/v1/campaigns/"+c.ID, map[string]any{"title": "Edited on B"})
				}
			})
			var live campaignView
			a.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/live", nil).decode(t, &live)
			if live.Status != "ongoing" || live.Title != "Edited on B" {
				t.Fatalf("go-live answer: %+v", live)
			}
			if types := a.notes.types(); len(types) != 1 || types[0] != EventCampaignLive {
				t.Fatalf("node A notified %v", types)
			}

			// A go-live loses to a go-live on the other node: already live,
			// nothing written, no second notification.
			c = a.createCampaign(nil)
			a.notes.reset()
			racing.race(func(call int) {
				if call == 1 {
					other.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/live", nil)
				}
			})
			a.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/live", nil)
			if types := a.notes.types(); len(types) != 0 {
				t.Fatalf("node A notified %v for a campaign node B made live", types)
			}
			if got := get(c.ID); got.Version != 2 {
				t.Fatalf("version %d after one go-live, want 2", got.Version)
			}

			// An end loses to an edit... of a live campaign, which cannot be
			// edited; here the other node rotates the key. Both stand.
			var rotated campaignView
			racing.race(func(call int) {
				if call == 1 {
					other.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/stream-key", nil).decode(t, &rotated)
				}
			})
			var ended campaignView
			a.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/end", nil).decode(t, &ended)
			if ended.Status != "ended" || ended.StreamKey != rotated.StreamKey {
				t.Fatalf("end answer: status %s, key %q (rotated to %q)", ended.Status, ended.StreamKey, rotated.StreamKey)
			}

			// A change that loses every time gives up with 409 campaign_changed.
			c = a.createCampaign(nil)
			racing.race(func(int) {
				other.must(http.StatusOK, "PATCH", "/api/v1/campaigns/"+c.ID, map[string]any{"description": time.Now().String()})
			})
			r = a.do("PATCH", "/api/v1/campaigns/"+c.ID, map[string]any{"title": "never"})
			if r.Status != http.StatusConflict || r.errCode(t) != "campaign_changed" {
				t.Fatalf("a change that always loses: %d %s", r.Status, r.Body)
			}
			racing.race(nil)
			if got := get(c.ID); got.Title == "never" || got.Version != 1+campaignAttempts {
				t.Fatalf("after giving up: title %q, version %d (want %d writes of node B)", got.Title, got.Version, campaignAttempts)
			}
		})
	}
}
