package server

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"vitrine/internal/clientaddr"
	"vitrine/protocols/hls"
	"vitrine/recorder"
)

// trackHLS tells analytics of every playlist served by the LL-HLS
// handler (hls.ViewerRequest says which requests those are).
func (s *Server) trackHLS(next http.Handler) http.Handler {
	return s.trackViewers(next, func(path string) (string, bool, bool) {
		id, ok := hls.ViewerRequest(path)
		return id, false, ok
	})
}

// trackReplay tells analytics of the replay's playlists and segments
// (recorder.ViewerRequest). The report puts what comes after the end of
// the live in the replay phase.
func (s *Server) trackReplay(next http.Handler) http.Handler {
	return s.trackViewers(next, recorder.ViewerRequest)
}

// trackViewers calls s.viewers.HLSRequest for every GET that classify
// (the routes' owner) says a viewer made and that was served: 200, or 206 for a segment (a
// Range request). HEAD (a probe) is not a viewer, nor a failed request.
// The viewer is told apart by the `viewer` query parameter, else by
// address and User-Agent. A request of this server's own player page
// (its Referer) that names no viewer is left to the page's tracking
// beacons, which count it under the page's viewer id: counted here too
// under another id, one viewer would count twice.
func (s *Server) trackViewers(next http.Handler, classify func(path string) (id string, segment, ok bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, segment, ok := classify(r.URL.Path)
		if r.Method != http.MethodGet || !ok {
			next.ServeHTTP(w, r)
			return
		}
		sw := &playlistStatus{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status != http.StatusOK && (!segment || sw.status != http.StatusPartialContent) {
			return
		}
		viewer := r.URL.Query().Get("viewer")
		if viewer == "" && fromPlayerPage(r, id) {
			return
		}
		s.viewers.HLSRequest(id, viewer, s.clientAddr(r), r.UserAgent())
	})
}

// fromPlayerPage reports whether r was sent by the player page of
// campaign id (GET /watch/{id}), by its Referer: the page's policy
// (strict-origin-when-cross-origin) sends its path to its own origin
// only. The suffix allows a proxy serving the page under a prefix.
func fromPlayerPage(r *http.Request, id string) bool {
	ref := r.Referer()
	if ref == "" {
		return false
	}
	u, err := url.Parse(ref)
	return err == nil && strings.HasSuffix(u.Path, "/watch/"+id)
}

// clientAddr is the client's address, from X-Forwarded-For's last entry
// behind a trusted proxy.
func (s *Server) clientAddr(r *http.Request) string {
	if a := clientaddr.Addr(r, s.cfg.HTTP.TrustProxy); a.IsValid() {
		return a.String()
	}
	return hostOf(r.RemoteAddr)
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// playlistStatus remembers the status of a playlist's or segment's
// response.
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
