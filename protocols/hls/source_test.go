package hls

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"

	"vitrine/stream"
)

// The test source is real encoder output: ffmpeg encodes H.264 with
// B-frames (so PTS != DTS) and AAC to MPEG-TS, and mediacommon demuxes it
// into the units an ingest protocol would hand to the hub.

const (
	sourceSeconds = 20
	sourceFPS     = 30
	sampleRate    = 48000
)

type sourceUnit struct {
	track   int
	pts     time.Duration
	dts     time.Duration
	key     bool
	payload [][]byte
}

type source struct {
	sps, pps []byte
	aac      mpeg4audio.AudioSpecificConfig
	units    []sourceUnit // in DTS order, starting at DTS 0
}

func (s *source) tracks() []*stream.Track {
	aac := s.aac
	return []*stream.Track{
		{Index: 0, Codec: &stream.H264{SPS: s.sps, PPS: s.pps}},
		{Index: 1, Codec: &stream.MPEG4Audio{Config: &aac}},
	}
}

var (
	sourceOnce sync.Once
	sourceVal  *source
	sourceErr  error
)

func testSource(t testing.TB) *source {
	t.Helper()
	sourceOnce.Do(func() { sourceVal, sourceErr = makeSource() })
	if sourceErr != nil {
		t.Fatalf("test source: %v", sourceErr)
	}
	return sourceVal
}

func makeSource() (*source, error) {
	dir, err := os.MkdirTemp("", "vitrine-hls-test")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "src.ts")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=640x360:rate=%d", sourceFPS),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=%d", sampleRate),
		"-t", fmt.Sprint(sourceSeconds),
		"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p",
		"-bf", "2", "-g", fmt.Sprint(sourceFPS), "-keyint_min", fmt.Sprint(sourceFPS), "-sc_threshold", "0",
		"-c:a", "aac", "-b:a", "64k",
		"-f", "mpegts", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %w: %s", err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return demux(f)
}

func ticks(v int64) time.Duration { return time.Duration(v) * time.Second / 90000 }

func demux(r io.Reader) (*source, error) {
	rd := &mpegts.Reader{R: r}
	if err := rd.Initialize(); err != nil {
		return nil, err
	}
	src := &source{}
	var decodeErr error
	rd.OnDecodeError(func(err error) { decodeErr = err })
	for _, tr := range rd.Tracks() {
		switch c := tr.Codec.(type) {
		case *mpegts.CodecH264:
			rd.OnDataH264(tr, func(pts, dts int64, au [][]byte) error {
				key := false
				for _, n := range au {
					switch h264.NALUType(n[0] & 0x1f) {
					case h264.NALUTypeIDR:
						key = true
					case h264.NALUTypeSPS:
						if src.sps == nil {
							src.sps = slices.Clone(n)
						}
					case h264.NALUTypePPS:
						if src.pps == nil {
							src.pps = slices.Clone(n)
						}
					}
				}
				src.units = append(src.units, sourceUnit{track: 0, pts: ticks(pts), dts: ticks(dts), key: key, payload: au})
				return nil
			})
		case *mpegts.CodecMPEG4Audio:
			src.aac = c.Config
			rd.OnDataMPEG4Audio(tr, func(pts int64, aus [][]byte) error {
				for i, au := range aus {
					p := ticks(pts) + time.Duration(i)*mpeg4audio.SamplesPerAccessUnit*time.Second/sampleRate
					src.units = append(src.units, sourceUnit{track: 1, pts: p, dts: p, key: true, payload: [][]byte{au}})
				}
				return nil
			})
		}
	}
	for {
		err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if decodeErr != nil {
		return nil, decodeErr
	}
	if src.sps == nil || src.pps == nil || src.aac.SampleRate == 0 {
		return nil, errors.New("source lacks SPS, PPS or AAC config")
	}
	slices.SortStableFunc(src.units, func(a, b sourceUnit) int { return cmp.Compare(a.dts, b.dts) })
	base := src.units[0].dts
	for i := range src.units {
		src.units[i].pts -= base
		src.units[i].dts -= base
	}
	return src, nil
}

// publisher writes the source to the hub.
type publisher struct {
	pub    *stream.Publisher
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	keyNTPs []time.Time // NTP the hub gave each video keyframe
	written int
}

// publish starts writing src to stream id: in real time when paced, at
// once otherwise. limit caps the media duration written (0: all of it,
// negative: none).
func publish(t testing.TB, hub *stream.Hub, id string, src *source, tracks []*stream.Track, paced bool, limit time.Duration) *publisher {
	t.Helper()
	sp, err := hub.Publish(id, stream.PublisherInfo{Protocol: "test", Remote: "local"}, tracks)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &publisher{pub: sp, cancel: cancel, done: make(chan struct{})}
	// The hub stamps a unit once its clock has settled, maybe after Write
	// returned: a reader of its own sees the NTP each keyframe got.
	r, err := sp.Stream().AddReader("test")
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	go func() {
		_ = r.Run(ctx, func(u *stream.Unit) error {
			if u.Track == 0 && u.Key {
				p.mu.Lock()
				p.keyNTPs = append(p.keyNTPs, u.NTP)
				p.mu.Unlock()
			}
			return nil
		})
	}()
	go func() {
		defer close(p.done)
		start := time.Now()
		for _, su := range src.units {
			if su.track >= len(tracks) {
				continue
			}
			if limit != 0 && su.dts > limit {
				return
			}
			if paced {
				select {
				case <-time.After(time.Until(start.Add(su.dts))):
				case <-ctx.Done():
					return
				case <-sp.Done():
					return
				}
			} else if ctx.Err() != nil {
				return
			}
			sp.Write(&stream.Unit{Track: su.track, PTS: su.pts, DTS: su.dts, Key: su.key, Payload: su.payload})
			p.mu.Lock()
			p.written++
			p.mu.Unlock()
		}
	}()
	t.Cleanup(p.stop)
	return p
}

// stop ends the writer and detaches the publisher (the stream goes offline).
func (p *publisher) stop() {
	p.cancel()
	<-p.done
	p.pub.Close()
}

// wait returns once everything was written.
func (p *publisher) wait() { <-p.done }

func (p *publisher) keyframeNTPs() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.keyNTPs)
}
