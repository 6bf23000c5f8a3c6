package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"vitrine/internal/httperr"
	"vitrine/store"
	"vitrine/stream"
)

// viewable is the one rule of every viewer-facing route and protocol: a
// stream declared in the config, or a campaign that is published. It is
// the RTSP server's read authoriser and, through viewerGate, the rule of
// the HTTP routes under /live/{id}/ (LL-HLS, WHEP, the events socket, the
// viewer endpoints) and /replay/{id}/ (the replay, its sequences and
// events). The player page (/watch/{id}) asks it too, through
// watchLookup's own check, to render its friendlier page.
//
// Answers are kept viewableTTL per id, so that a player's requests do not
// each read the store: a campaign unpublished is hidden within that time.
type viewable struct {
	store    store.Store
	declared map[string]bool

	mu    sync.Mutex
	cache map[string]viewableAnswer
}

type viewableAnswer struct {
	ok      bool
	expires time.Time
}

const (
	viewableTTL = 2 * time.Second
	// maxViewableCache bounds the answers kept: ids a client makes up
	// would grow it without end.
	maxViewableCache = 10000
)

func newViewable(st store.Store, declared []string) *viewable {
	v := &viewable{store: st, declared: map[string]bool{}, cache: map[string]viewableAnswer{}}
	for _, id := range declared {
		v.declared[id] = true
	}
	return v
}

// AuthorizeRead is stream.ReadAuthorizer: nil, stream.ErrNotViewable, or
// the store's failure.
func (v *viewable) AuthorizeRead(ctx context.Context, id string) error {
	if v.declared[id] {
		return nil
	}
	now := time.Now()
	v.mu.Lock()
	a, found := v.cache[id]
	v.mu.Unlock()
	if !found || now.After(a.expires) {
		c, err := v.store.GetCampaign(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			a = viewableAnswer{}
		case err != nil:
			return err
		default:
			a = viewableAnswer{ok: c.Published}
		}
		a.expires = now.Add(viewableTTL)
		v.mu.Lock()
		if len(v.cache) >= maxViewableCache {
			clear(v.cache)
		}
		v.cache[id] = a
		v.mu.Unlock()
	}
	if !a.ok {
		return stream.ErrNotViewable
	}
	return nil
}

// viewerPrefixes are the HTTP path prefixes whose next segment is a
// campaign (stream) id that viewers reach.
var viewerPrefixes = []string{"/live/", "/replay/"}

// viewerGate answers 404, as for an unknown id, a viewer's request for a
// stream that viewable refuses. The host previews its own unpublished
// campaign with the admin token (Authorization: Bearer), which counts
// towards the failed-authentication limit like the admin API's. CORS
// preflights pass: they carry no data.
func (s *Server) viewerGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := viewerStreamID(r.URL.Path)
		if id == "" || r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		err := s.viewable.AuthorizeRead(r.Context(), id)
		switch {
		case err == nil:
		case errors.Is(err, stream.ErrNotViewable):
			if r.Header.Get("Authorization") == "" || !s.api.Preview(r) {
				httperr.Write(w, http.StatusNotFound, "not_found", "no such campaign")
				return
			}
		default:
			s.log.ErrorContext(r.Context(), "viewer rule", "campaign", id, "err", err)
			httperr.Write(w, http.StatusServiceUnavailable, "unavailable", "try again in a moment")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// viewerStreamID is the id of a viewer route's path ("" for others).
func viewerStreamID(path string) string {
	for _, p := range viewerPrefixes {
		if rest, ok := strings.CutPrefix(path, p); ok {
			id, _, _ := strings.Cut(rest, "/")
			return id
		}
	}
	return ""
}
