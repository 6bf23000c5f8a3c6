package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// defaultLimits turns on the production rate limits (newEnv turns them
// off), with client addresses from X-Forwarded-For so that one test can
// be several clients.
func defaultLimits(c *Config) {
	c.ReminderLimit, c.AuthFailureLimit = RateLimit{}, RateLimit{}
	c.TrustProxy = true
}

func from(ip string) reqOpt { return withHeader("X-Forwarded-For", "198.51.100.250, "+ip) }

// limited checks a 429: the JSON envelope, code rate_limited, Retry-After.
func limited(t *testing.T, r *resp, retryAfter string) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", r.Status, r.Body)
	}
	if code := r.errCode(t); code != "rate_limited" {
		t.Fatalf("code %q", code)
	}
	if got := r.Header.Get("Retry-After"); got != retryAfter {
		t.Fatalf("Retry-After %q, want %q", got, retryAfter)
	}
}

func TestReminderRateLimit(t *testing.T) {
	e := newEnv(t, defaultLimits)
	c := e.createCampaign(map[string]any{"published": true})
	path := "/live/" + c.ID + "/reminders"
	post := func(ip string, i int) *resp {
		return e.do("POST", path, fmt.Sprintf(`{"phone": "+3361234%04d"}`, i), noAuth, from(ip))
	}

	// Ten at once (the burst), whatever they are: a bad body counts too.
	for i := range 9 {
		if r := post("203.0.113.1", i); r.Status != http.StatusCreated {
			t.Fatalf("request %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	e.must(http.StatusUnprocessableEntity, "POST", path, `{"phone": "nope"}`, noAuth, from("203.0.113.1"))
	// The eleventh waits for a token: one every 6 s at 10 per minute.
	limited(t, post("203.0.113.1", 10), "6")
	limited(t, post("203.0.113.1", 11), "6")
	// Nothing was stored or notified for the refused ones.
	list, _, err := e.st.ListReminders(t.Context(), c.ID, storePage())
	if err != nil || len(list) != 9 {
		t.Fatalf("%d reminders stored (%v), want 9", len(list), err)
	}
	// Another client has its own bucket.
	e.must(http.StatusCreated, "POST", path, `{"phone": "+33700000001"}`, noAuth, from("203.0.113.2"))

	// Recovery: one token after 6 s, the whole burst after a minute.
	e.clock.Set(t0.Add(3 * time.Second))
	limited(t, post("203.0.113.1", 12), "3")
	e.clock.Set(t0.Add(6 * time.Second))
	if r := post("203.0.113.1", 13); r.Status != http.StatusCreated {
		t.Fatalf("after 6 s: %d %s", r.Status, r.Body)
	}
	limited(t, post("203.0.113.1", 14), "6")
	e.clock.Set(t0.Add(2 * time.Minute))
	for i := range 10 {
		if r := post("203.0.113.1", 100+i); r.Status != http.StatusCreated {
			t.Fatalf("after a minute, request %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	limited(t, post("203.0.113.1", 200), "6")

	// The admin routes are not limited by it.
	for range 20 {
		e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+c.ID, nil, from("203.0.113.1"))
	}
}

func TestAuthFailureLimit(t *testing.T) {
	e := newEnv(t, defaultLimits)
	const attacker, admin = "203.0.113.66", "203.0.113.10"
	wrong := withHeader("Authorization", "Bearer wrong-token-0123456789")

	// Successes cost nothing: far more than the limit, all fine.
	for range 50 {
		e.must(http.StatusOK, "GET", "/api/v1/products", nil, from(attacker))
	}
	// Twenty failures (wrong or missing token, any admin route) answer 401...
	for i := range 20 {
		opt := wrong
		if i%2 == 1 {
			opt = noAuth
		}
		r := e.do("GET", "/api/v1/campaigns", nil, opt, from(attacker))
		if r.Status != http.StatusUnauthorized || r.errCode(t) != "unauthorized" {
			t.Fatalf("failure %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	// ...then the address is refused, 3 s per token at 20 per minute, even
	// with the right token: checking it now would let guessing go on.
	limited(t, e.do("GET", "/api/v1/products", nil, wrong, from(attacker)), "3")
	limited(t, e.do("GET", "/api/v1/products", nil, from(attacker)), "3")
	limited(t, e.do("POST", "/api/v1/nope", nil, wrong, from(attacker)), "3") // catch-alls check the token too
	// Other addresses are not affected.
	e.must(http.StatusOK, "GET", "/api/v1/products", nil, from(admin))
	e.must(http.StatusUnauthorized, "GET", "/api/v1/products", nil, wrong, from(admin))
	// Public routes never look at the token.
	e.must(http.StatusOK, "GET", openAPIPath, nil, wrong, from(attacker))

	// Recovery: one token every 3 s.
	e.clock.Set(t0.Add(2 * time.Second))
	limited(t, e.do("GET", "/api/v1/products", nil, from(attacker)), "1")
	e.clock.Set(t0.Add(3 * time.Second))
	e.must(http.StatusUnauthorized, "GET", "/api/v1/products", nil, wrong, from(attacker))
	limited(t, e.do("GET", "/api/v1/products", nil, from(attacker)), "3")
	e.clock.Set(t0.Add(6 * time.Second))
	e.must(http.StatusOK, "GET", "/api/v1/products", nil, from(attacker)) // a success gives its token back
	e.must(http.StatusOK, "GET", "/api/v1/products", nil, from(attacker))
	e.must(http.StatusUnauthorized, "GET", "/api/v1/products", nil, wrong, from(attacker))
	limited(t, e.do("GET", "/api/v1/products", nil, from(attacker)), "3")
	e.clock.Set(t0.Add(time.Hour))
	e.must(http.StatusOK, "GET", "/api/v1/products", nil, from(attacker))
}

// TestRateLimitClientAddress: without TrustProxy, X-Forwarded-For is the
// client's to forge and is ignored; with it, its last entry (the proxy's
// own) counts. IPv6 clients are counted per /64.
func TestRateLimitClientAddress(t *testing.T) {
	req := func(remote string, xff ...string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		for _, v := range xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		return r
	}
	for _, tc := range []struct {
		r     *http.Request
		trust bool
		want  string
	}{
		{req("192.0.2.1:1234"), false, "192.0.2.1"},
		{req("192.0.2.1:1234", "203.0.113.9"), false, "192.0.2.1"},
		{req("192.0.2.1:1234", "203.0.113.9"), true, "203.0.113.9"},
		{req("192.0.2.1:1234", "1.1.1.1, 203.0.113.9"), true, "203.0.113.9"},
		{req("192.0.2.1:1234", "1.1.1.1", "8.8.8.8 , 203.0.113.9 "), true, "203.0.113.9"},
		{req("192.0.2.1:1234", "garbage"), true, "192.0.2.1"},
		{req("[2001:db8:1:2:3:4:5:6]:443"), false, "2001:db8:1:2::/64"},
		{req("[2001:db8:1:2:ffff::1]:443"), false, "2001:db8:1:2::/64"},
		{req("[fe80::1%eth0]:443"), false, "fe80::/64"},
		{req("[::ffff:192.0.2.7]:80"), false, "192.0.2.7"},
		{req("192.0.2.1:1234", "2001:db8:9::1"), true, "2001:db8:9::/64"},
		{req("pipe"), false, "pipe"},
	} {
		if got := clientKey(tc.r, tc.trust); got != tc.want {
			t.Errorf("RemoteAddr %q, X-Forwarded-For %q, trust %v: key %q, want %q",
				tc.r.RemoteAddr, tc.r.Header.Values("X-Forwarded-For"), tc.trust, got, tc.want)
		}
	}
}

// TestLimiterMemoryBounded: idle buckets are swept once full again, and
// the number of buckets never passes maxBuckets.
func TestLimiterMemoryBounded(t *testing.T) {
	clock := &fakeClock{now: t0}
	l := newLimiter(RateLimit{Burst: 2, Period: time.Minute}, DefaultReminderLimit, clock.Now)
	for i := range 1000 {
		l.take(fmt.Sprint("client-", i))
	}
	if l.size() != 1000 {
		t.Fatalf("%d buckets, want 1000", l.size())
	}
	l.take("client-0") // drained: 0 tokens left
	clock.Set(t0.Add(59 * time.Second))
	l.take("active") // a sweep: nobody is full yet (1.98 tokens of 2)
	if l.size() != 1001 {
		t.Fatalf("%d buckets after an early sweep, want 1001", l.size())
	}
	clock.Set(t0.Add(2 * time.Minute))
	l.take("active") // a sweep: everyone idle is full again, and forgotten
	if l.size() != 1 {
		t.Fatalf("%d buckets after the idle ones refilled, want 1 (the active one)", l.size())
	}

	for i := range maxBuckets + 50 {
		l.take(fmt.Sprint("flood-", i))
	}
	if n := l.size(); n > maxBuckets {
		t.Fatalf("%d buckets, more than %d", n, maxBuckets)
	}

	if newLimiter(RateLimit{Burst: -1}, DefaultReminderLimit, clock.Now) != nil {
		t.Fatal("a negative burst did not disable the limit")
	}
}

// TestRateLimitDocumented: the OpenAPI document tells where 429 can come
// from, with Retry-After.
func TestRateLimitDocumented(t *testing.T) {
	e := newEnv(t, defaultLimits)
	doc := openAPIDoc(t, e)
	paths := doc["paths"].(map[string]any)
	for _, op := range []struct{ path, method string }{
		{"/live/{id}/reminders", "post"},
		{"/api/v1/campaigns", "get"},
		{"/api/v1/products/{id}", "delete"},
	} {
		o := paths[op.path].(map[string]any)[op.method].(map[string]any)
		r, ok := o["responses"].(map[string]any)["429"].(map[string]any)
		if !ok {
			t.Fatalf("%s %s does not document 429", op.method, op.path)
		}
		if _, ok := r["headers"].(map[string]any)["Retry-After"]; !ok {
			t.Fatalf("%s %s: 429 without Retry-After", op.method, op.path)
		}
	}
	// Public routes without a limit have no 429.
	cal := paths["/live/{id}/calendar.ics"].(map[string]any)["get"].(map[string]any)
	if _, ok := cal["responses"].(map[string]any)["429"]; ok {
		t.Fatal("the calendar documents a 429 it never answers")
	}
	if !strings.Contains(doc["info"].(map[string]any)["description"].(string), "429 rate_limited") {
		t.Fatal("the conventions do not mention rate limits")
	}
}
