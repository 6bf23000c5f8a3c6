package analytics

import (
	"testing"
	"time"

	"vitrine/store"
)

// TestSessionRecorderLikes: the likes the server sees become like events
// of their viewers, one per viewer every LikeEvery, so that a viewer who
// only liked counts as engaged without a write per tap.
func TestSessionRecorderLikes(t *testing.T) {
	sc := newScript(t)
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	r := NewSessionRecorder(sc.st, nil)
	r.now = func() time.Time { return now }
	for range 20 {
		r.Like(sc.st.c.ID, "v_ann")
	}
	r.Like(sc.st.c.ID, "v_bob")
	now = now.Add(LikeEvery)
	r.sweep(now, false)
	r.Like(sc.st.c.ID, "v_ann")
	r.Flush(t.Context())

	var got []string
	err := sc.st.ScanTrackedEvents(t.Context(), store.TrackedQuery{CampaignID: sc.st.c.ID, Types: []string{TypeLike}},
		func(e *store.TrackedEvent) error { got = append(got, e.ViewerID); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != "v_ann" || got[1] != "v_bob" || got[2] != "v_ann" {
		t.Fatalf("like events %v, want v_ann, v_bob, then v_ann again after %v", got, LikeEvery)
	}
}
