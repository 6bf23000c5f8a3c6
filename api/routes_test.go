package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

var probeMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

func fillPath(p string) string { return pathParamPattern.ReplaceAllString(p, "x1") }

func openAPIDoc(t *testing.T, e *env) map[string]any {
	t.Helper()
	r := e.must(http.StatusOK, "GET", openAPIPath, nil, noAuth)
	var doc map[string]any
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestRoutesDocumentedAndProtected walks the route table and probes the
// mux: every route must be in the OpenAPI document, and every route that
// is not documented as public must answer 401 without the token.
func TestRoutesDocumentedAndProtected(t *testing.T) {
	e := newEnv(t)
	doc := openAPIDoc(t, e)
	paths := doc["paths"].(map[string]any)

	documented := map[string]bool{} // "METHOD /path"
	public := map[string]bool{}
	for p, item := range paths {
		for m, op := range item.(map[string]any) {
			key := strings.ToUpper(m) + " " + p
			documented[key] = true
			if sec, ok := op.(map[string]any)["security"].([]any); ok && len(sec) == 0 {
				public[key] = true
			}
		}
	}

	// From the table.
	for _, rt := range e.api.routes {
		key := rt.Method + " " + rt.Path
		if !documented[key] {
			t.Errorf("%s is not in openapi.json", key)
		}
		if public[key] != rt.Public {
			t.Errorf("%s: documented public=%v, route public=%v", key, public[key], rt.Public)
		}
		req := httptest.NewRequest(rt.Method, fillPath(rt.Path), nil)
		if _, pattern := e.mux.Handler(req); pattern != key {
			t.Errorf("%s is served by pattern %q", key, pattern)
		}
	}
	if len(documented) != len(e.api.routes) {
		t.Errorf("openapi.json has %d operations, the table %d routes", len(documented), len(e.api.routes))
	}

	// By probing the mux: every pattern answering a probe is documented (or
	// is one of the JSON 405/404 catch-alls), and nothing but the public
	// routes answers without the token.
	probes := []string{"/api/v1/", "/api/v1/nope", "/api/v1/campaigns/x1/pins", "/api/v1/products/x1/extra",
		"/api/v1/webhooks/x1/deliveries/x2", "/media/images/", "/api/v1"}
	for p := range paths {
		probes = append(probes, fillPath(p))
	}
	// The viewer routes' CORS preflights (crossOrigin): public, not in
	// the document (OPTIONS is the browser's, not an operation).
	preflights := map[string]bool{}
	for _, rt := range e.api.routes {
		if crossOrigin(rt) {
			preflights["OPTIONS "+rt.Path] = true
		}
	}
	for _, p := range probes {
		for _, m := range probeMethods {
			req := httptest.NewRequest(m, p, nil)
			_, pattern := e.mux.Handler(req)
			method, path, hasMethod := strings.Cut(pattern, " ")
			switch {
			case pattern == "":
				continue // not ours: the server's own catch-all answers
			case hasMethod:
				if !documented[pattern] && !preflights[pattern] {
					t.Errorf("%s %s reaches undocumented pattern %q", m, p, pattern)
				}
				_ = method
			case pattern == apiPrefix:
			default:
				path = pattern
				if _, ok := paths[path]; !ok {
					t.Errorf("%s %s reaches undocumented catch-all %q", m, p, pattern)
				}
			}
			key := pattern
			if !hasMethod {
				key = ""
			}
			r := e.do(m, p, nil, noAuth)
			switch {
			case public[key] || preflights[key] || (key == "" && strings.HasPrefix(path, "/media/")) || (key == "" && path == openAPIPath) ||
				(key == "" && strings.HasPrefix(path, "/embed/")) || // public viewer paths: their 405 needs no token
				(key == "" && path == sessionPath): // the sign-in's path: public
				// GET /api/v1/session says "not signed in" with a 401, token or not.
				if r.Status == http.StatusUnauthorized && key != "GET "+sessionPath {
					t.Errorf("public %s %s answers 401", m, p)
				}
			case r.Status != http.StatusUnauthorized:
				t.Errorf("%s %s without token: %d (pattern %q)", m, p, r.Status, pattern)
			default:
				if m != "HEAD" {
					r.errCode(t)
				}
				if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s %s: WWW-Authenticate %q", m, p, r.Header.Get("WWW-Authenticate"))
				}
			}
			// A wrong token is no better than none.
			if !public[key] && strings.HasPrefix(p, apiPrefix) && p != openAPIPath && p != sessionPath {
				wrong := e.do(m, p, nil, withHeader("Authorization", "Bearer "+testToken+"x"))
				if wrong.Status != http.StatusUnauthorized || !strings.Contains(wrong.Header.Get("WWW-Authenticate"), "invalid_token") {
					t.Errorf("%s %s with a wrong token: %d", m, p, wrong.Status)
				}
			}
		}
	}
}

