package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"net/http"
	"path"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"vitrine/internal/cors"
)

// handlerFunc is a route's handler: it writes a success response or
// returns an error for the router to answer with.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// bodyKind says how a route's request body is read and documented.
type bodyKind int

const (
	bodyJSON  bodyKind = iota
	bodyImage          // an image, raw or multipart
)

// route is one entry of the table that drives both the router and the
// OpenAPI document.
type route struct {
	Method  string
	Path    string // Go 1.22 ServeMux pattern path, also the OpenAPI path
	ID      string // operationId
	Tag     string
	Summary string
	Doc     string
	Public  bool // no admin token

	Query  []param
	Header []param

	Body         any // zero value of the request type; nil: no body
	BodyKind     bodyKind
	BodyOptional bool
	// FormBody: the JSON body may also come as a form
	// (application/x-www-form-urlencoded) with the same members.
	FormBody bool

	Status   int    // success status
	Response any    // zero value of the response type; nil: no content
	RespType string // non-JSON response media type (text/calendar, image/*)
	Errors   []int  // statuses beyond those implied by auth, path ids, body and query
	// RepeatDoc describes a 2xx status in Errors (a repeat of an
	// idempotent request); default "A repeat: the original, unchanged."
	RepeatDoc string
	// Limit, when set, rate-limits the route per client address (429).
	Limit *limiter

	handle handlerFunc
}

// param documents (and for queries, checks) a query or header parameter.
type param struct {
	Name     string
	Type     string // string, integer, boolean
	Format   string
	Enum     []string
	Doc      string
	Required bool
	Min, Max int
	// Pattern and MaxLength document (and the handler enforces) the
	// shape of a string.
	Pattern   string
	MaxLength int
}

// Paths owned by this package.
const (
	apiPrefix   = "/api/v1/"
	openAPIPath = "/api/v1/openapi.json"
	sessionPath = "/api/v1/session"
)

// Register adds every route to mux, plus, for each path, a handler that
// answers other methods with a JSON 405 and Allow, and a catch-all for
// unknown /api/v1 paths. The catch-alls check the token first so that the
// admin surface reveals nothing to an anonymous caller. Paths under /live/
// get no 405 handler: the LL-HLS handler owns that prefix and answers for
// it.
func (a *API) Register(mux *http.ServeMux) {
	type pathInfo struct {
		methods []string
		public  bool
		cors    bool
	}
	paths := map[string]*pathInfo{}
	var order []string
	for _, rt := range a.routes {
		pi := paths[rt.Path]
		if pi == nil {
			pi = &pathInfo{public: true}
			paths[rt.Path] = pi
			order = append(order, rt.Path)
		}
		pi.methods = append(pi.methods, rt.Method)
		pi.public = pi.public && rt.Public
		pi.cors = pi.cors || crossOrigin(rt)
	}
	for _, p := range order {
		pi := paths[p]
		allow := slices.Clone(pi.methods)
		if slices.Contains(allow, http.MethodGet) {
			allow = append(allow, http.MethodHead)
		}
		slices.Sort(allow)
		allowHeader := strings.Join(allow, ", ")
		var c *cors.CORS
		if pi.cors {
			// The widget and the player call these from a seller's pages:
			// every answer carries the origin, and the preflight lists
			// this path's methods (a POST's JSON body needs one).
			cc, err := cors.New(a.origins, cors.Policy{
				Methods:       allowHeader + ", OPTIONS",
				AllowHeaders:  "Content-Type, " + viewerHeader,
				ExposeHeaders: "Retry-After, X-Request-Id",
			})
			if err != nil {
				panic(err) // checked by New
			}
			c = &cc
			mux.Handle("OPTIONS "+p, c.Handler(nil))
		}
		for _, rt := range a.routes {
			if rt.Path != p {
				continue
			}
			var h http.Handler = a.serve(rt.Public, rt, rt.handle)
			if c != nil {
				h = c.Handler(h)
			}
			mux.Handle(rt.Method+" "+rt.Path, h)
		}
		if strings.HasPrefix(p, "/live/") {
			continue
		}
		mux.Handle(p, a.serve(pi.public, nil, func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Allow", allowHeader)
			return errorf(http.StatusMethodNotAllowed, "method_not_allowed",
				"%s does not answer %s; it answers %s", p, r.Method, allowHeader)
		}))
	}
	mux.Handle(apiPrefix, a.serve(false, nil, func(_ http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, "not_found", "no such route: %s %s", r.Method, r.URL.Path)
	}))
}

