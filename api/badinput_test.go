package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// fixture holds ids of existing resources to put in route paths.
type fixture struct {
	campaign, product, voucher, webhook, image string
}

func newFixture(e *env) fixture {
	p := e.createProduct("FIX-1", nil)
	v := e.createVoucher("FIX-1")
	c := e.createCampaign(map[string]any{"published": true, "product_ids": []string{p.ID}, "go_live": true})
	var wh webhookView
	e.must(http.StatusCreated, "POST", "/api/v1/webhooks", `{"url": "https://x.example.com", "events": ["*"]}`).decode(e.t, &wh)
	img := e.uploadPNG()
	return fixture{campaign: c.ID, product: p.ID, voucher: v.ID, webhook: wh.ID, image: img.ID}
}

// path fills {id} with the id of the right kind of resource.
func (f fixture) path(p string) string {
	id := f.campaign
	switch {
	case strings.HasPrefix(p, "/api/v1/products/"):
		id = f.product
	case strings.HasPrefix(p, "/api/v1/vouchers/"):
		id = f.voucher
	case strings.HasPrefix(p, "/api/v1/webhooks/"):
		id = f.webhook
	case strings.HasPrefix(p, "/media/images/"), strings.HasPrefix(p, "/api/v1/images/"):
		id = f.image
	}
	return strings.ReplaceAll(p, "{id}", id)
}

func jsonBodyRoutes(a *API) []*route {
	var out []*route
	for _, rt := range a.routes {
		if rt.Body != nil && rt.BodyKind == bodyJSON {
			out = append(out, rt)
		}
	}
	return out
}

// firstStringField is the JSON name of the first string field of a body
// type, for wrong-type probes.
func firstStringField(body any) string {
	t := reflect.TypeOf(body)
	for i := range t.NumField() {
		f := t.Field(i)
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.String {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			return name
		}
	}
	return ""
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	fx := newFixture(e)
	idem := withHeader("Idempotency-Key", "bad-input")
	oversize := `{"x": "` + strings.Repeat("a", maxJSONBody) + `"}`

	for _, rt := range jsonBodyRoutes(e.api) {
		path := fx.path(rt.Path)
		str := firstStringField(rt.Body)
		cases := []struct {
			name   string
			body   string
			ct     string
			status int
			code   string
		}{
			{"malformed", `{"a": `, "application/json", 400, "invalid_json"},
			{"syntax", `{"a" 1}`, "application/json", 400, "invalid_json"},
			{"unknown field", `{"zzz_unknown": 1}`, "application/json", 400, "unknown_field"},
			{"array", `[]`, "application/json", 400, "invalid_json"},
			{"string", `"x"`, "application/json", 400, "invalid_json"},
			{"two values", `{} {}`, "application/json", 400, "invalid_json"},
			{"trailing garbage", `{}x`, "application/json", 400, "invalid_json"},
			{"bad utf8", "{\"" + str + "\": \"\xff\xfe\"}", "application/json", 400, "invalid_json"},
			{"wrong type", `{"` + str + `": 12}`, "application/json", 400, "invalid_json"},
			{"object for string", `{"` + str + `": {}}`, "application/json", 400, "invalid_json"},
			{"oversize", oversize, "application/json", 413, "body_too_large"},
			{"text/plain", `{}`, "text/plain", 415, "unsupported_media_type"},
			{"no content type", `{}`, "", 415, "unsupported_media_type"},
			{"latin1", `{}`, "application/json; charset=latin1", 415, "unsupported_media_type"},
		}
		if !rt.BodyOptional {
			cases = append(cases, struct {
				name   string
				body   string
				ct     string
				status int
				code   string
			}{"empty", ``, "application/json", 400, "invalid_json"})
		}
		for _, tc := range cases {
			if str == "" && (tc.name == "wrong type" || tc.name == "object for string" || tc.name == "bad utf8") {
				continue // the body has no string field to put a wrong value in
			}
			t.Run(rt.ID+"/"+tc.name, func(t *testing.T) {
				opts := []reqOpt{idem, withHeader("Content-Type", tc.ct)}
				if tc.ct == "" {
					opts = append(opts, func(r *http.Request) { r.Header.Del("Content-Type") })
				}
				var body any
				if tc.body != "" {
					body = tc.body
				}
				r := e.do(rt.Method, path, body, opts...)
				if r.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
				}
				if code := r.errCode(t); code != tc.code {
					t.Fatalf("code %s, want %s", code, tc.code)
				}
				if tc.name == "wrong type" || tc.name == "unknown field" {
					if f := r.fields(t); len(f) != 1 || (tc.name == "wrong type" && f[0] != str) {
						t.Fatalf("fields %v, want %s", f, str)
					}
				}
			})
		}
	}
}

