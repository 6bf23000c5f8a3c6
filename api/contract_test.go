package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The API does what its document says, and no more: required members,
// whole documents for PUT, minimums, lists as arrays, JSON 404s for paths
// the mux would redirect (review issue 15, item 5).

func fullChatSettings() map[string]any {
	return map[string]any{"prelive_chat": true, "replay_chat": true, "slow_mode_seconds": 0, "max_length": 300,
		"blocked_words": []string{"spam"}, "survey": true, "orders_ticker": true}
}

func without(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if !slices.Contains(keys, k) {
			out[k] = v
		}
	}
	return out
}

func with(m map[string]any, k string, v any) map[string]any {
	out := without(m)
	out[k] = v
	return out
}

func TestRequiredMembers(t *testing.T) {
	e := newEnv(t)
	fx := newFixture(e)
	settings := "/api/v1/campaigns/" + fx.campaign + "/chat-settings"
	e.must(http.StatusOK, "PUT", settings, fullChatSettings())
	product := map[string]any{"sku": "REQ-1", "name": "Boots", "price": "10", "currency": "EUR"}
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
		fields []string
	}{
		{"chat settings: slow mode alone", "PUT", settings, `{"slow_mode_seconds": 5}`,
			422, "validation_failed", []string{"prelive_chat", "replay_chat", "max_length", "blocked_words", "survey", "orders_ticker"}},
		{"chat settings: empty", "PUT", settings, `{}`,
			422, "validation_failed", []string{"prelive_chat", "replay_chat", "slow_mode_seconds", "max_length", "blocked_words", "survey", "orders_ticker"}},
		{"chat settings: one left out", "PUT", settings, without(fullChatSettings(), "orders_ticker"),
			422, "validation_failed", []string{"orders_ticker"}},
		{"chat settings: null boolean", "PUT", settings, with(fullChatSettings(), "prelive_chat", nil),
			422, "validation_failed", []string{"prelive_chat"}},
		{"chat settings: null list", "PUT", settings, with(fullChatSettings(), "blocked_words", nil),
			422, "validation_failed", []string{"blocked_words"}},
		{"chat settings: member name in another case", "PUT", settings, with(without(fullChatSettings(), "survey"), "Survey", true),
			400, "unknown_field", []string{"Survey"}},
		{"product: name left out", "POST", "/api/v1/products", without(product, "name"),
			422, "validation_failed", []string{"name"}},
		{"product: two left out", "POST", "/api/v1/products", without(product, "price", "currency"),
			422, "validation_failed", []string{"price", "currency"}},
		{"order: nested member left out", "POST", "/api/v1/campaigns/" + fx.campaign + "/orders",
			map[string]any{"code": "A-1", "customer_name": "Ann", "total": "10", "currency": "EUR",
				"items": []any{map[string]any{"product_id": fx.product, "quantity": 1}, map[string]any{"product_id": fx.product}}},
			422, "validation_failed", []string{"items[1].quantity"}},
		{"pin: kind left out", "POST", "/api/v1/campaigns/" + fx.campaign + "/pins", map[string]any{"id": fx.product},
			422, "validation_failed", []string{"kind"}},
		{"track: event id left out", "POST", "/live/" + fx.campaign + "/track",
			map[string]any{"viewer_id": "v1", "events": []any{map[string]any{"type": "page.view"}}},
			422, "validation_failed", []string{"events[0].id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.body, withHeader("Idempotency-Key", "req-"+strings.Join(strings.Fields(tc.name), "-")))
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if code := r.errCode(t); code != tc.code {
				t.Fatalf("code %s, want %s: %s", code, tc.code, r.Body)
			}
			if f := r.fields(t); !slices.Equal(f, tc.fields) {
				t.Fatalf("fields %v, want %v", f, tc.fields)
			}
		})
	}
	// The refused PUTs changed nothing.
	var got chatSettingsView
	e.must(http.StatusOK, "GET", settings, nil).decode(t, &got)
	if !got.PreliveChat || !got.ReplayChat || !got.Survey || !got.OrdersTicker || got.MaxLength != 300 ||
		!slices.Equal(got.BlockedWords, []string{"spam"}) {
		t.Fatalf("settings after refused PUTs: %+v", got)
	}
}

