package server

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"vitrine/internal/clientaddr"
)

// trackHLS tells analytics of every playlist served by the LL-HLS
// handler: a viewer reloads its playlists all along, so they are what
// an HLS session is made of (see analytics.SessionRecorder).
func (s *Server) trackHLS(next http.Handler) http.Handler {
	return s.trackViewers(next, liveRequest)
}

// trackReplay tells analytics of the replay's playlists (the whole
// replay's and each product sequence's) and of its segments: a VOD player
// loads its playlist once and then only segments, which keep its session
// alive. The report puts what comes after the end of the live in the
// replay phase.
func (s *Server) trackReplay(next http.Handler) http.Handler {
	return s.trackViewers(next, replayRequest)
}

// hlsRequest is what a request of an HLS route is to analytics.
type hlsRequest int

const (
	notCounted hlsRequest = iota
	playlistRequest
	segmentRequest
)

// liveRequest: GET /live/{id}/....m3u8 are the live's playlists.
func liveRequest(path string) (id string, kind hlsRequest) {
	rest, ok := strings.CutPrefix(path, "/live/")
	id, _, _ = strings.Cut(rest, "/")
	if !ok || id == "" || !strings.HasSuffix(path, ".m3u8") {
		return "", notCounted
	}
	return id, playlistRequest
}

// replayRequest: the replay's playlists are /replay/{id}/index.m3u8 and
// /replay/{id}/sequences/{seq}/index.m3u8, its segments
// /replay/{id}/s{n}/{seq}.m4s and /replay/{id}/sequences/{seq}/last.m4s
// (the recorder's routes; anything else they answer is not served 200).
func replayRequest(path string) (id string, kind hlsRequest) {
	rest, ok := strings.CutPrefix(path, "/replay/")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) < 2 || len(parts) > 4 || parts[0] == "" {
		return "", notCounted
	}
	switch file := parts[len(parts)-1]; {
	case file == "index.m3u8":
		return parts[0], playlistRequest
	case strings.HasSuffix(file, ".m4s"):
		return parts[0], segmentRequest
	}
	return "", notCounted
}

// trackViewers calls s.viewers.HLSRequest for every GET that classify
// says a viewer made and that was served: 200, or 206 for a segment (a
// Range request). HEAD (a probe) is not a viewer, nor a failed request.
// The viewer is told apart by the `viewer` query parameter, else by
// address and User-Agent. A request of this server's own player page
// (its Referer) that names no viewer is left to the page's tracking
// beacons, which count it under the page's viewer id: counted here too
// under another id, one viewer would count twice.
func (s *Server) trackViewers(next http.Handler, classify func(path string) (string, hlsRequest)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, kind := classify(r.URL.Path)
		if r.Method != http.MethodGet || kind == notCounted {
			next.ServeHTTP(w, r)
			return
		}
		sw := &playlistStatus{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status != http.StatusOK && (kind != segmentRequest || sw.status != http.StatusPartialContent) {
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
