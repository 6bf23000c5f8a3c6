package webrtc

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestResendGuard(t *testing.T) {
	t0 := time.Unix(1000, 0)
	seqs := func(from, n int) []uint16 {
		s := make([]uint16, n)
		for i := range s {
			s[i] = uint16(from + i)
		}
		return s
	}
	type step struct {
		at      time.Duration
		kind    trackKind
		seqs    []uint16
		sent    uint64 // the viewer's fresh packets so far
		kept    int
		refused int
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"first NACKs within the floor", []step{
			{0, kindVideo, seqs(10, 30), 100, 30, 0},
			{10 * time.Millisecond, kindVideo, seqs(40, 30), 100, 20, 10}, // floor of 50 in the first second
		}},
		{"the same packet again too soon, then later", []step{
			{0, kindVideo, seqs(10, 5), 100, 5, 0},
			{50 * time.Millisecond, kindVideo, seqs(10, 5), 100, 0, 5},
			{150 * time.Millisecond, kindVideo, seqs(10, 5), 100, 5, 0},
		}},
		{"tracks apart: the same number on audio is another packet", []step{
			{0, kindVideo, seqs(10, 5), 100, 5, 0},
			{time.Millisecond, kindAudio, seqs(10, 5), 100, 5, 0},
		}},
		{"the allowance follows what was sent in the last second", []step{
			{0, kindVideo, seqs(0, 10), 0, 10, 0},
			{time.Second, kindVideo, seqs(100, 400), 600, 300, 100},     // half of 600
			{2 * time.Second, kindVideo, seqs(1000, 400), 700, 50, 350}, // 100 sent since: the floor
		}},
		{"a sequence number wrapping around", []step{
			{0, kindVideo, []uint16{65534, 65535, 0, 1}, 100, 4, 0},
			{20 * time.Millisecond, kindVideo, []uint16{65535, 0}, 100, 0, 2},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var g resendGuard
			for i, s := range c.steps {
				kept, refused := g.admit(s.kind, s.seqs, t0.Add(s.at), s.sent)
				if len(kept) != s.kept || refused != s.refused {
					t.Fatalf("step %d: kept %d, refused %d; want %d, %d", i, len(kept), refused, s.kept, s.refused)
				}
			}
		})
	}
}

// A viewer that NACKs the same packets in a loop (a broken or hostile
// client: 100 NACKs a second for its last 64 packets) gets each again at
// most once per resendSpacing and within its share: it cannot make the
// server send many times the stream. It still plays.
func TestWHEPNACKLoopBounded(t *testing.T) {
	t.Parallel()
	m := loadMedia(t)
	ts := newTestServer(t)
	feedOnline(t, ts, "nackloop", m)
	v := startViewer(t, ts, "nackloop", viewerOpts{noAudio: true})
	waitFor(t, 5*time.Second, "first frames", func() bool { return v.frameCount() >= 5 })
	framesBefore := v.frameCount()
	start := time.Now()
	nacks := 0
	for time.Since(start) < 2*time.Second {
		last := uint16(v.lastSeq.Load())
		seqs := make([]uint16, 64)
		for i := range seqs {
			seqs[i] = last - 64 + uint16(i)
		}
		err := v.pc.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: v.ssrc.Load(), Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}})
		if err != nil {
			t.Fatal(err)
		}
		nacks++
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the last NACKs' answers
	e := ts.Egress()
	secs := time.Since(v.started).Seconds()
	fresh := e.Sent - e.Resent
	t.Logf("%d NACKs of 64 packets: %d sent fresh, %d resent, %d refused in %.1fs; frames %d then %d", nacks, fresh, e.Resent, e.Refused, secs, framesBefore, v.frameCount())
	if e.Resent == 0 {
		t.Fatal("nothing resent")
	}
	// Each second's allowance is half of the previous second's fresh
	// packets, or the floor.
	if bound := float64(fresh)*resendShare + resendFloor*(secs+1); float64(e.Resent) > bound {
		t.Errorf("resent %d packets for %d sent fresh: over the bound %.0f", e.Resent, fresh, bound)
	}
	if v.frameCount() <= framesBefore+30 {
		t.Errorf("the viewer got %d frames in 2s", v.frameCount()-framesBefore)
	}
}
