package storetest

import (
	"testing"
	"time"

	"vitrine/store"
)

// testRecordings: the recorder's index round-trips, upserts, lists in
// order, trims a tail, cascades with the campaign and is deleted alone.
func testRecordings(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := createCampaign(t, s, newCampaign("Rec", base, base.Add(time.Hour)))

	if _, err := s.GetRecording(ctx, c.ID); err == nil {
		t.Fatal("a recording before any was saved")
	} else {
		isErr(t, err, store.ErrNotFound)
	}
	isErr(t, s.SaveRecording(ctx, &store.Recording{CampaignID: "cmp_nope", State: store.RecordingActive, StartedAt: base}),
		store.ErrNotFound)
	isErr(t, s.SaveRecordingSession(ctx, &store.RecordingSession{CampaignID: c.ID, Session: 1, StartedAt: base}),
		store.ErrNotFound) // no recording row yet

	rec := &store.Recording{CampaignID: c.ID, State: store.RecordingActive, StartedAt: base}
	must(t, s.SaveRecording(ctx, rec))
	got, err := s.GetRecording(ctx, c.ID)
	must(t, err)
	equal(t, "recording", got, &store.Recording{CampaignID: c.ID, State: store.RecordingActive, StartedAt: norm(base),
		UpdatedAt: rec.UpdatedAt})

	sess := &store.RecordingSession{CampaignID: c.ID, Session: 1, InitPath: c.ID + "/s1/init.mp4", Tracks: "H264,AAC", StartedAt: base}
	must(t, s.SaveRecordingSession(ctx, sess))
	for i := int64(1); i <= 4; i++ {
		seg := &store.RecordingSegment{CampaignID: c.ID, Seq: i, Session: 1, Path: "p", StartAt: base.Add(time.Duration(i) * time.Second),
			MediaStart: time.Duration(i) * time.Second, Duration: 1500 * time.Millisecond, Size: 100 * i, Discontinuity: i == 1}
		must(t, s.SaveRecordingSegment(ctx, seg))
	}
	// Upsert: the last fragment completes segment 4.
	must(t, s.SaveRecordingSegment(ctx, &store.RecordingSegment{CampaignID: c.ID, Seq: 4, Session: 1, Path: "p",
		StartAt: base.Add(4 * time.Second), MediaStart: 4 * time.Second, Duration: 2*time.Second + 1234*time.Nanosecond,
		Size: 999, Complete: true}))
	segs, err := s.ListRecordingSegments(ctx, c.ID)
	must(t, err)
	if len(segs) != 4 || segs[0].Seq != 1 || !segs[0].Discontinuity || segs[1].Discontinuity {
		t.Fatalf("segments: %+v", segs)
	}
	equal(t, "segment 4", segs[3], store.RecordingSegment{CampaignID: c.ID, Seq: 4, Session: 1, Path: "p",
		StartAt: norm(base.Add(4 * time.Second)), MediaStart: 4 * time.Second, Duration: 2*time.Second + time.Microsecond,
		Size: 999, Complete: true})

	ended := base.Add(time.Minute)
	sess.EndedAt = &ended
	must(t, s.SaveRecordingSession(ctx, sess))
	ss, err := s.ListRecordingSessions(ctx, c.ID)
	must(t, err)
	if len(ss) != 1 || ss[0].EndedAt == nil || !ss[0].EndedAt.Equal(norm(ended)) || ss[0].Tracks != "H264,AAC" {
		t.Fatalf("sessions: %+v", ss)
	}

	must(t, s.DeleteRecordingSegments(ctx, c.ID, 3))
	segs, err = s.ListRecordingSegments(ctx, c.ID)
	must(t, err)
	if len(segs) != 2 {
		t.Fatalf("after trimming from 3: %d segments", len(segs))
	}
	all, err := s.ListRecordings(ctx)
	must(t, err)
	if len(all) != 1 || all[0].CampaignID != c.ID {
		t.Fatalf("ListRecordings: %+v", all)
	}

	must(t, s.DeleteRecording(ctx, c.ID))
	must(t, s.DeleteRecording(ctx, c.ID)) // none left: not an error
	if segs, err := s.ListRecordingSegments(ctx, c.ID); err != nil || len(segs) != 0 {
		t.Fatalf("after delete: %v %v", segs, err)
	}

	// Deleting the campaign deletes its index.
	must(t, s.SaveRecording(ctx, rec))
	must(t, s.SaveRecordingSession(ctx, sess))
	deleteCampaign(t, s, c.ID)
	if all, err := s.ListRecordings(ctx); err != nil || len(all) != 0 {
		t.Fatalf("after campaign delete: %v %v", all, err)
	}
}

// testResetCampaignLive: the live's events, orders and recording go, the
// campaign is upcoming again, and the event sequence starts over.
func testResetCampaignLive(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := createProducts(t, s, 1)
	c := newCampaign("Reset", base, base.Add(48*time.Hour))
	c.ProductIDs = p
	createCampaign(t, s, c)
	other := createCampaign(t, s, newCampaign("Other", base, base.Add(48*time.Hour)))

	started, endedAt := base.Add(time.Minute), base.Add(time.Hour)
	c.LiveStartedAt, c.LiveEndedAt = &started, &endedAt
	must(t, s.UpdateCampaign(ctx, c))
	version := c.Version
	for _, id := range []string{c.ID, other.ID} {
		_, err := s.AppendEvent(ctx, id, "product.pinned", base, []byte(`{}`))
		must(t, err)
		_, err = s.CreateOrder(ctx, &store.Order{CampaignID: id, Code: "A1", Total: "1.00", Currency: "EUR"})
		must(t, err)
		must(t, s.SaveRecording(ctx, &store.Recording{CampaignID: id, State: store.RecordingReady, StartedAt: base}))
	}

	got, err := s.ResetCampaignLive(ctx, c.ID)
	must(t, err)
	if got.LiveStartedAt != nil || got.LiveEndedAt != nil || got.Version != version+1 || len(got.ProductIDs) != 1 {
		t.Fatalf("reset campaign: %+v", got)
	}
	if got.Status(base.Add(2*time.Hour)) != store.StatusUpcoming {
		t.Fatalf("status after reset: %s", got.Status(base.Add(2*time.Hour)))
	}
	if evs, _ := s.ListEvents(ctx, c.ID, 0, 0); len(evs) != 0 {
		t.Fatalf("events left: %v", evs)
	}
	if orders, _, _ := s.ListOrders(ctx, c.ID, store.Page{}); len(orders) != 0 {
		t.Fatalf("orders left: %v", orders)
	}
	if _, err := s.GetRecording(ctx, c.ID); err == nil {
		t.Fatal("recording left")
	}
	// The sequence starts over.
	seq, err := s.AppendEvent(ctx, c.ID, "stream.live", base, []byte(`{}`))
	must(t, err)
	if seq != 1 {
		t.Fatalf("first event after reset: seq %d", seq)
	}
	// The other campaign kept everything.
	if evs, _ := s.ListEvents(ctx, other.ID, 0, 0); len(evs) != 1 {
		t.Fatalf("other campaign's events: %v", evs)
	}
	if _, err := s.GetRecording(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.ResetCampaignLive(ctx, "cmp_nope")
	isErr(t, err, store.ErrNotFound)
}
