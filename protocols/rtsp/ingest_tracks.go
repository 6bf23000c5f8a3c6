package rtsp

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpfragmented"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpmpeg4audio"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpsimpleaudio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"

	"vitrine/stream"
)

// frame is one access unit of an ingest track, timed on the track's RTP
// clock (ticks since the session's origin, as gortsplib decodes them).
type frame struct {
	pts, dts int64
	key      bool
	payload  [][]byte
}

// depacketizer turns the RTP packets of one format into frames.
type depacketizer interface {
	// codec returns the track's parameters, or nil while they are unknown
	// (H.264 whose SDP had no parameter sets, until they come in band).
	codec() stream.Codec
	// decode consumes one packet whose PTS (in clock ticks) is pts, and
	// returns the frames it completes. An error concerns this packet only.
	decode(pkt *rtp.Packet, pts int64) ([]frame, error)
}

// ingestTrack is one announced format this server takes.
type ingestTrack struct {
	media  *description.Media
	format format.Format
	dec    depacketizer
	rate   int
	name   string // for logs: "H264", "AAC", "AAC-LATM", "Opus"

	// index is the track's position in the hub stream, -1 until published
	// (and for a track dropped at publish time).
	index   int
	lastDTS time.Duration
	haveDTS bool
}

// selectTracks picks, from an announced description, the first video format
// (H.264) and the first audio format (AAC or Opus) this server can take:
// the hub's readers carry one of each. It returns what it ignored, with why.
func selectTracks(desc *description.Session) (tracks []*ingestTrack, ignored []string) {
	var haveVideo, haveAudio bool
	for mi, m := range desc.Medias {
		taken := false
		for _, f := range m.Formats {
			if taken {
				ignored = append(ignored, fmt.Sprintf("media %d %s: another format of the same media is used", mi, f.Codec()))
				continue
			}
			dec, name, err := newDepacketizer(f)
			if err != nil {
				ignored = append(ignored, fmt.Sprintf("media %d %s: %v", mi, f.Codec(), err))
				continue
			}
			video := m.Type == description.MediaTypeVideo
			if _, isH264 := f.(*format.H264); isH264 {
				video = true
			}
			if (video && haveVideo) || (!video && haveAudio) {
				ignored = append(ignored, fmt.Sprintf("media %d %s: only one %s track is carried", mi, f.Codec(), kind(video)))
				continue
			}
			haveVideo, haveAudio = haveVideo || video, haveAudio || !video
			taken = true
			tracks = append(tracks, &ingestTrack{
				media: m, format: f, dec: dec, rate: f.ClockRate(), name: name, index: -1,
			})
		}
	}
	return tracks, ignored
}

func kind(video bool) string {
	if video {
		return "video"
	}
	return "audio"
}

// newDepacketizer returns the depacketizer of a format this server takes,
// or why it does not take it.
func newDepacketizer(f format.Format) (depacketizer, string, error) {
	switch f := f.(type) {
	case *format.H264:
		if f.PacketizationMode >= 2 {
			return nil, "", errors.New("interleaved packetization mode is not supported")
		}
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, "", err
		}
		d := &h264Depack{dec: dec}
		sps, pps := f.SafeParams()
		if validSPS(sps) && len(pps) > 0 {
			d.sps, d.pps = slices.Clone(sps), slices.Clone(pps)
		}
		return d, "H264", nil

	case *format.MPEG4Audio:
		if f.Config == nil || f.Config.SampleRate <= 0 || f.ClockRate() <= 0 {
			return nil, "", errors.New("no AAC configuration")
		}
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, "", err
		}
		return &aacDepack{dec: dec, cfg: f.Config}, "AAC", nil

	case *format.MPEG4AudioLATM:
		if f.CPresent || f.StreamMuxConfig == nil {
			return nil, "", errors.New("LATM with in-band configuration (cpresent=1) is not supported")
		}
		smc := f.StreamMuxConfig
		if len(smc.Programs) == 0 || len(smc.Programs[0].Layers) == 0 ||
			smc.Programs[0].Layers[0].AudioSpecificConfig == nil {
			return nil, "", errors.New("LATM configuration without an audio layer")
		}
		cfg := smc.Programs[0].Layers[0].AudioSpecificConfig
		if cfg.SampleRate <= 0 || f.ClockRate() <= 0 {
			return nil, "", errors.New("LATM configuration without a sample rate")
		}
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, "", err
		}
		return &latmDepack{dec: dec, smc: smc, cfg: cfg}, "AAC-LATM", nil

	case *format.Opus:
		if f.ChannelCount < 1 || f.ChannelCount > 2 {
			return nil, "", fmt.Errorf("%d-channel Opus is not supported", f.ChannelCount)
		}
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, "", err
		}
		return &opusDepack{dec: dec, channels: f.ChannelCount}, "Opus", nil
	}
	return nil, "", errors.New("codec not supported (H.264, AAC and Opus are)")
}

