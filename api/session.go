package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The seller's console signs in with the admin token once and then
// carries a session cookie instead of the token: an HttpOnly,
// SameSite=Strict cookie (Secure over HTTPS) holding a random id that
// names a session kept in this process. The token itself is never put in
// the cookie nor echoed.
//
// Expiry is sliding: a session ends SessionTTL (12 h by default) after it
// was created or last renewed, and a request that finds it in the second
// half of that time renews it (the response carries a fresh cookie), so
// a session ends after 6 to 12 hours without use. However much it is
// used, it ends sessionMaxLifetime after sign-in (7 days, or SessionTTL
// when longer).
//
// Sessions live in this process's memory, hashed: a restart signs every
// console out, and a session opened on one node is unknown to the others
// (behind a load balancer, keep the console's requests on one node).

// SessionCookie is the name of the console's session cookie.
const SessionCookie = "vitrine_session"

// DefaultSessionTTL is a session's lifetime without use (Config.SessionTTL).
const DefaultSessionTTL = 12 * time.Hour

const (
	// sessionMaxLifetime bounds a session however often it is renewed.
	sessionMaxLifetime = 7 * 24 * time.Hour
	// maxSessions bounds the sessions kept; past it, signing in ends the
	// session that would expire first.
	maxSessions = 1000
	// maxFormBody bounds a sign-in form.
	maxFormBody = 16 << 10
	// maxTokenLength bounds the token a sign-in may send.
	maxTokenLength = 1024
	// sessionIDBytes is the entropy of a session id.
	sessionIDBytes = 32
)

// session is what the server keeps of a signed-in console.
type session struct {
	created time.Time
	expires time.Time
}

// sessionStore holds the live sessions by the SHA-256 of their id, so
// that a copy of the memory (a core dump) yields no usable cookie.
type sessionStore struct {
	ttl    time.Duration
	maxAge time.Duration

	mu     sync.Mutex
	byHash map[[sha256.Size]byte]*session
}

func newSessionStore(ttl time.Duration) *sessionStore {
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	return &sessionStore{ttl: ttl, maxAge: max(sessionMaxLifetime, ttl), byHash: map[[sha256.Size]byte]*session{}}
}

// sessionKey decodes a cookie value: 32 bytes in unpadded base64url, or
// nothing.
func sessionKey(value string) ([sha256.Size]byte, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) != sessionIDBytes {
		return [sha256.Size]byte{}, false
	}
	return sha256.Sum256(raw), true
}

