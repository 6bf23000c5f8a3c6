// Package webrtc ingests WebRTC publishers with WHIP (RFC 9725) and plays
// live streams to WebRTC viewers with WHEP, with pion/webrtc.
//
// All ICE traffic goes through one UDP port and ICE-TCP on the same port
// (ice.go). A WHIP session turns RTP into stream units (whip.go, ingest.go,
// depacketize.go). WHEP viewers of a stream share one hub reader whose units
// are packetized once (fanout.go); each viewer only adds its SSRC, payload
// type and SRTP (viewer.go).
//
// It imports stream and internal helpers; nothing of campaigns or of the
// other protocols (the data channel reaches overlay through
// Config.OnDataChannel, which the server wires).
package webrtc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
	"weak"

	"github.com/pion/interceptor"
	pion "github.com/pion/webrtc/v4"

	"vitrine/internal/cors"
	"vitrine/stream"
)

// Defaults of the optional Config fields.
const (
	DefaultMaxSessions         = 1000
	DefaultMaxViewersPerStream = 500
	DefaultKeyframeInterval    = 2 * time.Second
	DefaultConnectTimeout      = 10 * time.Second
	DefaultIngestTimeout       = 5 * time.Second
	DefaultICEDisconnected     = 5 * time.Second
	DefaultICEFailed           = 5 * time.Second
)

// Config configures the WHIP/WHEP server.
type Config struct {
	Hub *stream.Hub
	// Auth authorises WHIP publishers: the bearer token is the stream key,
	// the path's id the stream id.
	Auth stream.Authorizer
	// ICEListen is the address of the one UDP port and the ICE-TCP port
	// (the same number), e.g. ":8189".
	ICEListen string
	// PublicIPs are advertised instead of the local addresses in host
	// candidates (NAT 1:1). Empty: the local interfaces' addresses.
	PublicIPs []string
	// ICEServers are handed to clients in Link headers. When PublicIPs is
	// empty and ICEListen binds every interface, the first STUN server that
	// answers also tells the server its public address at Start (see
	// discoverPublicIP); TURN entries are for clients only.
	ICEServers []ICEServer
	// AllowOrigins lists the origins of browser pages that may use WHIP and
	// WHEP; "*" allows any. Default ["*"].
	AllowOrigins []string
	Logger       *slog.Logger

	// MaxSessions bounds WHIP and WHEP sessions together; beyond, POST
	// answers 503. Viewers (WHEP) may take all but a tenth of them (at
	// most 50), kept for publishers. Default 1000.
	MaxSessions int
	// MaxViewersPerStream bounds the WHEP sessions of one stream. Default 500.
	MaxViewersPerStream int
	// KeyframeInterval is how often a WHIP publisher is asked for a keyframe
	// when it sends none by itself. Browsers send keyframes only on request,
	// while LL-HLS segments, recordings and new viewers start on them. It
	// also bounds how much a new WHEP viewer is replayed. Default 2s;
	// negative disables the periodic requests.
	KeyframeInterval time.Duration
	// ConnectTimeout bounds the time from POST to a connected peer (ICE and
	// DTLS); a session that does not connect is closed. Default 10s.
	ConnectTimeout time.Duration
	// IngestTimeout bounds the time from a connected WHIP publisher to the
	// first keyframe and the first packet of every negotiated track. Default 5s.
	IngestTimeout time.Duration
	// ICEDisconnectedTimeout and ICEFailedTimeout: a peer silent for the
	// first is disconnected, for both together failed and closed.
	// Default 5s each.
	ICEDisconnectedTimeout time.Duration
	ICEFailedTimeout       time.Duration
	// NoGOPReplay makes a new WHEP viewer wait for the next keyframe (a
	// WHIP publisher is asked for one at once) instead of starting on the
	// replayed packets since the last one. The replay gives the first
	// picture at once for every source; waiting avoids the short extra
	// delay a browser's jitter buffer may keep after a burst of old frames.
	NoGOPReplay bool
	// OnDataChannel, when set, serves each data channel a WHEP viewer
	// opens on its session (a browser calls pc.createDataChannel before
	// creating its offer; at most 4 per session), on its own goroutine,
	// once the channel is open. streamID is the WHEP path's id. ctx ends
	// with the session or the channel; OnDataChannel must return then
	// (the session's teardown waits for it). The channel is closed after
	// it returns. nil: data channels are negotiated and left unused.
	OnDataChannel func(ctx context.Context, streamID string, ch DataChannel)
	// OnViewer, when set, is told of each WHEP viewer once its peer is
	// connected, and the func it returns once the session has ended
	// (analytics count the viewers and their watching time).
	OnViewer func(v ViewerInfo) (left func())
	// AACToOpus: AAC sources are heard over WebRTC through a transcoder
	// (aac.go); on by default.
	AACToOpus AACToOpus
}

