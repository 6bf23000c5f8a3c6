package stream

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"
)

var quiet = slog.New(slog.DiscardHandler)

func newTestHub(t testing.TB, queue int, window time.Duration) *Hub {
	t.Helper()
	h, err := NewHub(Config{ReaderQueue: queue, ReconnectWindow: window, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func avTracks() []*Track {
	return []*Track{
		{Index: 0, Codec: &H264{SPS: []byte{0x67, 1}, PPS: []byte{0x68, 1}}},
		{Index: 1, Codec: &Opus{ChannelCount: 2}},
	}
}

// paced writes units as a publisher sending in real time would: each
// arrives at its DTS after start, so that the clock settles within a few
// frames and hands them on (a burst is held while it settles).
type paced struct {
	p     *Publisher
	start time.Time
}

func pace(p *Publisher) paced { return paced{p, time.Now()} }

func (w paced) Write(u *Unit) { w.p.WriteAt(u, w.start.Add(u.DTS)) }

// frame returns the i-th video unit of a 30 fps stream with a keyframe every gop frames.
func frame(i, gop int) *Unit {
	ts := time.Duration(i) * time.Second / 30
	return &Unit{Track: 0, PTS: ts, DTS: ts, Key: i%gop == 0, Payload: [][]byte{{byte(i)}}}
}

func collect(t *testing.T, r *Reader, n int) []*Unit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got []*Unit
	errDone := errors.New("done")
	err := r.Run(ctx, func(u *Unit) error {
		got = append(got, u)
		if len(got) == n {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("reader stopped after %d/%d units: %v", len(got), n, err)
	}
	return got
}

func TestNewReaderStartsAtCachedKeyframe(t *testing.T) {
	h := newTestHub(t, 64, time.Second)
	p, err := h.Publish("s", PublisherInfo{Protocol: "test"}, avTracks())
	if err != nil {
		t.Fatal(err)
	}
	w := pace(p)
	for i := range 15 { // keyframes at 0 and 10
		w.Write(frame(i, 10))
	}
	s, _ := h.Get("s")
	r, err := s.AddReader("test")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(frame(15, 10))
	got := collect(t, r, 6)
	if !got[0].Key || got[0].Payload[0][0] != 10 {
		t.Fatalf("first unit = frame %d key=%v, want keyframe 10", got[0].Payload[0][0], got[0].Key)
	}
	for i, u := range got {
		if want := byte(10 + i); u.Payload[0][0] != want {
			t.Fatalf("unit %d is frame %d, want %d", i, u.Payload[0][0], want)
		}
	}
}

func TestReaderWithoutCacheWaitsForKeyframe(t *testing.T) {
	h := newTestHub(t, 64, time.Second)
	p, _ := h.Publish("s", PublisherInfo{}, avTracks())
	s, _ := h.Get("s")
	r, _ := s.AddReader("test")
	w := pace(p)
	for i := 1; i < 25; i++ { // frame 0 never sent: first keyframe is 10
		w.Write(frame(i, 10))
	}
	got := collect(t, r, 1)
	if got[0].Payload[0][0] != 10 {
		t.Fatalf("first unit = frame %d, want keyframe 10", got[0].Payload[0][0])
	}
	if r.Dropped() != 9 {
		t.Fatalf("dropped = %d, want 9 (frames 1..9)", r.Dropped())
	}
}

// A reader that never reads must not delay the publisher or a healthy reader,
// and after overflowing it must resume on a keyframe.
func TestStalledReaderDoesNotDelayHealthyReader(t *testing.T) {
	const frames, gop = 3000, 30
	h := newTestHub(t, 64, time.Second)
	p, _ := h.Publish("s", PublisherInfo{}, avTracks())
	s, _ := h.Get("s")
	stalled, _ := s.AddReader("stalled")
	healthy, _ := s.AddReader("healthy")

	w := pace(p)
	var wg sync.WaitGroup
	var received []byte
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = healthy.Run(ctx, func(u *Unit) error {
			received = append(received, u.Payload[0][0])
			if len(received) == frames {
				return errors.New("done")
			}
			return nil
		})
	})
	for i := range frames {
		w.Write(frame(i, gop))
		if i%32 == 0 { // let the healthy reader keep up (the clock hands on its first frames at once); the stalled one never reads
			time.Sleep(time.Millisecond)
		}
	}
	wg.Wait()
	if healthy.Dropped() != 0 || len(received) != frames {
		t.Fatalf("healthy reader got %d/%d units, dropped %d", len(received), frames, healthy.Dropped())
	}
	if stalled.Dropped() == 0 {
		t.Fatal("stalled reader dropped nothing, so it was not stalled")
	}
	// The stalled reader now reads: its first unit must be a keyframe.
	got := collect(t, stalled, 1)
	if !got[0].Key {
		t.Fatal("stalled reader resumed on a non-keyframe")
	}
	if st := s.Stats(); st.Dropped != stalled.Dropped() {
		t.Fatalf("stream counts %d dropped units, reader %d", st.Dropped, stalled.Dropped())
	}
}

func TestSecondPublisherRefused(t *testing.T) {
	h := newTestHub(t, 64, time.Second)
	if _, err := h.Publish("s", PublisherInfo{}, avTracks()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Publish("s", PublisherInfo{}, avTracks()); !errors.Is(err, ErrAlreadyPublishing) {
		t.Fatalf("second publish: %v, want ErrAlreadyPublishing", err)
	}
}

func TestReconnectContinuesTimeline(t *testing.T) {
	h := newTestHub(t, 256, time.Minute)
	var events []EventKind
	h.Listen(func(e Event) { events = append(events, e.Kind) })

	p1, _ := h.Publish("s", PublisherInfo{}, avTracks())
	s, _ := h.Get("s")
	r, _ := s.AddReader("test")
	w1 := pace(p1)
	for i := range 30 {
		w1.Write(frame(i+100, 10)) // arbitrary session origin
	}
	p1.Close()
	p2, err := h.Publish("s", PublisherInfo{}, avTracks())
	if err != nil {
		t.Fatal(err)
	}
	if s2, _ := h.Get("s"); s2 != s {
		t.Fatal("reconnect created a new stream")
	}
	w2 := pace(p2)
	for i := range 30 {
		w2.Write(frame(i, 10)) // a new session starting from zero
	}
	got := collect(t, r, 60)
	for i := 1; i < len(got); i++ {
		if d := got[i].DTS - got[i-1].DTS; d <= 0 || d > 40*time.Millisecond {
			t.Fatalf("unit %d: DTS step %v, want one frame", i, d)
		}
	}
	if got[0].DTS != 0 {
		t.Fatalf("stream starts at %v, want 0", got[0].DTS)
	}
	want := []EventKind{EventReady, EventOffline, EventResumed}
	if len(events) != len(want) {
		t.Fatalf("events %v, want %v", events, want)
	}
	for i := range want {
		if events[i] != want[i] {
			t.Fatalf("events %v, want %v", events, want)
		}
	}
}

func TestReconnectWithNewCodecEndsReaders(t *testing.T) {
	h := newTestHub(t, 64, time.Minute)
	p1, _ := h.Publish("s", PublisherInfo{}, avTracks())
	s, _ := h.Get("s")
	r, _ := s.AddReader("test")
	p1.Close()
	tracks := avTracks()
	tracks[0].Codec = &H264{SPS: []byte{0x67, 2}, PPS: []byte{0x68, 2}}
	if _, err := h.Publish("s", PublisherInfo{}, tracks); err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background(), func(*Unit) error { return nil }); !errors.Is(err, ErrTracksChanged) {
		t.Fatalf("reader ended with %v, want ErrTracksChanged", err)
	}
}

func TestReconnectWindowExpiry(t *testing.T) {
	h := newTestHub(t, 64, 50*time.Millisecond)
	closed := make(chan struct{})
	h.Listen(func(e Event) {
		if e.Kind == EventClosed {
			close(closed)
		}
	})
	p, _ := h.Publish("s", PublisherInfo{}, avTracks())
	s, _ := h.Get("s")
	r, _ := s.AddReader("test")
	p.Write(frame(0, 10))
	p.Close()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("stream not closed after the reconnect window")
	}
	if _, ok := h.Get("s"); ok {
		t.Fatal("closed stream still registered")
	}
	// The queued unit is delivered before the reader learns the stream closed.
	var n int
	err := r.Run(context.Background(), func(*Unit) error { n++; return nil })
	if !errors.Is(err, ErrStreamClosed) || n != 1 {
		t.Fatalf("reader got %d units then %v, want 1 then ErrStreamClosed", n, err)
	}
}

func TestEndKicksPublisher(t *testing.T) {
	h := newTestHub(t, 64, time.Minute)
	p, _ := h.Publish("s", PublisherInfo{}, avTracks())
	if !h.End("s") {
		t.Fatal("End did not find the stream")
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("publisher not told to leave")
	}
	p.Write(frame(0, 10)) // must be ignored, not panic
	if _, err := h.Publish("s", PublisherInfo{}, avTracks()); err != nil {
		t.Fatalf("a new live after End: %v", err)
	}
}

func TestBitrate(t *testing.T) {
	var b bitrate
	t0 := time.Unix(1_000_000, 0)
	for s := range 10 {
		b.add(t0.Add(time.Duration(s)*time.Second), 250_000) // 2 Mbit/s
	}
	if got := b.bitsPerSecond(t0.Add(10 * time.Second)); got != 2_000_000 {
		t.Fatalf("bitrate %d, want 2000000", got)
	}
	if got := b.bitsPerSecond(t0.Add(30 * time.Second)); got != 0 {
		t.Fatalf("bitrate after silence %d, want 0", got)
	}
}
