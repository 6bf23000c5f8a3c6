package rtmp

import (
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// parseAACConfig decodes the AudioSpecificConfig of an AAC sequence header
// (ISO 14496-3 1.6.2.1) with mediacommon, and bounds what readers will be
// asked to handle.
func parseAACConfig(b []byte) (*mpeg4audio.AudioSpecificConfig, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("empty AudioSpecificConfig")
	}
	var c mpeg4audio.AudioSpecificConfig
	if err := c.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("AudioSpecificConfig: %w", err)
	}
	if c.SampleRate <= 0 || c.SampleRate > 96000 {
		return nil, fmt.Errorf("AudioSpecificConfig: unsupported sample rate %d", c.SampleRate)
	}
	if c.ChannelCount <= 0 || c.ChannelCount > 8 {
		return nil, fmt.Errorf("AudioSpecificConfig: unsupported channel count %d", c.ChannelCount)
	}
	// Readers marshal it again for their muxers: make sure they can.
	if _, err := c.Marshal(); err != nil {
		return nil, fmt.Errorf("AudioSpecificConfig: %w", err)
	}
	return &c, nil
}