// Every PUT replaces a whole document: every member of its body is
// required, in the document and by the decoder.
func TestPutRequiresWholeDocument(t *testing.T) {
	e := newEnv(t)
	fx := newFixture(e)
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
				Required   []string       `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	e.must(http.StatusOK, "GET", openAPIPath, nil).decode(t, &doc)
	puts := 0
	for _, rt := range e.api.routes {
		if rt.Method != http.MethodPut || rt.Body == nil {
			continue
		}
		puts++
		var members []string
		for _, f := range bodyFields(reflect.TypeOf(rt.Body)) {
			members = append(members, f.name)
		}
		r := e.must(http.StatusUnprocessableEntity, "PUT", fx.path(rt.Path), `{}`)
		if f := r.fields(t); !slices.Equal(f, members) {
			t.Errorf("PUT %s {}: fields %v, want every member %v", rt.Path, f, members)
		}
		name := componentName(reflect.TypeOf(rt.Body).Name())
		s := doc.Components.Schemas[name]
		if len(s.Properties) != len(members) || len(s.Required) != len(members) {
			t.Errorf("PUT %s: schema %s has %d properties, %d required, want all %d", rt.Path, name,
				len(s.Properties), len(s.Required), len(members))
		}
	}
	if puts == 0 {
		t.Fatal("no PUT route")
	}

	// A PUT route whose body has an optional member does not start.
	type partial struct {
		A int `json:"a" required:"true"`
		B int `json:"b"`
	}
	defer func() {
		if v := recover(); v == nil || !strings.Contains(v.(string), `"b"`) {
			t.Fatalf("panic %v, want one naming b", v)
		}
	}()
	requireAll(&route{Method: "PUT", Path: "/x", Body: partial{}})
}

func TestMinimums(t *testing.T) {
	e := newEnv(t)
	fx := newFixture(e)
	settings := "/api/v1/campaigns/" + fx.campaign + "/chat-settings"
	wins := "/api/v1/campaigns/" + fx.campaign + "/instant-wins"
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   any
		status int
		field  string
	}{
		{"max_length 0", "PUT", settings, with(fullChatSettings(), "max_length", 0), 422, "max_length"},
		{"max_length -1", "PUT", settings, with(fullChatSettings(), "max_length", -1), 422, "max_length"},
		{"max_length 501", "PUT", settings, with(fullChatSettings(), "max_length", 501), 422, "max_length"},
		{"max_length 1", "PUT", settings, with(fullChatSettings(), "max_length", 1), 200, ""},
		{"winners 0", "POST", wins, `{"prize": "A mug", "winners": 0}`, 422, "winners"},
		{"winners -1", "POST", wins, `{"prize": "A mug", "winners": -1}`, 422, "winners"},
		{"winners 101", "POST", wins, `{"prize": "A mug", "winners": 101}`, 422, "winners"},
		{"winners 3", "POST", wins, `{"prize": "A mug", "winners": 3}`, 201, ""},
		{"winners left out: 1", "POST", wins, `{"prize": "A cup"}`, 201, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if tc.field != "" {
				if r.errCode(t) != "validation_failed" || !slices.Equal(r.fields(t), []string{tc.field}) {
					t.Fatalf("want validation_failed on %s: %s", tc.field, r.Body)
				}
			}
		})
	}
	var iw instantWinsView
	e.must(http.StatusOK, "GET", wins, nil).decode(t, &iw)
	var winners []int
	for _, w := range iw.InstantWins {
		winners = append(winners, w.Winners)
	}
	if !slices.Equal(winners, []int{3, 1}) {
		t.Fatalf("instant wins' winners %v, want [3 1]", winners)
	}
}

// Lists are arrays in every response, whatever built it.
func TestResponseListsAreArrays(t *testing.T) {
	e := newEnv(t)
	fx := newFixture(e)
	c := "/api/v1/campaigns/" + fx.campaign
	e.must(http.StatusCreated, "POST", c+"/instant-wins", `{"prize": "A mug"}`)
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   any
		want   string // in the raw response
	}{
		{"PUT chat settings, no words", "PUT", c + "/chat-settings", with(fullChatSettings(), "blocked_words", []string{}), `"blocked_words":[]`},
		{"GET chat settings, no words", "GET", c + "/chat-settings", nil, `"blocked_words":[]`},
		{"bans, none", "GET", c + "/bans", nil, `"viewer_ids":[]`},
		{"instant win not drawn", "GET", c + "/instant-wins", nil, `"drawn_winners":[]`},
		{"polls, none", "GET", c + "/polls", nil, `"polls":[]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(http.StatusOK, tc.method, tc.path, tc.body)
			if !bytes.Contains(r.Body, []byte(tc.want)) {
				t.Fatalf("want %s in %s", tc.want, r.Body)
			}
			if bytes.Contains(r.Body, []byte(":null")) {
				t.Fatalf("null in %s", r.Body)
			}
		})
	}
}

