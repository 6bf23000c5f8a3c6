package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"vitrine/notify"
	"vitrine/notify/payload"
	"vitrine/store"
	"vitrine/store/postgres/pgtest"
)

// backends gives two nodes' views of one database: two PostgreSQL pools
// on one schema; for SQLite, which is single-node, one store shared by
// both notifiers. Two processes on one SQLite file are covered too
// ("sqlite-files"), but there the two writers meet on the file lock and
// wait in SQLite's busy handler, which sleeps, so that case polls slowly
// (as a real deployment does, every second) and is kept small.
var backends = []struct {
	name string
	open func(t *testing.T) (store.Store, store.Store)
	poll time.Duration
}{
	{"sqlite", func(t *testing.T) (store.Store, store.Store) {
		st := openStore(t, "")
		return st, st
	}, 5 * time.Millisecond},
	{"postgres", func(t *testing.T) (store.Store, store.Store) {
		url := pgtest.FreshURL(t)
		return pgtest.Open(t, url), pgtest.Open(t, url)
	}, 5 * time.Millisecond},
	{"sqlite-files", func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "v.db")
		return openStore(t, path), openStore(t, path)
	}, 100 * time.Millisecond},
}

// TestTwoNodesDeliverOnce: two dispatchers (two nodes, each its own
// Notifier and store connection) share one outbox; the receiver gets every
// delivery exactly once.
func TestTwoNodesDeliverOnce(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			st1, st2 := b.open(t)
			var mu sync.Mutex
			count := map[string]int{}
			rc := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
				mu.Lock()
				count[r.Header.Get("webhook-id")]++
				mu.Unlock()
				time.Sleep(2 * time.Millisecond) // let the nodes' attempts overlap
			})
			wh := addWebhook(t, st1, rc.URL, notify.EventAll)
			n1 := newNotifier(t, st1, func(c *notify.Config) { c.PollInterval = b.poll })
			n2 := newNotifier(t, st2, func(c *notify.Config) { c.PollInterval = b.poll })
			run(t, n1)
			run(t, n2)

			events := 40
			if b.name == "sqlite-files" {
				events = 8
			}
			for i := range events {
				n := n1
				if i%2 == 1 {
					n = n2
				}
				if err := n.Publish(context.Background(), notify.EventOrderCreated, map[string]int{"i": i}); err != nil {
					t.Fatal(err)
				}
			}
			ds := settled(t, st1, wh.ID, events)
			time.Sleep(5 * b.poll) // more polls of each node: nothing more is sent
			mu.Lock()
			defer mu.Unlock()
			for _, d := range ds {
				if d.Status != store.DeliveryDelivered || d.Attempts != 1 {
					t.Errorf("delivery %+v", d)
				}
				if count[d.ID] != 1 {
					t.Errorf("delivery %s received %d times", d.ID, count[d.ID])
				}
			}
			if len(count) != events || len(rc.got()) != events {
				t.Fatalf("%d distinct deliveries in %d requests, want %d once each", len(count), len(rc.got()), events)
			}
		})
	}
}

// TestCrashedNodeLeaseExpires: a node that claimed deliveries and died
// holds them only for its lease; then another node delivers them.
func TestCrashedNodeLeaseExpires(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			dead, alive := b.open(t)
			rc := newReceiver(t, nil)
			wh := addWebhook(t, dead, rc.URL, notify.EventAll)
			n := newNotifier(t, alive, nil)
			for i := range 3 {
				if err := n.Publish(context.Background(), notify.EventOrderCreated, map[string]int{"i": i}); err != nil {
					t.Fatal(err)
				}
			}
			// The dead node's last act: claiming them.
			const lease = 400 * time.Millisecond
			claimedAt := time.Now()
			claimed, err := dead.ClaimDueDeliveries(context.Background(), claimedAt, lease, 10)
			if err != nil || len(claimed) != 3 {
				t.Fatalf("claim: %d, %v", len(claimed), err)
			}
			run(t, n)
			ds := settled(t, alive, wh.ID, 3)
			if took := time.Since(claimedAt); took < lease {
				t.Fatalf("delivered %v after the claim, before its lease of %v ran out", took, lease)
			}
			for _, d := range ds {
				if d.Status != store.DeliveryDelivered || d.Attempts != 1 {
					t.Errorf("delivery %+v", d)
				}
			}
			if len(rc.got()) != 3 {
				t.Fatalf("%d requests, want 3", len(rc.got()))
			}
		})
	}
}