func TestAuthSchemes(t *testing.T) {
	e := newEnv(t)
	for _, h := range []string{"bearer " + testToken, "BEARER " + testToken} {
		e.must(http.StatusOK, "GET", "/api/v1/products", nil, withHeader("Authorization", h))
	}
	for _, h := range []string{"", "Basic " + testToken, testToken, "Bearer", "Bearer " + testToken[:len(testToken)-1]} {
		r := e.do("GET", "/api/v1/products", nil, withHeader("Authorization", h))
		if r.Status != http.StatusUnauthorized || r.errCode(t) != "unauthorized" {
			t.Errorf("Authorization %q: %d", h, r.Status)
		}
	}
}

func TestMethodNotAllowedAndUnknownRoutes(t *testing.T) {
	e := newEnv(t)
	r := e.must(http.StatusMethodNotAllowed, "PUT", "/api/v1/products", nil)
	if r.errCode(t) != "method_not_allowed" || r.Header.Get("Allow") != "GET, HEAD, POST" {
		t.Fatalf("Allow %q: %s", r.Header.Get("Allow"), r.Body)
	}
	r = e.must(http.StatusMethodNotAllowed, "GET", "/api/v1/campaigns/x/live", nil)
	if r.Header.Get("Allow") != "POST" {
		t.Fatalf("Allow %q", r.Header.Get("Allow"))
	}
	if e.must(http.StatusNotFound, "GET", "/api/v1/nope", nil).errCode(t) != "not_found" {
		t.Fatal("unknown route")
	}
	e.must(http.StatusMethodNotAllowed, "POST", openAPIPath, nil, noAuth).errCode(t)
}

func TestOpenAPIDocument(t *testing.T) {
	e := newEnv(t)
	doc := openAPIDoc(t, e)
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi %v", doc["openapi"])
	}
	comps := doc["components"].(map[string]any)
	if comps["securitySchemes"].(map[string]any)["bearer"].(map[string]any)["scheme"] != "bearer" {
		t.Fatal("no bearer scheme")
	}
	schemas := comps["schemas"].(map[string]any)
	for _, name := range []string{"ErrorBody", "Campaign", "Product", "Voucher", "Order", "Webhook", "Preflight"} {
		if _, ok := schemas[name]; !ok {
			t.Errorf("no schema %s", name)
		}
	}
	// Every $ref resolves.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				name, ok := strings.CutPrefix(ref, "#/components/schemas/")
				if _, found := schemas[name]; !ok || !found {
					t.Errorf("unresolved $ref %s", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)

	ops := 0
	for p, item := range doc["paths"].(map[string]any) {
		for m, op := range item.(map[string]any) {
			ops++
			o := op.(map[string]any)
			if o["summary"] == "" || o["operationId"] == "" {
				t.Errorf("%s %s lacks summary or operationId", m, p)
			}
			resp := o["responses"].(map[string]any)
			_, public := o["security"]
			if _, ok := resp["401"]; !ok && !public {
				t.Errorf("%s %s does not document 401", m, p)
			}
			if strings.Contains(p, "{id}") {
				params, _ := o["parameters"].([]any)
				if !slices.ContainsFunc(params, func(x any) bool { return x.(map[string]any)["in"] == "path" }) {
					t.Errorf("%s %s does not document its path parameter", m, p)
				}
			}
			if m == "post" || m == "patch" {
				bodiless := slices.ContainsFunc([]string{"/live", "/prepare", "/end", "/stream-key", "/close", "/display", "/draw", "/viewer"},
					func(s string) bool { return strings.HasSuffix(p, s) })
				if _, ok := o["requestBody"]; !ok && !bodiless {
					t.Errorf("%s %s documents no request body", m, p)
				}
			}
		}
	}
	if ops != len(e.api.routes) {
		t.Fatalf("%d operations for %d routes", ops, len(e.api.routes))
	}
	// The campaign create body documents its required fields.
	create := schemas["CampaignCreate"].(map[string]any)
	if req := create["required"].([]any); !slices.Contains(req, any("title")) || create["additionalProperties"] != false {
		t.Fatalf("CampaignCreate %v", create)
	}
	if len(doc["webhooks"].(map[string]any)) != len(EventTypes) {
		t.Fatal("webhooks section incomplete")
	}
	if string(e.api.OpenAPI()) != string(e.must(http.StatusOK, "GET", openAPIPath, nil).Body) {
		t.Fatal("OpenAPI() differs from the served document")
	}
}