// create opens a session and returns its id (the cookie's value).
func (s *sessionStore) create(now time.Time) (string, session) {
	raw := make([]byte, sessionIDBytes)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails (Go 1.24)
	sess := &session{created: now, expires: now.Add(s.ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byHash) >= maxSessions {
		s.evict(now)
	}
	s.byHash[sha256.Sum256(raw)] = sess
	return base64.RawURLEncoding.EncodeToString(raw), *sess
}

// evict drops the expired sessions and, if that frees nothing, the one
// that would expire first. s.mu is held.
func (s *sessionStore) evict(now time.Time) {
	var first [sha256.Size]byte
	var firstExp time.Time
	for k, v := range s.byHash {
		if !now.Before(v.expires) {
			delete(s.byHash, k)
			continue
		}
		if firstExp.IsZero() || v.expires.Before(firstExp) {
			first, firstExp = k, v.expires
		}
	}
	if len(s.byHash) >= maxSessions {
		delete(s.byHash, first)
	}
}

// find returns the live session named by id.
func (s *sessionStore) find(id string, now time.Time) (session, bool) {
	k, ok := sessionKey(id)
	if !ok {
		return session{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.byHash[k]
	if !ok {
		return session{}, false
	}
	if !now.Before(sess.expires) {
		delete(s.byHash, k)
		return session{}, false
	}
	return *sess, true
}

// renew moves a live session's expiry to now + ttl (within its maximum
// lifetime) when less than half the ttl is left, and reports whether it
// did.
func (s *sessionStore) renew(id string, now time.Time) (session, bool) {
	k, ok := sessionKey(id)
	if !ok {
		return session{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.byHash[k]
	if !ok || !now.Before(sess.expires) || sess.expires.Sub(now) >= s.ttl/2 {
		return session{}, false
	}
	exp := now.Add(s.ttl)
	if limit := sess.created.Add(s.maxAge); exp.After(limit) {
		exp = limit
	}
	if !exp.After(sess.expires) {
		return session{}, false
	}
	sess.expires = exp
	return *sess, true
}

// end deletes the session named by id, and reports whether there was one.
func (s *sessionStore) end(id string) bool {
	k, ok := sessionKey(id)
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, found := s.byHash[k]
	delete(s.byHash, k)
	return found
}

// len is the number of sessions held, for tests.
func (s *sessionStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byHash)
}

// requestSession returns the id and the session of r's session cookie,
// if one names a live session. A browser may send several cookies of that
// name (set for other paths or by a sibling domain): any live one counts.
func (a *API) requestSession(r *http.Request) (string, session, bool) {
	now := a.now()
	for _, c := range r.CookiesNamed(SessionCookie) {
		if sess, ok := a.sessions.find(c.Value, now); ok {
			return c.Value, sess, true
		}
	}
	return "", session{}, false
}

// hasSessionCookie says whether r carries a session cookie, live or not.
func hasSessionCookie(r *http.Request) bool {
	return len(r.CookiesNamed(SessionCookie)) > 0
}

// secureRequest says whether r came over HTTPS: TLS to this server, or
// X-Forwarded-Proto: https from a trusted proxy.
func (a *API) secureRequest(r *http.Request) bool {
	return r.TLS != nil || (a.trustProxy && firstValue(r.Header.Get("X-Forwarded-Proto")) == "https")
}

// setSessionCookie sets the cookie of session id on the response.
func (a *API) setSessionCookie(w http.ResponseWriter, r *http.Request, id string, sess session) {
	age := int(sess.expires.Sub(a.now()) / time.Second)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", MaxAge: max(age, 1),
		Expires: sess.expires.Truncate(time.Second), HttpOnly: true, Secure: a.secureRequest(r),
		SameSite: http.SameSiteStrictMode})
}

// clearSessionCookie tells the browser to drop its session cookie.
func (a *API) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: a.secureRequest(r), SameSite: http.SameSiteStrictMode})
}

// renewSession renews r's session when due and sends the fresh cookie.
// Not on a WebSocket upgrade: its answer is written by the socket's
// handler, which would drop the cookie.
func (a *API) renewSession(w http.ResponseWriter, r *http.Request, id string) {
	if isUpgrade(r) {
		return
	}
	if sess, ok := a.sessions.renew(id, a.now()); ok {
		a.setSessionCookie(w, r, id, sess)
	}
}

func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "websocket") {
				return true
			}
		}
	}
	return false
}

// safeMethod: the methods a cookie-authenticated request may use without
// showing where it comes from. They change nothing.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkCSRF refuses, with 403 csrf_refused, a request authenticated by
// the session cookie that could change something (any method but GET,
// HEAD and OPTIONS, and a WebSocket upgrade) unless its Origin, or
// without one its Referer, is this server's own origin. The cookie is
// SameSite=Strict already; this holds against browsers that do not
// honour it and against a sibling site under the same registrable
// domain.
func (a *API) checkCSRF(r *http.Request) *apiError {
	if safeMethod(r.Method) && !isUpgrade(r) {
		return nil
	}
	return a.checkOrigin(r, true)
}