func TestUnknownIDsAndCursors(t *testing.T) {
	e := newEnv(t)
	fx := newFixture(e)
	for _, rt := range e.api.routes {
		if !strings.Contains(rt.Path, "{id}") {
			continue
		}
		path := strings.ReplaceAll(rt.Path, "{id}", "no_such_id")
		if rt.Path == "/media/images/{id}" {
			path = "/media/images/00000000000000000000000000000000"
		}
		var body any
		opts := []reqOpt{withHeader("Idempotency-Key", "unknown-ids")}
		if rt.Body != nil {
			if rt.BodyKind == bodyImage {
				continue // not addressed by id
			}
			// Every member present (zero values, [] for lists): a body
			// missing a required member is a 422 whatever the id.
			body = toJSON(t, withEmptyLists(rt.Body))
		}
		r := e.do(rt.Method, path, body, opts...)
		if r.Status != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 404: %s", rt.Method, path, r.Status, r.Body)
			continue
		}
		r.errCode(t)
	}
	for _, rt := range e.api.routes {
		if !strings.Contains(toJSON(t, rt.Query), `"cursor"`) {
			continue
		}
		for _, cur := range []string{"garbage", strings.Repeat("A", 2000), "%00", "eyJ4IjoxfQ"} {
			r := e.do(rt.Method, fx.path(rt.Path)+"?cursor="+cur, nil)
			if r.Status != http.StatusBadRequest || r.errCode(t) != "invalid_cursor" {
				t.Errorf("%s cursor %.10q: %d %s", rt.Path, cur, r.Status, r.Body)
			}
		}
	}
}

// FuzzAdminAPI sends fuzzed bodies to every POST and PATCH route: whatever
// the body, the answer is never a 5xx, and errors carry the JSON envelope.
func FuzzAdminAPI(f *testing.F) {
	e := newEnv(f)
	fx := newFixture(e)
	var rts []*route
	for _, rt := range e.api.routes {
		if rt.Method == "POST" || rt.Method == "PATCH" {
			rts = append(rts, rt)
		}
	}
	seeds := []string{
		`{}`, `{"title": "x"}`, `{"title": null}`, `{"items": [{"product_id": "` + fx.product + `", "quantity": 1}], "code": "A", "customer_name": "B", "total": "1", "currency": "EUR"}`,
		`{"sku": "S", "name": "N", "price": "1.5", "currency": "EUR"}`, `{"price": 1e309}`, `{"stock": 99999999999999999999}`,
		`{"starts_at": "2026-11-22T10:00:00Z", "ends_at": "2026-11-22T09:00:00Z"}`, `{"notify_before_start": "9999999h"}`,
		`{"images": ["../../etc/passwd"]}`, `{"product_ids": [null]}`, `{"phone": "+33612345678", "opt_in": true}`,
		`{"url": "https://x.example.com", "events": ["*"]}`, `{"discount_type": "percent", "discount_value": "101"}`,
		`{"a":` + strings.Repeat("[", 10000) + `}`, "\xef\xbb\xbf{}", `{"title": "\u0000"}`, `{"starts_at": "0000-01-01T00:00:00Z"}`,
	}
	for i := range rts {
		for _, s := range seeds {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		rt := rts[int(which)%len(rts)]
		ct := "application/json"
		if rt.BodyKind == bodyImage {
			ct = "image/png"
		}
		e.t = t
		r := e.do(rt.Method, fx.path(rt.Path), body, withHeader("Content-Type", ct), withHeader("Idempotency-Key", "fuzz"))
		if r.Status >= 500 {
			t.Fatalf("%s %s: %d %s\nbody %q", rt.Method, rt.Path, r.Status, r.Body, body)
		}
		if r.Status >= 400 {
			r.errCode(t)
			return
		}
		if r.Status != http.StatusNoContent && (!json.Valid(r.Body) || !utf8.Valid(r.Body) || !bytes.HasPrefix(r.Body, []byte("{"))) {
			t.Fatalf("%s %s: %d with a non-JSON body %q", rt.Method, rt.Path, r.Status, r.Body)
		}
	})
}