type listsInner struct {
	Tags []string `json:"tags"`
}

type listsEmbedded struct {
	Notes []string `json:"notes"`
}

type listsOuter struct {
	listsEmbedded
	Name    string            `json:"name"`
	IDs     []string          `json:"ids"`
	Inner   listsInner        `json:"inner"`
	Ptr     *listsInner       `json:"ptr"`
	Nil     *listsInner       `json:"nil"`
	Items   []listsInner      `json:"items"`
	Map     map[string]int    `json:"map"`
	Any     any               `json:"any"`
	NilAny  any               `json:"nil_any"`
	Bytes   []byte            `json:"bytes"`
	Raw     json.RawMessage   `json:"raw"`
	At      time.Time         `json:"at"`
	Omitted []string          `json:"omitted,omitempty"`
	ByKey   map[string][]bool `json:"by_key"`
	private []string
}

func TestWithEmptyLists(t *testing.T) {
	shared := []listsInner{{Tags: nil}, {Tags: []string{"a"}}}
	in := listsOuter{Name: "x", Ptr: &listsInner{}, Items: shared, Any: listsInner{},
		ByKey: map[string][]bool{"k": nil}, At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"nil slice", []string(nil), `[]`},
		{"nil map", map[string]int(nil), `{}`},
		{"nil", nil, `null`},
		{"no lists", struct{ A int }{1}, `{"A":1}`},
		{"list response", listResponse{Items: []listsInner(nil)}, `{"items":[],"next_cursor":""}`},
		{"everything", in, `{"notes":[],"name":"x","ids":[],"inner":{"tags":[]},"ptr":{"tags":[]},"nil":null,` +
			`"items":[{"tags":[]},{"tags":["a"]}],"map":{},"any":{"tags":[]},"nil_any":null,"bytes":null,"raw":null,` +
			`"at":"2026-01-02T03:04:05Z","by_key":{"k":[]}}`},
		{"pointer", &in.Inner, `{"tags":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(withEmptyLists(tc.v))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Fatalf("got  %s\nwant %s", b, tc.want)
			}
		})
	}
	// What it changes it copies: the input is left as it was.
	if shared[0].Tags != nil || in.IDs != nil || in.Ptr.Tags != nil || in.ByKey["k"] != nil || in.Any.(listsInner).Tags != nil {
		t.Fatalf("input changed: %+v", in)
	}
}

// A path http.ServeMux would clean answers the JSON 404, not its HTML
// redirect.
func TestUncleanPathsAnswerJSON404(t *testing.T) {
	e := newEnv(t)
	fx := newFixture(e)
	client := *e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(path string, auth bool) (*http.Response, []byte) {
		req, err := http.NewRequest("GET", e.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth {
			req.Header.Set("Authorization", "Bearer "+testToken)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		return res, b.Bytes()
	}
	for _, tc := range []struct {
		path   string
		status int // with the token
		anon   int // without
	}{
		{"/api/v1/campaigns/..", 404, 401},
		{"/api/v1/campaigns/.", 404, 401},
		{"/api/v1/products/..%2F", 404, 401},
		{"/api/v1/products/%2E%2E", 404, 401},
		{"/api/v1/campaigns/" + fx.campaign + "/..", 404, 401},
		{"/api/v1/campaigns/../products", 404, 401},
		{"/api/v1/campaigns/" + fx.campaign + "/./chat-settings", 404, 401},
		{"/api/v1//products", 404, 401},
		{"/api/v1/campaigns/" + fx.campaign + "//bans", 404, 401},
		{"/api/v1/../../etc/passwd", 404, 401},
		{"/api/v1", 404, 401},
		{"/media/images/..", 404, 404},
		{"/media/images/./" + fx.image, 404, 404},
		// Clean paths are untouched.
		{"/api/v1/campaigns/" + fx.campaign, 200, 401},
		{"/api/v1/products/", 404, 401},
		{"/media/images/" + fx.image, 200, 200},
	} {
		for _, auth := range []bool{true, false} {
			res, body := get(tc.path, auth)
			want := tc.status
			if !auth {
				want = tc.anon
			}
			if res.StatusCode != want {
				t.Errorf("GET %s (token %v): %d, want %d (Location %q): %s", tc.path, auth, res.StatusCode, want,
					res.Header.Get("Location"), body)
				continue
			}
			if want >= 400 {
				(&resp{Status: res.StatusCode, Header: res.Header, Body: body}).errCode(t)
			}
		}
	}
}

// The document carries the rules the code enforces.
func TestOpenAPIRules(t *testing.T) {
	e := newEnv(t)
	var doc map[string]any
	e.must(http.StatusOK, "GET", openAPIPath, nil).decode(t, &doc)
	at := func(path ...string) any {
		var v any = doc
		for _, p := range path {
			switch x := v.(type) {
			case map[string]any:
				v = x[p]
			case []any:
				i := slices.IndexFunc(x, func(e any) bool { m, _ := e.(map[string]any); return m["name"] == p })
				if i < 0 {
					return nil
				}
				v = x[i]
			default:
				return nil
			}
		}
		return v
	}
	schemas := []string{"components", "schemas"}
	for _, tc := range []struct {
		path []string
		want any
	}{
		{append(schemas, "ChatSettingsUpdate", "properties", "max_length", "minimum"), 1.0},
		{append(schemas, "ChatSettingsUpdate", "properties", "max_length", "maximum"), 500.0},
		{append(schemas, "ChatSettingsUpdate", "properties", "blocked_words", "items", "maxLength"), 64.0},
		{append(schemas, "InstantWinRequest", "properties", "winners", "minimum"), 1.0},
		{append(schemas, "InstantWinRequest", "properties", "winners", "default"), 1.0},
		{append(schemas, "PollRequest", "properties", "options", "minItems"), 2.0},
		{append(schemas, "PollRequest", "properties", "options", "items", "maxLength"), 80.0},
		{append(schemas, "PinRequest", "required"), []any{"kind", "id"}},
		{append(schemas, "WebhookCreate", "properties", "events", "minItems"), 1.0},
		{append(schemas, "BanRequest", "properties", "viewer_id", "pattern"), "^v_[0-9a-hjkmnp-tv-z]{1,40}$"},
		{[]string{"paths", "/api/v1/campaigns/{id}/orders", "post", "parameters", "Idempotency-Key", "schema", "pattern"}, idempotencyPattern},
		{[]string{"paths", "/api/v1/campaigns/{id}/orders", "get", "parameters", "cursor", "schema", "maxLength"}, float64(maxCursor)},
	} {
		if got := at(tc.path...); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", strings.Join(tc.path, "."), got, tc.want)
		}
	}
	// The patterns in the document are the code's.
	for _, key := range []string{"!", "~", "a-1", strings.Repeat("k", 255)} {
		if _, err := idempotencyKey(&http.Request{Header: http.Header{idempotentHeader: {key}}}); err != nil {
			t.Errorf("key %q refused", key)
		}
	}
	// Each operation lists its statuses, a 500 among them; no catch-all.
	for path, ops := range doc["paths"].(map[string]any) {
		for method, op := range ops.(map[string]any) {
			responses := op.(map[string]any)["responses"].(map[string]any)
			if _, ok := responses["default"]; ok {
				t.Errorf("%s %s has a default response", method, path)
			}
			if _, ok := responses["500"]; !ok {
				t.Errorf("%s %s does not list 500", method, path)
			}
			if !strings.HasPrefix(path, "/api/v1/") || op.(map[string]any)["security"] != nil {
				continue
			}
			if _, ok := responses["400"]; !ok {
				t.Errorf("admin %s %s does not list 400 (unknown_parameter)", method, path)
			}
		}
	}
}
