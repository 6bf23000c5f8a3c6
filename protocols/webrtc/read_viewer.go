package webrtc

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
)

const (
	// viewerQueue is how many packets a viewer may have pending: a
	// replayed keyframe interval plus a few hundred milliseconds. A viewer
	// that falls that far behind loses its queue and resumes at the next
	// keyframe.
	viewerQueue = 4096
	// srtpWait bounds how long the first packets wait for the viewer's SRTP
	// session: pion reports a connected peer just before it is ready.
	srtpWait = 2 * time.Second
	// keyframeGrace: a viewer's PLI this soon after a keyframe was sent to
	// it crossed that keyframe on the way; a viewer that still cannot
	// decode asks again.
	keyframeGrace = 300 * time.Millisecond
)

// viewer is one WHEP session's media path: a bounded queue of shared
// packets filled by the fanout, drained by the viewer's own writer goroutine.
type viewer struct {
	ss     *session
	fanout *fanout
	tracks [numKinds]*viewerTrack // nil: kind not negotiated
	notify chan struct{}
	// wantKey is set under the fanout's lock when the queue overflowed; the
	// writer asks the publisher outside of it.
	wantKey atomic.Bool
	// sent counts the packets handed to pion, resent the NACKed ones.
	sent   atomic.Uint64
	resent atomic.Uint64
	// lastKey is when a keyframe was last written (unix ns): a PLI right
	// after it was sent before the keyframe arrived.
	lastKey atomic.Int64
	// resend bounds what the viewer's NACKs make the server send again.
	resend resendGuard
	// direct writes the viewer's RTP past pion's per-packet layers
	// (srtp_direct.go); nil: through pion. Writer goroutine only.
	direct *directSender

	mu       sync.Mutex
	ring     []*packet
	head, n  int
	waitKey  bool // video waits for a keyframe's first packet
	started  [numKinds]bool
	startSeq [numKinds]uint16
}

func newViewer(ss *session) *viewer {
	return &viewer{ss: ss, notify: make(chan struct{}, 1), ring: make([]*packet, viewerQueue), waitKey: true}
}

// enqueue queues shared packets; it never blocks (it runs under the fanout's
// lock). Live video waits for a keyframe start; retransmissions are
// queued as they are.
func (v *viewer) enqueue(pkts []*packet, retransmit bool) {
	if len(pkts) == 0 {
		return
	}
	v.mu.Lock()
	for _, p := range pkts {
		if v.tracks[p.kind] == nil {
			continue
		}
		if !retransmit {
			if p.kind == kindVideo && v.waitKey {
				if !p.keyStart {
					continue
				}
				v.waitKey = false
				v.started[kindVideo], v.startSeq[kindVideo] = true, p.hdr.SequenceNumber
			}
			if !v.started[p.kind] {
				v.started[p.kind], v.startSeq[p.kind] = true, p.hdr.SequenceNumber
			}
		}
		if v.n == len(v.ring) {
			if retransmit {
				break
			}
			v.overflowLocked()
			if p.kind == kindVideo && !p.keyStart {
				continue
			}
			if p.kind == kindVideo {
				v.waitKey = false
			}
			v.started[p.kind], v.startSeq[p.kind] = true, p.hdr.SequenceNumber
		}
		v.ring[(v.head+v.n)%len(v.ring)] = p
		v.n++
	}
	v.mu.Unlock()
	v.wake()
}

// overflowLocked drops the queue of a viewer that cannot keep up: it
// restarts on the next keyframe (video) and the next packet (audio), and
// NACKs for what it lost are ignored.
func (v *viewer) overflowLocked() {
	v.fanout.srv.egress.dropped.Add(uint64(v.n))
	for i := range v.n {
		v.ring[(v.head+i)%len(v.ring)] = nil
	}
	v.head, v.n = 0, 0
	v.waitKey = true
	v.started = [numKinds]bool{}
	v.wantKey.Store(true)
}

// run writes queued packets to the peer until the session ends. It waits
// on its notify channel alone (a frame queued to a hundred viewers wakes a
// hundred of these loops: a select over a timer and the session's end cost
// each wake more than the channel), and sends the sender reports when it
// wakes after they are due: a viewer is woken for every frame and audio
// packet, and reports matter only while media flows.
func (v *viewer) run() {
	batch := make([]*packet, 0, 64)
	stop := context.AfterFunc(v.ss.ctx, v.wake)
	defer stop()
	v.direct = v.fanout.srv.directSender(v.ss)
	nextReport := time.Now().Add(firstReport)
	for {
		<-v.notify
		if v.ss.ctx.Err() != nil {
			return
		}
		v.mu.Lock()
		for v.n > 0 {
			batch = append(batch, v.ring[v.head])
			v.ring[v.head] = nil
			v.head = (v.head + 1) % len(v.ring)
			v.n--
		}
		v.mu.Unlock()
		for i, p := range batch {
			v.tracks[p.kind].write(p, v.direct, v.ss.ctx.Done())
			if p.keyStart && p.kind == kindVideo {
				v.lastKey.Store(time.Now().UnixNano())
			}
			batch[i] = nil
		}
		v.sent.Add(uint64(len(batch)))
		v.fanout.srv.egress.sent.Add(uint64(len(batch)))
		if v.direct != nil {
			v.fanout.srv.egress.direct.Add(uint64(len(batch)))
		}
		batch = batch[:0]
		if v.wantKey.Swap(false) {
			v.ss.log.Debug("whep viewer fell behind: packets dropped, waiting for a keyframe")
			v.fanout.srv.requestKeyframe(v.fanout.id)
		}
		if now := time.Now(); !now.Before(nextReport) {
			v.sendReports(now)
			nextReport = now.Add(reportInterval)
		}
	}
}