// checkOrigin checks r's Origin (or Referer) against this server's
// origin: the public URL's when set, or the request's Host (or
// X-Forwarded-Host from a trusted proxy). With required set, a request
// carrying neither header is refused; otherwise it passes (not a
// browser). Over TLS (or X-Forwarded-Proto from a trusted proxy) the
// scheme must be https as well.
func (a *API) checkOrigin(r *http.Request, required bool) *apiError {
	src, which := r.Header.Get("Origin"), "Origin"
	if src == "" {
		src, which = r.Header.Get("Referer"), "Referer"
	}
	if src == "" {
		if !required {
			return nil
		}
		return csrfRefused("a request signed in with the session cookie that is not GET, HEAD or OPTIONS must carry " +
			"an Origin (or Referer) header naming this server; programs send Authorization: Bearer TOKEN instead")
	}
	u, err := url.Parse(src)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return csrfRefused("the %s header %q does not name this server", which, clip(src))
	}
	if a.publicURL != nil && strings.EqualFold(u.Scheme, a.publicURL.Scheme) && strings.EqualFold(u.Host, a.publicURL.Host) {
		return nil
	}
	scheme := ""
	if r.TLS != nil {
		scheme = "https"
	}
	if a.trustProxy {
		if p := firstValue(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
			scheme = p
		}
	}
	if scheme == "" || strings.EqualFold(u.Scheme, scheme) {
		if strings.EqualFold(u.Host, r.Host) {
			return nil
		}
		if h := firstValue(r.Header.Get("X-Forwarded-Host")); a.trustProxy && h != "" && strings.EqualFold(u.Host, h) {
			return nil
		}
	}
	return csrfRefused("the %s header %q is not this server's origin: a request signed in with the session cookie "+
		"must come from the console's own pages", which, clip(u.Scheme+"://"+u.Host))
}

func csrfRefused(format string, args ...any) *apiError {
	return errorf(http.StatusForbidden, "csrf_refused", format, args...)
}

// Session routes. They are public in the route table (no token first):
// each reads the cookie or the token itself.

// signInRequest is the sign-in body, as JSON or as a form.
type signInRequest struct {
	Token string `json:"token" required:"true" maxLength:"1024" doc:"the admin token (never stored in the cookie nor echoed)"`
}

// sessionView describes the caller's session.
type sessionView struct {
	ExpiresAt    time.Time `json:"expires_at" doc:"when the session ends without use; a request in its second half renews it (sliding, 12 h by default)"`
	MaxExpiresAt time.Time `json:"max_expires_at" doc:"when it ends however much it is used (7 days after sign-in, or the session lifetime if longer)"`
}

func (a *API) viewSession(sess session) sessionView {
	return sessionView{ExpiresAt: sess.expires.Truncate(time.Second),
		MaxExpiresAt: sess.created.Add(a.sessions.maxAge).Truncate(time.Second)}
}

func (a *API) sessionRoutes() []*route {
	return []*route{
		{Method: "POST", Path: sessionPath, ID: "createSession", Tag: "Session", Public: true,
			Summary: "Sign in (the console)",
			Doc: "Exchanges the admin token for a session cookie, for the seller's console: the body holds token, as JSON " +
				"or as a form (application/x-www-form-urlencoded). 201 sets the cookie " + SessionCookie +
				" (HttpOnly, SameSite=Strict, Path=/, Secure over HTTPS, Max-Age the session's) and describes the session; " +
				"a session the request already carried ends. A wrong token is 401 and counts towards the failed-authentication " +
				"limit (429). A browser's request whose Origin (or Referer) is another site is 403 csrf_refused. " +
				"Sessions are kept in the server's memory: a restart ends them, and another node does not know them.",
			Body: signInRequest{}, FormBody: true, Status: http.StatusCreated, Response: sessionView{},
			Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests},
			handle: a.createSession},
		{Method: "GET", Path: sessionPath, ID: "getSession", Tag: "Session", Public: true,
			Summary: "Whether the caller is signed in",
			Doc: "200 with the session's expiry when the request carries a live session cookie (renewing it when due, with a " +
				"fresh cookie), 401 otherwise (a stale cookie is cleared). Not counted as a failed authentication; the bearer " +
				"token is not a session.",
			Status: http.StatusOK, Response: sessionView{}, Errors: []int{http.StatusUnauthorized},
			handle: a.getSession},
		{Method: "DELETE", Path: sessionPath, ID: "deleteSession", Tag: "Session", Public: true,
			Summary: "Sign out",
			Doc: "Ends the session of the request's cookie on the server and clears the cookie; 204 whether or not there " +
				"was one. With a live session, the Origin (or Referer) rule of cookie-authenticated requests applies " +
				"(403 csrf_refused).",
			Status: http.StatusNoContent, Errors: []int{http.StatusForbidden},
			handle: a.deleteSession},
	}
}

