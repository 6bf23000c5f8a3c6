package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// signIn signs in with a JSON body and returns the session cookie.
func (e *env) signIn(opts ...reqOpt) *http.Cookie {
	e.t.Helper()
	r := e.must(http.StatusCreated, "POST", "/api/v1/session", `{"token": "`+testToken+`"}`, append([]reqOpt{noAuth}, opts...)...)
	c := sessionCookieOf(e.t, r)
	if c == nil || c.Value == "" {
		e.t.Fatalf("sign-in set no session cookie: %v", r.Header.Values("Set-Cookie"))
	}
	return c
}

// sessionCookieOf parses the response's vitrine_session Set-Cookie (nil: none).
func sessionCookieOf(t testing.TB, r *resp) *http.Cookie {
	t.Helper()
	var found *http.Cookie
	for _, line := range r.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		if c.Name == SessionCookie {
			if found != nil {
				t.Fatalf("two session cookies set: %v", r.Header.Values("Set-Cookie"))
			}
			found = c
		}
	}
	return found
}

// withCookie sends the session cookie and no token.
func withCookie(c *http.Cookie) reqOpt {
	return func(r *http.Request) {
		r.Header.Del("Authorization")
		r.Header.Set("Cookie", SessionCookie+"="+c.Value)
	}
}

// sameOrigin sends the test server's own origin.
func (e *env) sameOrigin() reqOpt { return withHeader("Origin", e.srv.URL) }

func TestSessionSignInAndOut(t *testing.T) {
	e := newEnv(t)
	c := e.signIn()
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || c.Domain != "" {
		t.Fatalf("cookie attributes: %+v", c)
	}
	if c.MaxAge != int(DefaultSessionTTL/time.Second) {
		t.Fatalf("Max-Age %d, want %d", c.MaxAge, int(DefaultSessionTTL/time.Second))
	}
	if _, ok := sessionKey(c.Value); !ok || len(c.Value) != 43 || strings.Contains(c.Value, testToken) {
		t.Fatalf("cookie value %q is not a 32-byte random id", c.Value)
	}

	// The session: 200 with its expiry; without the cookie, 401.
	var v sessionView
	e.must(http.StatusOK, "GET", "/api/v1/session", nil, withCookie(c)).decode(t, &v)
	if !v.ExpiresAt.Equal(t0.Add(12*time.Hour)) || !v.MaxExpiresAt.Equal(t0.Add(7*24*time.Hour)) {
		t.Fatalf("session %+v", v)
	}
	if r := e.must(http.StatusUnauthorized, "GET", "/api/v1/session", nil, noAuth); r.errCode(t) != "unauthorized" {
		t.Fatal(r.errCode(t))
	}
	// The bearer token is not a session.
	e.must(http.StatusUnauthorized, "GET", "/api/v1/session", nil)

	// Admin routes take the cookie: reads as they are...
	e.must(http.StatusOK, "GET", "/api/v1/products", nil, withCookie(c))
	e.must(http.StatusOK, "HEAD", "/api/v1/products", nil, withCookie(c))
	// ...changes with the server's own Origin (or Referer).
	body := map[string]any{"sku": "S1", "name": "Boots", "price": "10", "currency": "EUR"}
	e.must(http.StatusCreated, "POST", "/api/v1/products", body, withCookie(c), e.sameOrigin())
	body["sku"] = "S2"
	e.must(http.StatusCreated, "POST", "/api/v1/products", body, withCookie(c), withHeader("Referer", e.srv.URL+"/console/products"))

	// Signing out ends the session on the server: the cookie, replayed,
	// is refused everywhere.
	r := e.must(http.StatusNoContent, "DELETE", "/api/v1/session", nil, withCookie(c), e.sameOrigin())
	if cl := sessionCookieOf(t, r); cl == nil || cl.MaxAge >= 0 || cl.Value != "" {
		t.Fatalf("sign-out does not clear the cookie: %v", r.Header.Values("Set-Cookie"))
	}
	if e.api.sessions.len() != 0 {
		t.Fatalf("%d sessions left", e.api.sessions.len())
	}
	r = e.must(http.StatusUnauthorized, "GET", "/api/v1/products", nil, withCookie(c))
	if cl := sessionCookieOf(t, r); cl == nil || cl.MaxAge >= 0 {
		t.Fatalf("a stale cookie is not cleared: %v", r.Header.Values("Set-Cookie"))
	}
	e.must(http.StatusUnauthorized, "GET", "/api/v1/session", nil, withCookie(c))
	// Signing out again (or without a session) is harmless.
	e.must(http.StatusNoContent, "DELETE", "/api/v1/session", nil, withCookie(c))
	e.must(http.StatusNoContent, "DELETE", "/api/v1/session", nil, noAuth)
}

