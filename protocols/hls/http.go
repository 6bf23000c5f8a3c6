package hls

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"vitrine/internal/httperr"
)

const (
	// pathPrefix is where the server mounts the handler.
	pathPrefix = "/live/"

	// defaultMaxBlock bounds a request that waits inside gohlslib for content
	// that does not come (the publisher stalled or is reconnecting). It is
	// long enough for a first segment with a long GOP.
	defaultMaxBlock = 15 * time.Second
	// maxPending bounds the calls waiting inside one muxer (requests that
	// ask the same share one: awaitShared). An LL-HLS
	// viewer holds one or two; requests whose client left stay counted until
	// the muxer releases them (next part, or close).
	maxPending = 16384
)

var (
	errServerClosed = errors.New("server closed")
	errBusy         = errors.New("too many waiting requests")
	errStalled      = errors.New("stream stalled")
)

// ServeHTTP serves /live/{id}/index.m3u8 and every file it references.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.cors.Apply(w.Header(), r)
	switch r.Method {
	case http.MethodOptions:
		s.cors.Preflight(w.Header())
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodGet, http.MethodHead:
	default:
		w.Header().Set("Allow", corsPolicy.Methods)
		httperr.Write(w, http.StatusMethodNotAllowed, "method_not_allowed",
			"LL-HLS answers GET, HEAD and OPTIONS only")
		return
	}

	id, file, perr := splitPath(r.URL.Path)
	if perr != nil {
		httperr.Write(w, perr.status, perr.code, perr.msg)
		return
	}
	m := s.lookup(id)
	if m == nil {
		streamNotFound(w)
		return
	}

	switch {
	case strings.HasSuffix(file, ".m3u8"):
		s.servePlaylist(w, r, m, file)
	case partName.MatchString(file):
		s.servePart(w, r, m, file)
	default:
		serveFile(w, r, m, file)
	}
}

func streamNotFound(w http.ResponseWriter) {
	httperr.Write(w, http.StatusNotFound, "stream_not_found", "stream is not live")
}

func fileNotFound(w http.ResponseWriter) {
	httperr.Write(w, http.StatusNotFound, "not_found", "no such file in this stream")
}

type pathError struct {
	status int
	code   string
	msg    string
}

// splitPath takes /live/{id}/{file} apart. Files are flat names made by
// gohlslib, so anything else is refused before it reaches gohlslib (which
// would look up filepath.Base of whatever it is given).
func splitPath(p string) (id, file string, err *pathError) {
	notFound := &pathError{http.StatusNotFound, "not_found", "no such path"}
	rest, ok := strings.CutPrefix(p, pathPrefix)
	if !ok {
		return "", "", notFound
	}
	id, file, ok = strings.Cut(rest, "/")
	if !ok || id == "" || file == "" || strings.Contains(file, "/") {
		return "", "", notFound
	}
	if !validID(id) || !validFile(file) {
		return "", "", &pathError{http.StatusBadRequest, "invalid_path", "malformed stream path"}
	}
	if !strings.HasSuffix(file, ".m3u8") && !strings.HasSuffix(file, ".mp4") {
		return "", "", notFound
	}
	return id, file, nil
}

