package stream

import (
	"testing"
	"time"
)

// TestBFramesDetected: a video whose frames are presented out of decoding
// order (I P B B, the x264 default) is flagged; one in order is not; a
// new publisher session starts over.
func TestBFramesDetected(t *testing.T) {
	h := newTestHub(t, 64, time.Second)
	p, err := h.Publish("s", PublisherInfo{Protocol: "test"}, avTracks())
	if err != nil {
		t.Fatal(err)
	}
	s, _ := h.Get("s")
	for i := range 30 {
		p.Write(frame(i, 10))
		p.Write(&Unit{Track: 1, PTS: time.Duration(i) * time.Millisecond, DTS: time.Duration(i) * time.Millisecond, Key: true, Payload: [][]byte{{0}}})
	}
	if s.BFrames() || s.Stats().BFrames {
		t.Fatal("frames in order flagged as B-frames")
	}
	// Decoding order I0 P3 B1 B2 P6 B4 B5: presentation goes back.
	fd := time.Second / 30
	for i, pts := range []int{30, 33, 31, 32, 36, 34, 35} {
		p.Write(&Unit{Track: 0, DTS: time.Duration(30+i) * fd, PTS: time.Duration(pts+2) * fd, Key: i == 0, Payload: [][]byte{{1}}})
	}
	if !s.BFrames() || !s.Stats().BFrames {
		t.Fatal("B-frames not detected")
	}
	p.Close()
	p2, err := h.Publish("s", PublisherInfo{Protocol: "test"}, avTracks())
	if err != nil {
		t.Fatal(err)
	}
	p2.Write(frame(0, 10))
	p2.Write(frame(1, 10))
	if s.BFrames() {
		t.Fatal("a new publisher session keeps the previous one's B-frames")
	}
}
