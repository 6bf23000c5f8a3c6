package webrtc

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"vitrine/stream"
)

// trackKind indexes per-kind state: a session carries at most one video and
// one audio track.
type trackKind int

const (
	kindVideo trackKind = iota
	kindAudio
	numKinds
)

func (k trackKind) String() string { return [...]string{"video", "audio"}[k] }

var (
	// errBadSDP: the body is not an SDP offer we can read (400).
	errBadSDP = errors.New("bad SDP offer")
	// errCodecs: the offer is valid but carries nothing we can take (406).
	errCodecs = errors.New("no acceptable codec")
)

// codecChoice is the payload type picked in one m-line of an offer.
type codecChoice struct {
	mid      string
	pt       uint8
	clock    uint32
	channels uint16
	fmtp     string
	rtxPT    uint8 // 0: the offer has no RTX for it
	// stereo is the Opus fmtp's stereo=1.
	stereo bool
}

// offer is a parsed SDP offer and the codecs chosen in it.
type offer struct {
	sdp   string
	desc  *sdp.SessionDescription
	ufrag string
	mids  []string
	// choice per kind; nil when that kind is not negotiated.
	choice [numKinds]*codecChoice
	// skipped says why a media section was not taken, for logs and errors.
	skipped []string
}

// rtpMap is one payload type of a media section.
type rtpMap struct {
	pt       uint8
	name     string // as written, e.g. "H264", "opus"
	clock    uint32
	channels uint16
	fmtp     string
}

func (r rtpMap) param(key string) (string, bool) {
	for p := range strings.SplitSeq(r.fmtp, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, key) {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// parseOffer reads an SDP offer. It checks what pion needs to answer and
// what the errors should name; pion's own parser checks the rest.
func parseOffer(body []byte) (*offer, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadSDP, err)
	}
	if len(sd.MediaDescriptions) == 0 {
		return nil, fmt.Errorf("%w: no media section", errBadSDP)
	}
	o := &offer{sdp: string(body), desc: &sd}
	o.ufrag, _ = sd.Attribute("ice-ufrag")
	for i, md := range sd.MediaDescriptions {
		mid, ok := md.Attribute("mid")
		if !ok || mid == "" {
			return nil, fmt.Errorf("%w: media section %d has no a=mid", errBadSDP, i)
		}
		o.mids = append(o.mids, mid)
		if u, ok := md.Attribute("ice-ufrag"); ok && o.ufrag == "" {
			o.ufrag = u
		}
	}
	if o.ufrag == "" {
		return nil, fmt.Errorf("%w: no a=ice-ufrag", errBadSDP)
	}
	if _, ok := sd.Attribute("fingerprint"); !ok && !slices.ContainsFunc(sd.MediaDescriptions,
		func(md *sdp.MediaDescription) bool { _, ok := md.Attribute("fingerprint"); return ok }) {
		return nil, fmt.Errorf("%w: no a=fingerprint (DTLS is required)", errBadSDP)
	}
	return o, nil
}

// direction of a media section as written by the offerer.
func direction(md *sdp.MediaDescription) string {
	for _, d := range []string{"sendrecv", "sendonly", "recvonly", "inactive"} {
		if _, ok := md.Attribute(d); ok {
			return d
		}
	}
	return "sendrecv"
}

func rtpMaps(md *sdp.MediaDescription) []rtpMap {
	byPT := map[uint8]*rtpMap{}
	var order []uint8
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue
		}
		if _, dup := byPT[uint8(pt)]; !dup {
			byPT[uint8(pt)] = &rtpMap{pt: uint8(pt)}
			order = append(order, uint8(pt))
		}
	}
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" && a.Key != "fmtp" {
			continue
		}
		ptStr, rest, ok := strings.Cut(a.Value, " ")
		if !ok {
			continue
		}
		pt, err := strconv.ParseUint(ptStr, 10, 7)
		if err != nil {
			continue
		}
		m := byPT[uint8(pt)]
		if m == nil {
			continue
		}
		rest = strings.TrimSpace(rest)
		if a.Key == "fmtp" {
			m.fmtp = rest
			continue
		}
		parts := strings.Split(rest, "/")
		m.name = parts[0]
		if len(parts) > 1 {
			c, _ := strconv.ParseUint(parts[1], 10, 32)
			m.clock = uint32(c)
		}
		if len(parts) > 2 {
			c, _ := strconv.ParseUint(parts[2], 10, 16)
			m.channels = uint16(c)
		}
	}
	out := make([]rtpMap, 0, len(order))
	for _, pt := range order {
		out = append(out, *byPT[pt])
	}
	return out
}