// ViewerInfo describes a connected WHEP viewer to Config.OnViewer.
type ViewerInfo struct {
	StreamID  string
	SessionID string
	// Viewer is the WHEP URL's viewer query parameter, as a player that
	// knows its viewer id appends it ("" when absent).
	Viewer     string
	RemoteAddr string
	UserAgent  string
}

// ICEServer is a STUN or TURN server for clients.
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

// Info describes a stream as WHEP viewers get it, for the API view.
type Info struct {
	// WHEPVideo is "H264", or "none: <reason>".
	WHEPVideo string `json:"whep_video"`
	// WHEPAudio is "Opus", "Opus (transcoded from AAC)", or "none:
	// <reason>" (an AAC source that cannot be transcoded).
	WHEPAudio string `json:"whep_audio"`
	// WHEPViewers counts the WHEP sessions of the stream.
	WHEPViewers int `json:"whep_viewers"`
	// Notes are other things that degrade WebRTC playback (B-frames).
	Notes []string `json:"whep_notes,omitempty"`
}

// Server serves WHIP and WHEP.
type Server struct {
	cfg   Config
	log   *slog.Logger
	cors  cors.CORS
	links []string // Link header values of the ICE servers

	// ctx ends with Close; it bounds sessions and fanouts.
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu       sync.Mutex
	started  bool
	closed   bool
	ice      *iceListeners
	settings pion.SettingEngine
	// publicIPs are advertised instead of local addresses: configured, or
	// discovered with STUN at Start.
	publicIPs []string
	sessions  map[string]*session
	viewers   map[string]int // WHEP sessions per stream id
	fanouts   map[string]*fanout
	whips     map[string]*whipSession // by stream id, from POST to teardown
	// noted remembers the stream each id's playback limits were logged
	// for (weakly: an ended stream is not kept for it).
	noted map[string]weak.Pointer[stream.Stream]
	// pending counts reservations whose session is being negotiated.
	pending int
	// aacOpus says why AAC cannot be transcoded; "" when it can (Start).
	aacOpus string

	// wg counts the server's goroutines: session supervisors (each waits
	// for its session's own goroutines: track readers, RTCP readers, the
	// WHIP loop, the WHEP writer) and fanouts.
	wg sync.WaitGroup
	// egress counts the viewers' packets (resend.go).
	egress egressCounters
}

var (
	errServerClosed = errors.New("server closed")
	errNotStarted   = errors.New("webrtc: server not started")
)