// validID accepts any printable ASCII but the dot names: ids are opaque.
func validID(id string) bool {
	if id == "." || id == ".." || len(id) > 200 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

func validFile(f string) bool {
	if len(f) > 128 || f[0] == '.' || strings.Contains(f, "..") {
		return false
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// innerRequest is the request handed to gohlslib: only the file name (its
// muxer resolves filepath.Base of the path) and the query it propagates to
// the URIs of the playlist. It carries nothing of the client's request, so
// it can outlive it.
func innerRequest(method, file, rawQuery string) *http.Request {
	return &http.Request{
		Method: method,
		URL:    &url.URL{Path: file, RawQuery: rawQuery},
		Header: http.Header{},
	}
}

// servePlaylist answers the playlists, which gohlslib may hold until the
// stream has content or until the part a blocking reload asks for exists.
func (s *Server) servePlaylist(w http.ResponseWriter, r *http.Request, m *muxer, file string) {
	// gohlslib copies the query into the URIs of the playlist; re-encoding
	// it keeps quotes and other playlist syntax out.
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		httperr.Write(w, http.StatusBadRequest, "invalid_query", "malformed query string")
		return
	}
	query := q.Encode()
	req := innerRequest(r.Method, file, query)
	res, err := s.awaitShared(r.Context(), m, r.Method+" "+file+"?"+query, func(res *response) { m.hls.Handle(res, req) })
	s.reply(w, m, res, err)
}

// serveFile answers init files and complete segments, which gohlslib
// serves at once from memory.
func serveFile(w http.ResponseWriter, r *http.Request, m *muxer, file string) {
	tw := &trackingWriter{ResponseWriter: w}
	m.hls.Handle(tw, innerRequest(r.Method, file, ""))
	if !tw.wrote {
		// gohlslib writes nothing for a path it does not know.
		fileNotFound(w)
	}
}

// await runs fn, which may block inside gohlslib, on a goroutine the server
// owns, and waits for it, for the client to leave or for s.maxBlock.
//
// gohlslib waits on a sync.Cond and ignores the request's context: a client
// that leaves cannot release it. Running it apart frees the client's
// connection at once; the goroutine ends at the muxer's next part or when
// the muxer closes, and Close waits for it.
func (s *Server) await(ctx context.Context, m *muxer, fn func(*response)) (*response, error) {
	j, err := s.startJob(m, "", fn)
	if err != nil {
		return nil, err
	}
	return s.wait(ctx, j)
}

// awaitShared is await for requests that get the same answer: every
// low-latency client asks for the next playlist and the next part within
// milliseconds of the others. The first request with a key runs fn; those
// that come while it runs wait for its answer, whose bytes they all
// write. Nothing is kept once it has answered: a later request sees the
// stream as it is then.
func (s *Server) awaitShared(ctx context.Context, m *muxer, key string, fn func(*response)) (*response, error) {
	m.jobsMu.Lock()
	j, ok := m.jobs[key]
	if !ok {
		var err error
		if j, err = s.startJob(m, key, fn); err != nil {
			m.jobsMu.Unlock()
			return nil, err
		}
		if m.jobs == nil {
			m.jobs = map[string]*job{}
		}
		m.jobs[key] = j
	}
	m.jobsMu.Unlock()
	return s.wait(ctx, j)
}

// job is one call into gohlslib; res is set when done is closed.
type job struct {
	done chan struct{}
	res  *response
}

// startJob runs fn on a goroutine the server owns. A job with a key is
// forgotten by its muxer once it has answered.
func (s *Server) startJob(m *muxer, key string, fn func(*response)) (*job, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errServerClosed
	}
	if m.pending.Load() >= maxPending {
		s.mu.Unlock()
		return nil, errBusy
	}
	m.pending.Add(1)
	s.wg.Add(1)
	s.mu.Unlock()

	j := &job{done: make(chan struct{})}
	go func() {
		defer s.wg.Done()
		defer m.pending.Add(-1)
		res := &response{header: http.Header{}}
		fn(res)
		if key != "" {
			m.jobsMu.Lock()
			if m.jobs[key] == j {
				delete(m.jobs, key)
			}
			m.jobsMu.Unlock()
		}
		j.res = res
		close(j.done)
	}()
	return j, nil
}

// wait waits for j, for the client to leave or for s.maxBlock.
func (s *Server) wait(ctx context.Context, j *job) (*response, error) {
	t := time.NewTimer(s.maxBlock)
	defer t.Stop()
	select {
	case <-j.done:
		return j.res, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, errStalled
	}
}

// reply turns what gohlslib answered into the response to the client.
// gohlslib answers errors with a bare status; clients get the JSON error.
func (s *Server) reply(w http.ResponseWriter, m *muxer, res *response, err error) {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The client left: nobody reads an answer.
	case errors.Is(err, errServerClosed):
		streamNotFound(w)
	case errors.Is(err, errBusy), errors.Is(err, errStalled):
		w.Header().Set("Retry-After", "1")
		httperr.Write(w, http.StatusServiceUnavailable, "stream_unavailable",
			"the stream has no new media at the moment, retry")
	case err != nil:
		s.log.Error("HLS request failed", "stream", m.stream.ID(), "error", err)
		httperr.Write(w, http.StatusInternalServerError, "internal", "internal error")
	case res.status >= 200 && res.status < 300:
		h := w.Header()
		for k, v := range res.header {
			h[k] = slices.Clone(v) // res may be shared (awaitShared)
		}
		h.Set("Content-Length", strconv.Itoa(res.body.Len()))
		w.WriteHeader(res.status)
		_, _ = w.Write(res.body.Bytes())
	case res.status == 0:
		fileNotFound(w)
	case m.closed.Load():
		// gohlslib releases waiting requests with a 500 when it closes.
		streamNotFound(w)
	case res.status == http.StatusBadRequest:
		httperr.Write(w, http.StatusBadRequest, "invalid_blocking_request",
			"_HLS_msn/_HLS_part out of range or malformed")
	default:
		s.log.Error("HLS muxer answered an error", "stream", m.stream.ID(), "status", res.status)
		httperr.Write(w, http.StatusInternalServerError, "internal", "internal error")
	}
}

// response buffers what gohlslib writes, so that it can be written after
// the fact, or dropped when the client has gone.
type response struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *response) Header() http.Header { return r.header }

func (r *response) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *response) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}

// trackingWriter tells whether gohlslib answered at all.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackingWriter) WriteHeader(status int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *trackingWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}
