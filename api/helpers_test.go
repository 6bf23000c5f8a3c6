package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vitrine/overlay"
	"vitrine/store"
	"vitrine/store/sqlite"
	"vitrine/stream"
)

const testToken = "test-admin-token-0123456789"

var quiet = slog.New(slog.DiscardHandler)

// t0 is the test clock's start: campaigns in tests are scheduled around it.
var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// note is one notification the API published.
type note struct {
	Type string
	Data map[string]any
}

type recorder struct {
	mu    sync.Mutex
	notes []note
}

func (r *recorder) Publish(_ context.Context, eventType string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, note{Type: eventType, Data: m})
	return nil
}

func (r *recorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.notes))
	for i, n := range r.notes {
		out[i] = n.Type
	}
	return out
}

func (r *recorder) last(typ string) (note, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.notes) - 1; i >= 0; i-- {
		if r.notes[i].Type == typ {
			return r.notes[i], true
		}
	}
	return note{}, false
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = nil
}

// env is an API on a real SQLite store and a real hub, behind httptest.
type env struct {
	t   testing.TB
	api *API
	mux *http.ServeMux
	srv *httptest.Server
	hub *stream.Hub
	st  store.Store
	// overlay is the shopping data channel of the pin routes.
	overlay *overlay.Rooms
	clock   *fakeClock
	notes   *recorder
	dir     string
}

// newEnv makes an API on a fresh store. Rate limits are off (the tests
// send many requests from one address) unless an option sets them; the
// options edit the Config before New.
func newEnv(t testing.TB, opts ...func(*Config)) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "vitrine.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newEnvOn(t, st, opts...)
}

// newEnvOn makes an API on st, which the caller closes: several of them
// on one database are several nodes.
func newEnvOn(t testing.TB, st store.Store, opts ...func(*Config)) *env {
	t.Helper()
	dir := t.TempDir()
	hub, err := stream.NewHub(stream.Config{ReaderQueue: 256, ReconnectWindow: time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, hub: hub, st: st, clock: &fakeClock{now: t0}, notes: &recorder{}, dir: dir}
	cfg := Config{Store: st, Hub: hub, Notifier: e.notes, AdminToken: testToken, DataDir: dir,
		RTMPPort: 1935, RTSPPort: 8554, Logger: quiet, Now: e.clock.Now,
		ReminderLimit: RateLimit{Burst: -1}, AuthFailureLimit: RateLimit{Burst: -1}}
	ov, err := overlay.NewRooms(overlay.Config{Log: st, SyncInterval: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ov.Start()
	t.Cleanup(func() { ov.Close() })
	cfg.Overlay = ov
	cfg.Identity, _ = overlay.NewIdentity(nil)
	for _, o := range opts {
		o(&cfg)
	}
	e.overlay = cfg.Overlay
	e.api, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.mux = http.NewServeMux()
	e.api.Register(e.mux)
	e.srv = httptest.NewServer(e.api.GuardPaths(e.mux)) // as the server wires it
	t.Cleanup(func() {
		e.srv.Close()
		hub.Close()
	})
	return e
}

type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v\n%s", r.Status, err, r.Body)
	}
	return m
}

func (r *resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %d response: %v\n%s", r.Status, err, r.Body)
	}
}

// errCode checks the JSON error envelope and returns its code.
func (r *resp) errCode(t testing.TB) string {
	t.Helper()
	var b struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil || b.Error == nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("status %d without the JSON error envelope: %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error with Content-Type %q", ct)
	}
	return b.Error.Code
}

// fields returns the names of invalid fields in an error.
func (r *resp) fields(t testing.TB) []string {
	t.Helper()
	var b struct {
		Error struct {
			Fields []fieldError `json:"fields"`
		} `json:"error"`
	}
	r.decode(t, &b)
	var out []string
	for _, f := range b.Error.Fields {
		out = append(out, f.Field)
	}
	return out
}

type reqOpt func(*http.Request)

func noAuth(r *http.Request) { r.Header.Del("Authorization") }

func withHeader(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

// do sends a request with the admin token. body: nil, string or []byte
// (sent as is, as JSON unless a Content-Type option says otherwise), or a
// value marshalled to JSON.
func (e *env) do(method, path string, body any, opts ...reqOpt) *resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// must sends a request and fails unless it answers want.
func (e *env) must(want int, method, path string, body any, opts ...reqOpt) *resp {
	e.t.Helper()
	r := e.do(method, path, body, opts...)
	if r.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d\n%s", method, path, r.Status, want, r.Body)
	}
	return r
}

func (e *env) createProduct(sku string, extra map[string]any) productView {
	e.t.Helper()
	body := map[string]any{"sku": sku, "name": "Product " + sku, "category": "shoes", "price": "129", "currency": "EUR", "stock": 5}
	for k, v := range extra {
		body[k] = v
	}
	var p productView
	e.must(http.StatusCreated, "POST", "/api/v1/products", body).decode(e.t, &p)
	return p
}

func (e *env) createVoucher(code string) voucherView {
	e.t.Helper()
	var v voucherView
	e.must(http.StatusCreated, "POST", "/api/v1/vouchers", map[string]any{"code": code, "name": "Voucher " + code,
		"discount_type": "percent", "discount_value": "10", "quantity": 100,
		"starts_at": t0.Format(time.RFC3339), "ends_at": t0.Add(48 * time.Hour).Format(time.RFC3339)}).decode(e.t, &v)
	return v
}

// createCampaign creates a campaign starting in 1 h for 2 h, with extra
// fields overriding the defaults.
func (e *env) createCampaign(extra map[string]any) campaignView {
	e.t.Helper()
	body := map[string]any{"title": "Winter sale", "description": "Boots, coats",
		"starts_at": t0.Add(time.Hour).Format(time.RFC3339), "ends_at": t0.Add(3 * time.Hour).Format(time.RFC3339)}
	for k, v := range extra {
		body[k] = v
	}
	var c campaignView
	e.must(http.StatusCreated, "POST", "/api/v1/campaigns", body).decode(e.t, &c)
	return c
}

func toJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func storePage() store.Page { return store.Page{} }