// New validates cfg and returns a server that does not listen yet.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Hub == nil:
		return nil, errors.New("webrtc: hub is nil")
	case cfg.Auth == nil:
		return nil, errors.New("webrtc: authorizer is nil")
	case cfg.ICEListen == "":
		return nil, errors.New("webrtc: ICE listen address is empty")
	case cfg.MaxSessions < 0, cfg.MaxViewersPerStream < 0:
		return nil, errors.New("webrtc: session limits must not be negative")
	case cfg.ConnectTimeout < 0, cfg.IngestTimeout < 0, cfg.ICEDisconnectedTimeout < 0, cfg.ICEFailedTimeout < 0:
		return nil, errors.New("webrtc: timeouts must not be negative")
	}
	if _, _, err := net.SplitHostPort(cfg.ICEListen); err != nil {
		return nil, fmt.Errorf("webrtc: ICE listen address: %w", err)
	}
	for _, ip := range cfg.PublicIPs {
		if net.ParseIP(ip) == nil {
			return nil, fmt.Errorf("webrtc: public IP %q is not an IP address", ip)
		}
	}
	links, err := iceLinks(cfg.ICEServers)
	if err != nil {
		return nil, fmt.Errorf("webrtc: %w", err)
	}
	if cfg.AllowOrigins == nil {
		cfg.AllowOrigins = []string{"*"}
	}
	c, err := cors.New(cfg.AllowOrigins, corsPolicy)
	if err != nil {
		return nil, fmt.Errorf("webrtc: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	setDefault(&cfg.MaxSessions, DefaultMaxSessions)
	setDefault(&cfg.MaxViewersPerStream, DefaultMaxViewersPerStream)
	setDefault(&cfg.KeyframeInterval, DefaultKeyframeInterval)
	setDefault(&cfg.ConnectTimeout, DefaultConnectTimeout)
	setDefault(&cfg.IngestTimeout, DefaultIngestTimeout)
	setDefault(&cfg.ICEDisconnectedTimeout, DefaultICEDisconnected)
	setDefault(&cfg.ICEFailedTimeout, DefaultICEFailed)

	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "webrtc"),
		cors:     c,
		links:    links,
		sessions: map[string]*session{},
		viewers:  map[string]int{},
		fanouts:  map[string]*fanout{},
		whips:    map[string]*whipSession{},
		noted:    map[string]weak.Pointer[stream.Stream]{},
	}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	return s, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Start opens the ICE UDP and TCP listeners.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("webrtc: server closed")
	}
	if s.started {
		return errors.New("webrtc: server already started")
	}
	l, err := listenICE(s.cfg.ICEListen)
	if err != nil {
		return fmt.Errorf("webrtc: %w", err)
	}
	s.publicIPs = s.cfg.PublicIPs
	if urls := stunURLs(s.cfg.ICEServers); len(s.publicIPs) == 0 && l.host == nil && len(urls) > 0 {
		// Bound to every interface with no public address given: the
		// server may be behind NAT. An explicit bind address or public IP
		// says what to advertise.
		ip, via, err := discoverPublicIP(l.udp, urls)
		switch {
		case err != nil:
			s.log.Warn("webrtc public address not discovered: advertising local addresses (set public IPs if behind NAT)", "error", err)
		case isLocalIP(ip):
			s.log.Info("webrtc STUN sees a local address: no NAT", "ip", ip.String(), "stun", via)
		default:
			s.publicIPs = []string{ip.String()}
			s.log.Info("webrtc public address discovered: advertised as NAT 1:1", "ip", ip.String(), "stun", via)
		}
	}
	l.startMuxes(s.log)
	s.probeAACToOpus()
	s.ice = l
	s.settings = s.settingEngine(l)
	s.started = true
	s.log.Info("webrtc ICE listening", "udp", l.udp.LocalAddr().String(), "tcp", l.tcp.Addr().String(),
		"public_ips", s.publicIPs)
	return nil
}

// ICEAddr is the bound ICE address (UDP and TCP share its port); nil
// before Start.
func (s *Server) ICEAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ice == nil {
		return nil
	}
	return s.ice.udp.LocalAddr()
}

// Close ends every session (WHIP publishers detach from the hub, viewers'
// peer connections close), closes the listeners and waits for every
// goroutine of the server.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return
	}
	s.closed = true
	sessions := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	fanouts := make([]*fanout, 0, len(s.fanouts))
	for _, f := range s.fanouts {
		fanouts = append(fanouts, f)
	}
	l := s.ice
	s.mu.Unlock()

	s.cancel(errServerClosed)
	for _, ss := range sessions {
		ss.close(errServerClosed)
	}
	for _, f := range fanouts {
		f.stop()
	}
	s.wg.Wait()
	if l != nil {
		l.close()
	}
}