// wake makes run look at its queue (and at the session's end).
func (v *viewer) wake() {
	select {
	case v.notify <- struct{}{}:
	default:
	}
}

// readRTCP answers a viewer's feedback on one of its tracks: NACKs from
// the shared history, PLI and FIR by asking the publisher (coalesced).
func (v *viewer) readRTCP(sender *pion.RTPSender, kind trackKind) {
	buf := make([]byte, receiveMTU)
	var seqs []uint16
	var resend []*packet
	for {
		n, _, err := sender.Read(buf)
		if err != nil {
			if v.ss.ctx.Err() != nil || isClosed(err) {
				return
			}
			continue
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.TransportLayerNack:
				seqs = v.nackable(kind, p, seqs[:0])
				var refused int
				seqs, refused = v.resend.admit(kind, seqs, time.Now(), v.sent.Load()-v.resent.Load())
				resend = v.fanout.retransmit(kind, seqs, resend[:0])
				v.resent.Add(uint64(len(resend)))
				v.fanout.srv.egress.resent.Add(uint64(len(resend)))
				v.fanout.srv.egress.refused.Add(uint64(refused))
				v.enqueue(resend, true)
				clear(resend)
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if time.Since(time.Unix(0, v.lastKey.Load())) < keyframeGrace {
					continue // asked before the keyframe we just sent arrived
				}
				v.fanout.srv.requestKeyframe(v.fanout.id)
			}
		}
	}
}

// maxNACKed bounds the packets one NACK may ask again.
const maxNACKed = 256

// nackable lists the NACKed sequence numbers the viewer was sent (not
// those it lost to its own overflow, nor older than its start).
func (v *viewer) nackable(kind trackKind, nack *rtcp.TransportLayerNack, dst []uint16) []uint16 {
	v.mu.Lock()
	started, start := v.started[kind], v.startSeq[kind]
	v.mu.Unlock()
	if !started {
		return dst
	}
	for _, pair := range nack.Nacks {
		pair.Range(func(seq uint16) bool {
			if int16(seq-start) >= 0 && len(dst) < maxNACKed {
				dst = append(dst, seq)
			}
			return len(dst) < maxNACKed
		})
	}
	return dst
}

// viewerTrack is a pion TrackLocal bound to one viewer's RTP sender. It
// holds no media: the viewer's writer hands it shared packets.
type viewerTrack struct {
	kind     trackKind
	id       string
	streamID string
	mime     string
	binding  atomic.Pointer[trackBinding]
	// hdr, ready and sr belong to the viewer's writer goroutine.
	hdr   rtp.Header
	ready bool
	sr    srState
}

type trackBinding struct {
	ssrc uint32
	pt   uint8
	ws   pion.TrackLocalWriter
}

var _ pion.TrackLocal = (*viewerTrack)(nil)

func newViewerTrack(kind trackKind, streamID string) *viewerTrack {
	t := &viewerTrack{kind: kind, id: kind.String(), streamID: "vitrine-" + streamID, mime: pion.MimeTypeH264}
	if kind == kindAudio {
		t.mime = pion.MimeTypeOpus
	}
	return t
}

// Bind is called by pion once the answer is applied.
func (t *viewerTrack) Bind(ctx pion.TrackLocalContext) (pion.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, t.mime) {
			t.binding.Store(&trackBinding{ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType), ws: ctx.WriteStream()})
			return c, nil
		}
	}
	return pion.RTPCodecParameters{}, pion.ErrUnsupportedCodec
}

func (t *viewerTrack) Unbind(pion.TrackLocalContext) error {
	t.binding.Store(nil)
	return nil
}

func (t *viewerTrack) ID() string       { return t.id }
func (t *viewerTrack) RID() string      { return "" }
func (t *viewerTrack) StreamID() string { return t.streamID }

func (t *viewerTrack) Kind() pion.RTPCodecType {
	if t.kind == kindVideo {
		return pion.RTPCodecTypeVideo
	}
	return pion.RTPCodecTypeAudio
}

// write sends one shared packet with this viewer's SSRC and payload type.
// Only the header is the viewer's; it is marshalled with the shared payload
// and encrypted by direct, or by pion when direct is nil.
func (t *viewerTrack) write(p *packet, direct *directSender, done <-chan struct{}) {
	b := t.binding.Load()
	if b == nil {
		return
	}
	h := &t.hdr
	*h = p.hdr
	h.SSRC, h.PayloadType = b.ssrc, b.pt
	if direct != nil {
		if n, _ := direct.write(h, p.payload); n > 0 {
			t.sr.sent(p)
		}
		return
	}
	n, err := b.ws.WriteRTP(h, p.payload)
	if n > 0 {
		t.sr.sent(p)
	}
	if t.ready || err != nil {
		return
	}
	if n > 0 {
		t.ready = true
		return
	}
	// SRTP not started yet: pion dropped the packet. Wait for it, so that
	// the first keyframe is not lost.
	deadline := time.Now().Add(srtpWait)
	for n == 0 && err == nil && time.Now().Before(deadline) {
		select {
		case <-done:
			return
		case <-time.After(5 * time.Millisecond):
		}
		*h = p.hdr
		h.SSRC, h.PayloadType = b.ssrc, b.pt
		n, err = b.ws.WriteRTP(h, p.payload)
	}
	t.ready = n > 0
	if t.ready {
		t.sr.sent(p)
	}
}
