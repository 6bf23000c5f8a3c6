package webrtc

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

const (
	allowMethods = "POST, PATCH, DELETE, OPTIONS"
	// allowHeaders are what WHIP and WHEP clients send: the bearer token,
	// the SDP and trickle content types, and If-Match on PATCH.
	allowHeaders = "Authorization, Content-Type, If-Match"
	// exposeHeaders lets a page read the session URL, the ICE servers and
	// the entity tag it needs for trickle ICE.
	exposeHeaders   = "Location, Link, ETag, Accept-Patch, Content-Type"
	preflightMaxAge = "86400"
)

// cors answers browser WHIP and WHEP clients on other origins (a shop's
// page, the embeddable player).
type cors struct {
	any     bool
	origins map[string]bool // lowercase scheme://host[:port]
}

func newCORS(list []string) (cors, error) {
	c := cors{origins: map[string]bool{}}
	for _, o := range list {
		o = strings.TrimSpace(o)
		if o == "*" {
			c.any = true
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
			return cors{}, fmt.Errorf("allowed origin %q is not \"*\" nor scheme://host[:port]", o)
		}
		c.origins[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	return c, nil
}

// apply sets the headers of a request from an allowed origin.
func (c cors) apply(h http.Header, r *http.Request) {
	origin := r.Header.Get("Origin")
	switch {
	case c.any:
		// No cookies are involved (the WHIP token is an explicit header),
		// so "*" is enough.
		h.Set("Access-Control-Allow-Origin", "*")
	case len(c.origins) == 0:
		return
	default:
		h.Add("Vary", "Origin")
		if origin == "" || !c.origins[strings.ToLower(origin)] {
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
	}
	h.Set("Access-Control-Expose-Headers", exposeHeaders)
}

// preflight completes apply's headers for an OPTIONS request; a refused
// origin gets none, and the browser blocks the request.
func (c cors) preflight(h http.Header) {
	if h.Get("Access-Control-Allow-Origin") == "" {
		return
	}
	h.Set("Access-Control-Allow-Methods", allowMethods)
	h.Set("Access-Control-Allow-Headers", allowHeaders)
	h.Set("Access-Control-Max-Age", preflightMaxAge)
}
