package rtsp

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

// samplePublisher is an in-process gortsplib client publishing the sample
// H.264 in a loop, in real time, until stopped.
type samplePublisher struct {
	client *gortsplib.Client
	stop   chan struct{}
	done   chan struct{}
	frames atomic.Int64
	once   sync.Once
}

// publishSample starts publishing. With inBand, the SDP carries no
// parameter sets and the access units keep theirs; otherwise the SDP
// carries them and the access units do not (the server must put them back
// in front of each IDR).
func publishSample(t *testing.T, url string, transport gortsplib.Transport, inBand bool) (*samplePublisher, error) {
	t.Helper()
	aus := sampleH264(t)
	_, sps, pps := splitParams(aus[0])
	forma := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	if !inBand {
		forma.SPS, forma.PPS = sps, pps
	}
	desc := &description.Session{Medias: []*description.Media{{
		Type: description.MediaTypeVideo, Formats: []format.Format{forma},
	}}}
	enc, err := forma.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	c := &gortsplib.Client{Transport: &transport}
	if err := c.StartRecording(url, desc); err != nil {
		c.Close()
		return nil, err
	}
	p := &samplePublisher{client: c, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(time.Second / 30)
		defer tick.Stop()
		for i := 0; ; i++ {
			au := aus[i%len(aus)]
			if !inBand {
				au, _, _ = splitParams(au)
			}
			pkts, err := enc.Encode(au)
			if err != nil {
				return
			}
			for _, pkt := range pkts {
				pkt.Timestamp = uint32(i * 3000)
				if err := c.WritePacketRTP(desc.Medias[0], pkt); err != nil {
					return
				}
			}
			p.frames.Add(1)
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(p.close)
	return p, nil
}

func (p *samplePublisher) close() {
	p.once.Do(func() {
		close(p.stop)
		<-p.done
		p.client.Close()
	})
}

// readResult is what an in-process reader saw.
type readResult struct {
	desc    *description.Session
	packets map[string]int // by codec
	idr     bool           // a whole IDR access unit was reassembled
	width   int
	height  int
}

// readClient reads url with a gortsplib client for d and reports what it
// got; err is the first failure of the session setup.
func readClient(url string, transport gortsplib.Transport, d time.Duration) (*readResult, error) {
	c := &gortsplib.Client{Transport: &transport}
	u, err := base.ParseURL(url)
	if err != nil {
		return nil, err
	}
	if err := c.Start(u.Scheme, u.Host); err != nil {
		return nil, err
	}
	defer c.Close()
	desc, _, err := c.Describe(u)
	if err != nil {
		return nil, err
	}
	res := &readResult{desc: desc, packets: map[string]int{}}
	var mu sync.Mutex
	var h264Dec *rtph264.Decoder
	for _, m := range desc.Medias {
		if f, ok := m.Formats[0].(*format.H264); ok {
			if h264Dec, err = f.CreateDecoder(); err != nil {
				return nil, err
			}
			var sps h264.SPS
			if err := sps.Unmarshal(f.SPS); err == nil {
				res.width, res.height = sps.Width(), sps.Height()
			}
		}
	}
	if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		return nil, err
	}
	c.OnPacketRTPAny(func(_ *description.Media, f format.Format, pkt *rtp.Packet) {
		mu.Lock()
		defer mu.Unlock()
		res.packets[f.Codec()]++
		if _, ok := f.(*format.H264); ok && h264Dec != nil {
			if au, err := h264Dec.Decode(pkt); err == nil && h264.IsRandomAccess(au) {
				res.idr = true
			}
		}
	})
	if _, err := c.Play(nil); err != nil {
		return nil, err
	}
	select {
	case <-time.After(d):
	case <-waitErr(c):
	}
	mu.Lock()
	defer mu.Unlock()
	return res, nil
}

func waitErr(c *gortsplib.Client) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		_ = c.Wait()
		close(ch)
	}()
	return ch
}
