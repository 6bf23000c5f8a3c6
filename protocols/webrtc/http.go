package webrtc

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"vitrine/internal/httperr"
	"vitrine/stream"
)

const (
	// maxOfferSize bounds an SDP offer; a browser's is 5-10 KiB.
	maxOfferSize = 64 << 10
	// maxFragSize bounds a trickle ICE fragment.
	maxFragSize = 16 << 10
	// authTimeout bounds one authorisation call (a store lookup).
	authTimeout = 5 * time.Second
	// deleteWait bounds how long DELETE waits for the session's teardown.
	deleteWait = 5 * time.Second

	contentSDP     = "application/sdp"
	contentTrickle = "application/trickle-ice-sdpfrag"
)

// Register mounts WHIP and WHEP on mux. Every answer, errors included,
// carries the CORS headers; every error the JSON envelope.
//
// Under /live/ only method-specific patterns are registered, so that they
// stay more specific than any other route there (LL-HLS at "/live/", the
// API's viewer routes).
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /whip/{id}", s.handleWHIP)
	mux.HandleFunc("OPTIONS /whip/{id}", s.handleOptions(kindWHIP, false))
	mux.HandleFunc("PATCH /whip/{id}/sessions/{sid}", s.handlePatch(kindWHIP))
	mux.HandleFunc("DELETE /whip/{id}/sessions/{sid}", s.handleDelete(kindWHIP))
	mux.HandleFunc("OPTIONS /whip/{id}/sessions/{sid}", s.handleOptions(kindWHIP, true))
	mux.HandleFunc("/whip/{id}", s.notAllowed("POST, OPTIONS"))
	mux.HandleFunc("/whip/{id}/sessions/{sid}", s.notAllowed("PATCH, DELETE, OPTIONS"))

	mux.HandleFunc("POST /live/{id}/whep", s.handleWHEP)
	mux.HandleFunc("OPTIONS /live/{id}/whep", s.handleOptions(kindWHEP, false))
	mux.HandleFunc("GET /live/{id}/whep", s.notAllowed("POST, OPTIONS"))
	mux.HandleFunc("PATCH /live/{id}/whep/sessions/{sid}", s.handlePatch(kindWHEP))
	mux.HandleFunc("DELETE /live/{id}/whep/sessions/{sid}", s.handleDelete(kindWHEP))
	mux.HandleFunc("OPTIONS /live/{id}/whep/sessions/{sid}", s.handleOptions(kindWHEP, true))
	mux.HandleFunc("GET /live/{id}/whep/sessions/{sid}", s.notAllowed("PATCH, DELETE, OPTIONS"))
}

func pathEscape(id string) string { return url.PathEscape(id) }

