package webrtc

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	pion "github.com/pion/webrtc/v4"

	"vitrine/stream"
)

// A viewer that can only use TCP (a network that blocks UDP) connects over
// ICE-TCP on the ICE port and gets the video.
func TestWHEPOverTCP(t *testing.T) {
	t.Parallel()
	m := loadMedia(t)
	ts := newTestServer(t)
	feedOnline(t, ts, "tcpcamp", m)

	v := startViewer(t, ts, "tcpcamp", viewerOpts{tcpOnly: true, noAudio: true})
	waitFor(t, 10*time.Second, "20 frames over TCP", func() bool { return v.frameCount() >= 20 })
	t.Logf("time to first frame over ICE-TCP: %v", v.timeToFirstFrame())

	pair, err := selectedPair(v.pc)
	if err != nil {
		t.Fatal(err)
	}
	if pair.Local.Protocol != pion.ICEProtocolTCP || pair.Remote.Port != uint16(ts.ICEAddr().(*net.UDPAddr).Port) {
		t.Errorf("selected pair %s -> %s, want TCP to the ICE port", pair.Local, pair.Remote)
	}
	if e := ts.Egress(); e.Sent == 0 || e.Direct != 0 {
		t.Errorf("%d of %d packets sent on the direct UDP path to an ICE-TCP viewer, want none", e.Direct, e.Sent)
	}
}

func selectedPair(pc *pion.PeerConnection) (*pion.ICECandidatePair, error) {
	return pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
}

// cutConn is a client's UDP socket that can be cut, as when a viewer's
// network disappears: nothing goes out or comes in, and nothing says
// goodbye. It can also lose one RTP packet in every lossIn received or
// lossOut sent.
type cutConn struct {
	net.PacketConn
	cut              atomic.Bool
	lossIn, lossOut  atomic.Int64
	nIn, nOut, nLost atomic.Int64
}

// isRTP tells (S)RTP from STUN, DTLS and RTCP (RFC 7983, RFC 5761).
func isRTP(b []byte) bool {
	return len(b) > 12 && b[0]&0xc0 == 0x80 && (b[1] < 192 || b[1] > 223)
}

func (c *cutConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			return n, addr, err
		}
		if c.cut.Load() {
			continue
		}
		if every := c.lossIn.Load(); every > 0 && isRTP(b[:n]) && c.nIn.Add(1)%every == 0 {
			c.nLost.Add(1)
			continue
		}
		return n, addr, err
	}
}

