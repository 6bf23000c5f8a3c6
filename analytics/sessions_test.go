package analytics

import (
	"fmt"
	"strings"
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
	now = now.Add(time.Millisecond) // events of one instant come in no set order
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

// TestSessionRecorderHLSReplay: a replay viewer's requests — its playlist
// once, then a segment a second for 20 minutes, with a burst of segments
// at the start as its buffer fills — make one session: an hls.start, an
// hls.heartbeat every HeartbeatEvery however many requests, and an
// hls.end at its last request. After a pause longer than HLSIdle, a
// segment alone starts its next session. A bot makes none.
func TestSessionRecorderHLSReplay(t *testing.T) {
	sc := newScript(t)
	id := sc.st.c.ID
	start := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	now := start
	r := NewSessionRecorder(sc.st, nil)
	r.now = func() time.Time { return now }
	const ua = "Lavf/61.7.100"
	const bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	r.HLSRequest(id, "", "192.0.2.1", ua) // the playlist
	r.HLSRequest(id, "", "192.0.2.9", bot)
	for range 500 {
		r.HLSRequest(id, "", "192.0.2.1", ua) // the buffer fills
	}
	const watch = 20 * time.Minute
	for now.Before(start.Add(watch)) {
		now = now.Add(time.Second)
		r.HLSRequest(id, "", "192.0.2.1", ua)
		r.HLSRequest(id, "", "192.0.2.9", bot)
		if now.Second() == 0 {
			r.sweep(now, false)
		}
	}
	last := now
	now = now.Add(HLSIdle)
	r.sweep(now, false)
	// Back after the pause: a segment request.
	now = now.Add(time.Second)
	r.HLSRequest(id, "", "192.0.2.1", ua)
	r.sweep(now.Add(HLSIdle), false)
	r.Flush(t.Context())

	count := map[string]int{}
	var first, end []time.Time
	sessions := map[string]bool{}
	err := sc.st.ScanTrackedEvents(t.Context(), store.TrackedQuery{CampaignID: id},
		func(e *store.TrackedEvent) error {
			count[e.Type]++
			sessions[e.SessionID] = true
			if e.Device != Other {
				t.Errorf("%s device %q, want other", e.Type, e.Device)
			}
			switch e.Type {
			case TypeHLSStart:
				first = append(first, e.At)
			case TypeHLSEnd:
				end = append(end, e.At)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	beats := int(watch / HeartbeatEvery)
	if count[TypeHLSStart] != 2 || count[TypeHLSHeartbeat] != beats || count[TypeHLSEnd] != 2 || len(sessions) != 2 || len(count) != 3 {
		t.Fatalf("events %v in %d sessions; want 2 hls.start, %d hls.heartbeat, 2 hls.end in 2 sessions (none of the bot)",
			count, len(sessions), beats)
	}
	if !first[0].Equal(start) || !end[0].Equal(last) || !first[1].Equal(last.Add(HLSIdle+time.Second)) {
		t.Fatalf("sessions %v..%v; want %v..%v, then one from %v", first, end, start, last, last.Add(HLSIdle+time.Second))
	}
}

// TestSessionRecorderNamedViewersBounded: one address naming ever new
// viewer ids opens at most MaxNamedPerAddress sessions under them; the
// rest count as that address's one anonymous viewer. Loopback is exempt,
// and the bound frees as the sessions end.
func TestSessionRecorderNamedViewersBounded(t *testing.T) {
	sc := newScript(t)
	id := sc.st.c.ID
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	r := NewSessionRecorder(sc.st, nil)
	r.now = func() time.Time { return now }
	const ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
	extra := 50
	for i := range MaxNamedPerAddress + extra {
		r.HLSRequest(id, fmt.Sprintf("v_made_up_%d", i), "203.0.113.7", ua)
		r.HLSRequest(id, fmt.Sprintf("v_local_%d", i), "127.0.0.1", ua)
	}
	viewers := func() map[string]bool {
		t.Helper()
		r.Flush(t.Context())
		got := map[string]bool{}
		err := sc.st.ScanTrackedEvents(t.Context(), store.TrackedQuery{CampaignID: id, Types: []string{TypeHLSStart}},
			func(e *store.TrackedEvent) error { got[e.ViewerID] = true; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := viewers()
	var madeUp, local, anonymous int
	for v := range got {
		switch {
		case strings.HasPrefix(v, "v_made_up_"):
			madeUp++
		case strings.HasPrefix(v, "v_local_"):
			local++
		case strings.HasPrefix(v, "hls-"):
			anonymous++
		}
	}
	if madeUp != MaxNamedPerAddress || anonymous != 1 || local != MaxNamedPerAddress+extra {
		t.Fatalf("%d named, %d anonymous from one address; %d from loopback: want %d, 1, %d",
			madeUp, anonymous, local, MaxNamedPerAddress, MaxNamedPerAddress+extra)
	}
	// Once those sessions ended, the address may name viewers again.
	now = now.Add(HLSIdle)
	r.sweep(now, false)
	r.HLSRequest(id, "v_back", "203.0.113.7", ua)
	if !viewers()["v_back"] {
		t.Fatal("a named viewer refused after the address's sessions ended")
	}
}
