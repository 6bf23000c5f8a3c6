package webrtc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
)

const (
	// Reordering windows: how long a packet after a gap waits for the
	// missing one (reordered, or repaired by NACK/RTX) before the gap is
	// given up. Video waits longer: a lost video packet breaks pictures
	// until the next keyframe, a lost audio packet 20 ms of sound.
	videoReorderDelay = 200 * time.Millisecond
	audioReorderDelay = 60 * time.Millisecond
	reorderSlots      = 512
	// maxReadErrors ends a session whose track keeps failing.
	maxReadErrors = 100
	// whipTick is the period of the WHIP session's loop (timeouts,
	// keyframe requests).
	whipTick = 100 * time.Millisecond
	// receiveMTU is the largest RTP packet read.
	receiveMTU = 1500
)

var errConflict = errors.New("the stream already has a publisher")

// whipSession is a WHIP publisher.
type whipSession struct {
	ss        *session
	o         *offer
	ing       *ingest
	kf        *keyframeLimiter
	videoSSRC atomic.Uint32 // 0 until the video track arrived
}

// startWHIP authorised, parsed and chose the offer's codecs already; it
// builds the session and returns its answer.
func (s *Server) startWHIP(ctx context.Context, streamID string, o *offer, remote string) (*session, string, error) {
	ss := newSession(s, kindWHIP, streamID)
	ss.ufrag = o.ufrag
	w := &whipSession{ss: ss, o: o, kf: newKeyframeLimiter(minKeyframeGap)}
	w.ing = newIngest(ss, o, w.kf, remote)
	if err := s.claimWHIP(streamID, w); err != nil {
		ss.cancel(err) // releases the session's context
		return nil, "", err
	}
	if err := s.reserve(kindWHIP, streamID); err != nil {
		ss.cancel(err)
		s.unclaimWHIP(streamID, w)
		return nil, "", err
	}
	ss.teardown = func() {
		w.ing.close()
		s.unclaimWHIP(streamID, w)
	}
	fail := func(err error) (*session, string, error) {
		s.release(kindWHIP, streamID)
		ss.abort(err)
		return nil, "", err
	}
	m, ir, err := ingestEngine(o)
	if err != nil {
		return fail(err)
	}
	if err := ss.newPeer(s.api(m, ir)); err != nil {
		return fail(err)
	}
	ss.pc.OnTrack(func(t *pion.TrackRemote, r *pion.RTPReceiver) {
		if !ss.enter() {
			return
		}
		defer ss.exit()
		w.readTrack(t, r)
	})
	answer, err := ss.answer(ctx, o, nil)
	if err != nil {
		return fail(err)
	}
	ss.onConnected = func() {
		w.ing.begin(time.Now())
		ss.spawn(w.run)
	}
	if !s.ownSession(ss) {
		ss.abort(errServerClosed)
		return nil, "", errServerClosed
	}
	go ss.run(s.cfg.ConnectTimeout)
	for _, why := range o.skipped {
		ss.log.Info("whip offer", "note", why)
	}
	return ss, answer, nil
}

// claimWHIP makes w the one WHIP session of the stream, from POST to
// teardown. An RTMP or RTSP publisher that is live also refuses it.
func (s *Server) claimWHIP(streamID string, w *whipSession) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.whips[streamID] != nil {
		return errConflict
	}
	if st, ok := s.cfg.Hub.Get(streamID); ok && st.Online() {
		return errConflict
	}
	s.whips[streamID] = w
	return nil
}

func (s *Server) unclaimWHIP(streamID string, w *whipSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.whips[streamID] == w {
		delete(s.whips, streamID)
	}
}

// requestKeyframe asks the stream's WHIP publisher, if any, for a
// keyframe. It never blocks. RTMP and RTSP publishers cannot be asked.
func (s *Server) requestKeyframe(streamID string) bool {
	s.mu.Lock()
	w := s.whips[streamID]
	s.mu.Unlock()
	if w == nil {
		return false
	}
	w.kf.request()
	return true
}

// readTrack reads one remote track until the peer connection closes. It
// runs on the goroutine pion started for OnTrack.
func (w *whipSession) readTrack(t *pion.TrackRemote, r *pion.RTPReceiver) {
	kind := kindAudio
	if t.Kind() == pion.RTPCodecTypeVideo {
		kind = kindVideo
	}
	if w.o.choice[kind] == nil {
		w.ss.log.Warn("whip track of a kind that was not negotiated", "kind", t.Kind().String())
		return
	}
	ssrc := uint32(t.SSRC())
	if kind == kindVideo {
		w.videoSSRC.Store(ssrc)
	}
	w.ss.spawn(func() { w.readRTCP(r, kind, ssrc) })

	delay := audioReorderDelay
	if kind == kindVideo {
		delay = videoReorderDelay
	}
	rb := newReorderBuffer(reorderSlots, delay)
	var dep h264Depacketizer
	var pkt rtp.Packet
	buf := make([]byte, receiveMTU)
	var now time.Time
	var malformed uint64
	emit := func(p rtpIn) {
		if kind == kindAudio {
			w.ing.onAudio(p, now)
			return
		}
		if err := dep.push(p, func(au accessUnit) { w.ing.onVideo(au, now) }); err != nil {
			if malformed++; malformed == 1 || malformed%1000 == 0 {
				w.ss.log.Warn("whip malformed H.264 payload", "error", err, "count", malformed)
			}
		}
	}
	errs := 0
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			if w.ss.ctx.Err() != nil || isClosed(err) {
				return
			}
			if errs++; errs > maxReadErrors {
				w.ss.close(fmt.Errorf("read %s track: %w", kind, err))
				return
			}
			continue
		}
		errs = 0
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		now = time.Now()
		rb.push(rtpIn{
			seq:     pkt.SequenceNumber,
			ts:      pkt.Timestamp,
			marker:  pkt.Marker,
			payload: append([]byte(nil), pkt.Payload...), // buf is reused
		}, now, emit)
	}
}

// readRTCP takes the sender reports of a track (for alignment).
func (w *whipSession) readRTCP(r *pion.RTPReceiver, kind trackKind, ssrc uint32) {
	buf := make([]byte, receiveMTU)
	for {
		n, _, err := r.Read(buf)
		if err != nil {
			if w.ss.ctx.Err() != nil || isClosed(err) {
				return
			}
			continue
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok && sr.SSRC == ssrc {
				w.ing.onSR(kind, sr.NTPTime, sr.RTPTime)
			}
		}
	}
}

// run is the session's loop from connection to end: ingest timeouts,
// keyframe requests (viewers', and periodic ones for LL-HLS segments and
// new viewers), and the hub's request to leave.
func (w *whipSession) run() {
	tick := time.NewTicker(whipTick)
	defer tick.Stop()
	periodic := w.ss.srv.cfg.KeyframeInterval
	for {
		select {
		case <-w.ss.ctx.Done():
			return
		case <-w.ing.publisherDone():
			w.ss.close(errStreamEnded)
			return
		case <-w.kf.wake:
		case <-tick.C:
		}
		now := time.Now()
		w.ing.tick(now)
		if periodic > 0 && w.ing.sinceKeyframe(now) >= periodic {
			w.kf.request()
		}
		if w.kf.due(now) {
			w.sendPLI()
		}
	}
}

func (w *whipSession) sendPLI() {
	ssrc := w.videoSSRC.Load()
	if ssrc == 0 {
		return // no video yet
	}
	if err := w.ss.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
		w.ss.log.Debug("whip send PLI", "error", err)
	}
}

// isClosed tells the errors of a closed peer connection from transient ones.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, net.ErrClosed)
}