func (c *cutConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.cut.Load() {
		return len(b), nil
	}
	if every := c.lossOut.Load(); every > 0 && isRTP(b) && c.nOut.Add(1)%every == 0 {
		c.nLost.Add(1)
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

// lossyMux is a client UDP mux over a cutConn on loopback.
func lossyMux(t testing.TB) (*cutConn, ice.UDPMux) {
	t.Helper()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn := &cutConn{PacketConn: udp}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	t.Cleanup(func() { _ = mux.Close() })
	return conn, mux
}

// A viewer that vanishes without DELETE is cleaned up once ICE times out,
// a viewer that never completes ICE once the connect timeout passes; the
// publisher and the other viewer are unaffected.
func TestViewerCleanup(t *testing.T) {
	t.Parallel()
	m := loadMedia(t)
	ts := newTestServer(t, func(c *Config) {
		// Short, but not so short that a loaded test machine (race
		// detector, parallel tests) misses them: a peer sends something
		// about every second (receiver reports, keepalives).
		c.ConnectTimeout = 3 * time.Second
		c.ICEDisconnectedTimeout = 1500 * time.Millisecond
		c.ICEFailedTimeout = 1500 * time.Millisecond
	})
	pub := startPublisher(t, ts, "cleancamp", m, false)
	waitFor(t, 8*time.Second, "stream online", func() bool { st, ok := ts.hub.Get("cleancamp"); return ok && st.Online() })

	steady := startViewer(t, ts, "cleancamp", viewerOpts{noAudio: true})

	conn, mux := lossyMux(t)
	vanishing := startViewer(t, ts, "cleancamp", viewerOpts{noAudio: true, mux: mux})
	waitFor(t, 5*time.Second, "both viewers play", func() bool { return steady.frameCount() > 5 && vanishing.frameCount() > 5 })
	if n := ts.StreamInfo("cleancamp").WHEPViewers; n != 2 {
		t.Fatalf("%d viewers, want 2", n)
	}

	// One viewer's network disappears; another posts an offer and is never
	// heard of again.
	conn.cut.Store(true)
	cut := time.Now()
	pc, err := clientAPI(t, false).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromKind(pion.RTPCodecTypeVideo, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	resp, body := post(t, ts.base+"/live/cleancamp/whep", "", "application/sdp", offerOf(t, pc))
	if resp.StatusCode != 201 {
		t.Fatalf("silent viewer: %d %s", resp.StatusCode, body)
	}
	_ = pc.Close() // without sending anything: it never got the answer

	before := steady.frameCount()
	waitFor(t, 10*time.Second, "vanished viewers cleaned up", func() bool { return ts.StreamInfo("cleancamp").WHEPViewers == 1 })
	t.Logf("vanished viewers cleaned up %v after the cut", time.Since(cut).Round(10*time.Millisecond))
	waitFor(t, 3*time.Second, "the steady viewer keeps playing", func() bool { return steady.frameCount() > before+20 })
	if st, _ := ts.hub.Get("cleancamp"); !st.Online() {
		t.Error("the publisher was affected")
	}
	_ = pub
}

// A viewer losing one video packet in 15 gets them again from the shared
// history (NACK) and decodes every picture of an RTMP-like stream, where
// no keyframe can be asked for.
func TestWHEPLossRepaired(t *testing.T) {
	t.Parallel()
	m := loadMedia(t)
	ts := newTestServer(t)
	feedOnline(t, ts, "lossy", m)
	conn, mux := lossyMux(t)
	conn.lossIn.Store(15)
	v := startViewer(t, ts, "lossy", viewerOpts{noAudio: true, mux: mux})
	waitFor(t, 8*time.Second, "60 frames", func() bool { return v.frameCount() >= 60 })
	var resent uint64
	ts.mu.Lock()
	for _, vw := range ts.fanouts["lossy"].attachedSnapshot() {
		resent += vw.resent.Load()
	}
	ts.mu.Unlock()
	frames := v.frameCount()
	decoded, errs := v.decodeFrames(t)
	t.Logf("lost %d packets, %d resent; %d frames, %d decoded", conn.nLost.Load(), resent, frames, decoded)
	if conn.nLost.Load() == 0 || resent == 0 {
		t.Fatal("no loss, or no retransmission")
	}
	if decoded < frames*9/10 || errs != "" {
		t.Errorf("ffmpeg decoded %d of %d frames; errors: %s", decoded, frames, errs)
	}
}

// A WHIP publisher losing one video packet in 25 on its way to the server
// has them repaired (NACK, RTX): the hub gets whole pictures.
func TestWHIPLossRepaired(t *testing.T) {
	t.Parallel()
	m := loadMedia(t)
	ts := newTestServer(t)
	conn, mux := lossyMux(t)
	startPublisher(t, ts, "lossypub", m, false, mux)
	waitFor(t, 8*time.Second, "stream online", func() bool { st, ok := ts.hub.Get("lossypub"); return ok && st.Online() })
	conn.lossOut.Store(25)
	st, _ := ts.hub.Get("lossypub")
	r, err := st.AddReader("test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	units := 0
	_ = r.Run(ctx, func(*stream.Unit) error { units++; return nil })
	ts.mu.Lock()
	w := ts.whips["lossypub"]
	ts.mu.Unlock()
	w.ing.mu.Lock()
	broken := w.ing.broken
	w.ing.mu.Unlock()
	t.Logf("publisher lost %d packets; the hub got %d units in 2s, %d broken", conn.nLost.Load(), units, broken)
	if conn.nLost.Load() == 0 {
		t.Fatal("no loss")
	}
	if broken > 1 || units < 50 {
		t.Errorf("%d units in 2s, %d broken", units, broken)
	}
}
