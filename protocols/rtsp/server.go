// Package rtsp is the RTSP side of the media server, on gortsplib:
//
//   - ingest: cameras and encoders publish with ANNOUNCE/SETUP/RECORD at
//     rtsp://HOST:PORT/live/{stream_key}, over TCP (interleaved) or UDP. H.264,
//     AAC (MPEG-4 Audio, generic or LATM) and Opus tracks become stream units
//     (publish.go, tracks.go);
//   - read: relays and players (VLC, ffplay) read a live stream with
//     DESCRIBE/SETUP/PLAY at rtsp://HOST:PORT/live/{campaign_id}. One hub
//     reader per stream packetizes it once into a gortsplib ServerStream that
//     every RTSP reader of that stream shares (read.go).
//
// gortsplib parses requests, negotiates transports and runs RTCP; this
// package decides who may do what and converts between RTP and units.
//
// It imports stream and internal helpers; nothing of campaigns or of the
// other protocols.
package rtsp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"

	"vitrine/stream"
)

// Defaults for the optional Config fields.
const (
	DefaultReadTimeout   = 10 * time.Second
	DefaultWriteTimeout  = 10 * time.Second
	DefaultMaxConns      = 512
	DefaultMaxSessions   = 256
	DefaultReaderGrace   = 10 * time.Second
	DefaultParamsTimeout = 5 * time.Second

	// writeQueueSize is the number of packets queued per reader session
	// (gortsplib wants a power of two). A 1080p keyframe is a few hundred
	// packets: the default 256 would drop part of it on a slow socket.
	writeQueueSize = 1024
	// authTimeout bounds one authorisation call (a store lookup).
	authTimeout = 5 * time.Second
)

var (
	errShutdown      = errors.New("server shutting down")
	errServerClosed  = errors.New("rtsp server closed")
	errNoReaders     = errors.New("no RTSP reader left")
	errRelayReplaced = errors.New("replaced by a relay of the stream's new tracks")
)

// Config configures the RTSP server. Zero values of the optional fields
// take the defaults above.
type Config struct {
	// Listen is the RTSP (TCP) address, e.g. ":8554".
	Listen string
	// UDPRTPAddr and UDPRTCPAddr are the UDP ports of the UDP transport,
	// e.g. ":8000" and ":8001" (RTP even, RTCP the next one). Empty disables
	// UDP: clients must then use TCP (interleaved).
	UDPRTPAddr  string
	UDPRTCPAddr string
	Hub         *stream.Hub
	// Auth maps a publisher's stream key (the last path element) to a
	// stream id.
	Auth stream.Authorizer
	// ReadAuth decides which streams readers may DESCRIBE and PLAY (nil:
	// every live stream); a refusal is a 404.
	ReadAuth stream.ReadAuthorizer
	Logger   *slog.Logger

	// ReadTimeout is how long a publisher may stay silent before its
	// session is dropped, and how long a connection without a playing or
	// recording session may stay idle.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write to a client.
	WriteTimeout time.Duration
	// MaxConns bounds the TCP connections; more are closed at accept.
	MaxConns int
	// MaxSessions bounds the RTSP sessions (publishers and readers); more
	// are refused with 503.
	MaxSessions int
	// ReaderGrace is how long the packetized copy of a stream outlives its
	// last RTSP reader, so that a player that reconnects finds it ready.
	ReaderGrace time.Duration
	// ParamsTimeout bounds the wait for in-band H.264 parameter sets when
	// the publisher's SDP has none.
	ParamsTimeout time.Duration
}

// Server accepts RTSP publishers and readers.
type Server struct {
	cfg  Config
	log  *slog.Logger
	rtsp *gortsplib.Server
	// setups works around a gortsplib race; see setupGate.
	setups setupGate

	// ctx is cancelled by Close; it bounds authorisation calls.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	ln       *listener
	started  bool
	closed   bool
	sessions int               // open gortsplib sessions
	relays   map[string]*relay // by stream id

	// wg counts the server's own goroutines: one per relay and one per
	// publisher (its Done watcher). gortsplib counts its own.
	wg sync.WaitGroup
}

