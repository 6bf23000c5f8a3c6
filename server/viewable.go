package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"vitrine/api"
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
// The live's media (LL-HLS, WHEP, RTSP read) have one more condition: the
// campaign is live, or its live ended a moment ago (mediaEndGrace: players
// fetch its last segments). A campaign in preparation has an encoder, but
// its picture is the host's (who previews it with the admin token) until it
// goes live; after an abandoned preparation, what its LL-HLS muxer keeps for
// a while is not a live's either. Its other routes (info, the events
// socket, the player page) show viewers the prelive page meanwhile.
//
// Answers are kept viewableTTL per id, so that a player's requests do not
// each read the store: a campaign unpublished is hidden within that time.
// For the media, only a live answer is kept: any other (in preparation,
// just ended, off air) is read again in the store each time, so that
// players sent by stream.live are let in at once, and a preparation begun
// after a live's end is refused at once.
type viewable struct {
	store    store.Store
	declared map[string]bool
	now      func() time.Time

	mu    sync.Mutex
	cache map[string]viewableAnswer
}

type viewableAnswer struct {
	ok      bool // published
	live    bool // and live
	media   bool // and its live's media may be played (mediaOpen)
	expires time.Time
}

const (
	viewableTTL = 2 * time.Second
	// maxViewableCache bounds the answers kept: ids a client makes up
	// would grow it without end.
	maxViewableCache = 10000
	// mediaEndGrace is how long after a live's end its media stay
	// readable to viewers: longer than the LL-HLS muxer keeps an ended
	// live's playlist (hls.end_linger, 10 s by default).
	mediaEndGrace = time.Minute
)

func newViewable(st store.Store, declared []string) *viewable {
	v := &viewable{store: st, declared: map[string]bool{}, now: time.Now, cache: map[string]viewableAnswer{}}
	for _, id := range declared {
		v.declared[id] = true
	}
	return v
}

// mediaOpen reports whether viewers may play the campaign's live media at
// now: it is live, or its live ended less than mediaEndGrace ago and was
// its last stream (no preparation began since the live did: what an
// abandoned preparation's muxer keeps is not for viewers).
func mediaOpen(c *store.Campaign, now time.Time) bool {
	switch c.Stage() {
	case store.StageLive:
		return true
	case store.StagePreparing:
		return false
	}
	if c.LiveEndedAt == nil || now.Sub(*c.LiveEndedAt) >= mediaEndGrace {
		return false
	}
	return c.LastPreparedAt == nil || (c.LiveStartedAt != nil && c.LastPreparedAt.Before(*c.LiveStartedAt))
}

// AuthorizeRead is stream.ReadAuthorizer, the rule of the live's media:
// nil, stream.ErrNotViewable, or the store's failure.
func (v *viewable) AuthorizeRead(ctx context.Context, id string) error {
	return v.authorize(ctx, id, true)
}

// authorize applies the rule to a request for stream id; media says it is
// for the live's media.
func (v *viewable) authorize(ctx context.Context, id string, media bool) error {
	if v.declared[id] {
		return nil
	}
	a, err := v.answer(ctx, id, false)
	if err != nil {
		return err
	}
	if media && a.ok && !a.live {
		// Perhaps live, or in preparation, since the answer was kept:
		// read again.
		if a, err = v.answer(ctx, id, true); err != nil {
			return err
		}
	}
	if !a.ok || (media && !a.media) {
		return stream.ErrNotViewable
	}
	return nil
}

// answer is the kept answer for id, or a new one from the store when none
// is kept, it has expired, or fresh is set.
func (v *viewable) answer(ctx context.Context, id string, fresh bool) (viewableAnswer, error) {
	now := v.now()
	v.mu.Lock()
	a, found := v.cache[id]
	v.mu.Unlock()
	if found && !fresh && !now.After(a.expires) {
		return a, nil
	}
	c, err := v.store.GetCampaign(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		a = viewableAnswer{}
	case err != nil:
		return viewableAnswer{}, err
	default:
		a = viewableAnswer{ok: c.Published, live: c.Published && c.Stage() == store.StageLive,
			media: c.Published && mediaOpen(c, now)}
	}
	a.expires = now.Add(viewableTTL)
	v.mu.Lock()
	if len(v.cache) >= maxViewableCache {
		clear(v.cache)
	}
	v.cache[id] = a
	v.mu.Unlock()
	return a, nil
}

// viewerPrefixes are the HTTP path prefixes whose next segment is a
// campaign (stream) id that viewers reach.
var viewerPrefixes = []string{"/live/", "/replay/"}

// viewerGate answers 404, as for an unknown id, a viewer's request for a
// stream that viewable refuses. The host previews its own unpublished
// campaign, or its campaign in preparation, with the admin token
// (Authorization: Bearer) or its console session, which counts
// towards the failed-authentication limit like the admin API's. CORS
// preflights pass: they carry no data; the 404 carries the origin
// (http.allow_origins), so that a seller's page reads it as a 404.
func (s *Server) viewerGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, media := viewerRoute(r.URL.Path)
		if id == "" || r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		err := s.viewable.authorize(r.Context(), id, media)
		switch {
		case err == nil:
		case errors.Is(err, stream.ErrNotViewable):
			if !hasCredentials(r) || !s.api.Preview(r) {
				// Counted in the metrics under its prefix, as the mux
				// would have named it.
				r.Pattern = viewerPrefix(r.URL.Path)
				s.viewerCORS.Apply(w.Header(), r)
				if media {
					// As the media servers answer an unknown stream.
					httperr.Write(w, http.StatusNotFound, "stream_not_found", "no live stream with this id")
					return
				}
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

// hasCredentials says whether r carries the admin token or a console
// session: only then is it a preview to check (and, if wrong, a failed
// authentication); a viewer without either just gets the 404.
func hasCredentials(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	_, err := r.Cookie(api.SessionCookie)
	return err == nil
}

// viewerRoute is the id of a viewer route's path ("" for others), and
// whether the route is one of the live's media: under /live/{id}/, an
// LL-HLS playlist, part or segment (a file name ending in .m3u8 or .mp4)
// or WHEP (whep, whep/sessions/...). The replay is not: a preparation is
// never recorded.
func viewerRoute(path string) (id string, media bool) {
	for _, p := range viewerPrefixes {
		rest, ok := strings.CutPrefix(path, p)
		if !ok {
			continue
		}
		id, file, _ := strings.Cut(rest, "/")
		if p == "/live/" {
			media = file == "whep" || strings.HasPrefix(file, "whep/") ||
				(!strings.Contains(file, "/") && (strings.HasSuffix(file, ".m3u8") || strings.HasSuffix(file, ".mp4")))
		}
		return id, media
	}
	return "", false
}

// viewerPrefix is the viewer prefix path starts with ("/live/", "/replay/").
func viewerPrefix(path string) string {
	for _, p := range viewerPrefixes {
		if strings.HasPrefix(path, p) {
			return p
		}
	}
	return ""
}