func (s *Server) handleWHIP(w http.ResponseWriter, r *http.Request) {
	s.cors.Apply(w.Header(), r)
	id := r.PathValue("id")
	if !validID(id) {
		httperr.Write(w, http.StatusBadRequest, "invalid_path", "malformed stream id")
		return
	}
	key, ok := bearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="whip"`)
		httperr.Write(w, http.StatusUnauthorized, "unauthorized",
			"WHIP needs the stream key as a bearer token: Authorization: Bearer {stream_key}")
		return
	}
	body, ok := readBody(w, r, contentSDP, maxOfferSize)
	if !ok {
		return
	}
	actx, cancel := context.WithTimeout(r.Context(), authTimeout)
	streamID, err := s.cfg.Auth.AuthorizePublish(actx, stream.PublishRequest{
		Key: key, StreamID: id, Protocol: "whip", Remote: r.RemoteAddr,
	})
	cancel()
	if err == nil && streamID != id {
		err = stream.ErrUnauthorized
	}
	switch {
	case err == nil:
	case errors.Is(err, stream.ErrUnauthorized), errors.Is(err, stream.ErrNotLive):
		s.writeError(w, r, err)
		return
	default:
		s.log.Warn("whip authorisation failed", "stream", id, "error", err)
		w.Header().Set("Retry-After", "5")
		httperr.Write(w, http.StatusServiceUnavailable, "auth_unavailable", "the stream key could not be checked, try again")
		return
	}
	o, err := chooseWHIP(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ss, answer, err := s.startWHIP(r.Context(), id, o, r.RemoteAddr)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeCreated(w, ss, answer)
}

func (s *Server) handleWHEP(w http.ResponseWriter, r *http.Request) {
	s.cors.Apply(w.Header(), r)
	id := r.PathValue("id")
	if !validID(id) {
		httperr.Write(w, http.StatusBadRequest, "invalid_path", "malformed stream id")
		return
	}
	body, ok := readBody(w, r, contentSDP, maxOfferSize)
	if !ok {
		return
	}
	info := ViewerInfo{StreamID: id, Viewer: r.URL.Query().Get("viewer"), RemoteAddr: r.RemoteAddr, UserAgent: r.UserAgent()}
	ss, answer, err := s.startWHEP(r.Context(), id, body, info)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeCreated(w, ss, answer)
}

func (s *Server) writeCreated(w http.ResponseWriter, ss *session, answer string) {
	h := w.Header()
	h.Set("Content-Type", contentSDP)
	h.Set("Location", ss.location())
	h.Set("ETag", ss.etag)
	h.Set("Accept-Patch", contentTrickle)
	for _, l := range s.links {
		h.Add("Link", l)
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

// handlePatch takes trickle ICE candidates (RFC 9725 section 4.3.1). ICE
// restarts are not supported: 422, as the RFC asks of a session that
// supports trickle only.
func (s *Server) handlePatch(kind sessionKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.cors.Apply(w.Header(), r)
		ss := s.lookup(kind, r.PathValue("id"), r.PathValue("sid"))
		if ss == nil {
			sessionNotFound(w)
			return
		}
		body, ok := readBody(w, r, contentTrickle, maxFragSize)
		if !ok {
			return
		}
		if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != ss.etag {
			httperr.Write(w, http.StatusPreconditionFailed, "etag_mismatch",
				"If-Match does not match the session's current ETag "+ss.etag)
			return
		}
		frag, err := parseSDPFrag(body)
		if err != nil {
			httperr.Write(w, http.StatusBadRequest, "bad_trickle_fragment", err.Error())
			return
		}
		if frag.ufrag != "" && frag.ufrag != ss.ufrag {
			httperr.Write(w, http.StatusUnprocessableEntity, "ice_restart_not_supported",
				"the fragment has new ICE credentials (an ICE restart), which this server does not support: start a new session")
			return
		}
		for _, c := range frag.candidates {
			if err := ss.pc.AddICECandidate(c.init()); err != nil {
				httperr.Write(w, http.StatusBadRequest, "bad_candidate", "candidate refused: "+err.Error())
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) handleDelete(kind sessionKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.cors.Apply(w.Header(), r)
		ss := s.lookup(kind, r.PathValue("id"), r.PathValue("sid"))
		if ss == nil {
			sessionNotFound(w)
			return
		}
		ss.close(errDeleted)
		// Answer once the publisher left the hub (or the viewer its fanout),
		// so that a client may publish again right after.
		t := time.NewTimer(deleteWait)
		defer t.Stop()
		select {
		case <-ss.done:
		case <-t.C:
			ss.log.Warn("webrtc session teardown is slow", "waited", deleteWait)
		}
		w.WriteHeader(http.StatusOK)
	}
}

// handleOptions answers CORS preflights and clients asking for the ICE
// servers before their offer (RFC 9725 section 4.4).
func (s *Server) handleOptions(kind sessionKind, sessionURL bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		s.cors.Apply(h, r)
		s.cors.Preflight(h)
		if sessionURL {
			h.Set("Allow", "PATCH, DELETE, OPTIONS")
			h.Set("Accept-Patch", contentTrickle)
		} else {
			h.Set("Allow", "POST, OPTIONS")
			h.Set("Accept-Post", contentSDP)
			for _, l := range s.links {
				h.Add("Link", l)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) notAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.cors.Apply(w.Header(), r)
		w.Header().Set("Allow", allow)
		httperr.Write(w, http.StatusMethodNotAllowed, "method_not_allowed", "this resource answers "+allow)
	}
}

func sessionNotFound(w http.ResponseWriter) {
	httperr.Write(w, http.StatusNotFound, "session_not_found", "no such WebRTC session (it ended, or never existed)")
}

// readBody checks the content type and reads a bounded body.
func readBody(w http.ResponseWriter, r *http.Request, contentType string, limit int64) ([]byte, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.EqualFold(mt, contentType) {
		w.Header().Set("Accept-Post", contentType)
		httperr.Write(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be "+contentType)
		return nil, false
	}
	httperr.LimitBodyTime(w)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httperr.Write(w, http.StatusRequestEntityTooLarge, "body_too_large", "the body exceeds the limit")
			return nil, false
		}
		httperr.Write(w, http.StatusBadRequest, "bad_body", "reading the body: "+err.Error())
		return nil, false
	}
	if len(body) == 0 {
		httperr.Write(w, http.StatusBadRequest, "empty_body", "the body is empty")
		return nil, false
	}
	return body, true
}

// bearer extracts a bearer token (RFC 6750).
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// validID accepts printable ASCII ids (they are opaque) but the dot names.
func validID(id string) bool {
	if id == "" || id == "." || id == ".." || len(id) > 200 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// writeError maps an error to its status and code.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, stream.ErrUnauthorized):
		w.Header().Set("WWW-Authenticate", `Bearer realm="whip", error="invalid_token"`)
		httperr.Write(w, http.StatusUnauthorized, "unauthorized", "the stream key is not valid for this stream")
	case errors.Is(err, stream.ErrNotLive):
		httperr.Write(w, http.StatusForbidden, "not_live", err.Error())
	case errors.Is(err, errConflict), errors.Is(err, stream.ErrAlreadyPublishing):
		httperr.Write(w, http.StatusConflict, "already_publishing", "the stream already has a publisher")
	case errors.Is(err, errStreamNotFound):
		httperr.Write(w, http.StatusNotFound, "stream_not_found", "stream is not live")
	case errors.Is(err, errBadSDP):
		httperr.Write(w, http.StatusBadRequest, "bad_sdp", err.Error())
	case errors.Is(err, errCodecs):
		httperr.Write(w, http.StatusNotAcceptable, "unsupported_codec", err.Error())
	case errors.Is(err, errTooManySessions), errors.Is(err, errTooManyViewers):
		w.Header().Set("Retry-After", "10")
		httperr.Write(w, http.StatusServiceUnavailable, "too_many_sessions", err.Error())
	case errors.Is(err, errServerClosed), errors.Is(err, errNotStarted), errors.Is(err, stream.ErrHubClosed):
		w.Header().Set("Retry-After", "5")
		httperr.Write(w, http.StatusServiceUnavailable, "unavailable", "the server is not accepting WebRTC sessions")
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		if r.Context().Err() == nil {
			// Our own deadline: the authoriser (store) did not answer.
			s.log.Warn("webrtc request timed out", "path", r.URL.Path, "error", err)
			httperr.Write(w, http.StatusServiceUnavailable, "unavailable", "timed out, try again")
			return
		}
		// The client left; nobody reads the answer.
		httperr.Write(w, http.StatusServiceUnavailable, "unavailable", "request cancelled")
	default:
		s.log.Error("webrtc request failed", "path", r.URL.Path, "error", err)
		httperr.Write(w, http.StatusInternalServerError, "internal", "internal error")
	}
}
