package api

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"vitrine/store"
)

// Page sizes: the store's default and maximum.
const (
	defaultLimit = 50
	maxLimit     = 200
	maxCursor    = 1024
)

// pageParams are the parameters every list takes.
var pageParams = []param{
	{Name: "limit", Type: "integer", Doc: "page size, 1 to 200 (default 50)", Min: 1, Max: maxLimit},
	{Name: "cursor", Type: "string", MaxLength: maxCursor, Doc: "next_cursor of the previous page; absent for the first page"},
}

// checkQuery refuses parameters an admin route does not declare and
// repeated ones: a misspelt filter silently ignored would return the wrong
// list. Public routes ignore unknown parameters: links to images and
// calendar files get cache-busting and tracking parameters appended by
// sites and CDNs.
func checkQuery(rt *route, r *http.Request) error {
	if rt.Public {
		return nil
	}
	q := r.URL.Query()
	for name, vals := range q {
		i := slices.IndexFunc(rt.Query, func(p param) bool { return p.Name == name })
		if i < 0 {
			if len(rt.Query) == 0 {
				return badRequest("unknown_parameter", "this route takes no query parameters, got %q", name)
			}
			return badRequest("unknown_parameter", "unknown query parameter %q", name)
		}
		if len(vals) > 1 {
			return badRequest("invalid_parameter", "query parameter %q is repeated", name)
		}
		p := rt.Query[i]
		if len(p.Enum) > 0 && !slices.Contains(p.Enum, vals[0]) {
			return badRequest("invalid_parameter", "%s must be one of %v, got %q", name, p.Enum, vals[0])
		}
	}
	return nil
}

func pageFrom(r *http.Request) (store.Page, error) {
	var p store.Page
	q := r.URL.Query()
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return p, badRequest("invalid_parameter", "limit must be an integer from 1 to %d, got %q", maxLimit, s)
		}
		p.Limit = n
	}
	p.Cursor = q.Get("cursor")
	if len(p.Cursor) > maxCursor {
		return p, badRequest("invalid_cursor", "the cursor was not issued by this list; start again without it")
	}
	return p, nil
}

func boolParam(r *http.Request, name string) (bool, error) {
	switch s := r.URL.Query().Get(name); s {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	default:
		return false, badRequest("invalid_parameter", "%s must be true or false, got %q", name, s)
	}
}

func timeParam(r *http.Request, name string) (*time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, badRequest("invalid_parameter", "%s must be an RFC 3339 time such as 2026-11-22T10:00:00Z, got %q", name, s)
	}
	t = t.UTC()
	return &t, nil
}
