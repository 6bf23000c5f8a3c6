package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"vitrine/events"
	"vitrine/stream"
)

// eventTypes lists the types in the campaign's data-channel log.
func (e *env) eventTypes(id string) []string {
	e.t.Helper()
	evs, err := e.st.ListEvents(e.t.Context(), id, 0, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	out := []string{}
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

func (e *env) publish(id string) *stream.Publisher {
	e.t.Helper()
	pub, err := e.hub.Publish(id, stream.PublisherInfo{Protocol: "rtmp", Remote: "192.0.2.1:5000"}, h264AACTracks())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(pub.Close)
	return pub
}

func disconnected(t *testing.T, pub *stream.Publisher) {
	t.Helper()
	select {
	case <-pub.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the publisher was not disconnected")
	}
}

// TestPrepareThenGoLive: the preparation stage before a live. The campaign
// keeps its status (upcoming) with stage preparing; nothing is sent
// (no webhook, no data-channel event) and viewers' info says no encoder;
// POST …/live from it starts the live then, with the encoder connected
// during the preparation going on air.
func TestPrepareThenGoLive(t *testing.T) {
	e := newEnv(t)
	p := e.createProduct("P1", nil)
	c := e.createCampaign(map[string]any{"published": true, "product_ids": []string{p.ID}})
	if c.Stage != "off_air" || c.PreparingSince != nil {
		t.Fatalf("new campaign: stage %q, preparing_since %v", c.Stage, c.PreparingSince)
	}
	e.notes.reset()
	path := "/api/v1/campaigns/" + c.ID

	e.clock.Set(t0.Add(30 * time.Minute))
	var got campaignView
	e.must(http.StatusOK, "POST", path+"/prepare", nil).decode(t, &got)
	if got.Status != "upcoming" || got.Stage != "preparing" || got.PreparingSince == nil ||
		!got.PreparingSince.Equal(t0.Add(30*time.Minute)) || got.LiveStartedAt != nil || got.Version != c.Version+1 {
		t.Fatalf("prepared: %+v", got)
	}
	// Idempotent: the preparation keeps its start, the version does not move.
	e.clock.Set(t0.Add(31 * time.Minute))
	e.must(http.StatusOK, "POST", path+"/prepare", nil).decode(t, &got)
	if !got.PreparingSince.Equal(t0.Add(30*time.Minute)) || got.Version != c.Version+1 {
		t.Fatalf("prepared again: %+v", got)
	}
	// The list's tabs keep it under upcoming, with its stage.
	var list struct{ Items []campaignView }
	e.must(http.StatusOK, "GET", "/api/v1/campaigns?status=upcoming", nil).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != c.ID || list.Items[0].Stage != "preparing" {
		t.Fatalf("upcoming tab: %+v", list.Items)
	}
	e.must(http.StatusOK, "GET", "/api/v1/campaigns?status=ongoing", nil).decode(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("ongoing tab: %+v", list.Items)
	}

	// The encoder connects (as the RTMP server would after authorisation).
	pub := e.publish(c.ID)
	var pf preflightView
	e.must(http.StatusOK, "GET", path+"/preflight", nil).decode(t, &pf)
	codes := []string{}
	for _, w := range pf.Warnings {
		codes = append(codes, w.Code)
	}
	if pf.Stage != "preparing" || !pf.PublisherConnected || !slices.Contains(codes, "preparing") ||
		slices.Contains(codes, "not_live") || slices.Contains(codes, "no_publisher") {
		t.Fatalf("preflight in preparation: %+v", pf)
	}
	var info viewerInfo
	e.must(http.StatusOK, "GET", "/live/"+c.ID+"/info", nil, noAuth).decode(t, &info)
	if info.Status != "upcoming" || info.Online || info.LiveStartedAt != nil {
		t.Fatalf("viewers' info in preparation: %+v", info)
	}

	// The post's details may still be edited; the campaign may not be
	// deleted or reset while prepared.
	e.must(http.StatusOK, "PATCH", path, map[string]any{"title": "Winter sale, live"}).decode(t, &got)
	if got.Title != "Winter sale, live" || got.Stage != "preparing" {
		t.Fatalf("edited in preparation: %+v", got)
	}
	if r := e.must(http.StatusConflict, "DELETE", path, nil); r.errCode(t) != "campaign_preparing" {
		t.Fatalf("delete in preparation: %s", r.Body)
	}
	if r := e.must(http.StatusConflict, "POST", path+"/reset", map[string]any{"confirm": c.ID}); r.errCode(t) != "campaign_preparing" {
		t.Fatalf("reset in preparation: %s", r.Body)
	}
	if types := e.notes.types(); len(types) != 0 {
		t.Fatalf("notifications during the preparation: %v", types)
	}
	if types := e.eventTypes(c.ID); slices.Contains(types, events.TypeStreamLive) {
		t.Fatalf("events during the preparation: %v", types)
	}

	// Start livestream: the live starts now, with the encoder already there.
	e.clock.Set(t0.Add(40 * time.Minute))
	e.must(http.StatusOK, "POST", path+"/live", nil).decode(t, &got)
	if got.Status != "ongoing" || got.Stage != "live" || got.PreparingSince != nil || got.LiveStartedAt == nil ||
		!got.LiveStartedAt.Equal(t0.Add(40*time.Minute)) || got.Stream == nil || !got.Stream.Online {
		t.Fatalf("live from the preparation: %+v", got)
	}
	select {
	case <-pub.Done():
		t.Fatal("going live disconnected the encoder")
	default:
	}
	if types := e.notes.types(); !slices.Equal(types, []string{EventCampaignLive}) {
		t.Fatalf("notifications: %v", types)
	}
	if types := e.eventTypes(c.ID); !slices.Equal(types, []string{events.TypeStreamLive}) {
		t.Fatalf("events: %v", types)
	}
	e.must(http.StatusOK, "GET", "/live/"+c.ID+"/info", nil, noAuth).decode(t, &info)
	if info.Status != "ongoing" || !info.Online {
		t.Fatalf("viewers' info live: %+v", info)
	}

	// Live, it cannot be prepared or its preparation abandoned.
	for _, m := range []string{"POST", "DELETE"} {
		if r := e.must(http.StatusConflict, m, path+"/prepare", nil); r.errCode(t) != "campaign_live" {
			t.Fatalf("%s prepare while live: %s", m, r.Body)
		}
	}

	// Ended, it may be prepared again for another live; the end stands.
	e.clock.Set(t0.Add(50 * time.Minute))
	e.must(http.StatusOK, "POST", path+"/end", nil).decode(t, &got)
	disconnected(t, pub)
	e.must(http.StatusOK, "POST", path+"/prepare", nil).decode(t, &got)
	if got.Status != "ended" || got.Stage != "preparing" || !got.LiveEndedAt.Equal(t0.Add(50*time.Minute)) {
		t.Fatalf("ended, prepared again: %+v", got)
	}
	e.must(http.StatusOK, "POST", path+"/live", nil).decode(t, &got)
	if got.Status != "ongoing" || got.LiveEndedAt != nil || !got.LiveStartedAt.Equal(t0.Add(50*time.Minute)) {
		t.Fatalf("live again: %+v", got)
	}
}

// TestAbandonPreparation: DELETE …/prepare, or POST …/end from the
// preparation, disconnects the encoder and leaves the campaign as it was
// (status, live times), sending nothing.
func TestAbandonPreparation(t *testing.T) {
	e := newEnv(t)
	c := e.createCampaign(map[string]any{"published": true})
	path := "/api/v1/campaigns/" + c.ID
	e.notes.reset()

	// Nothing to abandon: 200, unchanged.
	var got campaignView
	e.must(http.StatusOK, "DELETE", path+"/prepare", nil).decode(t, &got)
	if got.Version != c.Version || got.Stage != "off_air" {
		t.Fatalf("abandon with no preparation: %+v", got)
	}

	for _, abandon := range []struct{ method, path string }{{"DELETE", "/prepare"}, {"POST", "/end"}} {
		e.must(http.StatusOK, "POST", path+"/prepare", nil)
		pub := e.publish(c.ID)
		e.must(http.StatusOK, abandon.method, path+abandon.path, nil).decode(t, &got)
		if got.Status != "upcoming" || got.Stage != "off_air" || got.PreparingSince != nil ||
			got.LiveStartedAt != nil || got.LiveEndedAt != nil || got.Stream != nil {
			t.Fatalf("%s %s: %+v", abandon.method, abandon.path, got)
		}
		disconnected(t, pub)
		if _, ok := e.hub.Get(c.ID); ok {
			t.Fatal("stream still in the hub after the preparation was abandoned")
		}
	}
	if types := e.notes.types(); len(types) != 0 {
		t.Fatalf("notifications: %v", types)
	}
	if types := e.eventTypes(c.ID); len(types) != 0 {
		t.Fatalf("events: %v", types)
	}
	// Back off air, end is refused as before.
	if r := e.must(http.StatusConflict, "POST", path+"/end", nil); r.errCode(t) != "campaign_not_live" {
		t.Fatalf("end off air: %s", r.Body)
	}

	// An ended campaign's preparation abandoned: still ended, same times.
	e.clock.Set(t0.Add(70 * time.Minute))
	e.must(http.StatusOK, "POST", path+"/live", nil)
	e.clock.Set(t0.Add(80 * time.Minute))
	var ended campaignView
	e.must(http.StatusOK, "POST", path+"/end", nil).decode(t, &ended)
	e.notes.reset()
	e.must(http.StatusOK, "POST", path+"/prepare", nil)
	e.must(http.StatusOK, "POST", path+"/end", nil).decode(t, &got)
	if got.Status != "ended" || got.Stage != "off_air" || !got.LiveStartedAt.Equal(*ended.LiveStartedAt) ||
		!got.LiveEndedAt.Equal(*ended.LiveEndedAt) {
		t.Fatalf("ended campaign's preparation abandoned: %+v, was %+v", got, ended)
	}
	if types := e.notes.types(); len(types) != 0 {
		t.Fatalf("notifications: %v", types)
	}

	// Its end time passing during a preparation: completed, it cannot go
	// live; the preparation may still be abandoned.
	e.must(http.StatusOK, "POST", path+"/prepare", nil)
	e.clock.Set(t0.Add(4 * time.Hour))
	e.must(http.StatusOK, "GET", path, nil).decode(t, &got)
	if got.Status != "completed" || got.Stage != "preparing" {
		t.Fatalf("end time passed in preparation: %+v", got)
	}
	if r := e.must(http.StatusConflict, "POST", path+"/live", nil); r.errCode(t) != "campaign_completed" {
		t.Fatalf("live once completed: %s", r.Body)
	}
	e.must(http.StatusOK, "DELETE", path+"/prepare", nil).decode(t, &got)
	if got.Status != "completed" || got.Stage != "off_air" {
		t.Fatalf("abandoned once completed: %+v", got)
	}
	if r := e.must(http.StatusConflict, "POST", path+"/prepare", nil); r.errCode(t) != "campaign_completed" {
		t.Fatalf("prepare once completed: %s", r.Body)
	}
	e.must(http.StatusNotFound, "POST", "/api/v1/campaigns/nope/prepare", nil)
	e.must(http.StatusNotFound, "DELETE", "/api/v1/campaigns/nope/prepare", nil)
}

// TestPrepareDocumented: the OpenAPI document has both operations, their
// 409, and the campaign's stage.
func TestPrepareDocumented(t *testing.T) {
	e := newEnv(t)
	type op struct {
		OperationID string                    `json:"operationId"`
		Description string                    `json:"description"`
		Responses   map[string]map[string]any `json:"responses"`
	}
	var doc struct {
		Paths      map[string]map[string]op `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/openapi.json", nil).decode(t, &doc)
	ops := doc.Paths["/api/v1/campaigns/{id}/prepare"]
	for method, id := range map[string]string{"post": "prepareLive", "delete": "abandonPreparation"} {
		o, ok := ops[method]
		if !ok || o.OperationID != id {
			t.Fatalf("%s /api/v1/campaigns/{id}/prepare: %+v", method, o)
		}
		if _, ok := o.Responses["409"]; !ok {
			t.Errorf("%s prepare documents no 409", method)
		}
	}
	if d := doc.Paths["/api/v1/campaigns/{id}/live"]["post"].Description; !strings.Contains(d, "preparation") {
		t.Errorf("goLive's description does not mention the preparation: %q", d)
	}
	ref, _ := ops["post"].Responses["200"]["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)["$ref"].(string)
	schema := doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
	stage, ok := schema.Properties["stage"]
	if !ok {
		t.Fatalf("the campaign's schema (%s) has no stage: %v", ref, schema.Properties)
	}
	if enum, _ := stage["enum"].([]any); len(enum) != 3 {
		t.Errorf("stage enum %v", stage["enum"])
	}
	if _, ok := schema.Properties["preparing_since"]; !ok {
		t.Error("the campaign's schema has no preparing_since")
	}
}
