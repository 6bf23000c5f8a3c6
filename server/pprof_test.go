package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestProfilerNeedsAdminToken: Go's profiler answers the operator with the
// admin token, and no one else.
func TestProfilerNeedsAdminToken(t *testing.T) {
	s := startServer(t, nil)
	admin := newAdmin(t, s)
	for _, c := range []struct {
		path, token string
		status      int
		body        string
	}{
		{"/debug/pprof/", "", http.StatusUnauthorized, ""},
		{"/debug/pprof/heap?debug=1", "wrong-token", http.StatusUnauthorized, ""},
		{"/debug/pprof/", admin.token, http.StatusOK, "goroutine"},
		{"/debug/pprof/heap?debug=1", admin.token, http.StatusOK, "heap profile"},
	} {
		req, _ := http.NewRequest("GET", admin.base+c.path, nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.status || !strings.Contains(string(b), c.body) {
			t.Errorf("GET %s with token %q: %d %.80q, want %d with %q", c.path, c.token, res.StatusCode, b, c.status, c.body)
		}
	}
}
