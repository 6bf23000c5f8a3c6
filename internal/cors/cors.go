// Package cors answers browsers' cross-origin requests to Vitrine's media
// endpoints (LL-HLS, WHIP, WHEP, replays) and viewer routes (the widget's
// and the player's: info, track, viewer, actions, reminders) from pages on
// a seller's own site, for the origins of http.allow_origins.
//
// It imports no package of the project.
package cors

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// preflightMaxAge spares browsers a preflight per request (a playlist
// reload every part, a trickle PATCH per candidate).
const preflightMaxAge = "86400"

// Policy is what an endpoint family lets cross-origin pages do.
type Policy struct {
	Methods       string // Access-Control-Allow-Methods
	AllowHeaders  string // request headers a page may send
	ExposeHeaders string // response headers a page may read
}

// CORS applies a Policy for a list of allowed origins.
type CORS struct {
	policy  Policy
	any     bool
	origins map[string]bool // lowercase scheme://host[:port]
}

// New validates origins: "*" or scheme://host[:port] each.
func New(origins []string, p Policy) (CORS, error) {
	c := CORS{policy: p, origins: map[string]bool{}}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		if o == "*" {
			c.any = true
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
			return CORS{}, fmt.Errorf("allowed origin %q is not \"*\" nor scheme://host[:port]", o)
		}
		c.origins[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	return c, nil
}

// Apply sets the headers of a request from an allowed origin.
func (c CORS) Apply(h http.Header, r *http.Request) {
	origin := r.Header.Get("Origin")
	switch {
	case c.any:
		// No cookies are involved (playback is public, the WHIP token is an
		// explicit header), so "*", which caches can share as is.
		h.Set("Access-Control-Allow-Origin", "*")
	case len(c.origins) == 0:
		return
	default:
		// The answer depends on Origin: caches must key on it.
		h.Add("Vary", "Origin")
		if origin == "" || !c.origins[strings.ToLower(origin)] {
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
	}
	h.Set("Access-Control-Expose-Headers", c.policy.ExposeHeaders)
}

// Preflight completes Apply's headers for an OPTIONS request; a refused
// origin gets none, and the browser blocks the request.
func (c CORS) Preflight(h http.Header) {
	if h.Get("Access-Control-Allow-Origin") == "" {
		return
	}
	h.Set("Access-Control-Allow-Methods", c.policy.Methods)
	h.Set("Access-Control-Allow-Headers", c.policy.AllowHeaders)
	h.Set("Access-Control-Max-Age", preflightMaxAge)
}

// Handler answers a route's cross-origin requests: every response of next
// gets Apply's headers (an error's too, so that the page can read why),
// and an OPTIONS preflight is answered here, 204 with the Policy's methods
// and headers (none for a refused origin), without reaching next.
func (c CORS) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.Apply(w.Header(), r)
		if r.Method == http.MethodOptions {
			c.Preflight(w.Header())
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
