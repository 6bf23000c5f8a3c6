package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"vitrine/internal/httperr"
)

// Request bodies and held connections. net/http sets no read deadline on
// a request's body (there is no ReadTimeout: it would cut LL-HLS blocking
// reloads and uploads alike), and when a handler answers without reading
// the body it drains up to 256 KiB of it, without a deadline either,
// before it writes the response (and again before it reuses the
// connection). A client that announces a body under that and never sends
// it held its connection, and a goroutine, for ever, answer unsent: a 401
// of the admin API, a 404, /healthz, a tracking batch over its limit.
//
// guardBodies closes that for every route at once:
//   - a request with a body gets httperr.BodyTimeout as its connection's
//     read deadline when its handler starts; handlers that read a body
//     re-arm it when they start reading (httperr.LimitBodyTime), so an
//     upload has the whole timeout for itself;
//   - a response written while the body is not read to its end says
//     "Connection: close", so net/http sends it at once instead of
//     draining first, and after the handler the connection gets
//     unreadBodyGrace more to take what the client still sends (so that
//     closing does not reset a connection whose client is reading the
//     answer), then closes.
//
// A body read to its end changes nothing: the connection is kept alive,
// and net/http clears the deadline once it has seen the body's end.
func guardBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(httperr.BodyTimeout))
		body := &watchedBody{ReadCloser: r.Body, length: r.ContentLength}
		r.Body = body
		gw := &guardedWriter{ResponseWriter: w, body: body, http1: r.ProtoMajor == 1}
		next.ServeHTTP(gw, r)
		if gw.hijacked.Load() || body.done() || !gw.http1 {
			// HTTP/2 resets a stream whose body is left unread.
			return
		}
		_ = rc.SetReadDeadline(time.Now().Add(unreadBodyGrace))
	})
}

// unreadBodyGrace is how long, after its handler, a connection whose
// request body was not read to its end still reads what comes (discarded)
// before it closes. A variable for the tests.
var unreadBodyGrace = 500 * time.Millisecond

// watchedBody notes whether the handler read the body to its end.
type watchedBody struct {
	io.ReadCloser
	length int64 // Content-Length; -1: chunked
	read   atomic.Int64
	eof    atomic.Bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read.Add(int64(n))
	if err == io.EOF {
		b.eof.Store(true)
	}
	return n, err
}

func (b *watchedBody) done() bool {
	return b.eof.Load() || (b.length >= 0 && b.read.Load() >= b.length)
}

// guardedWriter adds "Connection: close" to a response started before
// the request's body was read to its end. Unwrap keeps
// http.ResponseController (deadlines, full duplex) working through it.
type guardedWriter struct {
	http.ResponseWriter
	body     *watchedBody
	http1    bool
	started  bool
	hijacked atomic.Bool
}

func (w *guardedWriter) start() {
	if w.started {
		return
	}
	w.started = true
	if w.http1 && !w.body.done() {
		w.ResponseWriter.Header().Set("Connection", "close")
	}
}

func (w *guardedWriter) WriteHeader(code int) {
	if code < 100 || code >= 200 || code == http.StatusSwitchingProtocols {
		w.start() // not an informational answer (103 Early Hints): the response
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *guardedWriter) Write(b []byte) (int, error) {
	w.start()
	return w.ResponseWriter.Write(b)
}

func (w *guardedWriter) Flush() { _ = w.FlushError() }

func (w *guardedWriter) FlushError() error {
	w.start()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *guardedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked.Store(true)
	}
	return c, rw, err
}

func (w *guardedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
