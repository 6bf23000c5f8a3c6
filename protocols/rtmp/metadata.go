package rtmp

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	flvtag "github.com/yutopp/go-flv/tag"
)

// metadata is what the session takes from onMetaData: which tracks the
// encoder announced, so that it publishes as soon as their configurations
// arrived instead of waiting for a track that will never come.
type metadata struct {
	Video, Audio           bool
	VideoCodec, AudioCodec string // as announced, for logs
}

var errNoOnMetaData = errors.New("no onMetaData object")

// parseMetadata decodes the payload of @setDataFrame: the string
// "onMetaData" followed by an ECMA array (or object) of properties.
// videocodecid and audiocodecid are numbers (FLV codec ids) or, from
// enhanced-RTMP encoders, FourCC strings; their presence says a track comes.
func parseMetadata(b []byte) (m metadata, err error) {
	// go-amf0 preallocates strict arrays from their declared length.
	if err := checkAMF0(b); err != nil {
		return metadata{}, err
	}
	// and panics on some inputs (an ECMA array as the value of any but the
	// first property of another one).
	defer func() {
		if r := recover(); r != nil {
			m, err = metadata{}, fmt.Errorf("onMetaData: go-amf0 panicked: %v", r)
		}
	}()
	var sd flvtag.ScriptData
	if err := flvtag.DecodeScriptData(bytes.NewReader(b), &sd); err != nil {
		return metadata{}, fmt.Errorf("onMetaData: %w", err)
	}
	obj, ok := sd.Objects["onMetaData"]
	if !ok {
		return metadata{}, errNoOnMetaData
	}
	m.Video, m.VideoCodec = codecID(obj["videocodecid"])
	m.Audio, m.AudioCodec = codecID(obj["audiocodecid"])
	return m, nil
}

// codecID reports whether v announces a codec, and names it.
func codecID(v any) (bool, string) {
	switch v := v.(type) {
	case float64:
		if v == 0 {
			// Some encoders write 0 for "no such track".
			return false, ""
		}
		return true, strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		return v != "", fourCC([]byte(v))
	default:
		return false, ""
	}
}
