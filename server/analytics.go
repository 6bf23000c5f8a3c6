package server

import (
	"net"
	"net/http"
	"strings"
)

// trackHLS tells analytics of every playlist served by the LL-HLS
// handler: a viewer reloads its playlists all along, so they are what
// an HLS session is made of (see analytics.SessionRecorder). The viewer
// is told apart by the `viewer` query parameter, else by address and
// User-Agent.
func (s *Server) trackHLS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, ".m3u8") {
			next.ServeHTTP(w, r)
			return
		}
		sw := &playlistStatus{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		rest, ok := strings.CutPrefix(r.URL.Path, "/live/")
		id, _, _ := strings.Cut(rest, "/")
		if !ok || id == "" || sw.status != http.StatusOK {
			return
		}
		s.viewers.HLSRequest(id, r.URL.Query().Get("viewer"), s.clientAddr(r), r.UserAgent())
	})
}

// clientAddr is the client's address, from X-Forwarded-For's last entry
// behind a trusted proxy.
func (s *Server) clientAddr(r *http.Request) string {
	if s.cfg.HTTP.TrustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if a := strings.TrimSpace(last); a != "" {
				return a
			}
		}
	}
	return hostOf(r.RemoteAddr)
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// playlistStatus remembers the status of a playlist response.
type playlistStatus struct {
	http.ResponseWriter
	status int
}

func (w *playlistStatus) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *playlistStatus) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *playlistStatus) Unwrap() http.ResponseWriter { return w.ResponseWriter }
