package api

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"vitrine/store"
)

// readRacingStore runs meanwhile (another node's request) just after each
// campaign read of this node: for a delete, between the read its rules are
// checked on and its write, the interleaving that deletes a campaign that
// changed since it was read (went live on another node, say) when the
// delete does not check the version.
type readRacingStore struct {
	store.Store
	mu        sync.Mutex
	meanwhile func(call int) // call counts the reads, from 1
	calls     int
}

func (s *readRacingStore) GetCampaign(ctx context.Context, id string) (*store.Campaign, error) {
	c, err := s.Store.GetCampaign(ctx, id)
	s.mu.Lock()
	s.calls++
	call, fn := s.calls, s.meanwhile
	s.mu.Unlock()
	if fn != nil {
		fn(call)
	}
	return c, err
}

func (s *readRacingStore) race(fn func(call int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.meanwhile, s.calls = fn, 0
}

// TestCampaignDeleteRacesAcrossNodes: DELETE is optimistic like PATCH. A
// delete on node A whose campaign another node changes between A's read
// and A's delete is tried again on the campaign as it now is, its rules
// checked again: one that lost to a go-live is refused as not editable
// (and the live campaign stays), one that lost to an edit still deletes,
// one that keeps losing answers 409 campaign_changed and deletes nothing.
// A delete without any version from the client keeps working, as a PATCH
// does.
func TestCampaignDeleteRacesAcrossNodes(t *testing.T) {
	for _, b := range twoNodes {
		t.Run(b.name, func(t *testing.T) {
			stA, stB := b.open(t)
			racing := &readRacingStore{Store: stA}
			a, other := newEnvOn(t, racing), newEnvOn(t, stB)
			get := func(id string) *resp {
				t.Helper()
				return other.do("GET", "/api/v1/campaigns/"+id, nil)
			}

			// A delete loses to a go-live: checked again, the campaign is
			// ongoing, and the delete is refused as for any live campaign.
			c := a.createCampaign(nil)
			racing.race(func(call int) {
				if call == 1 {
					other.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/live", nil)
				}
			})
			r := a.do("DELETE", "/api/v1/campaigns/"+c.ID, nil)
			racing.race(nil)
			if r.Status != http.StatusConflict || r.errCode(t) != "campaign_not_editable" {
				t.Fatalf("delete racing a go-live: %d %s", r.Status, r.Body)
			}
			var got campaignView
			g := get(c.ID)
			if g.Status != http.StatusOK {
				t.Fatalf("the live campaign was deleted by a delete that read it upcoming: GET %d %s", g.Status, g.Body)
			}
			g.decode(t, &got)
			if got.Status != "ongoing" || got.Version != 2 {
				t.Fatalf("after the race: status %s, version %d", got.Status, got.Version)
			}

			// A delete loses to an edit that leaves it deletable: applied
			// again, it deletes the edited campaign.
			c = a.createCampaign(nil)
			reads := 0
			racing.race(func(call int) {
				reads = call
				if call == 1 {
					other.must(http.StatusOK, "PATCH", "/api/v1/campaigns/"+c.ID, map[string]any{"title": "Edited on B"})
				}
			})
			a.must(http.StatusNoContent, "DELETE", "/api/v1/campaigns/"+c.ID, nil)
			racing.race(nil)
			if reads != 2 {
				t.Fatalf("the delete read the campaign %d times, want 2 (the stale attempt, then the retry)", reads)
			}
			if g := get(c.ID); g.Status != http.StatusNotFound {
				t.Fatalf("after a delete that lost to an edit: GET %d %s", g.Status, g.Body)
			}

			// A delete that loses every time gives up with 409
			// campaign_changed, in the usual envelope, and deletes nothing.
			c = a.createCampaign(nil)
			racing.race(func(int) {
				other.must(http.StatusOK, "PATCH", "/api/v1/campaigns/"+c.ID, map[string]any{"description": time.Now().String()})
			})
			r = a.do("DELETE", "/api/v1/campaigns/"+c.ID, nil)
			racing.race(nil)
			if r.Status != http.StatusConflict || r.errCode(t) != "campaign_changed" {
				t.Fatalf("a delete that always loses: %d %s", r.Status, r.Body)
			}
			if m := r.json(t)["error"].(map[string]any); m["message"] == "" {
				t.Fatalf("409 without a message: %s", r.Body)
			}
			g = get(c.ID)
			if g.Status != http.StatusOK {
				t.Fatalf("after giving up: GET %d %s", g.Status, g.Body)
			}
			g.decode(t, &got)
			if got.Version != 1+campaignAttempts {
				t.Fatalf("after giving up: version %d, want %d (node B's writes)", got.Version, 1+campaignAttempts)
			}

			// Without a race, a plain DELETE (no version from the client)
			// deletes; a second answers 404.
			a.must(http.StatusNoContent, "DELETE", "/api/v1/campaigns/"+c.ID, nil)
			a.must(http.StatusNotFound, "DELETE", "/api/v1/campaigns/"+c.ID, nil)
		})
	}
}

// TestCampaignDeleteDocumentsConflict: the document says a DELETE of a
// campaign can answer 409, and why.
func TestCampaignDeleteDocumentsConflict(t *testing.T) {
	e := newEnv(t)
	var doc struct {
		Paths map[string]map[string]struct {
			Description string                    `json:"description"`
			Responses   map[string]map[string]any `json:"responses"`
		} `json:"paths"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/openapi.json", nil).decode(t, &doc)
	op, ok := doc.Paths["/api/v1/campaigns/{id}"]["delete"]
	if !ok {
		t.Fatal("no DELETE /api/v1/campaigns/{id} in the document")
	}
	if _, ok := op.Responses["409"]; !ok {
		t.Fatalf("DELETE /api/v1/campaigns/{id} documents no 409: %v", op.Responses)
	}
	for _, want := range []string{"campaign_not_editable", "campaign_changed"} {
		if !strings.Contains(op.Description, want) {
			t.Errorf("the DELETE's description does not mention %s: %q", want, op.Description)
		}
	}
}