func TestSessionSignInBodies(t *testing.T) {
	e := newEnv(t)
	form := withHeader("Content-Type", "application/x-www-form-urlencoded")
	// A form, as an HTML form posts it (other fields ignored).
	r := e.must(http.StatusCreated, "POST", "/api/v1/session", "token="+url.QueryEscape(testToken)+"&submit=Sign+in", noAuth, form)
	if sessionCookieOf(t, r) == nil {
		t.Fatal("no cookie from a form sign-in")
	}
	if strings.Contains(string(r.Body), testToken) || strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), ";"), testToken) {
		t.Fatal("the token is echoed")
	}
	for _, tc := range []struct {
		name, body string
		opts       []reqOpt
		status     int
		code       string
	}{
		{"wrong json", `{"token": "wrong-token-0123456789"}`, nil, 401, "unauthorized"},
		{"wrong form", "token=wrong-token-0123456789", []reqOpt{form}, 401, "unauthorized"},
		{"empty", `{"token": ""}`, nil, 422, "validation_failed"},
		{"missing", `{}`, nil, 422, "validation_failed"},
		{"form missing", "user=x", []reqOpt{form}, 422, "validation_failed"},
		{"form twice", "token=a&token=b", []reqOpt{form}, 400, "invalid_body"},
		{"form bad utf8", "token=\xff", []reqOpt{form}, 400, "invalid_body"},
		{"too long", `{"token": "` + strings.Repeat("x", 1025) + `"}`, nil, 422, "validation_failed"},
		{"unknown field", `{"token": "x", "remember": true}`, nil, 400, "unknown_field"},
		{"text/plain", `token=x`, []reqOpt{withHeader("Content-Type", "text/plain")}, 415, "unsupported_media_type"},
		{"other site", `{"token": "` + testToken + `"}`, []reqOpt{withHeader("Origin", "https://evil.example")}, 403, "csrf_refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/api/v1/session", tc.body, append([]reqOpt{noAuth}, tc.opts...)...)
			if r.Status != tc.status || r.errCode(t) != tc.code {
				t.Fatalf("%d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
			if sessionCookieOf(t, r) != nil {
				t.Fatal("a refused sign-in set a cookie")
			}
			if strings.Contains(string(r.Body), testToken) {
				t.Fatal("the token is echoed")
			}
		})
	}
	// The server's own origin may sign in.
	e.signIn(e.sameOrigin())
}

// A wrong token at sign-in counts as a failed authentication, with the
// admin API's: past the limit, the address is refused even the right one.
func TestSessionSignInRateLimited(t *testing.T) {
	e := newEnv(t, defaultLimits)
	const attacker = "203.0.113.66"
	for range 50 { // successes cost nothing
		e.signIn(from(attacker))
	}
	for i := range 20 {
		if i%2 == 0 {
			e.must(http.StatusUnauthorized, "POST", "/api/v1/session", `{"token": "wrong-token-0123456789"}`, noAuth, from(attacker))
		} else {
			e.must(http.StatusUnauthorized, "GET", "/api/v1/products", nil, noAuth, from(attacker))
		}
	}
	limited(t, e.do("POST", "/api/v1/session", `{"token": "`+testToken+`"}`, noAuth, from(attacker)), "3")
	limited(t, e.do("GET", "/api/v1/products", nil, from(attacker)), "3")
	e.signIn(from("203.0.113.10"))
	// A stale or forged cookie on an admin route is a failure too; the
	// session routes do not count.
	e.clock.Set(t0.Add(time.Hour))
	forged := &http.Cookie{Value: strings.Repeat("A", 43)}
	for range 20 {
		e.must(http.StatusUnauthorized, "GET", "/api/v1/session", nil, withCookie(forged), from(attacker))
	}
	for range 20 {
		e.must(http.StatusUnauthorized, "GET", "/api/v1/products", nil, withCookie(forged), from(attacker))
	}
	limited(t, e.do("GET", "/api/v1/products", nil, from(attacker)), "3")
}