// StreamInfo tells how WHEP viewers get stream id.
func (s *Server) StreamInfo(id string) Info {
	s.mu.Lock()
	info := Info{WHEPViewers: s.viewers[id]}
	f := s.fanouts[id]
	s.mu.Unlock()

	st, ok := s.cfg.Hub.Get(id)
	if !ok || len(st.Tracks()) == 0 {
		info.WHEPVideo, info.WHEPAudio = "none: stream is not live", "none: stream is not live"
		return info
	}
	sel := s.playable(st.Tracks())
	info.WHEPVideo, info.WHEPAudio = sel.videoNote(), sel.audioNote()
	if f != nil && f.stream == st {
		info.Notes = f.notes()
	}
	if len(info.Notes) == 0 && st.BFrames() {
		// Seen by the hub before any WebRTC viewer came.
		info.Notes = []string{bframesNote}
	}
	return info
}

// publisherReserve is how many of the sessions only WHIP publishers may
// take: a tenth, between 1 and 50.
func publisherReserve(sessions int) int { return min(50, max(1, sessions/10)) }

// reserve counts a new session against the limits; release undoes it.
func (s *Server) reserve(kind sessionKind, streamID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errServerClosed
	case !s.started:
		return errNotStarted
	case len(s.sessions)+s.pending >= s.cfg.MaxSessions:
		return errTooManySessions
	case kind == kindWHEP && len(s.sessions)+s.pending >= s.cfg.MaxSessions-publisherReserve(s.cfg.MaxSessions):
		// The last slots are the publishers': viewers (anonymous, and
		// able to hold a slot for ConnectTimeout without connecting)
		// must not keep a seller from going live.
		return errTooManySessions
	case kind == kindWHEP && s.viewers[streamID] >= s.cfg.MaxViewersPerStream:
		return errTooManyViewers
	}
	if kind == kindWHEP {
		s.viewers[streamID]++
	}
	s.pending++
	return nil
}

// ownSession moves a reservation to a registered session, or fails when the
// server closed meanwhile. The session's supervisor is counted in wg.
func (s *Server) ownSession(ss *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending--
	if s.closed {
		if ss.kind == kindWHEP {
			s.decViewers(ss.streamID)
		}
		return false
	}
	s.sessions[ss.id] = ss
	s.wg.Add(1)
	return true
}

// release undoes a reservation that did not become a session.
func (s *Server) release(kind sessionKind, streamID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending--
	if kind == kindWHEP {
		s.decViewers(streamID)
	}
}

func (s *Server) decViewers(streamID string) {
	if s.viewers[streamID]--; s.viewers[streamID] <= 0 {
		delete(s.viewers, streamID)
	}
}

// forget removes a torn down session.
func (s *Server) forget(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[ss.id] != ss {
		return
	}
	delete(s.sessions, ss.id)
	if ss.kind == kindWHEP {
		s.decViewers(ss.streamID)
	}
}

func (s *Server) lookup(kind sessionKind, streamID, sid string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[sid]
	if ss == nil || ss.kind != kind || ss.streamID != streamID {
		return nil
	}
	return ss
}

// goOwned runs fn on a goroutine counted in wg, unless the server closed.
func (s *Server) goOwned(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

// api builds the pion API of one session: its own media engine (the codecs
// chosen for this offer) and interceptors, over the shared setting engine.
func (s *Server) api(m *pion.MediaEngine, ir *interceptor.Registry) *pion.API {
	s.mu.Lock()
	se := s.settings
	s.mu.Unlock()
	return pion.NewAPI(pion.WithSettingEngine(se), pion.WithMediaEngine(m), pion.WithInterceptorRegistry(ir))
}
