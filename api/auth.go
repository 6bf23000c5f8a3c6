package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

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
