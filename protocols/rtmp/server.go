// Package rtmp ingests RTMP publishers (OBS, ffmpeg, hardware encoders) at
// rtmp://HOST:PORT/live/{stream_key} into the stream hub: H.264 and AAC in,
// stream units out. Playback over RTMP is not offered.
//
// go-rtmp does the handshake, chunking and commands; a chunk guard in front
// of it (chunkguard.go) fixes what it misses on untrusted input, and the
// session (session.go) turns FLV tags into units.
//
// It imports stream and internal helpers; nothing of campaigns or of the
// other protocols.
package rtmp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	gortmp "github.com/yutopp/go-rtmp"

	"vitrine/stream"
)

// Defaults for the optional Config fields.
const (
	DefaultSetupTimeout   = 10 * time.Second
	DefaultReadTimeout    = 10 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultMaxMessageSize = 8 << 20
	// maxMessageSizeLimit is what RTMP's 24-bit message length allows.
	maxMessageSizeLimit = 1<<24 - 1
)

// Config configures the RTMP ingest server.
type Config struct {
	// Listen is the TCP address, e.g. ":1935".
	Listen string
	Hub    *stream.Hub
	// Auth maps a stream key to a stream id.
	Auth   stream.Authorizer
	Logger *slog.Logger

	// SetupTimeout bounds the time from TCP accept to a publishing stream:
	// handshake, connect, publish and the codec configurations. It stops
	// connections that never publish from holding a socket.
	SetupTimeout time.Duration
	// ReadTimeout is how long a publishing encoder may stay silent before
	// its connection is dropped (so a dead link frees the stream for a
	// reconnection).
	ReadTimeout time.Duration
	// WriteTimeout bounds each write to a client.
	WriteTimeout time.Duration
	// MaxMessageSize bounds one audio or video message (one frame), in
	// bytes. A 1080p keyframe at 8 Mb/s is well under 1 MiB.
	MaxMessageSize int
}

// Server accepts RTMP publishers.
type Server struct {
	cfg  Config
	log  *slog.Logger
	rtmp *gortmp.Server

	// ctx is cancelled by Close; it bounds authorisation calls.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	ln      *listener
	conns   map[*conn]struct{}
	started bool
	closed  bool

	// wg counts the accept loop, every accepted connection and every
	// connection's publisher watcher.
	wg sync.WaitGroup
}

// New validates cfg and returns a server that is not yet listening.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Listen == "":
		return nil, errors.New("rtmp: listen address is empty")
	case cfg.Hub == nil:
		return nil, errors.New("rtmp: hub is nil")
	case cfg.Auth == nil:
		return nil, errors.New("rtmp: authorizer is nil")
	case cfg.SetupTimeout < 0, cfg.ReadTimeout < 0, cfg.WriteTimeout < 0:
		return nil, errors.New("rtmp: timeouts must not be negative")
	case cfg.MaxMessageSize < 0 || cfg.MaxMessageSize > maxMessageSizeLimit:
		return nil, fmt.Errorf("rtmp: max message size must be between 0 (default) and %d", maxMessageSizeLimit)
	}
	if cfg.SetupTimeout == 0 {
		cfg.SetupTimeout = DefaultSetupTimeout
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "rtmp"),
		conns: map[*conn]struct{}{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.rtmp = gortmp.NewServer(&gortmp.ServerConfig{OnConnect: s.onConnect})
	return s, nil
}

// Start listens and serves in the background. It returns the listen error.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("rtmp: server closed")
	}
	if s.started {
		return errors.New("rtmp: server already started")
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("rtmp: %w", err)
	}
	s.ln = &listener{Listener: ln, srv: s, stop: make(chan struct{})}
	s.started = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		// go-rtmp's Serve returns ErrClosed after Close, and nothing else
		// once the listener is registered.
		if err := s.rtmp.Serve(s.ln); err != nil && !errors.Is(err, gortmp.ErrClosed) {
			s.log.Error("rtmp server stopped", "error", err)
		}
	}()
	s.log.Info("rtmp listening", "addr", ln.Addr().String())
	return nil
}

// Addr is the listening address once started, nil before.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Close stops accepting, closes every connection (their publishers detach
// from the hub and their streams wait for a reconnection) and waits for all
// of the server's goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	ln := s.ln
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	s.cancel()
	var err error
	if ln != nil {
		// go-rtmp's Serve retries failed Accepts until its own Close has
		// run: close it first, then the listener it may not have
		// registered yet.
		_ = s.rtmp.Close()
		if cerr := ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = fmt.Errorf("rtmp: close listener: %w", cerr)
		}
	}
	for _, c := range conns {
		c.abort(errShutdown)
	}
	s.wg.Wait()
	return err
}

// onConnect is go-rtmp's per-connection hook: the net.Conn is the *conn the
// listener accepted.
func (s *Server) onConnect(nc net.Conn) (io.ReadWriteCloser, *gortmp.ConnConfig) {
	c := nc.(*conn)
	return c, c.rtmpConfig()
}

func (s *Server) remove(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// listener hands go-rtmp connections already registered with the server, and
// throttles Accept errors, which go-rtmp retries in a tight loop.
type listener struct {
	net.Listener
	srv      *Server
	stop     chan struct{}
	stopOnce sync.Once
	// backoff is only touched by the accept goroutine.
	backoff time.Duration
}

// Close is called by go-rtmp's Close and Serve, and by ours.
func (l *listener) Close() error {
	l.stopOnce.Do(func() { close(l.stop) })
	return l.Listener.Close()
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-l.stop:
				return nil, err
			default:
			}
			// Out of file descriptors, typically: back off, then let
			// go-rtmp call again.
			l.backoff = min(max(2*l.backoff, 5*time.Millisecond), time.Second)
			l.srv.log.Warn("rtmp accept failed", "error", err, "retry_in", l.backoff)
			select {
			case <-l.stop:
			case <-time.After(l.backoff):
			}
			return nil, err
		}
		l.backoff = 0
		c, ok := l.srv.register(nc)
		if !ok {
			_ = nc.Close()
			continue
		}
		return c, nil
	}
}

// register wraps and tracks an accepted connection. It runs on the accept
// goroutine, itself counted in wg, so wg.Add never races with Close's Wait.
func (s *Server) register(nc net.Conn) (*conn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	c := newConn(s, nc)
	s.conns[c] = struct{}{}
	s.wg.Add(1) // Done in conn.Close
	return c, true
}
