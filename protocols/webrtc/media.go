package webrtc

import (
	"fmt"
	"strconv"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/sdp/v3"
	pion "github.com/pion/webrtc/v4"
)

// Each session gets a media engine holding exactly the payload types chosen
// in its offer (negotiate.go): pion then answers with those and nothing
// else, whatever order and variety the browser offered.

// nackInterval is how often missing packets of a WHIP publisher are NACKed.
const nackInterval = 40 * time.Millisecond

var (
	fbNACK = pion.RTCPFeedback{Type: "nack"}
	fbPLI  = pion.RTCPFeedback{Type: "nack", Parameter: "pli"}
	fbFIR  = pion.RTCPFeedback{Type: "ccm", Parameter: "fir"}
)

func registerChoice(m *pion.MediaEngine, kind trackKind, c *codecChoice, fb []pion.RTCPFeedback) error {
	cap := pion.RTPCodecCapability{ClockRate: c.clock, SDPFmtpLine: c.fmtp, RTCPFeedback: fb}
	typ := pion.RTPCodecTypeVideo
	if kind == kindVideo {
		cap.MimeType = pion.MimeTypeH264
	} else {
		cap.MimeType, cap.Channels, typ = pion.MimeTypeOpus, 2, pion.RTPCodecTypeAudio
	}
	if err := m.RegisterCodec(pion.RTPCodecParameters{RTPCodecCapability: cap, PayloadType: pion.PayloadType(c.pt)}, typ); err != nil {
		return fmt.Errorf("register %s: %w", cap.MimeType, err)
	}
	if c.rtxPT != 0 {
		rtx := pion.RTPCodecCapability{MimeType: pion.MimeTypeRTX, ClockRate: c.clock, SDPFmtpLine: "apt=" + strconv.Itoa(int(c.pt))}
		if err := m.RegisterCodec(pion.RTPCodecParameters{RTPCodecCapability: rtx, PayloadType: pion.PayloadType(c.rtxPT)}, typ); err != nil {
			return fmt.Errorf("register RTX: %w", err)
		}
	}
	return nil
}

// ingestEngine receives what a WHIP publisher sends: NACKs (with RTX when
// offered) repair losses, receiver reports and transport-wide congestion
// control feedback let the publisher's encoder adapt its bitrate.
func ingestEngine(o *offer) (*pion.MediaEngine, *interceptor.Registry, error) {
	m := &pion.MediaEngine{}
	ir := &interceptor.Registry{}
	if c := o.choice[kindVideo]; c != nil {
		if err := registerChoice(m, kindVideo, c, []pion.RTCPFeedback{fbNACK, fbPLI, fbFIR}); err != nil {
			return nil, nil, err
		}
	}
	if c := o.choice[kindAudio]; c != nil {
		if err := registerChoice(m, kindAudio, c, nil); err != nil {
			return nil, nil, err
		}
	}
	// NACK soon and a few times: the reorder buffer waits videoReorderDelay
	// for a repair, then gives the gap up (and asks for a keyframe).
	// The mid extension lets pion route a publisher's packets whose SSRC
	// the offer did not declare.
	for _, typ := range []pion.RTPCodecType{pion.RTPCodecTypeVideo, pion.RTPCodecTypeAudio} {
		if err := m.RegisterHeaderExtension(pion.RTPHeaderExtensionCapability{URI: sdp.SDESMidURI}, typ); err != nil {
			return nil, nil, fmt.Errorf("mid extension: %w", err)
		}
	}
	gen, err := nack.NewGeneratorInterceptor(
		nack.GeneratorInterval(nackInterval),
		nack.GeneratorMaxNacksPerPacket(uint16(videoReorderDelay/nackInterval)+1),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("nack generator: %w", err)
	}
	ir.Add(gen)
	recv, err := report.NewReceiverInterceptor()
	if err != nil {
		return nil, nil, fmt.Errorf("receiver reports: %w", err)
	}
	ir.Add(recv)
	if err := pion.ConfigureTWCCSender(m, ir); err != nil {
		return nil, nil, fmt.Errorf("twcc: %w", err)
	}
	return m, ir, nil
}

// playbackEngine sends to a WHEP viewer, with no interceptor. NACKs are
// answered from the stream's shared packet history (read.go) instead of
// pion's responder, which would copy every packet into a per-viewer
// buffer; without RTX the retransmission is the shared packet itself.
// Sender reports, which browsers need for lip sync, are the viewer's own
// (sr.go): pion's map RTP time to the time a packet was sent, which for
// transcoded audio is later than its video by the transcoder's delay.
func playbackEngine(o *offer) (*pion.MediaEngine, *interceptor.Registry, error) {
	m := &pion.MediaEngine{}
	ir := &interceptor.Registry{}
	if c := o.choice[kindVideo]; c != nil {
		c.rtxPT = 0
		if err := registerChoice(m, kindVideo, c, []pion.RTCPFeedback{fbNACK, fbPLI, fbFIR}); err != nil {
			return nil, nil, err
		}
	}
	if c := o.choice[kindAudio]; c != nil {
		if err := registerChoice(m, kindAudio, c, nil); err != nil {
			return nil, nil, err
		}
	}
	return m, ir, nil
}