// TestStartingSoonOnceAcrossNodes: two nodes' schedulers see the same
// campaign due at once; the notice goes out once.
func TestStartingSoonOnceAcrossNodes(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			st1, st2 := b.open(t)
			rc := newReceiver(t, nil)
			wh := addWebhook(t, st1, rc.URL, notify.EventCampaignStartingSoon)
			var cs []*store.Campaign
			for i := range 5 {
				cs = append(cs, addCampaign(t, st1, fmt.Sprint("due", i), 30*time.Minute, time.Hour, true))
			}
			fast := func(c *notify.Config) { c.PollInterval = b.poll }
			run(t, newNotifier(t, st1, fast))
			run(t, newNotifier(t, st2, fast))
			ds := settled(t, st1, wh.ID, len(cs))
			time.Sleep(5 * b.poll) // more passes of both schedulers
			if n := len(deliveries(t, st1, wh.ID)); n != len(cs) {
				t.Fatalf("%d starting-soon deliveries for %d campaigns", n, len(cs))
			}
			seen := map[string]int{}
			for _, d := range ds {
				var body struct {
					Data struct {
						ID string `json:"id"`
					} `json:"data"`
				}
				if err := json.Unmarshal(d.Payload, &body); err != nil {
					t.Fatal(err)
				}
				seen[body.Data.ID]++
			}
			for _, c := range cs {
				if seen[c.ID] != 1 {
					t.Errorf("campaign %s: %d notices", c.ID, seen[c.ID])
				}
			}
		})
	}
}

// editingStore makes another node's edit land between the scheduler's
// read of a campaign and its write of the "notified" mark, the first time.
type editingStore struct {
	store.Store
	once sync.Once
	t    *testing.T
}

func (s *editingStore) UpdateCampaign(ctx context.Context, c *store.Campaign) error {
	s.once.Do(func() {
		other, err := s.Store.GetCampaign(ctx, c.ID)
		if err != nil {
			s.t.Error(err)
			return
		}
		other.Title, other.Description = "Edited meanwhile", "by another node"
		if err := s.Store.UpdateCampaign(ctx, other); err != nil {
			s.t.Error(err)
		}
	})
	return s.Store.UpdateCampaign(ctx, c)
}

// TestStartingSoonKeepsConcurrentEdit: marking a campaign notified does
// not write back the copy it read over an edit made meanwhile.
func TestStartingSoonKeepsConcurrentEdit(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			st, _ := b.open(t)
			rc := newReceiver(t, nil)
			wh := addWebhook(t, st, rc.URL, notify.EventCampaignStartingSoon)
			c := addCampaign(t, st, "due", 30*time.Minute, time.Hour, true)
			run(t, newNotifier(t, &editingStore{Store: st, t: t}, nil))
			ds := settled(t, st, wh.ID, 1)
			got, err := st.GetCampaign(context.Background(), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Title != "Edited meanwhile" || got.Description != "by another node" || !got.NotifiedBeforeStart {
				t.Fatalf("campaign after the mark: %+v", got)
			}
			// The notice describes the campaign as marked, edit included.
			var body struct {
				Data payload.Campaign `json:"data"`
			}
			if err := json.Unmarshal(ds[0].Payload, &body); err != nil {
				t.Fatal(err)
			}
			if body.Data.Title != "Edited meanwhile" || body.Data.Version != got.Version {
				t.Fatalf("notice %+v, campaign at version %d", body.Data, got.Version)
			}
		})
	}
}

// TestStartingSoonPayload: campaign.starting_soon carries payload.Campaign,
// the shape of the API's campaign notifications, with URLs under
// PublicURL.
func TestStartingSoonPayload(t *testing.T) {
	t.Parallel()
	st := openStore(t, "")
	rc := newReceiver(t, nil)
	wh := addWebhook(t, st, rc.URL, notify.EventCampaignStartingSoon)
	c := addCampaign(t, st, "due", 30*time.Minute, time.Hour, true)
	run(t, newNotifier(t, st, func(cfg *notify.Config) { cfg.PublicURL = "https://live.example.com/" }))
	d := settled(t, st, wh.ID, 1)[0]

	var body struct {
		Data map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(d.Payload, &body); err != nil {
		t.Fatal(err)
	}
	var keys, want []string
	for k := range body.Data {
		keys = append(keys, k)
	}
	rt := reflect.TypeFor[payload.Campaign]()
	for i := range rt.NumField() {
		tag := rt.Field(i).Tag.Get("json")
		want = append(want, tag)
	}
	sort.Strings(keys)
	sort.Strings(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("data keys %v, want payload.Campaign's %v", keys, want)
	}
	var data payload.Campaign
	if err := json.Unmarshal(d.Payload[len(`{"type":"campaign.starting_soon","timestamp":"2006-01-02T15:04:05.000Z",`)+len(`"data":`):len(d.Payload)-1], &data); err != nil {
		t.Fatalf("data: %v\n%s", err, d.Payload)
	}
	if data.WatchURL != "https://live.example.com/watch/"+c.ID ||
		data.CalendarURL != "https://live.example.com/live/"+c.ID+"/calendar.ics" ||
		data.Status != store.StatusUpcoming || data.NotifyBeforeStart != "1h0m0s" {
		t.Fatalf("data %+v", data)
	}
	if _, err := notify.New(notify.Config{Store: st, PublicURL: "ftp://x"}); err == nil {
		t.Fatal("a non-http public URL was accepted")
	}
}
