package recorder

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"vitrine/events"
	"vitrine/store"
)

func ev(seq int64, at time.Time, typ, data string) store.Event {
	return store.Event{Seq: seq, At: at, Type: typ, Data: json.RawMessage(data)}
}

func TestProductsTimelineAndVisibleEvents(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	evs := []store.Event{
		ev(1, at(0), "stream.live", `{}`),
		ev(2, at(10), "product.pinned", `{"product":{"id":"p1","name":"Bag"}}`),
		ev(3, at(11), "chat.message", `{"id":"m1","text":"hi"}`),
		ev(4, at(12), "chat.message", `{"id":"m2","text":"spam"}`),
		ev(5, at(15), "product.pinned", `{"product":{"id":"p2","name":"Shoe"}}`),
		ev(6, at(20), "product.unpinned", `{"product_id":"p1"}`),
		ev(7, at(21), "chat.deleted", `{"message_id":"m2"}`),
		ev(8, at(22), "poll.opened", `{"id":"q1"}`), // a type the recorder does not know
		ev(9, at(30), "product.pinned", `{"product":{"id":"p1","name":"Bag"}}`),
		ev(10, at(40), "stream.ended", `{}`),
		ev(11, at(41), "product.unpinned", `{"product_id":"p2"}`), // after the end: ignored
		ev(12, at(42), "product.pinned", `{broken`),
	}
	tl := productsTimeline(evs, time.Time{})
	if len(tl) != 2 || tl[0].ProductID != "p1" || tl[1].ProductID != "p2" {
		t.Fatalf("order: %+v", tl)
	}
	p1 := tl[0]
	if len(p1.Intervals) != 2 || p1.Intervals[0].Duration != 10 || p1.Intervals[0].Open ||
		p1.Intervals[1].Duration != 10 || !p1.Intervals[1].Open || p1.Total != 20 || p1.Intervals[1].PinSeq != 9 {
		t.Fatalf("p1: %+v", p1)
	}
	if p2 := tl[1]; len(p2.Intervals) != 1 || p2.Total != 25 || !p2.Intervals[0].Open {
		t.Fatalf("p2: %+v", p2)
	}
	// A live still running: open intervals end at liveEnd.
	tl = productsTimeline(evs[:6], at(100))
	if tl[1].Total != 85 {
		t.Fatalf("open interval to the live's end: %+v", tl[1])
	}

	var types []string
	for _, e := range visible(evs) {
		types = append(types, e.Type)
		if strings.Contains(string(e.Data), "spam") {
			t.Fatal("deleted message kept")
		}
	}
	if got := strings.Join(types, ","); strings.Contains(got, "chat.deleted") || !strings.Contains(got, "poll.opened") {
		t.Fatalf("visible: %s", got)
	}

	// Offsets across a publisher drop: segments 0-10 s, then 20-30 s.
	segs := []store.RecordingSegment{{StartAt: at(0), Duration: 10 * time.Second}, {StartAt: at(20), Duration: 10 * time.Second}}
	cm := newClockMap(segs)
	for _, c := range []struct{ at, want float64 }{{-5, 0}, {3, 3}, {15, 10}, {25, 15}, {99, 20}} {
		if got := cm.offset(at(c.at)).Seconds(); got != c.want {
			t.Errorf("offset of %v s: %v, want %v", c.at, got, c.want)
		}
	}
	list, more := replayEvents(evs, cm, at(10), at(21), 0, 2)
	if len(list) != 2 || !more || list[0].Seq != 2 || list[1].Seq != 3 {
		t.Fatalf("window: %+v %v", list, more)
	}
}

// TestReplayTimelineIsPublic: the replay timeline is what viewers may see:
// no host-only event (one viewer's vote, survey answer, draw entry, bans,
// the word filter...), and no chat line a moderator deleted, whether a
// message, a question or an answer.
func TestReplayTimelineIsPublic(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var evs []store.Event
	add := func(typ, data string) {
		evs = append(evs, ev(int64(len(evs)+1), t0.Add(time.Duration(len(evs))*time.Second), typ, data))
	}
	add("chat.question", `{"id":"q1","viewer_id":"v1","text":"rude question"}`)
	add("chat.question", `{"id":"q2","viewer_id":"v2","text":"fine question"}`)
	add("chat.answer", `{"id":"a1","text":"rude answer","reply_to":"q1"}`)
	add("chat.message", `{"id":"m1","viewer_id":"v3","text":"rude message"}`)
	add("chat.deleted", `{"message_id":"q1"}`)
	add("chat.deleted", `{"message_id":"a1"}`)
	add("chat.deleted", `{"message_id":"m1"}`)
	viewersNever := slices.Sorted(maps.Keys(events.HostOnly))
	for _, typ := range viewersNever {
		add(typ, `{"viewer_id":"v9","comment":"private"}`)
	}
	add("poll.results", `{"poll_id":"p1","votes":[1,0],"total":1}`)

	cm := newClockMap([]store.RecordingSegment{{StartAt: t0, Duration: time.Hour}})
	list, more := replayEvents(evs, cm, time.Time{}, time.Time{}, 0, 1000)
	var got []string
	for _, e := range list {
		got = append(got, e.Type)
		if strings.Contains(string(e.Data), "rude") || strings.Contains(string(e.Data), "private") {
			t.Errorf("not for viewers: %s %s", e.Type, e.Data)
		}
	}
	if more || strings.Join(got, ",") != "chat.question,poll.results" {
		t.Fatalf("replay timeline: %v (more %v)", got, more)
	}
}