func codecNames(maps []rtpMap) string {
	var names []string
	for _, m := range maps {
		n := m.name
		if n == "" {
			n = "PT " + strconv.Itoa(int(m.pt))
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}

// h264Profile is the profile_idc and constraint flags of a
// profile-level-id (the level does not restrict a decoder's choice).
type h264Profile [2]byte

func profileOf(m rtpMap) (h264Profile, bool) {
	v, ok := m.param("profile-level-id")
	if !ok {
		// RFC 6184: absent means Baseline.
		return h264Profile{0x42, 0x00}, true
	}
	b, err := hex.DecodeString(v)
	if err != nil || len(b) != 3 {
		return h264Profile{}, false
	}
	return h264Profile{b[0], b[1]}, true
}

func packetizationMode(m rtpMap) string {
	if v, ok := m.param("packetization-mode"); ok {
		return v
	}
	return "0"
}

// ingestProfileRank orders what a WHIP publisher may send: profiles every
// viewer decodes first (a WHEP viewer gets the publisher's bitstream as is).
func ingestProfileRank(p h264Profile) int {
	switch {
	case p[0] == 0x42 && p[1]&0x40 != 0: // Constrained Baseline
		return 4
	case p[0] == 0x42:
		return 3
	case p[0] == 0x4d: // Main
		return 2
	case p[0] == 0x64: // High
		return 1
	}
	return 0
}

// pickH264 returns the best H.264 payload type of a media section. rank
// scores a profile; packetization-mode 1 is preferred over 0, which only
// allowPM0 accepts.
func pickH264(maps []rtpMap, rank func(h264Profile) int, allowPM0 bool) (rtpMap, bool) {
	best, bestScore := rtpMap{}, -1
	for _, m := range maps {
		if !strings.EqualFold(m.name, "H264") || m.clock != 90000 {
			continue
		}
		prof, ok := profileOf(m)
		if !ok {
			continue
		}
		score := rank(prof)
		switch packetizationMode(m) {
		case "1":
			score += 100
		case "0":
			if !allowPM0 {
				continue
			}
		default: // interleaved mode: not supported
			continue
		}
		if score > bestScore {
			best, bestScore = m, score
		}
	}
	return best, bestScore >= 0
}

func pickOpus(maps []rtpMap) (rtpMap, bool) {
	for _, m := range maps {
		if strings.EqualFold(m.name, "opus") && m.clock == 48000 {
			return m, true
		}
	}
	return rtpMap{}, false
}

// rtxFor finds the RTX payload type that repairs pt.
func rtxFor(maps []rtpMap, pt uint8) uint8 {
	for _, m := range maps {
		if strings.EqualFold(m.name, "rtx") {
			if apt, ok := m.param("apt"); ok && apt == strconv.Itoa(int(pt)) {
				return m.pt
			}
		}
	}
	return 0
}

func choiceOf(mid string, m rtpMap) *codecChoice {
	c := &codecChoice{mid: mid, pt: m.pt, clock: m.clock, channels: m.channels, fmtp: m.fmtp}
	if v, ok := m.param("stereo"); ok && v == "1" {
		c.stereo = true
	}
	return c
}

// chooseWHIP picks the codecs a publisher will send: H.264 and Opus. A
// media section the publisher would send and we cannot take fails the whole
// offer (406), so that nothing is dropped silently.
func chooseWHIP(body []byte) (*offer, error) {
	o, err := parseOffer(body)
	if err != nil {
		return nil, err
	}
	for _, md := range o.desc.MediaDescriptions {
		mid, _ := md.Attribute("mid")
		kindName := md.MediaName.Media
		if md.MediaName.Port.Value == 0 {
			continue
		}
		if kindName != "video" && kindName != "audio" {
			o.skipped = append(o.skipped, fmt.Sprintf("%s section %q ignored", kindName, mid))
			continue
		}
		if d := direction(md); d != "sendonly" && d != "sendrecv" {
			o.skipped = append(o.skipped, fmt.Sprintf("%s section %q is %s: nothing to publish", kindName, mid, d))
			continue
		}
		maps := rtpMaps(md)
		kind := kindVideo
		if kindName == "audio" {
			kind = kindAudio
		}
		if o.choice[kind] != nil {
			return nil, fmt.Errorf("%w: more than one %s track (WHIP takes one video and one audio track)", errCodecs, kindName)
		}
		if kind == kindVideo {
			m, ok := pickH264(maps, ingestProfileRank, true)
			if !ok {
				return nil, fmt.Errorf("%w: video offers %s; publish H.264 (packetization-mode=1)", errCodecs, codecNames(maps))
			}
			c := choiceOf(mid, m)
			c.rtxPT = rtxFor(maps, m.pt)
			o.choice[kindVideo] = c
		} else {
			m, ok := pickOpus(maps)
			if !ok {
				return nil, fmt.Errorf("%w: audio offers %s; publish Opus", errCodecs, codecNames(maps))
			}
			o.choice[kindAudio] = choiceOf(mid, m)
		}
	}
	if o.choice[kindVideo] == nil && o.choice[kindAudio] == nil {
		return nil, fmt.Errorf("%w: the offer sends no audio or video", errCodecs)
	}
	return o, nil
}

// trackSelection is what of a stream WebRTC viewers can get.
type trackSelection struct {
	index [numKinds]int // hub track index, -1 when not carried
	sps   []byte
	why   [numKinds]string
	opus  *stream.Opus
	aac   *stream.MPEG4Audio // carried as Opus (transcoded)
}

// selectTracks picks the first H.264 track and the first Opus track.
func selectTracks(tracks []*stream.Track) trackSelection {
	sel := trackSelection{index: [numKinds]int{-1, -1}}
	var otherVideo, otherAudio string
	for _, t := range tracks {
		switch c := t.Codec.(type) {
		case *stream.H264:
			if sel.index[kindVideo] < 0 {
				sel.index[kindVideo], sel.sps = t.Index, c.SPS
			}
		case *stream.Opus:
			if sel.index[kindAudio] < 0 {
				sel.index[kindAudio], sel.opus = t.Index, c
			}
		default:
			if t.Codec.IsVideo() {
				otherVideo = t.Codec.String()
			} else {
				otherAudio = t.Codec.String()
			}
		}
	}
	if sel.index[kindVideo] < 0 {
		sel.why[kindVideo] = "the stream has no video"
		if otherVideo != "" {
			sel.why[kindVideo] = otherVideo + " source (not playable over WebRTC)"
		}
	}
	if sel.index[kindAudio] < 0 {
		sel.why[kindAudio] = "the stream has no audio"
		if otherAudio != "" {
			sel.why[kindAudio] = otherAudio + " source (not playable over WebRTC)"
		}
	}
	return sel
}

func (sel trackSelection) videoNote() string {
	if sel.index[kindVideo] >= 0 {
		return "H264"
	}
	return "none: " + sel.why[kindVideo]
}

func (sel trackSelection) audioNote() string {
	switch {
	case sel.aac != nil:
		return "Opus (transcoded from AAC)"
	case sel.index[kindAudio] >= 0:
		return "Opus"
	}
	return "none: " + sel.why[kindAudio]
}

// playbackProfileRank prefers the stream's own profile, so that the answer
// says what the viewer will get; any H.264 decoder in a browser decodes the
// common profiles whatever was negotiated, so another profile is the
// fallback rather than a refusal.
func playbackProfileRank(sps []byte) func(h264Profile) int {
	return func(p h264Profile) int {
		if len(sps) >= 3 {
			switch {
			case p[0] == sps[1] && p[1] == sps[2]:
				return 20
			case p[0] == sps[1]:
				return 10 + ingestProfileRank(p)
			}
		}
		return ingestProfileRank(p)
	}
}

// chooseWHEP picks, in a viewer's offer, the codecs that carry the stream's
// tracks. Sections that cannot be served are left for pion to reject; the
// offer fails (406) only when nothing at all can be played.
func chooseWHEP(body []byte, sel trackSelection) (*offer, error) {
	o, err := parseOffer(body)
	if err != nil {
		return nil, err
	}
	for _, md := range o.desc.MediaDescriptions {
		mid, _ := md.Attribute("mid")
		kindName := md.MediaName.Media
		if md.MediaName.Port.Value == 0 || (kindName != "video" && kindName != "audio") {
			continue
		}
		if d := direction(md); d != "recvonly" && d != "sendrecv" {
			o.skipped = append(o.skipped, fmt.Sprintf("%s section %q is %s: nothing to play", kindName, mid, direction(md)))
			continue
		}
		kind := kindVideo
		if kindName == "audio" {
			kind = kindAudio
		}
		if o.choice[kind] != nil {
			o.skipped = append(o.skipped, fmt.Sprintf("%s section %q: the stream has one %s track", kindName, mid, kindName))
			continue
		}
		if sel.index[kind] < 0 {
			o.skipped = append(o.skipped, fmt.Sprintf("%s: none: %s", kindName, sel.why[kind]))
			continue
		}
		maps := rtpMaps(md)
		var m rtpMap
		var ok bool
		if kind == kindVideo {
			m, ok = pickH264(maps, playbackProfileRank(sel.sps), false)
		} else {
			m, ok = pickOpus(maps)
		}
		if !ok {
			want := "H.264 (packetization-mode=1)"
			if kind == kindAudio {
				want = "Opus"
			}
			o.skipped = append(o.skipped, fmt.Sprintf("%s section %q offers %s; the stream is %s", kindName, mid, codecNames(maps), want))
			continue
		}
		o.choice[kind] = choiceOf(mid, m)
	}
	if o.choice[kindVideo] == nil && o.choice[kindAudio] == nil {
		why := strings.Join(o.skipped, "; ")
		if why == "" {
			why = "the offer receives no audio or video"
		}
		return nil, fmt.Errorf("%w: %s", errCodecs, why)
	}
	return o, nil
}
