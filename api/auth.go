package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// authenticate checks the admin token and answers 401, or 429 for an
// address that failed too often lately (see Config.AuthFailureLimit), when
// it is not right. Every check takes a token from the address's bucket
// before looking at the token, and a success gives it back: so only
// failures count, and an address with none left is refused without its
// token being compared, even a right one.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request) bool {
	if a.authLimit == nil {
		if a.authorized(r) {
			return true
		}
		unauthorized(w, r)
		return false
	}
	key := clientKey(r, a.trustProxy)
	if ok, wait := a.authLimit.take(key); !ok {
		tooManyRequests(w, wait, "failed authentications")
		return false
	}
	if a.authorized(r) {
		a.authLimit.refund(key)
		return true
	}
	unauthorized(w, r)
	return false
}

// authorized checks the admin bearer token. Both sides are hashed first so
// that the comparison takes the same time whatever the length of the
// presented token, and is constant-time on the digests.
func (a *API) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
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
		Message: "send the admin token as Authorization: Bearer TOKEN"}, "")
}

// Preview reports whether r carries the admin token, for the host's
// preview of its own unpublished campaign on the viewer routes. A wrong
// token counts as a failed authentication (Config.AuthFailureLimit), as
// on the admin API: the viewer routes are no way around the limit.
func (a *API) Preview(r *http.Request) bool {
	if a.authLimit == nil {
		return a.authorized(r)
	}
	key := clientKey(r, a.trustProxy)
	if ok, _ := a.authLimit.take(key); !ok {
		return false
	}
	if a.authorized(r) {
		a.authLimit.refund(key)
		return true
	}
	return false
}
