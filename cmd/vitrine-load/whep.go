package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
)

const (
	whepGatherTimeout = 5 * time.Second
	whepFirstVideo    = 10 * time.Second // from the offer to the first video packet
	whepStall         = 5 * time.Second  // longest silence once media flows
)

// newWHEPAPI is the pion API all WHEP viewers share: browser-like codecs
// and interceptors (NACK, receiver reports, TWCC), host candidates
// including loopback, no mDNS.
func newWHEPAPI() (*pion.API, error) {
	m := &pion.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := pion.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, err
	}
	var se pion.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4, pion.NetworkTypeUDP6})
	return pion.NewAPI(pion.WithMediaEngine(m), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se)), nil
}

// runWHEPViewer watches the stream over WHEP until ctx ends, starting a
// new session (after a second, as players do) whenever one fails.
func runWHEPViewer(ctx context.Context, api *pion.API, hc *http.Client, endpoint string, st *whepStats) {
	for ctx.Err() == nil {
		err := watchWHEP(ctx, api, hc, endpoint, st)
		if err != nil && ctx.Err() == nil {
			st.error(err)
			sleep(ctx, time.Second)
		}
	}
}

// whepSession is one PeerConnection and the goroutines reading its tracks.
type whepSession struct {
	st   *whepStats
	pc   *pion.PeerConnection
	sent time.Time // when the offer was POSTed

	lastRTP   atomic.Int64 // unix nanoseconds
	gotVideo  atomic.Bool
	mu        sync.Mutex
	closed    bool
	readers   sync.WaitGroup
	closeOnce sync.Once
}

// watchWHEP runs one WHEP session: it returns nil when ctx ends and an
// error when the session cannot start or stops delivering media.
func watchWHEP(ctx context.Context, api *pion.API, hc *http.Client, endpoint string, st *whepStats) (err error) {
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return err
	}
	s := &whepSession{st: st, pc: pc}
	var location string
	defer func() { s.close(hc, location) }()
	for _, kind := range []pion.RTPCodecType{pion.RTPCodecTypeVideo, pion.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(kind, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
			return err
		}
	}
	states := make(chan pion.PeerConnectionState, 16)
	pc.OnConnectionStateChange(func(cs pion.PeerConnectionState) {
		select {
		case states <- cs:
		default: // the owner is gone or far behind; failed/closed are caught by the watchdog too
		}
	})
	pc.OnTrack(s.onTrack)

	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return nil
	case <-time.After(whepGatherTimeout):
		return errors.New("ICE gathering timed out")
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/sdp")
	s.sent = time.Now()
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	answer, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusCreated {
		return fmt.Errorf("WHEP POST: %s: %.200s", res.Status, strings.TrimSpace(string(answer)))
	}
	if loc, err := res.Location(); err == nil {
		location = loc.String()
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		return err
	}

	connected := false
	defer func() {
		if connected {
			st.viewerLeft()
		}
	}()
	watchdog := time.NewTicker(time.Second)
	defer watchdog.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case cs := <-states:
			switch cs {
			case pion.PeerConnectionStateConnected:
				if !connected {
					connected = true
					st.viewerJoined()
				}
			case pion.PeerConnectionStateFailed, pion.PeerConnectionStateClosed:
				return fmt.Errorf("peer connection %s", cs)
			}
		case now := <-watchdog.C:
			if !s.gotVideo.Load() {
				if now.Sub(s.sent) > whepFirstVideo {
					return fmt.Errorf("no video %v after the offer (connection %s)", whepFirstVideo, pc.ConnectionState())
				}
				continue
			}
			if since := now.Sub(time.Unix(0, s.lastRTP.Load())); since > whepStall {
				return fmt.Errorf("no RTP for %v", since.Round(time.Second))
			}
		}
	}
}

// onTrack reads a remote track until the PeerConnection closes, counting
// packets, bytes, sequence gaps and (on video) marker bits, one per frame.
func (s *whepSession) onTrack(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.readers.Add(1)
	s.mu.Unlock()
	defer s.readers.Done()

	video := tr.Kind() == pion.RTPCodecTypeVideo
	buf := make([]byte, 1500)
	var h rtp.Header
	var seq seqTracker
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return // the PeerConnection closed
		}
		if _, err := h.Unmarshal(buf[:n]); err != nil {
			continue
		}
		now := time.Now()
		s.lastRTP.Store(now.UnixNano())
		lost, late := seq.push(h.SequenceNumber)
		frames := 0
		if video {
			if !s.gotVideo.Swap(true) {
				s.st.firstVideo(now.Sub(s.sent))
			}
			if h.Marker {
				frames = 1
			}
		}
		s.st.packet(n, frames, lost, late)
	}
}

// close ends the session on the server (DELETE, so it need not wait for
// ICE to time out), closes the PeerConnection and waits for the readers.
func (s *whepSession) close(hc *http.Client, location string) {
	s.closeOnce.Do(func() {
		if location != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if req, err := http.NewRequestWithContext(ctx, http.MethodDelete, location, nil); err == nil {
				if res, err := hc.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
			}
			cancel()
		}
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		_ = s.pc.Close()
		s.readers.Wait()
	})
}

// seqTracker follows one RTP stream's sequence numbers.
type seqTracker struct {
	started bool
	highest uint16
}

// push returns how many packets a forward jump skipped (lost) and whether
// this packet is older than the highest seen (late: reordered or a
// retransmission filling an earlier gap).
func (t *seqTracker) push(seq uint16) (lost int, late bool) {
	if !t.started {
		t.started, t.highest = true, seq
		return 0, false
	}
	d := int16(seq - t.highest)
	switch {
	case d > 0:
		t.highest = seq
		return int(d) - 1, false
	case d < 0:
		return 0, true
	}
	return 0, false // duplicate
}

// whepEndpoint is the stream's WHEP URL.
func whepEndpoint(server, streamID string) string {
	return fmt.Sprintf("%s/live/%s/whep", strings.TrimRight(server, "/"), url.PathEscape(streamID))
}