func validSPS(sps []byte) bool {
	if len(sps) == 0 {
		return false
	}
	var p h264.SPS
	return p.Unmarshal(sps) == nil
}

// h264Depack reassembles access units (rtph264 handles single NAL units,
// STAP-A and FU-A), keeps the latest parameter sets, marks IDRs as keys with
// their SPS and PPS in front, and derives DTS from PTS and picture order.
type h264Depack struct {
	dec      *rtph264.Decoder
	sps, pps []byte
	// dtsx is nil until an IDR starts (or restarts, after an error) the
	// decoding order.
	dtsx *h264.DTSExtractor

	// What rtph264 holds of an access unit not yet returned, and its time.
	buffered bool
	bufTS    uint32
	bufPTS   int64
}

func (d *h264Depack) codec() stream.Codec {
	if d.sps == nil || d.pps == nil {
		return nil
	}
	return &stream.H264{SPS: d.sps, PPS: d.pps}
}

func (d *h264Depack) decode(pkt *rtp.Packet, pts int64) ([]frame, error) {
	// rtph264 buffers the NAL units of an access unit until the marker bit.
	// Cameras that leave the marker out make it return the buffered access
	// unit when a NAL unit with a new timestamp completes, and then hold
	// that one: the PTS of what comes out is then the buffered one's.
	completes := !isFUANotEnd(pkt.Payload)
	next := d.buffered && completes && pkt.Timestamp != d.bufTS
	auPTS := pts
	if next {
		auPTS = d.bufPTS
	}
	au, err := d.dec.Decode(pkt)
	switch {
	case errors.Is(err, rtph264.ErrMorePacketsNeeded):
		if completes {
			d.buffered, d.bufTS, d.bufPTS = true, pkt.Timestamp, pts
		}
		return nil, nil
	case errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious):
		// Joined in the middle of a fragmented NAL unit: normal at start.
		return nil, nil
	case err != nil:
		return nil, err
	}
	if next {
		d.buffered, d.bufTS, d.bufPTS = true, pkt.Timestamp, pts
	} else {
		d.buffered = false
	}
	return d.accessUnit(au, auPTS)
}

// isFUANotEnd tells an FU-A fragment other than the last of its NAL unit:
// rtph264 keeps it aside without adding anything to the access unit.
func isFUANotEnd(payload []byte) bool {
	return len(payload) >= 2 && payload[0]&0x1f == 28 && payload[1]&0x40 == 0
}

func (d *h264Depack) accessUnit(au [][]byte, pts int64) ([]frame, error) {
	au = nonEmpty(au)
	if len(au) == 0 {
		return nil, nil
	}
	for _, n := range au {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			if !bytes.Equal(n, d.sps) {
				if !validSPS(n) {
					return nil, errors.New("invalid in-band SPS")
				}
				d.sps = slices.Clone(n)
			}
		case h264.NALUTypePPS:
			if !bytes.Equal(n, d.pps) {
				d.pps = slices.Clone(n)
			}
		}
	}
	if d.sps == nil || d.pps == nil {
		return nil, nil // no decoder could use it yet
	}
	key := h264.IsRandomAccess(au)
	if d.dtsx == nil {
		if !key {
			return nil, nil // readers start on an IDR
		}
		d.dtsx = &h264.DTSExtractor{}
		d.dtsx.Initialize()
	}
	if key {
		au = withParams(au, d.sps, d.pps)
	}
	dts, err := d.dtsx.Extract(au, pts)
	if err != nil {
		d.dtsx = nil
		return nil, fmt.Errorf("H.264 decoding order (dropping until the next IDR): %w", err)
	}
	return []frame{{pts: pts, dts: dts, key: key, payload: au}}, nil
}