func TestSessionCSRF(t *testing.T) {
	e := newEnv(t)
	c := e.signIn()
	camp := e.createCampaign(nil)
	path := "/api/v1/campaigns/" + camp.ID
	patch := `{"title": "New title"}`
	for _, tc := range []struct {
		name string
		opts []reqOpt
	}{
		{"no origin", nil},
		{"other origin", []reqOpt{withHeader("Origin", "https://evil.example")}},
		{"null origin", []reqOpt{withHeader("Origin", "null")}},
		{"other port", []reqOpt{withHeader("Origin", "http://127.0.0.1:1")}},
		{"other referer", []reqOpt{withHeader("Referer", "https://evil.example/page")}},
		{"origin decides over referer", []reqOpt{withHeader("Origin", "https://evil.example"), withHeader("Referer", e.srv.URL+"/console/")}},
		{"not a url", []reqOpt{withHeader("Origin", "evil")}},
		{"forwarded host, proxy not trusted", []reqOpt{withHeader("Origin", "https://evil.example"), withHeader("X-Forwarded-Host", "evil.example")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, m := range []string{"PATCH", "DELETE"} {
				var body any
				if m == "PATCH" {
					body = patch
				}
				r := e.do(m, path, body, append([]reqOpt{withCookie(c)}, tc.opts...)...)
				if r.Status != http.StatusForbidden || r.errCode(t) != "csrf_refused" {
					t.Fatalf("%s: %d %s, want 403 csrf_refused", m, r.Status, r.Body)
				}
			}
		})
	}
	// Nothing changed; a refused request is no failed authentication.
	var got campaignView
	e.must(http.StatusOK, "GET", path, nil, withCookie(c)).decode(t, &got)
	if got.Title != camp.Title {
		t.Fatalf("title %q changed by a refused request", got.Title)
	}
	// Bearer requests are unaffected, Origin or not.
	e.must(http.StatusOK, "PATCH", path, patch)
	e.must(http.StatusOK, "PATCH", path, patch, withHeader("Origin", "https://evil.example"))
	// An Authorization header decides alone: a wrong token with a good
	// cookie is a 401.
	e.must(http.StatusUnauthorized, "PATCH", path, patch, withCookie(c), e.sameOrigin(),
		withHeader("Authorization", "Bearer wrong-token-0123456789"))
	e.must(http.StatusOK, "PATCH", path, patch, withCookie(c), e.sameOrigin())

	// Sign-out with a live session follows the rule too.
	e.must(http.StatusForbidden, "DELETE", "/api/v1/session", nil, withCookie(c), withHeader("Origin", "https://evil.example"))
	e.must(http.StatusOK, "GET", "/api/v1/session", nil, withCookie(c))
}

// With a public URL, its origin is the server's; behind a trusted proxy,
// X-Forwarded-Host and -Proto count, and make the cookie Secure.
func TestSessionOriginsAndSecure(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PublicURL = "https://live.example.com"; c.TrustProxy = true })
	c := e.signIn()
	if c.Secure {
		t.Fatal("Secure over plain HTTP without X-Forwarded-Proto")
	}
	body := func(sku string) map[string]any {
		return map[string]any{"sku": sku, "name": "Boots", "price": "10", "currency": "EUR"}
	}
	e.must(http.StatusCreated, "POST", "/api/v1/products", body("A"), withCookie(c), withHeader("Origin", "https://live.example.com"))
	e.must(http.StatusCreated, "POST", "/api/v1/products", body("B"), withCookie(c), withHeader("Origin", "https://LIVE.example.com"))
	e.must(http.StatusForbidden, "POST", "/api/v1/products", body("C"), withCookie(c), withHeader("Origin", "http://live.example.com"))
	e.must(http.StatusForbidden, "POST", "/api/v1/products", body("C"), withCookie(c), withHeader("Origin", "https://live.example.com.evil.example"))
	// The request's own host still counts (a LAN address beside the public name).
	e.must(http.StatusCreated, "POST", "/api/v1/products", body("D"), withCookie(c), e.sameOrigin())
	proxied := []reqOpt{withHeader("X-Forwarded-Proto", "https"), withHeader("X-Forwarded-Host", "shop.example.net")}
	e.must(http.StatusCreated, "POST", "/api/v1/products", body("E"), append(proxied, withCookie(c), withHeader("Origin", "https://shop.example.net"))...)
	// Behind TLS, an http: page of the same host is another origin.
	e.must(http.StatusForbidden, "POST", "/api/v1/products", body("F"), append(proxied, withCookie(c), withHeader("Origin", "http://shop.example.net"))...)

	s := e.signIn(withHeader("X-Forwarded-Proto", "https"))
	if !s.Secure {
		t.Fatal("not Secure with X-Forwarded-Proto: https from a trusted proxy")
	}
	// The proxy not trusted: X-Forwarded-Proto is the client's to forge.
	e2 := newEnv(t)
	if c := e2.signIn(withHeader("X-Forwarded-Proto", "https")); c.Secure {
		t.Fatal("Secure from an untrusted X-Forwarded-Proto")
	}
}

