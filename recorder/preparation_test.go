package recorder

import (
	"errors"
	"os"
	"testing"
	"time"

	"vitrine/internal/testenv"
	"vitrine/store"
)

// preparing creates a campaign in preparation (its host's rehearsal).
func (e *env) preparing() string {
	e.t.Helper()
	since := time.Now()
	c := &store.Campaign{Title: "t", StartsAt: time.Now(), EndsAt: time.Now().Add(time.Hour), Visibility: "suggested",
		PreparingSince: &since}
	if err := e.st.CreateCampaign(e.t.Context(), c); err != nil {
		e.t.Fatal(err)
	}
	return c.ID
}

// change applies fn to the stored campaign id, as the API does.
func (e *env) change(id string, fn func(c *store.Campaign)) {
	e.t.Helper()
	c, err := e.st.GetCampaign(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	fn(c)
	if err := e.st.UpdateCampaign(e.t.Context(), c); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) waitOnline(id string) {
	e.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st, ok := e.hub.Get(id); ok && st.Stats().Online && len(st.Tracks()) > 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: no publisher", id)
		}
	}
}

// TestPreparationNotRecorded: while a campaign is in preparation its
// encoder's frames are not recorded (no recording, no reader); once it
// goes live, the recording starts with the first keyframe captured from
// the live's start, so that the replay lasts as long as the live. An
// abandoned preparation leaves no recording at all.
func TestPreparationNotRecorded(t *testing.T) {
	testenv.RequireFFmpeg(t)
	e := newEnv(t, nil)
	e.start()
	ctx := t.Context()

	id := e.preparing()
	p := testenv.Push(t, testenv.DefaultSource(9), "rtmp://"+e.rtmp.Addr().String()+"/live/"+id)
	e.waitOnline(id)
	time.Sleep(3 * time.Second) // the rehearsal
	if _, err := e.st.GetRecording(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("recording during the preparation: %v", err)
	}
	st, _ := e.hub.Get(id)
	if n := st.Stats().Readers["recorder"]; n != 0 {
		t.Fatalf("%d recorder readers during the preparation", n)
	}

	var liveAt time.Time
	e.change(id, func(c *store.Campaign) {
		liveAt = time.Now()
		c.LiveStartedAt, c.PreparingSince = &liveAt, nil
	})
	if err, out := p.Wait(40 * time.Second); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	pushedLive := time.Since(liveAt)
	e.change(id, func(c *store.Campaign) {
		ended := time.Now()
		c.LiveEndedAt = &ended
	})
	e.hub.End(id)
	e.waitState(id, store.RecordingReady)
	rc, err := e.rec.load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.segs) == 0 {
		t.Fatal("nothing recorded after the live began")
	}
	first := rc.segs[0].StartAt
	if first.Before(liveAt.Truncate(time.Microsecond)) || first.Sub(liveAt) > 1500*time.Millisecond {
		t.Fatalf("the recording starts at %v, the live at %v: want the first keyframe from the live's start (GOP 1 s)",
			first, liveAt)
	}
	var total time.Duration
	for _, s := range rc.segs {
		total += s.Duration
	}
	// ffmpeg pushed 9 s in real time, about 3 of them before the live.
	if total > pushedLive+500*time.Millisecond || total < pushedLive-2*time.Second {
		t.Fatalf("recorded %v; the live lasted %v of the push", total, pushedLive)
	}
	t.Logf("recorded %v of a %v live; first keyframe %v after the live's start", total, pushedLive, first.Sub(liveAt))
	if rc.sessions[1].StartedAt.Before(liveAt.Truncate(time.Microsecond)) {
		t.Fatalf("session started at %v, before the live at %v", rc.sessions[1].StartedAt, liveAt)
	}

	// Abandoned: nothing recorded, nothing on disk.
	id = e.preparing()
	e.push(id, 3)
	e.change(id, func(c *store.Campaign) { c.PreparingSince = nil })
	e.hub.End(id)
	time.Sleep(4 * liveCheckEvery)
	if _, err := e.st.GetRecording(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("recording of an abandoned preparation: %v", err)
	}
	if _, err := os.Stat(e.rec.dirOf(id)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("files of an abandoned preparation: %v", err)
	}
}
