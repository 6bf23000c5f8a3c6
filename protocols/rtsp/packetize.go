package rtsp

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"slices"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"vitrine/stream"
)

// Payload types of the readers' SDP; each track is its own media, so they
// need not differ, but distinct ones read better in a capture.
const (
	ptH264 = 96
	ptAAC  = 97
	ptOpus = 111
)

// outTrack packetizes the units of one hub track for a relay.
type outTrack struct {
	media *description.Media
	name  string
	rate  int
	// base is a random origin of the track's RTP timestamps (RFC 3550:
	// a reader must not be able to guess them).
	base   uint32
	encode func(u *stream.Unit) ([]*rtp.Packet, error)
}

// timestamp is the RTP timestamp of a presentation time.
func (t *outTrack) timestamp(pts int64) uint32 {
	return t.base + uint32(pts) // wraps, as RTP timestamps do
}

func newOutTrack(c stream.Codec) (*outTrack, error) {
	t := &outTrack{base: randUint32(), rate: c.ClockRate()}
	switch c := c.(type) {
	case *stream.H264:
		if len(c.SPS) == 0 || len(c.PPS) == 0 {
			return nil, errors.New("H264 without SPS/PPS")
		}
		f := &format.H264{
			PayloadTyp:        ptH264,
			SPS:               slices.Clone(c.SPS),
			PPS:               slices.Clone(c.PPS),
			PacketizationMode: 1,
		}
		enc, err := f.CreateEncoder()
		if err != nil {
			return nil, err
		}
		t.name = "H264"
		t.media = &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{f}}
		t.encode = func(u *stream.Unit) ([]*rtp.Packet, error) {
			au := nonEmpty(u.Payload)
			if len(au) == 0 {
				return nil, nil
			}
			pkts, err := enc.Encode(au)
			if err != nil {
				return nil, err
			}
			ts := t.timestamp(durationToTicks(u.PTS, t.rate))
			for _, p := range pkts {
				p.Timestamp = ts
			}
			return pkts, nil
		}

	case *stream.MPEG4Audio:
		if c.Config == nil || c.Config.SampleRate <= 0 {
			return nil, errors.New("AAC without a sample rate")
		}
		f := &format.MPEG4Audio{
			PayloadTyp:       ptAAC,
			ProfileLevelID:   1,
			Config:           c.Config,
			SizeLength:       13,
			IndexLength:      3,
			IndexDeltaLength: 3,
		}
		enc, err := f.CreateEncoder()
		if err != nil {
			return nil, err
		}
		t.name = "AAC"
		t.media = &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{f}}
		t.encode = func(u *stream.Unit) ([]*rtp.Packet, error) {
			if len(u.Payload) == 0 || len(u.Payload[0]) == 0 {
				return nil, nil
			}
			pkts, err := enc.Encode(u.Payload[:1])
			if err != nil {
				return nil, err
			}
			ts := t.timestamp(durationToTicks(u.PTS, t.rate))
			for _, p := range pkts {
				p.Timestamp += ts // the encoder numbers from 0
			}
			return pkts, nil
		}

	case *stream.Opus:
		if c.ChannelCount < 1 || c.ChannelCount > 2 {
			return nil, errors.New("Opus with more than 2 channels")
		}
		f := &format.Opus{PayloadTyp: ptOpus, ChannelCount: c.ChannelCount}
		enc, err := f.CreateEncoder()
		if err != nil {
			return nil, err
		}
		t.name = "Opus"
		t.media = &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{f}}
		t.encode = func(u *stream.Unit) ([]*rtp.Packet, error) {
			if len(u.Payload) == 0 || len(u.Payload[0]) == 0 {
				return nil, nil
			}
			p, err := enc.Encode(u.Payload[0])
			if err != nil {
				return nil, err
			}
			p.Timestamp = t.timestamp(durationToTicks(u.PTS, t.rate))
			return []*rtp.Packet{p}, nil
		}

	default:
		return nil, errors.New("codec not supported over RTSP")
	}
	return t, nil
}

func randUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return binary.BigEndian.Uint32(b[:])
}