// withParams inserts the SPS and PPS in front of an IDR access unit that
// lacks them (after an access unit delimiter, which must stay first): RTSP
// encoders often send them only in the SDP, but a reader joining at any
// keyframe, or an HLS segment starting there, needs them.
func withParams(au [][]byte, sps, pps []byte) [][]byte {
	spsAt, ppsAt := -1, -1
	for i, n := range au {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			if spsAt < 0 {
				spsAt = i
			}
		case h264.NALUTypePPS:
			if ppsAt < 0 {
				ppsAt = i
			}
		}
	}
	if spsAt >= 0 && ppsAt >= 0 {
		return au
	}
	pos := 0
	if h264.NALUType(au[0][0]&0x1f) == h264.NALUTypeAccessUnitDelimiter {
		pos = 1
	}
	out := make([][]byte, 0, len(au)+2)
	out = append(out, au[:pos]...)
	rest := au[pos:]
	if spsAt < 0 {
		out = append(out, sps)
	} else {
		// Keep the in-band SPS and put the PPS right after it.
		out = append(out, au[pos:spsAt+1]...)
		rest = au[spsAt+1:]
	}
	if ppsAt < 0 {
		out = append(out, pps)
	}
	return append(out, rest...)
}

// nonEmpty drops empty NAL units, copying only when there are some.
func nonEmpty(au [][]byte) [][]byte {
	for i, n := range au {
		if len(n) == 0 {
			out := slices.Clone(au[:i])
			for _, n := range au[i+1:] {
				if len(n) > 0 {
					out = append(out, n)
				}
			}
			return out
		}
	}
	return au
}

// samplesPerFrame is the duration of one AAC access unit in samples.
func samplesPerFrame(cfg *mpeg4audio.AudioSpecificConfig) int64 {
	if cfg.FrameLengthFlag {
		return 960
	}
	return mpeg4audio.SamplesPerAccessUnit
}

// aacDepack takes RFC 3640 (mpeg4-generic) AAC: several access units per
// packet, or one fragmented over several.
type aacDepack struct {
	dec *rtpmpeg4audio.Decoder
	cfg *mpeg4audio.AudioSpecificConfig
}

func (d *aacDepack) codec() stream.Codec { return &stream.MPEG4Audio{Config: d.cfg} }

func (d *aacDepack) decode(pkt *rtp.Packet, pts int64) ([]frame, error) {
	aus, err := d.dec.Decode(pkt)
	if errors.Is(err, rtpmpeg4audio.ErrMorePacketsNeeded) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return audioFrames(aus, pts, samplesPerFrame(d.cfg)), nil
}

// audioFrames times consecutive audio access units from the first one's PTS.
func audioFrames(aus [][]byte, pts, samples int64) []frame {
	out := make([]frame, 0, len(aus))
	for i, au := range aus {
		if len(au) == 0 {
			continue
		}
		t := pts + int64(i)*samples
		out = append(out, frame{pts: t, dts: t, key: true, payload: [][]byte{au}})
	}
	return out
}

// latmDepack takes RFC 6416 MP4A-LATM with the configuration in the SDP
// (cpresent=0, what ffmpeg's -rtpflags latm sends): each packet, or group of
// packets up to the marker, is an AudioMuxElement of one or more frames.
type latmDepack struct {
	dec *rtpfragmented.Decoder
	smc *mpeg4audio.StreamMuxConfig
	cfg *mpeg4audio.AudioSpecificConfig
}

func (d *latmDepack) codec() stream.Codec { return &stream.MPEG4Audio{Config: d.cfg} }

func (d *latmDepack) decode(pkt *rtp.Packet, pts int64) ([]frame, error) {
	buf, err := d.dec.Decode(pkt)
	if errors.Is(err, rtpfragmented.ErrMorePacketsNeeded) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ame := mpeg4audio.AudioMuxElement{StreamMuxConfig: d.smc}
	if err := ame.Unmarshal(buf); err != nil {
		return nil, fmt.Errorf("LATM AudioMuxElement: %w", err)
	}
	aus := make([][]byte, 0, len(ame.Payloads))
	for _, sub := range ame.Payloads {
		// The first layer of the first program: the one configured.
		if len(sub) > 0 && len(sub[0]) > 0 {
			aus = append(aus, sub[0][0])
		} else {
			aus = append(aus, nil) // keeps the timing of the next ones
		}
	}
	return audioFrames(aus, pts, samplesPerFrame(d.cfg)), nil
}

// opusDepack takes RFC 7587 Opus: one packet per RTP packet.
type opusDepack struct {
	dec      *rtpsimpleaudio.Decoder
	channels int
}

func (d *opusDepack) codec() stream.Codec { return &stream.Opus{ChannelCount: d.channels} }

func (d *opusDepack) decode(pkt *rtp.Packet, pts int64) ([]frame, error) {
	b, err := d.dec.Decode(pkt)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, nil
	}
	return []frame{{pts: pts, dts: pts, key: true, payload: [][]byte{b}}}, nil
}