func (a *API) createSession(w http.ResponseWriter, r *http.Request) error {
	token, err := a.signInToken(w, r)
	if err != nil {
		return err
	}
	// A browser's sign-in from another site (login CSRF) is refused;
	// programs send no Origin.
	if err := a.checkOrigin(r, false); err != nil {
		return err
	}
	key := clientKey(r, a.trustProxy)
	if a.authLimit != nil {
		if ok, wait := a.authLimit.take(key); !ok {
			tooManyRequests(w, wait, "failed authentications")
			return nil
		}
	}
	if !a.tokenMatches(token) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vitrine", error="invalid_token"`)
		return errorf(http.StatusUnauthorized, "unauthorized", "wrong admin token")
	}
	if a.authLimit != nil {
		a.authLimit.refund(key)
	}
	// A new id at every sign-in: a session the browser already had (or
	// was given by someone else) ends.
	for _, c := range r.CookiesNamed(SessionCookie) {
		a.sessions.end(c.Value)
	}
	id, sess := a.sessions.create(a.now())
	a.setSessionCookie(w, r, id, sess)
	a.log.InfoContext(r.Context(), "console signed in", "request_id", requestIDFrom(r.Context()),
		"client", clientKey(r, a.trustProxy), "expires", sess.expires)
	return writeJSON(w, http.StatusCreated, a.viewSession(sess))
}

// signInToken reads the token from a form or a JSON body.
func (a *API) signInToken(w http.ResponseWriter, r *http.Request) (string, error) {
	var token string
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		data, err := readBody(w, r, maxFormBody)
		if err != nil {
			return "", err
		}
		if !utf8.Valid(data) {
			return "", badRequest("invalid_body", "the form is not valid UTF-8")
		}
		vals, err := url.ParseQuery(string(data))
		if err != nil {
			return "", badRequest("invalid_body", "the body is not a valid form")
		}
		if len(vals["token"]) > 1 {
			return "", badRequest("invalid_body", "the form holds token more than once")
		}
		token = vals.Get("token")
	} else {
		var req signInRequest
		if err := decodeJSON(w, r, &req, maxJSONBody, false); err != nil {
			return "", err
		}
		token = req.Token
	}
	var v validator
	switch {
	case strings.TrimSpace(token) == "":
		v.add("token", "the admin token is required")
	case len(token) > maxTokenLength:
		v.add("token", "must be at most %d bytes", maxTokenLength)
	}
	return strings.TrimSpace(token), v.err()
}

func (a *API) getSession(w http.ResponseWriter, r *http.Request) error {
	id, sess, ok := a.requestSession(r)
	if !ok {
		if hasSessionCookie(r) {
			a.clearSessionCookie(w, r)
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="vitrine"`)
		return errorf(http.StatusUnauthorized, "unauthorized", "not signed in: POST /api/v1/session with the admin token")
	}
	if renewed, ok := a.sessions.renew(id, a.now()); ok {
		sess = renewed
		a.setSessionCookie(w, r, id, sess)
	}
	return writeJSON(w, http.StatusOK, a.viewSession(sess))
}

func (a *API) deleteSession(w http.ResponseWriter, r *http.Request) error {
	if _, _, ok := a.requestSession(r); ok {
		if err := a.checkCSRF(r); err != nil {
			return err
		}
	}
	for _, c := range r.CookiesNamed(SessionCookie) {
		if a.sessions.end(c.Value) {
			a.log.InfoContext(r.Context(), "console signed out", "request_id", requestIDFrom(r.Context()))
		}
	}
	a.clearSessionCookie(w, r)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