// New validates cfg and returns a server that is not yet listening.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Listen == "":
		return nil, errors.New("rtsp: listen address is empty")
	case cfg.Hub == nil:
		return nil, errors.New("rtsp: hub is nil")
	case cfg.Auth == nil:
		return nil, errors.New("rtsp: authorizer is nil")
	case (cfg.UDPRTPAddr == "") != (cfg.UDPRTCPAddr == ""):
		return nil, errors.New("rtsp: UDP RTP and RTCP addresses go together")
	case cfg.ReadTimeout < 0, cfg.WriteTimeout < 0, cfg.ReaderGrace < 0, cfg.ParamsTimeout < 0:
		return nil, errors.New("rtsp: timeouts must not be negative")
	case cfg.MaxConns < 0, cfg.MaxSessions < 0:
		return nil, errors.New("rtsp: limits must not be negative")
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.ReaderGrace == 0 {
		cfg.ReaderGrace = DefaultReaderGrace
	}
	if cfg.ParamsTimeout == 0 {
		cfg.ParamsTimeout = DefaultParamsTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "rtsp"),
		relays: map[string]*relay{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Start listens and serves in the background. It returns the listen error.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("rtsp: server closed")
	}
	if s.started {
		return errors.New("rtsp: server already started")
	}
	srv := &gortsplib.Server{
		Handler:        &handler{s: s},
		RTSPAddress:    s.cfg.Listen,
		UDPRTPAddress:  s.cfg.UDPRTPAddr,
		UDPRTCPAddress: s.cfg.UDPRTCPAddr,
		ReadTimeout:    s.cfg.ReadTimeout,
		WriteTimeout:   s.cfg.WriteTimeout,
		WriteQueueSize: writeQueueSize,
		Listen:         s.listen,
	}
	if err := srv.Start(); err != nil {
		if s.ln != nil {
			_ = s.ln.Close()
			s.ln = nil
		}
		return fmt.Errorf("rtsp: %w", err)
	}
	s.rtsp = srv
	s.started = true
	attrs := []any{"addr", s.ln.Addr().String()}
	if s.cfg.UDPRTPAddr != "" {
		attrs = append(attrs, "udp_rtp", s.cfg.UDPRTPAddr, "udp_rtcp", s.cfg.UDPRTCPAddr)
	}
	s.log.Info("rtsp listening", attrs...)
	return nil
}

// listen is gortsplib's hook to open the TCP listener: ours bounds the
// connections, survives transient accept errors and remembers the address.
// It runs inside Start, under s.mu.
func (s *Server) listen(network, address string) (net.Listener, error) {
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	s.ln = newListener(ln, s)
	return s.ln, nil
}

// Addr is the bound RTSP (TCP) address once started, nil before.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Close closes every connection and session (publishers detach from the hub
// and their streams wait for a reconnection; readers are disconnected) and
// waits for all of the server's goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return
	}
	s.closed = true
	srv := s.rtsp
	s.mu.Unlock()

	s.cancel()
	if srv != nil {
		// Returns once every gortsplib goroutine is gone, so no handler
		// callback can start another goroutine of ours afterwards.
		srv.Close()
	}
	s.mu.Lock()
	relays := make([]*relay, 0, len(s.relays))
	for _, r := range s.relays {
		relays = append(relays, r)
		s.retireLocked(r, errServerClosed)
	}
	s.mu.Unlock()
	s.wg.Wait()
	if srv != nil {
		s.log.Info("rtsp server closed", "relays", len(relays))
	}
}

// sessionOpened and sessionClosed count gortsplib sessions for MaxSessions.
func (s *Server) sessionOpened() {
	s.mu.Lock()
	s.sessions++
	s.mu.Unlock()
}

func (s *Server) sessionClosed() {
	s.mu.Lock()
	s.sessions--
	s.mu.Unlock()
}

// overSessionLimit tells whether a new session (already counted) exceeds
// MaxSessions.
func (s *Server) overSessionLimit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions > s.cfg.MaxSessions
}
