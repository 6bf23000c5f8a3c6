package hls

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
)

// partCache keeps the last complete parts of a muxer as gohlslib answered
// them. Every low-latency viewer asks for every part, within a few
// milliseconds of each other: the first request goes through gohlslib,
// the others are served the same immutable bytes, without a copy into a
// buffer of their own nor a goroutine waiting inside gohlslib. A part's
// name (its muxer session and number) is never reused, so a cached part is
// never stale; one that has just left the playlist may still be served,
// which a player that asks for it is glad of.
type partCache struct {
	mu    sync.Mutex
	parts map[string]*cachedPart
	order []string // oldest first
}

// partCacheSize is about 20 s of 200 ms parts per track: longer than a
// playlist's window of parts.
const partCacheSize = 200

type cachedPart struct {
	header http.Header
	body   []byte
	length string
}

func (c *partCache) get(name string) *cachedPart {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parts[name]
}

// put keeps a complete part answered 200 to a GET and returns what the
// cache holds for it (the first answer kept: requests that shared one
// call all put it).
func (c *partCache) put(name string, res *response) *cachedPart {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.parts[name]; ok {
		return p
	}
	if c.parts == nil {
		c.parts = map[string]*cachedPart{}
	}
	p := &cachedPart{header: res.header.Clone(), body: res.body.Bytes(), length: strconv.Itoa(res.body.Len())}
	c.parts[name] = p
	c.order = append(c.order, name)
	if len(c.order) > partCacheSize {
		delete(c.parts, c.order[0])
		c.order = append(c.order[:0], c.order[1:]...)
	}
	return p
}

// serve writes a cached part.
func (p *cachedPart) serve(w http.ResponseWriter, method string) {
	h := w.Header()
	for k, v := range p.header {
		h[k] = slices.Clone(v) // shared by every request for the part
	}
	h.Set("Content-Length", p.length)
	w.WriteHeader(http.StatusOK)
	if method != http.MethodHead {
		_, _ = w.Write(p.body)
	}
}
