package recorder

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"vitrine/internal/testenv"
	"vitrine/store"
)

// liveCampaign creates a campaign that went live a minute ago.
func (e *env) liveCampaign() string {
	e.t.Helper()
	started := time.Now().Add(-time.Minute)
	c := &store.Campaign{Title: "live", StartsAt: started, EndsAt: time.Now().Add(time.Hour), Visibility: "suggested",
		LiveStartedAt: &started}
	if err := e.st.CreateCampaign(e.t.Context(), c); err != nil {
		e.t.Fatal(err)
	}
	if c, err := e.st.GetCampaign(e.t.Context(), c.ID); err != nil || c.Status(time.Now()) != store.StatusOngoing {
		e.t.Fatalf("campaign not live: %+v %v", c, err)
	}
	return c.ID
}

// endLive ends the campaign's live in the store, as the API's end does
// before it closes the stream.
func (e *env) endLive(id string) {
	e.t.Helper()
	c, err := e.st.GetCampaign(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now()
	c.LiveEndedAt = &now
	if err := e.st.UpdateCampaign(e.t.Context(), c); err != nil {
		e.t.Fatal(err)
	}
}

// waitSessionsDone waits for the sessions written for campaign id to end.
func (e *env) waitSessionsDone(id string) {
	e.t.Helper()
	e.rec.mu.Lock()
	j := e.rec.jobs[id]
	e.rec.mu.Unlock()
	if j == nil {
		e.t.Fatalf("%s was not recorded", id)
	}
	select {
	case <-j.done:
	case <-time.After(20 * time.Second):
		e.t.Fatalf("the session of %s did not end", id)
	}
}

// replayPlaylist is the replay's playlist as served.
func (e *env) replayPlaylist(id string) string {
	e.t.Helper()
	mux := http.NewServeMux()
	e.rec.Register(mux)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/replay/"+id+"/index.m3u8", nil))
	if w.Code != 200 {
		e.t.Fatalf("replay of %s: %d %s", id, w.Code, w.Body)
	}
	return w.Body.String()
}

// checkOpen: the recording is open: state recording, an EVENT playlist
// without an end, with segments.
func (e *env) checkOpen(id, when string) string {
	e.t.Helper()
	rec, err := e.st.GetRecording(e.t.Context(), id)
	if err != nil || rec.State != store.RecordingActive || rec.EndedAt != nil {
		e.t.Fatalf("%s: recording %+v %v, want it open (state recording)", when, rec, err)
	}
	pl := e.replayPlaylist(id)
	if !strings.Contains(pl, "#EXT-X-PLAYLIST-TYPE:EVENT") || strings.Contains(pl, "#EXT-X-ENDLIST") ||
		!strings.Contains(pl, ".m4s") {
		e.t.Fatalf("%s: playlist\n%s\nwant an EVENT playlist without an end", when, pl)
	}
	return pl
}

// checkFinal: the recording is ready, a VOD playlist with an end that
// begins with the open one's segments.
func (e *env) checkFinal(id, open string, sessions int) string {
	e.t.Helper()
	rec := e.waitState(id, store.RecordingReady)
	if rec.EndedAt == nil {
		e.t.Fatalf("ready without an end: %+v", rec)
	}
	ss, err := e.st.ListRecordingSessions(e.t.Context(), id)
	if err != nil || len(ss) != sessions {
		e.t.Fatalf("%d sessions (%v), want %d", len(ss), err, sessions)
	}
	pl := e.replayPlaylist(id)
	if !strings.Contains(pl, "#EXT-X-PLAYLIST-TYPE:VOD") || !strings.Contains(pl, "#EXT-X-ENDLIST") {
		e.t.Fatalf("final playlist\n%s", pl)
	}
	if n := strings.Count(pl, "#EXT-X-DISCONTINUITY\n"); n != sessions-1 {
		e.t.Fatalf("%d discontinuities for %d sessions:\n%s", n, sessions, pl)
	}
	if !bytes.HasPrefix([]byte(segmentLines(pl)), []byte(segmentLines(open))) {
		e.t.Fatalf("the final playlist does not continue the open one:\n%s\nthen\n%s", open, pl)
	}
	return pl
}

// segmentLines are a playlist's segment URIs, one a line.
func segmentLines(pl string) string {
	var out []string
	for _, l := range strings.Split(pl, "\n") {
		if strings.HasSuffix(l, ".m4s") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestRecordingOpenWhileCampaignLive: while its campaign is live, a
// recording stays open (state recording, an EVENT playlist without an
// end) when its stream closes (the publisher gone past the reconnect
// window) and across a restart of the recorder, which repairs it as after
// a crash; the next publish continues it, and the campaign's end
// finalises it (VOD, ENDLIST, ready), whether a stream is open then or
// not. Only then is the playlist VOD: a VOD playlist never changes.
func TestRecordingOpenWhileCampaignLive(t *testing.T) {
	testenv.RequireFFmpeg(t)
	old := endCheckEvery
	endCheckEvery = 100 * time.Millisecond
	t.Cleanup(func() { endCheckEvery = old })
	e := newEnv(t, nil)
	e.start()
	a, b := e.liveCampaign(), e.liveCampaign()
	for _, id := range []string{a, b} {
		e.push(id, 2)
		e.hub.End(id) // what the reconnect window's expiry does
		e.waitSessionsDone(id)
	}
	time.Sleep(300 * time.Millisecond) // awaitEnds looked: the campaigns are live
	e.checkOpen(a, "stream closed during the live")
	e.checkOpen(b, "stream closed during the live")

	// A restart during the live: the repair of a crash leaves them open.
	e.rec.Close()
	rec, err := New(e.rec.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rec.Close)
	e.rec = rec
	e.start()
	if !strings.Contains(e.log.String(), "the campaign is live: the recording stays open") {
		t.Errorf("no recovery logged:\n%s", e.log.String())
	}
	time.Sleep(300 * time.Millisecond)
	openA := e.checkOpen(a, "after a restart")
	openB := e.checkOpen(b, "after a restart")

	// The next publish continues a's recording; its end finalises it.
	e.push(a, 2)
	openA2 := e.checkOpen(a, "after the next publish")
	if !strings.HasPrefix(segmentLines(openA2), segmentLines(openA)) || segmentLines(openA2) == segmentLines(openA) {
		t.Fatalf("the next publish did not continue the recording:\n%s\nthen\n%s", openA, openA2)
	}
	e.endLive(a)
	e.hub.End(a)
	e.checkFinal(a, openA2, 2)

	// b's end comes with no stream open: no session ends to say it.
	e.endLive(b)
	if e.hub.End(b) {
		t.Fatal("b had a stream")
	}
	e.checkFinal(b, openB, 1)
}
