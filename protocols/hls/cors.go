package hls

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

const (
	allowMethods = "GET, HEAD, OPTIONS"
	// allowHeaders are the request headers players and browsers send on
	// media requests; Range is the one that triggers a preflight.
	allowHeaders = "Range, Accept, Accept-Encoding, Accept-Language, Cache-Control, " +
		"Content-Type, If-Modified-Since, If-None-Match, Origin"
	// exposeHeaders lets players read sizes and freshness across origins.
	exposeHeaders = "Content-Length, Content-Range, Content-Type, Cache-Control, Date, Age, ETag"
	// preflightMaxAge spares browsers a preflight per playlist reload.
	preflightMaxAge = "86400"
)

// cors answers the cross-origin requests of browser players (hls.js on a
// shop's page, the embeddable widget).
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

// apply sets the headers of an actual request from an allowed origin.
func (c cors) apply(h http.Header, r *http.Request) {
	origin := r.Header.Get("Origin")
	switch {
	case c.any:
		// Playback needs no credentials, so "*" (cacheable by CDNs as is)
		// rather than an echo.
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
