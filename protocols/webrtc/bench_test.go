package webrtc

import (
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	pion "github.com/pion/webrtc/v4"

	"vitrine/stream"
)

// BenchmarkFanout measures the cost of one RTP packet for one WHEP viewer
// (ns/op and allocs/op are per viewer per packet) with 1, 10 and 100 real
// viewers: pion peer connections over loopback, with ICE, DTLS and SRTP.
// The packet is built once per stream (one unit, packetized once, counted
// in the op); what each viewer adds is the queue push, the header copy,
// pion's interceptor chain (sender reports), SRTP encryption and the UDP
// send. The viewers' socket is cut once they are connected, so that their
// decryption does not compete for the same CPUs: the kernel still delivers
// every packet to them.
//
//	go test -run '^$' -bench Fanout -benchtime 20000x ./protocols/webrtc/
func BenchmarkFanout(b *testing.B) {
	m := loadMedia(b)
	for _, viewers := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("viewers=%d", viewers), func(b *testing.B) {
			benchFanout(b, m, viewers)
		})
	}
}

func benchFanout(b *testing.B, m *testMedia, viewers int) {
	ts := newTestServer(b, func(c *Config) {
		// The cut viewers must stay connected on the server's side.
		c.ICEDisconnectedTimeout = time.Minute
		c.ICEFailedTimeout = time.Minute
		c.ConnectTimeout = time.Minute
	})
	var sps, pps []byte
	for _, n := range m.aus[0].nalus {
		switch n[0] & 0x1f {
		case 7:
			sps = n
		case 8:
			pps = n
		}
	}
	pub, err := ts.hub.Publish("bench", stream.PublisherInfo{Protocol: "rtmp"}, []*stream.Track{{Index: 0, Codec: &stream.H264{SPS: sps, PPS: pps}}})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()

	// Each viewer on its own client socket, cut after connecting.
	conns := make([]*cutConn, viewers)
	for i := range viewers {
		udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = &cutConn{PacketConn: udp}
		mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conns[i]})
		defer mux.Close()
		pc, err := clientAPI(b, false, mux).NewPeerConnection(pion.Configuration{})
		if err != nil {
			b.Fatal(err)
		}
		defer pc.Close()
		if _, err := pc.AddTransceiverFromKind(pion.RTPCodecTypeVideo, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
			b.Fatal(err)
		}
		resp, answer := post(b, ts.base+"/live/bench/whep", "", "application/sdp", offerOf(b, pc))
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("WHEP: %d %s", resp.StatusCode, answer)
		}
		if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
			b.Fatal(err)
		}
	}
	ts.mu.Lock()
	f := ts.fanouts["bench"]
	ts.mu.Unlock()
	attached := func() []*viewer {
		f.mu.Lock()
		defer f.mu.Unlock()
		return append([]*viewer(nil), f.attached...)
	}
	waitFor(b, 30*time.Second, "viewers connected", func() bool { return len(attached()) == viewers })
	vs := attached()

	// The fanout's goroutine is idle (nothing is published): the benchmark
	// drives its unit handler directly, as the hub reader would.
	pts := time.Duration(0)
	unit := func(key bool, size int) *stream.Unit {
		pts += time.Second / 30
		nalu := make([]byte, size)
		nalu[0] = 0x41
		if key {
			nalu[0] = 0x65
		}
		return &stream.Unit{PTS: pts, DTS: pts, Key: key, Payload: [][]byte{nalu}}
	}
	total := func() (n uint64) {
		for _, v := range vs {
			n += v.sent.Load()
		}
		return n
	}
	drain := func(want uint64) {
		for total() < want {
			time.Sleep(20 * time.Microsecond)
		}
	}
	// A keyframe starts every viewer (and waits for its SRTP), then the
	// viewers' network is cut.
	_ = f.onUnit(unit(true, 1000))
	drain(uint64(viewers))
	for _, c := range conns {
		c.cut.Store(true)
	}

	packets := max(b.N/viewers, 1)
	batch := min(max(2048/viewers, 16), 1024)
	p := unit(false, 1100) // one packet of 1112 bytes
	base := total()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range packets {
		p.PTS += time.Second / 30
		_ = f.onUnit(p)
		if i%batch == batch-1 {
			drain(base + uint64((i+1)*viewers))
		}
	}
	drain(base + uint64(packets*viewers))
	b.StopTimer()
	if dropped := f.srv.Egress().Dropped; dropped != 0 {
		b.Errorf("viewers dropped %d packets", dropped)
	}
}