// GuardPaths wraps the handler that Register filled (the server's mux) so
// that a request for this package's paths that http.ServeMux would clean
// and redirect — a dot segment as in /api/v1/campaigns/.., a doubled slash
// — answers the JSON 404 envelope instead of the mux's HTML redirect: ids
// are opaque, and ".." names nothing. Admin paths check the token first,
// as the catch-all does. Every other request goes to next unchanged.
func (a *API) GuardPaths(next http.Handler) http.Handler {
	admin := a.serve(false, nil, uncleanPath)
	public := a.serve(true, nil, uncleanPath)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			p := r.URL.EscapedPath()
			if clean := cleanPath(p); clean != p || p+"/" == apiPrefix {
				switch {
				case underAPI(p) || underAPI(clean):
					admin.ServeHTTP(w, r)
					return
				case strings.HasPrefix(p, imagePrefix) || strings.HasPrefix(clean, imagePrefix):
					public.ServeHTTP(w, r)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

const imagePrefix = "/media/images/"

// crossOrigin says whether pages on other origins call rt: the public
// viewer routes (tag Viewers: the widget's, the player's). They answer
// the origins of Config.AllowOrigins, preflights included.
func crossOrigin(rt *route) bool { return rt.Public && rt.Tag == "Viewers" }

func underAPI(p string) bool {
	return strings.HasPrefix(p, apiPrefix) || p == strings.TrimSuffix(apiPrefix, "/")
}

func uncleanPath(_ http.ResponseWriter, r *http.Request) error {
	return errorf(http.StatusNotFound, "not_found", "no such route: %s %s (a path with a . or .. segment or a doubled slash names nothing here)",
		r.Method, clip(r.URL.EscapedPath()))
}

// cleanPath is http.ServeMux's: path.Clean, keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// serve wraps a handler with what every request gets: a request id, panic
// recovery, the admin token check, query checking and an access log line.
func (a *API) serve(public bool, rt *route, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := requestID(r)
		w.Header().Set("X-Request-Id", rid)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, rid))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.ErrorContext(r.Context(), "panic in handler", "request_id", rid,
					"method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				if !sw.wrote {
					writeErrorBody(sw, &apiError{Status: http.StatusInternalServerError, Code: "internal_error",
						Message: "internal error; quote request id " + rid + " when reporting it"}, rid)
				}
			}
			a.log.DebugContext(r.Context(), "request", "request_id", rid, "method", r.Method,
				"path", r.URL.Path, "status", sw.status, "duration", time.Since(start))
		}()
		if !public && !a.authenticate(sw, r) {
			return
		}
		if rt != nil && rt.Limit != nil {
			if ok, wait := rt.Limit.take(clientKey(r, a.trustProxy)); !ok {
				tooManyRequests(sw, wait, "requests")
				return
			}
		}
		var err error
		if rt != nil {
			err = checkQuery(rt, r)
		}
		if err == nil {
			err = h(sw, r)
		}
		if err != nil {
			if sw.wrote {
				// Too late for an error response; only the log can tell.
				a.log.ErrorContext(r.Context(), "error after the response started", "request_id", rid, "err", err)
				return
			}
			a.writeError(sw, r, err)
		}
	})
}

// statusWriter remembers the status for the access log and whether the
// response has started.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type requestIDKey struct{}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestID keeps a well-formed id set by a proxy in front, so that one
// request can be followed across both logs, and makes one up otherwise.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); requestIDPattern.MatchString(id) {
		return id
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// keyedMutex serialises read-modify-write sequences on one campaign (edit
// versus go-live, end versus edit) within this process. It is a fast path
// only: the store's optimistic check (store.ErrStale, see modifyCampaign)
// is what keeps a write from another node from being lost; the mutex
// spares this node's own requests the retries.
type keyedMutex struct {
	shards [64]sync.Mutex
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	m := &k.shards[h.Sum32()%uint32(len(k.shards))]
	m.Lock()
	return m.Unlock
}

// routeTable declares every route once. Order is the order of the
// OpenAPI tags and of the document's operations within a path.
func (a *API) routeTable() []*route {
	var rts []*route
	for _, group := range [][]*route{
		a.sessionRoutes(),
		a.productRoutes(),
		a.voucherRoutes(),
		a.imageRoutes(),
		a.campaignRoutes(),
		a.liveRoutes(),
		a.pinRoutes(),
		a.chatRoutes(),
		a.interactionRoutes(),
		a.hostEventRoutes(),
		a.orderRoutes(),
		a.recordingRoutes(),
		a.webhookRoutes(),
		a.calendarRoutes(),
		a.reminderRoutes(),
		a.actionRoutes(),
		a.analyticsRoutes(),
		a.viewerRoutes(),
		{a.openAPIRoute()},
	} {
		rts = append(rts, group...)
	}
	seen := map[string]bool{}
	for _, rt := range rts {
		key := rt.Method + " " + rt.Path
		if seen[key] || rt.handle == nil || rt.Status == 0 || rt.ID == "" {
			panic(fmt.Sprintf("api: bad route table entry %s", key))
		}
		seen[key] = true
		if rt.Method == http.MethodPut && rt.Body != nil && rt.BodyKind == bodyJSON {
			requireAll(rt)
		}
	}
	return rts
}

// idParam reads the {id} path value. Ids are opaque, but one longer than
// any the store issues cannot exist: answer 404 without asking the store.
func idParam(r *http.Request, what string) (string, error) {
	id := r.PathValue("id")
	if id == "" || len(id) > 128 || !utf8.ValidString(id) {
		return "", errorf(http.StatusNotFound, "not_found", "no such %s", what)
	}
	return id, nil
}
