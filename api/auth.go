package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// authenticate checks the caller's credentials and answers 401, or 429
// for an address that failed too often lately (see
// Config.AuthFailureLimit), when they are not right. The credentials are
// the admin token (Authorization: Bearer) or, without an Authorization
// header, the console's session cookie (session.go), under the CSRF rule
// (checkCSRF: 403 csrf_refused). Every check takes a token from the
// address's bucket before looking at the credentials, and a success gives
// it back: so only failures count, and an address with none left is
// refused without its credentials being compared, even right ones.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request) bool {
	var key string
	if a.authLimit != nil {
		key = clientKey(r, a.trustProxy)
		if ok, wait := a.authLimit.take(key); !ok {
			tooManyRequests(w, wait, "failed authentications")
			return false
		}
	}
	kind, sessionID := a.credential(r)
	if kind == credNone {
		if !hasAuthorization(r) && hasSessionCookie(r) {
			a.clearSessionCookie(w, r) // stale: the console signs in again
		}
		unauthorized(w, r)
		return false
	}
	if a.authLimit != nil {
		a.authLimit.refund(key)
	}
	if kind == credSession {
		if err := a.checkCSRF(r); err != nil {
			writeErrorBody(w, err, "")
			return false
		}
		a.renewSession(w, r, sessionID)
	}
	return true
}

// credKind is what a request authenticates with.
type credKind int

const (
	credNone    credKind = iota
	credBearer           // the admin token
	credSession          // a live session cookie (and no Authorization header)
)

// credential says how r authenticates. An Authorization header decides
// alone, right or wrong: a script's wrong token is not saved by a cookie
// the same browser happens to hold. Without one, a live session cookie
// counts; its id is returned for renewal.
func (a *API) credential(r *http.Request) (credKind, string) {
	if hasAuthorization(r) {
		if a.authorized(r) {
			return credBearer, ""
		}
		return credNone, ""
	}
	if id, _, ok := a.requestSession(r); ok {
		return credSession, id
	}
	return credNone, ""
}

func hasAuthorization(r *http.Request) bool { return len(r.Header.Values("Authorization")) > 0 }

// AdminOnly serves h to requests with the admin bearer token only, for
// routes outside the API (the profiler); others get 401 as the API's.
func (a *API) AdminOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.authorized(r) {
			unauthorized(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// authorized checks the admin bearer token.
func (a *API) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return a.tokenMatches(strings.TrimSpace(token))
}

// tokenMatches compares token with the admin token. Both sides are hashed
// first so that the comparison takes the same time whatever the length of
// the presented token, and is constant-time on the digests.
func (a *API) tokenMatches(token string) bool {
	sum := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(sum[:], a.tokenHash[:]) == 1
}

func unauthorized(w http.ResponseWriter, r *http.Request) {
	// RFC 6750: a request without credentials gets the bare challenge; a
	// wrong token is invalid_token.
	challenge := `Bearer realm="vitrine"`
	if r.Header.Get("Authorization") != "" {
		challenge += `, error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeErrorBody(w, &apiError{Status: http.StatusUnauthorized, Code: "unauthorized",
		Message: "send the admin token as Authorization: Bearer TOKEN, or sign in (POST /api/v1/session) for a session cookie"}, "")
}

// Preview reports whether r carries the admin token, or a live session
// cookie under the CSRF rule, for the host's preview of its own
// unpublished campaign on the viewer routes. A wrong token counts as a
// failed authentication (Config.AuthFailureLimit), as on the admin API:
// the viewer routes are no way around the limit.
func (a *API) Preview(r *http.Request) bool {
	var key string
	if a.authLimit != nil {
		key = clientKey(r, a.trustProxy)
		if ok, _ := a.authLimit.take(key); !ok {
			return false
		}
	}
	kind, _ := a.credential(r)
	if kind == credNone {
		return false
	}
	if a.authLimit != nil {
		a.authLimit.refund(key)
	}
	return kind == credBearer || a.checkCSRF(r) == nil
}