func TestRequestIDAndPanics(t *testing.T) {
	e := newEnv(t)
	r := e.must(http.StatusOK, "GET", "/api/v1/products", nil)
	if len(r.Header.Get("X-Request-Id")) != 16 {
		t.Fatalf("X-Request-Id %q", r.Header.Get("X-Request-Id"))
	}
	r = e.must(http.StatusOK, "GET", "/api/v1/products", nil, withHeader("X-Request-Id", "proxy-42"))
	if r.Header.Get("X-Request-Id") != "proxy-42" {
		t.Fatalf("X-Request-Id %q", r.Header.Get("X-Request-Id"))
	}
	r = e.do("GET", "/api/v1/products", nil, withHeader("X-Request-Id", "bad id with spaces"))
	if r.Header.Get("X-Request-Id") == "bad id with spaces" {
		t.Fatal("malformed request id echoed")
	}

	// A bug answers a 500 envelope with the request id, without details.
	for _, h := range []handlerFunc{
		func(http.ResponseWriter, *http.Request) error { panic("boom") },
		func(http.ResponseWriter, *http.Request) error { return errors.New("secret database detail") },
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/x", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		e.api.serve(false, nil, h).ServeHTTP(rec, req)
		res := &resp{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
		if res.Status != http.StatusInternalServerError || res.errCode(t) != "internal_error" ||
			!strings.Contains(string(res.Body), res.Header.Get("X-Request-Id")) ||
			strings.Contains(string(res.Body), "secret") || strings.Contains(string(res.Body), "boom") {
			t.Fatalf("500: %d %s", res.Status, res.Body)
		}
	}
}

func TestNewValidation(t *testing.T) {
	e := newEnv(t)
	base := Config{Store: e.st, Hub: e.hub, AdminToken: testToken, DataDir: t.TempDir()}
	for name, mod := range map[string]func(*Config){
		"short token": func(c *Config) { c.AdminToken = "short" },
		"no store":    func(c *Config) { c.Store = nil },
		"no hub":      func(c *Config) { c.Hub = nil },
		"no data dir": func(c *Config) { c.DataDir = "" },
		"bad url":     func(c *Config) { c.PublicURL = "ftp://x" },
		"bad port":    func(c *Config) { c.RTMPPort = 70000 },
		"space token": func(c *Config) { c.AdminToken = "0123456789abcdef ghij" },
	} {
		c := base
		mod(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	var typedNil *recorder
	c := base
	c.Notifier = typedNil
	a, err := New(c)
	if err != nil || a.notifier != nil {
		t.Fatalf("typed nil notifier: %v", err)
	}
}

// TestOpenAPIValidates runs the document through openapi-spec-validator
// (OpenAPI 3.1 and JSON Schema 2020-12) when it is installed.
func TestOpenAPIValidates(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	if exec.Command(py, "-c", "import openapi_spec_validator").Run() != nil {
		t.Skip("openapi-spec-validator not installed (pip install openapi-spec-validator)")
	}
	e := newEnv(t)
	cmd := exec.Command(py, "-c", `
import json, sys
from openapi_spec_validator import validate
validate(json.load(sys.stdin))
`)
	cmd.Stdin = bytes.NewReader(e.api.OpenAPI())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("invalid OpenAPI document: %v\n%s", err, out)
	}
}

func TestQueryParameters(t *testing.T) {
	e := newEnv(t)
	img := e.uploadPNG()
	c := e.createCampaign(map[string]any{"published": true})
	// Admin routes refuse what they do not take; public ones ignore it.
	if r := e.must(http.StatusBadRequest, "GET", "/api/v1/campaigns/"+c.ID+"?verbose=1", nil); r.errCode(t) != "unknown_parameter" {
		t.Fatalf("%s", r.Body)
	}
	e.must(http.StatusOK, "GET", "/media/images/"+img.ID+"?v=2", nil, noAuth)
	e.must(http.StatusOK, "GET", "/live/"+c.ID+"/calendar.ics?utm_source=mail", nil, noAuth)
}
