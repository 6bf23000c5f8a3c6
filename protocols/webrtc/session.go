package webrtc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	pion "github.com/pion/webrtc/v4"
)

// sessionKind tells WHIP publishers from WHEP viewers.
type sessionKind int

const (
	kindWHIP sessionKind = iota
	kindWHEP
)

func (k sessionKind) String() string { return [...]string{"whip", "whep"}[k] }

// gatherTimeout bounds candidate gathering before an answer (host
// candidates on the muxes are immediate).
const gatherTimeout = 5 * time.Second

var (
	errDeleted         = errors.New("deleted by the client")
	errConnectTimeout  = errors.New("peer did not connect in time")
	errICEFailed       = errors.New("ICE failed or timed out")
	errPeerClosed      = errors.New("peer connection closed")
	errStreamEnded     = errors.New("stream ended")
	errTooManySessions = errors.New("too many WebRTC sessions")
	errTooManyViewers  = errors.New("too many WebRTC viewers for this stream")
)

// session is one WHIP or WHEP peer connection and its resource URL. A
// supervisor goroutine owns its life: it waits for the connection, then
// for the end (DELETE, ICE failure, stream end, server close), and tears
// everything down in one place.
type session struct {
	srv      *Server
	kind     sessionKind
	id       string
	streamID string
	log      *slog.Logger
	pc       *pion.PeerConnection
	etag     string
	// ufrag is the offer's ICE username fragment: a trickle fragment with
	// another one is an ICE restart.
	ufrag   string
	created time.Time

	ctx       context.Context
	cancel    context.CancelCauseFunc
	connected chan struct{}
	connOnce  sync.Once
	done      chan struct{}

	// mu guards closing, so that no goroutine joins wg once teardown waits.
	mu      sync.Mutex
	closing bool
	// wg counts the session's goroutines: pion's track callbacks, RTCP
	// readers, the WHIP run loop, the WHEP writer.
	wg sync.WaitGroup

	// onConnected runs on the supervisor once the peer is connected;
	// teardown after the peer connection closed and wg is done.
	onConnected func()
	teardown    func()
}

func newSession(srv *Server, kind sessionKind, streamID string) *session {
	ss := &session{
		srv:       srv,
		kind:      kind,
		id:        randomID(),
		streamID:  streamID,
		etag:      `"` + randomID()[:16] + `"`,
		created:   time.Now(),
		connected: make(chan struct{}),
		done:      make(chan struct{}),
	}
	ss.log = srv.log.With("stream", streamID, "session", ss.id[:8], "kind", kind.String())
	ss.ctx, ss.cancel = context.WithCancelCause(srv.ctx)
	return ss
}

// randomID is 128 random bits: session URLs are capabilities.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// location is the session URL given in the 201's Location header.
func (ss *session) location() string {
	if ss.kind == kindWHIP {
		return "/whip/" + pathEscape(ss.streamID) + "/sessions/" + ss.id
	}
	return "/live/" + pathEscape(ss.streamID) + "/whep/sessions/" + ss.id
}

// newPeer creates the session's peer connection with the chosen codecs.
func (ss *session) newPeer(api *pion.API) error {
	// No ICE servers: our candidates are the muxes' host candidates (with
	// the public addresses), all on the one port.
	pc, err := api.NewPeerConnection(pion.Configuration{BundlePolicy: pion.BundlePolicyMaxBundle})
	if err != nil {
		return fmt.Errorf("new peer connection: %w", err)
	}
	ss.pc = pc
	pc.OnConnectionStateChange(func(st pion.PeerConnectionState) {
		switch st {
		case pion.PeerConnectionStateConnected:
			ss.connOnce.Do(func() { close(ss.connected) })
		case pion.PeerConnectionStateFailed:
			ss.close(errICEFailed)
		case pion.PeerConnectionStateClosed:
			ss.close(errPeerClosed)
		case pion.PeerConnectionStateDisconnected:
			ss.log.Debug("webrtc peer disconnected; waiting for it to come back")
		}
	})
	return nil
}

// answer applies the offer, lets setup add tracks, and returns the answer
// with every candidate (our candidates are known at once: no trickle from
// our side).
func (ss *session) answer(ctx context.Context, o *offer, setup func() error) (string, error) {
	if err := ss.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: o.sdp}); err != nil {
		return "", fmt.Errorf("%w: %w", errBadSDP, err)
	}
	if setup != nil {
		if err := setup(); err != nil {
			return "", err
		}
	}
	ans, err := ss.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errBadSDP, err)
	}
	gathered := pion.GatheringCompletePromise(ss.pc)
	if err := ss.pc.SetLocalDescription(ans); err != nil {
		return "", fmt.Errorf("set local description: %w", err)
	}
	t := time.NewTimer(gatherTimeout)
	defer t.Stop()
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	case <-t.C:
		// Answer with what was gathered.
		ss.log.Warn("webrtc candidate gathering timed out")
	}
	return ss.pc.LocalDescription().SDP, nil
}

// enter counts a goroutine pion started for us (OnTrack) in wg, unless
// teardown began; exit ends it.
func (ss *session) enter() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closing {
		return false
	}
	ss.wg.Add(1)
	return true
}

func (ss *session) exit() { ss.wg.Done() }

// spawn runs fn on a goroutine of the session.
func (ss *session) spawn(fn func()) bool {
	if !ss.enter() {
		return false
	}
	go func() {
		defer ss.exit()
		fn()
	}()
	return true
}

// close asks the supervisor to end the session; the first cause wins.
func (ss *session) close(cause error) { ss.cancel(cause) }

// abort undoes a session that never reached its supervisor.
func (ss *session) abort(cause error) {
	ss.cancel(cause)
	ss.mu.Lock()
	ss.closing = true
	ss.mu.Unlock()
	if ss.pc != nil {
		_ = ss.pc.Close()
	}
	ss.wg.Wait()
	if ss.teardown != nil {
		ss.teardown()
	}
}

// run is the supervisor. Its slot in srv.wg is taken by Server.ownSession.
func (ss *session) run(connectTimeout time.Duration) {
	defer ss.srv.wg.Done()
	t := time.NewTimer(connectTimeout)
	select {
	case <-ss.connected:
		t.Stop()
		ss.log.Info("webrtc peer connected", "after", time.Since(ss.created).Round(time.Millisecond))
		if ss.onConnected != nil {
			ss.onConnected()
		}
		<-ss.ctx.Done()
	case <-t.C:
		ss.close(errConnectTimeout)
	case <-ss.ctx.Done():
		t.Stop()
	}

	ss.mu.Lock()
	ss.closing = true
	ss.mu.Unlock()
	if err := ss.pc.Close(); err != nil {
		ss.log.Debug("webrtc close peer connection", "error", err)
	}
	// Closing the peer connection ends every read of the session's
	// goroutines; the writer and run loop end with ctx.
	ss.wg.Wait()
	if ss.teardown != nil {
		ss.teardown()
	}
	ss.srv.forget(ss)
	cause := context.Cause(ss.ctx)
	level := slog.LevelInfo
	if errors.Is(cause, errConnectTimeout) {
		level = slog.LevelWarn
	}
	ss.log.Log(context.Background(), level, "webrtc session ended", "reason", cause.Error(),
		"lasted", time.Since(ss.created).Round(time.Millisecond))
	close(ss.done)
}
