package recorder

import (
	"testing"
	"time"

	"vitrine/store"
)

// TestReplayOffsetsFromRecordingStart: a replay event's offset counts from
// the recording's first frame, not from the first logged event. A campaign
// logs viewer counts and chat before its live (here 75 s of them), and the
// encoder connects a little after go_live: pins 11 s and 4 min into the
// recording are at 11 and 240 in the replay (the issue saw 1:26 and 5:17,
// past the 4:40 end); what came before the first frame is at 0, what comes
// after the last at the end.
func TestReplayOffsetsFromRecordingStart(t *testing.T) {
	rec := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) // the recording's first frame
	at := func(s float64) time.Time { return rec.Add(time.Duration(s * float64(time.Second))) }
	evs := []store.Event{
		ev(1, at(-75), "viewer.count", `{"count":1}`),
		ev(2, at(-60), "chat.message", `{"id":"m1","text":"when does it start?"}`),
		ev(3, at(-30), "viewer.count", `{"count":5}`),
		ev(4, at(-4), "stream.live", `{}`),
		ev(5, at(11), "product.pinned", `{"product":{"id":"p1","name":"Bag"}}`),
		ev(6, at(95.5), "product.unpinned", `{"product_id":"p1"}`),
		ev(7, at(240), "product.pinned", `{"product":{"id":"p2","name":"Shoe"}}`),
		ev(8, at(281), "stream.ended", `{}`),
	}
	// 4:40 of video in 2 s segments.
	var segs []store.RecordingSegment
	for i := range 140 {
		segs = append(segs, store.RecordingSegment{Seq: int64(i), StartAt: at(float64(2 * i)), Duration: 2 * time.Second})
	}
	cm := newClockMap(segs)
	if cm.total() != 280*time.Second {
		t.Fatalf("total %v", cm.total())
	}
	list, more := replayEvents(evs, cm, time.Time{}, time.Time{}, 0, 1000)
	if more || len(list) != len(evs) {
		t.Fatalf("%d events (more %v)", len(list), more)
	}
	want := map[int64]float64{1: 0, 2: 0, 3: 0, 4: 0, 5: 11, 6: 95.5, 7: 240, 8: 280}
	for _, e := range list {
		if e.Offset != want[e.Seq] {
			t.Errorf("%s (seq %d, %v from the first frame): offset %v, want %v", e.Type, e.Seq, e.At.Sub(rec), e.Offset, want[e.Seq])
		}
	}

	// A publisher drop of 30 s after the first pin: the second pin is 30 s
	// earlier in the replay, as the video is.
	var dropped []store.RecordingSegment
	for _, s := range segs {
		if s.StartAt.Before(at(100)) {
			dropped = append(dropped, s)
		} else if !s.StartAt.Before(at(130)) {
			dropped = append(dropped, s)
		}
	}
	list, _ = replayEvents(evs, newClockMap(dropped), time.Time{}, time.Time{}, 0, 1000)
	for _, e := range list {
		if e.Seq == 7 && e.Offset != 210 {
			t.Errorf("pin after a 30 s drop: offset %v, want 210", e.Offset)
		}
		if e.Seq == 5 && e.Offset != 11 {
			t.Errorf("pin before the drop: offset %v, want 11", e.Offset)
		}
	}
}
