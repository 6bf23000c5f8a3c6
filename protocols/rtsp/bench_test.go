package rtsp

import (
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format"

	"vitrine/internal/testenv"
	"vitrine/stream"
)

// BenchmarkIngestH264 is the publisher's hot path per video frame: RTP
// packets to an access unit with its timing (320x240, ~1-2 packets a frame;
// the cost grows with packets, not pixels).
func BenchmarkIngestH264(b *testing.B) {
	testenv.RequireFFmpeg(b)
	aus := sampleH264(b)
	pkts := h264Packets(b, aus, true)
	b.ReportAllocs()
	b.ResetTimer()
	frames := 0
	for i := 0; i < b.N; {
		dec, _, err := newDepacketizer(&format.H264{PayloadTyp: 96, PacketizationMode: 1})
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range pkts {
			f, err := dec.decode(p, int64(p.Timestamp))
			if err != nil {
				b.Fatal(err)
			}
			frames += len(f)
			if i += len(f); i >= b.N {
				break
			}
		}
	}
	if frames == 0 {
		b.Fatal("no frames")
	}
}

// BenchmarkPacketizeH264 is the relay's hot path per video frame, paid once
// per stream whatever the number of RTSP readers.
func BenchmarkPacketizeH264(b *testing.B) {
	testenv.RequireFFmpeg(b)
	aus := sampleH264(b)
	_, sps, pps := splitParams(aus[0])
	t, err := newOutTrack(&stream.H264{SPS: sps, PPS: pps})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		u := &stream.Unit{PTS: time.Duration(i) * time.Second / 30, Payload: aus[i%len(aus)]}
		if _, err := t.encode(u); err != nil {
			b.Fatal(err)
		}
	}
}
