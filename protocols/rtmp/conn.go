package rtmp

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	gortmp "github.com/yutopp/go-rtmp"
)

var (
	errShutdown    = errors.New("server shutting down")
	errStreamEnded = errors.New("stream ended by the server")
)

// maxMessageStreams bounds createStream: a publisher needs one.
const maxMessageStreams = 4

// streamerExitTimeout bounds the wait for go-rtmp's writer goroutine once the
// socket is closed (it exits at once: this only guards against a go-rtmp bug
// hanging Close).
const streamerExitTimeout = 5 * time.Second

// conn is one client connection: the net.Conn handed to go-rtmp, with
// deadlines and the chunk guard on the read side, and its lifecycle.
//
// go-rtmp runs the whole connection on one goroutine (handshake, message
// loop, handler callbacks, then Close); fields without a lock belong to it.
// abort may be called from any goroutine.
type conn struct {
	net.Conn
	srv    *Server
	log    *slog.Logger
	remote string
	start  time.Time
	h      *handler

	guard         *guardReader
	setupDeadline time.Time
	readDeadline  time.Time
	// live switches reads from the setup deadline to the idle timeout.
	live atomic.Bool

	closeOnce sync.Once
	// closing is closed when the connection has been torn down.
	closing chan struct{}

	mu     sync.Mutex
	reason error // why the connection ends; the first cause wins
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		Conn:    nc,
		srv:     s,
		remote:  nc.RemoteAddr().String(),
		start:   time.Now(),
		closing: make(chan struct{}),
	}
	c.log = s.log.With("remote", c.remote)
	c.guard = newGuardReader(nc, newChunkGuard(uint32(s.cfg.MaxMessageSize)))
	c.setupDeadline = c.start.Add(s.cfg.SetupTimeout)
	c.h = &handler{c: c}
	return c
}

// rtmpConfig is go-rtmp's configuration for this connection.
func (c *conn) rtmpConfig() *gortmp.ConnConfig {
	// go-rtmp logs through logrus; keep only the error that ends a
	// connection, as this connection's reason. ErrorLevel also spares the
	// formatting of its many Info lines.
	lg := logrus.New()
	lg.Out = io.Discard
	lg.SetLevel(logrus.ErrorLevel)
	lg.AddHook(errorHook{c})
	return &gortmp.ConnConfig{
		Handler: c.h,
		// C2 must echo S1, but Flash-era digest handshakes (some hardware
		// encoders) do not; nginx-rtmp does not check it either.
		SkipHandshakeVerification: true,
		ReaderBufferSize:          16 << 10,
		ControlState: gortmp.StreamControlStateConfig{
			MaxChunkStreams:   maxChunkStreams,
			MaxMessageStreams: maxMessageStreams,
			MaxMessageSize:    uint32(c.srv.cfg.MaxMessageSize),
		},
		Logger: lg,
	}
}

// Read feeds go-rtmp through the chunk guard, under the setup deadline until
// the stream is published, then under the idle timeout.
func (c *conn) Read(p []byte) (int, error) {
	dl := time.Now().Add(c.srv.cfg.ReadTimeout)
	if !c.live.Load() && c.setupDeadline.Before(dl) {
		dl = c.setupDeadline
	}
	// Moving a deadline costs a timer update: skip the small moves.
	if dl.Before(c.readDeadline) || dl.Sub(c.readDeadline) > 250*time.Millisecond {
		_ = c.Conn.SetReadDeadline(dl)
		c.readDeadline = dl
	}
	n, err := c.guard.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		c.setReason(c.readError(err))
	}
	return n, err
}

func (c *conn) readError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		if !c.live.Load() {
			return fmt.Errorf("not publishing within %v of connecting (handshake, connect, publish, codec configuration)", c.srv.cfg.SetupTimeout)
		}
		return fmt.Errorf("no data from the encoder for %v", c.srv.cfg.ReadTimeout)
	}
	return err
}

// Write runs on go-rtmp's writer goroutine.
func (c *conn) Write(p []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
	return c.Conn.Write(p)
}

func (c *conn) setReason(err error) {
	c.mu.Lock()
	if c.reason == nil {
		c.reason = err
	}
	c.mu.Unlock()
}

func (c *conn) getReason() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// abort ends the connection from outside: closing the socket fails go-rtmp's
// pending read, and its goroutine then tears everything down.
func (c *conn) abort(reason error) {
	c.setReason(reason)
	_ = c.Conn.Close()
}

// Close is called once by go-rtmp, last thing on the connection's goroutine.
func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		c.h.finish()
		_ = c.Conn.Close()
		close(c.closing)
		if rc := c.h.rconn; rc != nil {
			// go-rtmp closed its writer before calling us; with the
			// socket closed its goroutine cannot block any longer.
			select {
			case <-rc.GetChunkStreamer().Done():
			case <-time.After(streamerExitTimeout):
				c.log.Warn("rtmp writer goroutine did not exit")
			}
		}
		c.logEnd()
		c.srv.remove(c)
		c.srv.wg.Done()
	})
	return nil
}

func (c *conn) logEnd() {
	reason := c.getReason()
	attrs := append([]any{"duration", time.Since(c.start).Round(time.Millisecond)}, c.h.logAttrs()...)
	var ref *refusal
	switch {
	case reason == nil:
		c.log.Info("rtmp connection closed by client", attrs...)
	case errors.As(reason, &ref):
		// Already logged when refused.
		c.log.Debug("rtmp connection closed after refusal", append(attrs, "reason", reason)...)
	case errors.Is(reason, errShutdown), errors.Is(reason, errStreamEnded):
		c.log.Info("rtmp connection closed", append(attrs, "reason", reason)...)
	default:
		c.log.Warn("rtmp connection dropped", append(attrs, "error", reason)...)
	}
}

// refusal is a request the server turned down (bad application, key,
// duplicate publisher): the client's fault, already logged.
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// errorHook takes go-rtmp's "Server closed by error" log line as the reason
// when nothing more precise is known (the guard and the handler record their
// own errors first).
type errorHook struct{ c *conn }

const goRTMPClosedPrefix = "Server closed by error: Err = "

func (errorHook) Levels() []logrus.Level { return []logrus.Level{logrus.ErrorLevel} }

func (h errorHook) Fire(e *logrus.Entry) error {
	if msg, ok := strings.CutPrefix(e.Message, goRTMPClosedPrefix); ok {
		h.c.setReason(fmt.Errorf("rtmp: %s", condenseError(msg)))
	}
	return nil
}

// condenseError turns a pkg/errors "%+v" dump (messages, innermost first,
// interleaved with stack frames) into one line, outermost first.
func condenseError(s string) string {
	var msgs []string
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		// A frame is a function name followed by a tab-indented file:line.
		if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t") {
			continue
		}
		if strings.HasPrefix(lines[i], "\t") {
			continue
		}
		msgs = append(msgs, l)
	}
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	out := strings.Join(msgs, ": ")
	if len(out) > 300 {
		out = out[:300] + "…"
	}
	return out
}