// The expiry slides: a request in the second half of the lifetime renews
// the session (and its cookie), up to 7 days after sign-in.
func TestSessionExpiry(t *testing.T) {
	e := newEnv(t)
	c := e.signIn()
	at := func(d time.Duration) { e.clock.Set(t0.Add(d)) }

	at(5 * time.Hour) // first half: no renewal
	r := e.must(http.StatusOK, "GET", "/api/v1/products", nil, withCookie(c))
	if sessionCookieOf(t, r) != nil {
		t.Fatal("renewed in the first half of its lifetime")
	}
	at(7 * time.Hour) // second half: renewed, with a fresh cookie, same id
	r = e.must(http.StatusOK, "GET", "/api/v1/products", nil, withCookie(c))
	n := sessionCookieOf(t, r)
	if n == nil || n.Value != c.Value || n.MaxAge != 12*3600 || !n.HttpOnly || n.SameSite != http.SameSiteStrictMode {
		t.Fatalf("renewal cookie %+v", n)
	}
	var v sessionView
	e.must(http.StatusOK, "GET", "/api/v1/session", nil, withCookie(c)).decode(t, &v)
	if !v.ExpiresAt.Equal(t0.Add(19 * time.Hour)) {
		t.Fatalf("expires %v, want sign-in + 19 h", v.ExpiresAt)
	}
	at(19*time.Hour - time.Second)
	e.must(http.StatusOK, "GET", "/api/v1/session", nil, withCookie(c)) // renews to 31 h
	at(31 * time.Hour)
	e.must(http.StatusUnauthorized, "GET", "/api/v1/session", nil, withCookie(c))
	e.must(http.StatusUnauthorized, "GET", "/api/v1/products", nil, withCookie(c))
	if e.api.sessions.len() != 0 {
		t.Fatal("an expired session is kept")
	}

	// Used every 10 h, a session still ends 7 days after sign-in.
	at(0)
	c = e.signIn()
	var last time.Time
	for d := 10 * time.Hour; d < 7*24*time.Hour; d += 10 * time.Hour {
		at(d)
		e.must(http.StatusOK, "GET", "/api/v1/session", nil, withCookie(c)).decode(t, &v)
		last = v.ExpiresAt
	}
	if !last.Equal(t0.Add(7 * 24 * time.Hour)) {
		t.Fatalf("last expiry %v, want sign-in + 7 days", last)
	}
	at(7 * 24 * time.Hour)
	e.must(http.StatusUnauthorized, "GET", "/api/v1/session", nil, withCookie(c))

	// A configured lifetime.
	e3 := newEnv(t, func(c *Config) { c.SessionTTL = 30 * time.Minute })
	if c := e3.signIn(); c.MaxAge != 1800 {
		t.Fatalf("Max-Age %d, want 1800", c.MaxAge)
	}
	if _, err := New(Config{Store: e.st, Hub: e.hub, AdminToken: testToken, DataDir: t.TempDir(), SessionTTL: time.Second}); err == nil {
		t.Fatal("a 1 s session lifetime accepted")
	}
}

// Signing in again replaces the session; forged and token-valued cookies
// are nothing.
func TestSessionRotationAndForgery(t *testing.T) {
	e := newEnv(t)
	old := e.signIn()
	r := e.must(http.StatusCreated, "POST", "/api/v1/session", `{"token": "`+testToken+`"}`, withCookie(old))
	fresh := sessionCookieOf(t, r)
	if fresh == nil || fresh.Value == old.Value {
		t.Fatal("no new id at sign-in")
	}
	e.must(http.StatusUnauthorized, "GET", "/api/v1/session", nil, withCookie(old))
	e.must(http.StatusOK, "GET", "/api/v1/session", nil, withCookie(fresh))
	for _, v := range []string{testToken, strings.Repeat("A", 43), fresh.Value + "A", fresh.Value[:42], "", "%00"} {
		e.must(http.StatusUnauthorized, "GET", "/api/v1/products", nil, withCookie(&http.Cookie{Value: v}))
	}
	// Several cookies of the name: a live one counts.
	e.must(http.StatusOK, "GET", "/api/v1/products", nil, noAuth,
		withHeader("Cookie", SessionCookie+"="+old.Value+"; "+SessionCookie+"="+fresh.Value))

	// The store is bounded: the session closest to its end goes first.
	st := newSessionStore(time.Hour)
	first, _ := st.create(t0)
	for i := range maxSessions {
		st.create(t0.Add(time.Duration(i+1) * time.Second))
	}
	if st.len() != maxSessions {
		t.Fatalf("%d sessions held, want %d", st.len(), maxSessions)
	}
	if _, ok := st.find(first, t0.Add(time.Hour/2)); ok {
		t.Fatal("the oldest session was not evicted")
	}
}

