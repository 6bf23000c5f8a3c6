package rtmp

import (
	"errors"
	"fmt"
)

// maxAMF0Depth bounds the nesting of AMF0 objects and arrays. Encoders send
// flat objects (depth 2 at most); go-amf0 decodes by recursion.
const maxAMF0Depth = 32

// errAMF0Stop ends a scan at a value go-amf0 refuses to decode (or a
// truncated one): the decoder fails there itself, before allocating anything.
var errAMF0Stop = errors.New("amf0: stop")

// checkAMF0 scans a sequence of AMF0 values for the inputs that would make
// go-amf0 exhaust the process rather than fail: a strict array whose declared
// length exceeds what the message can hold (go-amf0 preallocates
// make([]any, length), up to 2^31 elements, a fatal out-of-memory), and
// nesting deep enough to grow the stack without bound. Anything else that is
// malformed is left for go-amf0 to reject with its own error.
func checkAMF0(b []byte) error {
	for pos := 0; pos < len(b); {
		n, err := amf0Value(b[pos:], 0)
		if errors.Is(err, errAMF0Stop) {
			return nil
		}
		if err != nil {
			return err
		}
		pos += n
	}
	return nil
}

// amf0Value returns the encoded size of the AMF0 value at the start of b.
func amf0Value(b []byte, depth int) (int, error) {
	if len(b) == 0 {
		return 0, errAMF0Stop
	}
	if depth > maxAMF0Depth {
		return 0, fmt.Errorf("amf0: values nested deeper than %d", maxAMF0Depth)
	}
	fixed := func(n int) (int, error) {
		if len(b) < n {
			return 0, errAMF0Stop
		}
		return n, nil
	}
	switch b[0] {
	case 0x00: // number
		return fixed(9)
	case 0x01: // boolean
		return fixed(2)
	case 0x02: // string
		if len(b) < 3 {
			return 0, errAMF0Stop
		}
		return fixed(3 + (int(b[1])<<8 | int(b[2])))
	case 0x03: // object
		return amf0Properties(b, 1, depth)
	case 0x05, 0x06: // null, undefined
		return 1, nil
	case 0x08: // ECMA array: a count go-amf0 ignores, then properties
		if len(b) < 5 {
			return 0, errAMF0Stop
		}
		return amf0Properties(b, 5, depth)
	case 0x0a: // strict array
		if len(b) < 5 {
			return 0, errAMF0Stop
		}
		count := uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(b[4])
		// Every element takes at least one byte.
		if count > uint64(len(b)-5) {
			return 0, fmt.Errorf("amf0: strict array of %d elements in %d bytes", count, len(b)-5)
		}
		pos := 5
		for range count {
			n, err := amf0Value(b[pos:], depth+1)
			if err != nil {
				return 0, err
			}
			pos += n
		}
		return pos, nil
	case 0x0b: // date
		return fixed(11)
	default:
		// Movie clip, reference, object end, long string, unsupported,
		// record set, XML document, typed object: go-amf0 fails on them.
		return 0, errAMF0Stop
	}
}

// amf0Properties skips key/value pairs from pos up to the object end marker.
func amf0Properties(b []byte, pos, depth int) (int, error) {
	for {
		if len(b)-pos < 2 {
			return 0, errAMF0Stop
		}
		k := int(b[pos])<<8 | int(b[pos+1])
		pos += 2
		if k == 0 {
			if pos < len(b) && b[pos] == 0x09 {
				return pos + 1, nil
			}
			return 0, errAMF0Stop
		}
		if len(b)-pos < k {
			return 0, errAMF0Stop
		}
		pos += k
		n, err := amf0Value(b[pos:], depth+1)
		if err != nil {
			return 0, err
		}
		pos += n
	}
}
