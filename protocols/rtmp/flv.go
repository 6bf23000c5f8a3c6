package rtmp

import (
	"bytes"
	"errors"
	"fmt"

	flvtag "github.com/yutopp/go-flv/tag"
)

// The FLV tag bodies carried by RTMP audio and video messages. go-flv decodes
// the header bits; these wrappers turn its io.Reader view into sub-slices of
// the message and give unsupported codecs an error a publisher can act on.

var errEmptyTag = errors.New("empty FLV tag body")

// frameTypeCommand is the FLV "video info/command frame": a player hint with
// no picture, which a remuxer skips.
const frameTypeCommand = 5

// videoTag is the header of one FLV video tag body with an AVC payload.
type videoTag struct {
	// Command marks a video info/command frame, to be skipped.
	Command bool
	// PacketType is 0 (AVCDecoderConfigurationRecord), 1 (NAL units) or
	// 2 (end of sequence).
	PacketType flvtag.AVCPacketType
	// CTS is the composition time offset in milliseconds (PTS - DTS), signed.
	CTS int32
	// Data aliases the message: an AVCDecoderConfigurationRecord or AVCC
	// length-prefixed NAL units.
	Data []byte
}

// parseVideoTag decodes an FLV VideoTagHeader. Only H.264 (codec id 7) is
// accepted; anything else, including enhanced-RTMP HEVC/AV1/VP9, is an error
// naming the codec so the log says what the encoder must change.
func parseVideoTag(b []byte) (videoTag, error) {
	if len(b) == 0 {
		return videoTag{}, errEmptyTag
	}
	if b[0]&0x80 != 0 {
		// Enhanced RTMP (IsExHeader): a FourCC follows the first byte.
		if len(b) >= 5 {
			return videoTag{}, fmt.Errorf("video codec %q (enhanced RTMP) is not supported, use H.264", fourCC(b[1:5]))
		}
		return videoTag{}, errors.New("truncated enhanced RTMP video tag")
	}
	if b[0]>>4 == frameTypeCommand {
		return videoTag{Command: true}, nil
	}
	r := bytes.NewReader(b)
	var vd flvtag.VideoData
	if err := flvtag.DecodeVideoData(r, &vd); err != nil {
		return videoTag{}, fmt.Errorf("video tag header: %w", err)
	}
	if vd.CodecID != flvtag.CodecIDAVC {
		return videoTag{}, fmt.Errorf("video codec %s (FLV codec id %d) is not supported, use H.264", videoCodecName(vd.CodecID), vd.CodecID)
	}
	if vd.AVCPacketType > flvtag.AVCPacketTypeEOS {
		return videoTag{}, fmt.Errorf("unknown AVC packet type %d", vd.AVCPacketType)
	}
	return videoTag{
		PacketType: vd.AVCPacketType,
		CTS:        vd.CompositionTime,
		Data:       b[len(b)-r.Len():],
	}, nil
}

// audioTag is the header of one FLV audio tag body with an AAC payload.
type audioTag struct {
	// PacketType is 0 (AudioSpecificConfig) or 1 (raw AAC frame).
	PacketType flvtag.AACPacketType
	Data       []byte
}

// parseAudioTag decodes an FLV AudioTagHeader. Only AAC is accepted.
func parseAudioTag(b []byte) (audioTag, error) {
	if len(b) == 0 {
		return audioTag{}, errEmptyTag
	}
	if flvtag.SoundFormat(b[0]>>4) == 9 {
		// Enhanced RTMP audio (ExHeader): a FourCC follows.
		if len(b) >= 5 {
			return audioTag{}, fmt.Errorf("audio codec %q (enhanced RTMP) is not supported, use AAC", fourCC(b[1:5]))
		}
		return audioTag{}, errors.New("truncated enhanced RTMP audio tag")
	}
	r := bytes.NewReader(b)
	var ad flvtag.AudioData
	if err := flvtag.DecodeAudioData(r, &ad); err != nil {
		return audioTag{}, fmt.Errorf("audio tag header: %w", err)
	}
	if ad.SoundFormat != flvtag.SoundFormatAAC {
		return audioTag{}, fmt.Errorf("audio codec %s (FLV sound format %d) is not supported, use AAC", audioCodecName(ad.SoundFormat), ad.SoundFormat)
	}
	if ad.AACPacketType > flvtag.AACPacketTypeRaw {
		return audioTag{}, fmt.Errorf("unknown AAC packet type %d", ad.AACPacketType)
	}
	return audioTag{PacketType: ad.AACPacketType, Data: b[len(b)-r.Len():]}, nil
}

func fourCC(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		out[i] = c
	}
	return string(out)
}

func videoCodecName(id flvtag.CodecID) string {
	switch id {
	case flvtag.CodecIDJPEG:
		return "JPEG"
	case flvtag.CodecIDSorensonH263:
		return "Sorenson H.263"
	case flvtag.CodecIDScreenVideo, flvtag.CodecIDScreenVideoVersion2:
		return "Screen Video"
	case flvtag.CodecIDOn2VP6, flvtag.CodecIDOn2VP6WithAlphaChannel:
		return "VP6"
	case 12:
		return "HEVC (non-standard id 12)"
	default:
		return "unknown"
	}
}

func audioCodecName(f flvtag.SoundFormat) string {
	switch f {
	case flvtag.SoundFormatMP3, flvtag.SoundFormatMP3_8kHz:
		return "MP3"
	case flvtag.SoundFormatSpeex:
		return "Speex"
	case flvtag.SoundFormatNellymoser, flvtag.SoundFormatNellymoser16kHzMono, flvtag.SoundFormatNellymoser8kHzMono:
		return "Nellymoser"
	case flvtag.SoundFormatG711ALawLogarithmicPCM, flvtag.SoundFormatG711muLawLogarithmicPCM:
		return "G.711"
	case flvtag.SoundFormatLinearPCMPlatformEndian, flvtag.SoundFormatLinearPCMLittleEndian:
		return "PCM"
	case flvtag.SoundFormatADPCM:
		return "ADPCM"
	default:
		return "unknown"
	}
}