// The host's events socket takes the cookie; opening it is a change of
// state as far as CSRF goes (the Origin must be the server's), and the
// host's preview of a draft on the viewer routes takes it too.
func TestSessionHostEventsAndPreview(t *testing.T) {
	var reached atomic.Int32
	e := newEnv(t, func(c *Config) {
		c.HostEvents = func(w http.ResponseWriter, _ *http.Request) { reached.Add(1); w.WriteHeader(http.StatusOK) }
	})
	c := e.signIn()
	camp := e.createCampaign(nil)
	ws := []reqOpt{withCookie(c), withHeader("Connection", "Upgrade"), withHeader("Upgrade", "websocket"),
		withHeader("Sec-WebSocket-Version", "13"), withHeader("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")}
	path := "/api/v1/campaigns/" + camp.ID + "/events"
	if r := e.do("GET", path, nil, ws...); r.Status != http.StatusForbidden || r.errCode(t) != "csrf_refused" {
		t.Fatalf("socket without Origin: %d %s", r.Status, r.Body)
	}
	e.must(http.StatusForbidden, "GET", path, nil, append(ws, withHeader("Origin", "https://evil.example"))...)
	r := e.must(http.StatusOK, "GET", path, nil, append(ws, e.sameOrigin())...)
	if reached.Load() != 1 || sessionCookieOf(t, r) != nil {
		t.Fatalf("handler reached %d times; cookie %v", reached.Load(), r.Header.Values("Set-Cookie"))
	}
	e.must(http.StatusOK, "GET", path, nil, withCookie(c)) // a plain GET: no Origin needed
	e.must(http.StatusUnauthorized, "GET", path, nil, append(ws[1:], noAuth, e.sameOrigin())...)

	req := func(method string, opts ...reqOpt) *http.Request {
		r := httptest.NewRequest(method, "/live/"+camp.ID+"/index.m3u8", nil)
		for _, o := range opts {
			o(r)
		}
		return r
	}
	if !e.api.Preview(req("GET", withCookie(c))) {
		t.Fatal("no preview with the cookie")
	}
	if e.api.Preview(req("POST", withCookie(c))) || !e.api.Preview(req("POST", withCookie(c), withHeader("Origin", "http://example.com"))) {
		t.Fatal("preview POST: the CSRF rule does not hold")
	}
	if e.api.Preview(req("GET", withCookie(&http.Cookie{Value: "x"}))) {
		t.Fatal("preview with a forged cookie")
	}
}

// The document describes the cookie beside the bearer token, the 403 of
// the CSRF rule and both bodies of the sign-in.
func TestSessionOpenAPI(t *testing.T) {
	e := newEnv(t)
	var doc struct {
		Security   []map[string][]string `json:"security"`
		Components struct {
			SecuritySchemes map[string]map[string]any `json:"securitySchemes"`
		} `json:"components"`
		Paths map[string]map[string]struct {
			Security    *[]any                     `json:"security"`
			Responses   map[string]json.RawMessage `json:"responses"`
			RequestBody struct {
				Content map[string]any `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
	}
	e.must(http.StatusOK, "GET", openAPIPath, nil).decode(t, &doc)
	s := doc.Components.SecuritySchemes["session"]
	if s["type"] != "apiKey" || s["in"] != "cookie" || s["name"] != SessionCookie {
		t.Fatalf("session scheme %v", s)
	}
	if len(doc.Security) != 2 || doc.Security[0]["bearer"] == nil || doc.Security[1]["session"] == nil {
		t.Fatalf("global security %v", doc.Security)
	}
	if _, ok := doc.Paths["/api/v1/products"]["post"].Responses["403"]; !ok {
		t.Error("POST /api/v1/products does not list 403 csrf_refused")
	}
	if _, ok := doc.Paths["/api/v1/products"]["get"].Responses["403"]; ok {
		t.Error("GET /api/v1/products lists 403")
	}
	signIn := doc.Paths["/api/v1/session"]["post"]
	if signIn.Security == nil || len(*signIn.Security) != 0 {
		t.Error("sign-in is not public")
	}
	for _, ct := range []string{"application/json", "application/x-www-form-urlencoded"} {
		if signIn.RequestBody.Content[ct] == nil {
			t.Errorf("sign-in body lacks %s", ct)
		}
	}
	for _, st := range []string{"201", "401", "403", "422", "429"} {
		if _, ok := signIn.Responses[st]; !ok {
			t.Errorf("sign-in does not list %s", st)
		}
	}
}
