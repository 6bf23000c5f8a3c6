package webrtc

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pion/ice/v4"
	pion "github.com/pion/webrtc/v4"
)

// maxTrickleCandidates bounds the candidates of one PATCH.
const maxTrickleCandidates = 64

var errBadFrag = errors.New("bad trickle ICE fragment")

// sdpFrag is an application/trickle-ice-sdpfrag body (RFC 8840): ICE
// credentials, then per media section its mid and candidates.
type sdpFrag struct {
	ufrag, pwd string
	candidates []fragCandidate
	end        bool // a=end-of-candidates
}

type fragCandidate struct {
	mid   string
	mline uint16
	value string // "candidate:..." as pion's ICECandidateInit wants it
}

// parseSDPFrag reads a trickle fragment. Every line must be one the format
// allows; candidates must parse as ICE candidates.
func parseSDPFrag(body []byte) (*sdpFrag, error) {
	f := &sdpFrag{}
	mline := -1
	mid := ""
	for n, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		if len(line) < 2 || line[1] != '=' {
			return nil, fmt.Errorf("%w: line %d is not an SDP line", errBadFrag, n+1)
		}
		switch line[0] {
		case 'm':
			mline++
			mid = ""
			continue
		case 'c', 'b':
			continue
		case 'a':
		default:
			return nil, fmt.Errorf("%w: line %d: %q lines do not belong in a fragment", errBadFrag, n+1, line[:2])
		}
		key, val, _ := strings.Cut(line[2:], ":")
		switch key {
		case "ice-ufrag":
			f.ufrag = val
		case "ice-pwd":
			f.pwd = val
		case "ice-options", "group":
		case "mid":
			if mline < 0 {
				return nil, fmt.Errorf("%w: a=mid before any m= line", errBadFrag)
			}
			mid = val
		case "candidate":
			if mline < 0 {
				return nil, fmt.Errorf("%w: a=candidate before any m= line", errBadFrag)
			}
			if len(f.candidates) == maxTrickleCandidates {
				return nil, fmt.Errorf("%w: more than %d candidates", errBadFrag, maxTrickleCandidates)
			}
			if _, err := ice.UnmarshalCandidate(val); err != nil {
				return nil, fmt.Errorf("%w: line %d: %w", errBadFrag, n+1, err)
			}
			f.candidates = append(f.candidates, fragCandidate{mid: mid, mline: uint16(mline), value: "candidate:" + val})
		case "end-of-candidates":
			f.end = true
		default:
			// Other attributes (extensions) are ignored, as in an SDP.
		}
	}
	if mline < 0 && len(f.candidates) == 0 && !f.end && f.ufrag == "" {
		return nil, fmt.Errorf("%w: empty fragment", errBadFrag)
	}
	return f, nil
}

func (c fragCandidate) init() pion.ICECandidateInit {
	mid, mline := c.mid, c.mline
	init := pion.ICECandidateInit{Candidate: c.value, SDPMLineIndex: &mline}
	if mid != "" {
		init.SDPMid = &mid
	}
	return init
}
