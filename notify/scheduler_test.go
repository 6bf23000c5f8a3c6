package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"vitrine/notify"
	"vitrine/store"
)

func addCampaign(t *testing.T, st store.Store, title string, startsIn, notifyBefore time.Duration, published bool) *store.Campaign {
	t.Helper()
	start := time.Now().Add(startsIn).Truncate(time.Second)
	c := &store.Campaign{
		Title:             title,
		StartsAt:          start,
		EndsAt:            start.Add(time.Hour),
		Visibility:        "suggested",
		NotifyBeforeStart: notifyBefore,
		Published:         published,
		StreamKey:         fmt.Sprintf("key-%s-%d", title, time.Now().UnixNano()),
	}
	if err := st.CreateCampaign(context.Background(), c); err != nil {
		t.Fatalf("create campaign: %v", err)
	}
	return c
}

func TestStartingSoonOnce(t *testing.T) {
	t.Parallel()
	st := openStore(t, "")
	rc := newReceiver(t, nil)
	wh := addWebhook(t, st, rc.URL, notify.EventCampaignStartingSoon)

	due := addCampaign(t, st, "due", 30*time.Minute, time.Hour, true)
	addCampaign(t, st, "later", 3*time.Hour, time.Hour, true)     // window not open yet
	addCampaign(t, st, "draft", 30*time.Minute, time.Hour, false) // not published
	addCampaign(t, st, "silent", 30*time.Minute, 0, true)         // no notice asked
	addCampaign(t, st, "started", -time.Minute, time.Hour, true)  // too late

	stop := run(t, newNotifier(t, st, nil))
	settled(t, st, wh.ID, 1)
	time.Sleep(200 * time.Millisecond) // ten more scheduler passes
	stop()

	ds := deliveries(t, st, wh.ID)
	if len(ds) != 1 {
		t.Fatalf("%d starting-soon deliveries, want 1", len(ds))
	}
	var body struct {
		Type string `json:"type"`
		Data struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"data"`
	}
	if err := json.Unmarshal(ds[0].Payload, &body); err != nil {
		t.Fatal(err)
	}
	if body.Type != notify.EventCampaignStartingSoon || body.Data.ID != due.ID || body.Data.Title != "due" {
		t.Errorf("payload %s", ds[0].Payload)
	}
	c, err := st.GetCampaign(context.Background(), due.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !c.NotifiedBeforeStart {
		t.Error("campaign not marked NotifiedBeforeStart")
	}
	if len(rc.got()) != 1 {
		t.Errorf("receiver got %d requests, want 1", len(rc.got()))
	}

	// A restarted notifier does not send it again.
	run(t, newNotifier(t, st, nil))
	time.Sleep(150 * time.Millisecond)
	if n := len(deliveries(t, st, wh.ID)); n != 1 {
		t.Errorf("after restart: %d deliveries, want 1", n)
	}
}
