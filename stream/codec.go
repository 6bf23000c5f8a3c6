package stream

import (
	"bytes"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// Codec describes the parameters of one track. Values are immutable once a
// track has been published: readers build their muxers from them.
type Codec interface {
	// IsVideo tells video tracks (which carry keyframes) from audio tracks.
	IsVideo() bool
	// ClockRate is the RTP/MP4 timescale conventionally used for the codec.
	ClockRate() int
	// Equal reports whether a reader built for c can keep reading o.
	Equal(o Codec) bool
	fmt.Stringer
}

// H264 is an H.264 video track. SPS and PPS are the initial parameter sets;
// publishers repeat them in band before each IDR so parameter changes reach
// every reader.
type H264 struct {
	SPS []byte
	PPS []byte
}

func (*H264) IsVideo() bool    { return true }
func (*H264) ClockRate() int   { return 90000 }
func (c *H264) String() string { return "H264" }

// Equal compares parameter sets byte for byte.
func (c *H264) Equal(o Codec) bool {
	oc, ok := o.(*H264)
	return ok && bytes.Equal(c.SPS, oc.SPS) && bytes.Equal(c.PPS, oc.PPS)
}

// Dimensions parses the SPS; it returns zeros when the SPS is unusable.
func (c *H264) Dimensions() (width, height int, fps float64) {
	var sps h264.SPS
	if err := sps.Unmarshal(c.SPS); err != nil {
		return 0, 0, 0
	}
	return sps.Width(), sps.Height(), sps.FPS()
}

// MPEG4Audio is an AAC (MPEG-4 Audio) track.
type MPEG4Audio struct {
	Config *mpeg4audio.AudioSpecificConfig
}

func (*MPEG4Audio) IsVideo() bool { return false }

func (c *MPEG4Audio) ClockRate() int { return c.Config.SampleRate }

func (c *MPEG4Audio) String() string { return "AAC" }

func (c *MPEG4Audio) Equal(o Codec) bool {
	oc, ok := o.(*MPEG4Audio)
	if !ok {
		return false
	}
	a, err1 := c.Config.Marshal()
	b, err2 := oc.Config.Marshal()
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}

// Opus is an Opus audio track (48 kHz by definition).
type Opus struct {
	ChannelCount int
}

func (*Opus) IsVideo() bool  { return false }
func (*Opus) ClockRate() int { return 48000 }
func (*Opus) String() string { return "Opus" }
func (c *Opus) Equal(o Codec) bool {
	oc, ok := o.(*Opus)
	return ok && oc.ChannelCount == c.ChannelCount
}

// Track is one elementary stream of a Stream. Index is its position in
// Stream.Tracks and the value of Unit.Track for its units.
type Track struct {
	Index int
	Codec Codec
}

func tracksEqual(a, b []*Track) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Codec.Equal(b[i].Codec) {
			return false
		}
	}
	return true
}
