package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vitrine/overlay/transport"
)

// TestContractOperations drives every operation of the OpenAPI document
// with requests generated from the document itself, valid and invalid,
// and checks every answer against it (issue 15): the status is one the
// operation lists, never a 5xx; a JSON body validates against the schema
// of its status (2xx: the documented response, strictly; errors: the
// {"error": {"code", "message"}} envelope); an invalid request (a body or
// query that breaks its schema, a missing or wrong token, an unknown id)
// is refused, never a 2xx.
//
// Brief by default (a few seconds); longer with
//
//	go test ./api -run TestContract -contract.cases=200 [-contract.seed=7]
var (
	contractCases = flag.Int("contract.cases", 0,
		"requests generated per operation by TestContractOperations (0: 12, or 6 with -short; every kind of case is sent at least once)")
	contractSeed    = flag.Uint64("contract.seed", 1, "seed of TestContractOperations' generator")
	contractVerbose = flag.Bool("contract.v", false, "log every request TestContractOperations sends and its status")
)

// contractKnownIssues are disagreements between the API and its document
// that are not fixed yet: operationId, then a substring of the problem.
// A problem listed here is logged, not failed. Keep it empty when you can.
var contractKnownIssues = []struct {
	op, problem, why string
}{}

// contractNoSuccess lists the operations this test cannot bring to a 2xx
// in its environment, and why; every other operation must answer one at
// least once in a full (not -short) run.
var contractNoSuccess = map[string]string{
	"hostEvents":        "a WebSocket: its success is 101 Switching Protocols (sent and checked), not a 2xx",
	"getRecording":      "no recorder in the env: 404 recording_not_found",
	"listSequences":     "no recorder in the env",
	"downloadReplay":    "no recorder in the env",
	"downloadSequence":  "no recorder in the env",
	"downloadSequences": "no recorder in the env",
	"productsTimeline":  "no recorder in the env",
}

// Kinds of generated cases.
const (
	kindValid        = "valid"
	kindNoToken      = "no token"
	kindBadToken     = "wrong token"
	kindUnknownID    = "unknown id"
	kindBadQuery     = "invalid query parameter"
	kindUnknownQuery = "unknown query parameter"
	kindBadHeader    = "invalid header"
	kindNoHeader     = "missing header"
	kindMalformed    = "malformed JSON"
	kindEmpty        = "empty body"
	kindWrongType    = "wrong content type"
	kindTooLarge     = "body too large"
	kindNotImage     = "not an image"
	kindRepeat       = "repeat"
	kindHeaderReuse  = "header reused, another body"
	kindMutation     = "invalid body: " // + the mutation's name
)

type oaParam struct {
	name, in string
	required bool
	schema   map[string]any
}

type contractOp struct {
	method, path, id string
	public           bool
	params           []oaParam
	body             map[string]any // media type -> schema; nil: no body
	bodyRequired     bool
	responses        map[string]any
}

func (op *contractOp) paramsIn(in string) []oaParam {
	var out []oaParam
	for _, p := range op.params {
		if p.in == in {
			out = append(out, p)
		}
	}
	return out
}

func (op *contractOp) jsonBody() map[string]any {
	if op.body == nil {
		return nil
	}
	s, _ := op.body["application/json"].(map[string]any)
	return s
}

// contractOps reads the operations from the document, in path and method
// order.
func contractOps(doc *oaDoc) ([]*contractOp, error) {
	paths, _ := doc.raw["paths"].(map[string]any)
	var ops []*contractOp
	for p, item := range paths {
		for m, o := range item.(map[string]any) {
			om, _ := o.(map[string]any)
			op := &contractOp{method: strings.ToUpper(m), path: p}
			op.id, _ = om["operationId"].(string)
			if sec, ok := om["security"].([]any); ok && len(sec) == 0 {
				op.public = true
			}
			params, _ := om["parameters"].([]any)
			for _, x := range params {
				pm, _ := x.(map[string]any)
				prm := oaParam{}
				prm.name, _ = pm["name"].(string)
				prm.in, _ = pm["in"].(string)
				prm.required, _ = pm["required"].(bool)
				prm.schema, _ = pm["schema"].(map[string]any)
				op.params = append(op.params, prm)
			}
			if rb, ok := om["requestBody"].(map[string]any); ok {
				content, _ := rb["content"].(map[string]any)
				op.body = map[string]any{}
				for mt, c := range content {
					cm, _ := c.(map[string]any)
					op.body[mt] = cm["schema"]
				}
				op.bodyRequired, _ = rb["required"].(bool)
			}
			op.responses, _ = om["responses"].(map[string]any)
			if op.id == "" || op.responses == nil {
				return nil, fmt.Errorf("%s %s: no operationId or responses", op.method, p)
			}
			ops = append(ops, op)
		}
	}
	// By path; on one path, what creates before what reads before what
	// deletes (a sign-in before the session it opens is read).
	order := []string{"POST", "PUT", "PATCH", "GET", "HEAD", "DELETE"}
	slices.SortFunc(ops, func(a, b *contractOp) int {
		if c := strings.Compare(a.path, b.path); c != 0 {
			return c
		}
		return slices.Index(order, a.method) - slices.Index(order, b.method)
	})
	return ops, nil
}

// ccase is one generated request.
type ccase struct {
	kind     string
	method   string
	what     string // what makes it invalid, or a note
	auth     string // admin, none, bad
	path     string // escaped, ids filled in
	query    string // raw
	header   http.Header
	body     []byte
	hasBody  bool
	ct       string
	jsonBody any  // the JSON instance sent, if any
	invalid  bool // breaks the document: must not be a 2xx
	cookies  bool // send the cookies the API set (public operations)
	want     int  // an exact status expected, 0: any documented

	// for the hints
	campaign string
	pathKind string // the {kind} path value
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

func TestContractOperations(t *testing.T) {
	logs := &logBuffer{}
	e := newEnv(t, func(c *Config) {
		c.ActionLimit = RateLimit{Burst: -1}
		c.TrackLimit = RateLimit{Burst: -1}
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		// The host's events socket as the server wires it, so that its
		// operation answers what it answers in production.
		h, err := transport.NewHandler(transport.Config{Rooms: c.Overlay, Campaigns: c.Store, Identity: c.Identity,
			Logger: c.Logger, NoParking: true, MaxSockets: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		c.HostEvents = h.ServeHost
	})
	start := time.Now()
	w := newContractWorld(e)
	setup := time.Since(start)

	r := e.must(http.StatusOK, "GET", openAPIPath, nil, noAuth)
	doc, err := parseOADoc(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := contractOps(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != len(e.api.routes) {
		t.Fatalf("the document has %d operations, the route table %d", len(ops), len(e.api.routes))
	}
	cases := *contractCases
	if cases <= 0 {
		cases = 12
		if testing.Short() {
			cases = 6
		}
	}
	cr := &contractRunner{e: e, w: w, doc: doc, logs: logs, cursors: map[string][]string{},
		seen: map[string]map[int]int{}, last: map[string]*ccase{}, cookies: map[string]*http.Cookie{}}
	total := 0
	parent := e.t
	for _, op := range ops {
		t.Run(op.id, func(t *testing.T) {
			e.t = t
			defer func() { e.t = parent }()
			total += cr.runOp(t, op, cases)
		})
	}

	// Every operation answered a 2xx at least once, unless it cannot here.
	var summary []string
	for _, op := range ops {
		seen, ran := cr.seen[op.id]
		if !ran {
			continue // left out by -run
		}
		var st []string
		ok := false
		for s, n := range seen {
			st = append(st, fmt.Sprintf("%d×%d", s, n))
			ok = ok || (s >= 200 && s < 300)
		}
		slices.Sort(st)
		summary = append(summary, fmt.Sprintf("%-20s %s", op.id, strings.Join(st, " ")))
		if why, excused := contractNoSuccess[op.id]; excused {
			if ok {
				t.Errorf("%s answered a 2xx: take it out of contractNoSuccess (%s)", op.id, why)
			}
			continue
		}
		if !ok && !testing.Short() {
			t.Errorf("%s %s never answered a 2xx: the generator does not reach it (%s)", op.method, op.path, strings.Join(st, " "))
		}
	}
	t.Logf("%d operations, %d requests (%d per operation asked), seed %d; setup %v, total %v\n%s",
		len(summary), total, cases, *contractSeed, setup.Round(time.Millisecond), time.Since(start).Round(time.Millisecond),
		strings.Join(summary, "\n"))
}

type contractRunner struct {
	e       *env
	w       *contractWorld
	doc     *oaDoc
	logs    *logBuffer
	cursors map[string][]string    // operationId -> next_cursor values seen
	seen    map[string]map[int]int // operationId -> status -> count
	last    map[string]*ccase      // operationId -> last valid case sent
	// cookies the API set (a console's session), sent back on public
	// operations only: admin operations are driven by the token.
	cookies map[string]*http.Cookie
}

// kinds lists the kinds of case that apply to op.
func (cr *contractRunner) kinds(op *contractOp) []string {
	ks := []string{kindValid}
	if !op.public {
		ks = append(ks, kindNoToken, kindBadToken)
	}
	if len(op.paramsIn("path")) > 0 {
		ks = append(ks, kindUnknownID)
	}
	if len(op.paramsIn("query")) > 0 && slices.ContainsFunc(op.paramsIn("query"), constrained) {
		ks = append(ks, kindBadQuery)
	}
	if !op.public {
		ks = append(ks, kindUnknownQuery)
	}
	if hs := op.paramsIn("header"); len(hs) > 0 {
		ks = append(ks, kindBadHeader, kindHeaderReuse)
		if slices.ContainsFunc(hs, func(p oaParam) bool { return p.required }) {
			ks = append(ks, kindNoHeader)
		}
	}
	if op.body != nil {
		ks = append(ks, kindEmpty, kindWrongType, kindTooLarge)
		if op.jsonBody() != nil {
			ks = append(ks, kindMalformed)
			for _, m := range bodyMutations {
				ks = append(ks, kindMutation+m.name)
			}
		} else if slices.ContainsFunc(mapKeys(op.body), func(mt string) bool { return strings.HasPrefix(mt, "image/") }) {
			ks = append(ks, kindNotImage)
		}
	}
	if op.method != http.MethodGet {
		ks = append(ks, kindRepeat)
	}
	return ks
}

func constrained(p oaParam) bool {
	s := p.schema
	return s["enum"] != nil || s["format"] != nil || s["maxLength"] != nil || s["pattern"] != nil ||
		slices.Contains(schemaTypes(s), "integer") || slices.Contains(schemaTypes(s), "boolean")
}

func (cr *contractRunner) runOp(t *testing.T, op *contractOp, n int) int {
	h := fnv.New64a()
	h.Write([]byte(op.id))
	rnd := rand.New(rand.NewPCG(*contractSeed, h.Sum64()))
	kinds := cr.kinds(op)
	schedule := slices.Clone(kinds)
	for len(schedule) < n {
		k := kindValid
		if rnd.Float64() >= 0.5 {
			k = kinds[rnd.IntN(len(kinds))]
		}
		if k == kindTooLarge {
			k = kindValid // once is enough: megabytes
		}
		schedule = append(schedule, k)
	}
	if cr.seen[op.id] == nil {
		cr.seen[op.id] = map[int]int{}
	}
	failures := 0
	for i, k := range schedule {
		c := cr.build(t, op, rnd, k)
		res, err := cr.send(c)
		if err != nil {
			t.Fatalf("case %d (%s): %v", i, c.kind, err)
		}
		cr.seen[op.id][res.Status]++
		if *contractVerbose {
			t.Logf("case %d, %s%s: %s -> %d %s", i, c.kind, parenthesised(c.what), describeRequest(op, c), res.Status, clipBytes(res.Body, 300))
		}
		if c.kind == kindValid && res.Status < 300 {
			cr.last[op.id] = c
		}
		problems := cr.check(op, c, res)
		for _, p := range problems {
			if why, known := knownIssue(op.id, p); known {
				t.Logf("known issue (%s): %s", why, p)
				continue
			}
			failures++
			t.Errorf("case %d, %s%s: %s\n  request: %s\n  response: %d %s%s", i, c.kind, parenthesised(c.what), p,
				describeRequest(op, c), res.Status, clipBytes(res.Body, 600), cr.serverLog(res))
		}
		if failures >= 8 {
			t.Errorf("stopping %s after %d failures", op.id, failures)
			break
		}
	}
	return len(schedule)
}

func parenthesised(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func knownIssue(opID, problem string) (string, bool) {
	for _, k := range contractKnownIssues {
		if k.op == opID && strings.Contains(problem, k.problem) {
			return k.why, true
		}
	}
	return "", false
}

func (cr *contractRunner) serverLog(res *resp) string {
	if res.Status < 500 {
		return ""
	}
	return "\n  server log: " + cr.logs.tail(1500)
}

func clipBytes(b []byte, n int) string {
	if len(b) > n {
		return strconv.Quote(string(b[:n])) + "…"
	}
	return strconv.Quote(string(b))
}

func describeRequest(op *contractOp, c *ccase) string {
	s := op.method + " " + c.path
	if c.query != "" {
		s += "?" + c.query
	}
	s += " auth=" + c.auth
	if c.cookies {
		s += " (cookies)"
	}
	for k, v := range c.header {
		s += fmt.Sprintf(" %s=%q", k, clipBytes([]byte(strings.Join(v, ",")), 40))
	}
	if c.hasBody {
		s += fmt.Sprintf(" Content-Type=%q body=%s", c.ct, clipBytes(c.body, 400))
	}
	return s
}

// ---- building cases ----

func (cr *contractRunner) generator(rnd *rand.Rand, c *ccase) *schemaGenerator {
	return &schemaGenerator{doc: cr.doc, rnd: rnd, now: cr.e.clock.Now(), realism: 0.85,
		hint: func(g *schemaGenerator, comp, name string, s map[string]any) (any, bool) {
			return cr.w.hint(g, c, comp, name, s)
		},
		fix: func(g *schemaGenerator, comp string, obj map[string]any) { cr.w.fix(g, c, comp, obj) },
	}
}

func (cr *contractRunner) build(t *testing.T, op *contractOp, rnd *rand.Rand, kind string) *ccase {
	if kind == kindRepeat || kind == kindHeaderReuse {
		prev := cr.last[op.id]
		if prev == nil {
			kind = kindValid
		} else if kind == kindRepeat {
			c := *prev
			c.kind, c.what = kindRepeat, ""
			return &c
		}
	}
	c := &ccase{kind: kind, method: op.method, auth: "admin", header: http.Header{}}
	if op.public {
		c.auth = "none"
		c.cookies = rnd.Float64() < 0.8
	}
	g := cr.generator(rnd, c)

	// Path: real ids, or one unknown.
	pathParams := op.paramsIn("path")
	unknown := -1
	if kind == kindUnknownID {
		unknown = rnd.IntN(len(pathParams))
	}
	segs := map[string]string{}
	for i, p := range pathParams {
		if i == unknown {
			segs[p.name] = unknownIDs[rnd.IntN(len(unknownIDs))]
			c.what = p.name + " unknown"
			if p.name == "id" {
				c.campaign = ""
			}
			continue
		}
		v := cr.w.pathValue(t, op, c, p.name, rnd)
		segs[p.name] = url.PathEscape(v)
	}
	c.path = pathParamPattern.ReplaceAllStringFunc(op.path, func(m string) string {
		return segs[m[1:len(m)-1]]
	})

	// Query.
	q := url.Values{}
	for _, p := range op.paramsIn("query") {
		if !p.required && !g.chance(0.4) {
			continue
		}
		if v, ok := cr.queryValue(g, op, p); ok {
			q.Set(p.name, v)
		}
	}
	c.query = q.Encode()
	switch kind {
	case kindBadQuery:
		qs := slices.DeleteFunc(op.paramsIn("query"), func(p oaParam) bool { return !constrained(p) })
		p := qs[rnd.IntN(len(qs))]
		bad, what := badQueryValue(g, p)
		if g.chance(0.2) {
			c.query = appendQuery(c.query, p.name, bad) + "&" + url.QueryEscape(p.name) + "=" + url.QueryEscape(bad)
			what = p.name + " repeated"
		} else {
			q.Set(p.name, bad)
			c.query = q.Encode()
		}
		c.what, c.invalid = what, true
	case kindUnknownQuery:
		name := []string{"verbose", "Limit", "zz", "fields"}[rnd.IntN(4)]
		c.query = appendQuery(c.query, name, "1")
		c.what, c.invalid, c.want = name, true, http.StatusBadRequest
	}

	// Headers.
	for _, p := range op.paramsIn("header") {
		if !p.required && !g.chance(0.5) {
			continue
		}
		c.header.Set(p.name, cr.w.headerValue(g, c, p))
	}
	switch kind {
	case kindBadHeader:
		hs := op.paramsIn("header")
		p := hs[rnd.IntN(len(hs))]
		bad := []string{"not a token", strings.Repeat("k", 300), "", "é"}[rnd.IntN(4)]
		c.header.Set(p.name, bad)
		c.what, c.invalid = fmt.Sprintf("%s=%q", p.name, clipBytes([]byte(bad), 20)), true
	case kindNoHeader:
		for _, p := range op.paramsIn("header") {
			if p.required {
				c.header.Del(p.name)
				c.what = "no " + p.name
			}
		}
		c.invalid = true
	case kindHeaderReuse:
		for k, v := range cr.last[op.id].header {
			c.header[k] = slices.Clone(v)
		}
	}

	// A WebSocket operation: the handshake, mostly.
	if _, ok := op.responses["101"]; ok && g.chance(0.8) {
		c.header.Set("Connection", "Upgrade")
		c.header.Set("Upgrade", "websocket")
		c.header.Set("Sec-WebSocket-Version", "13")
		c.header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		if g.chance(0.1) {
			c.header.Set("Origin", "https://elsewhere.example.org")
		}
	}

	switch kind {
	case kindNoToken:
		c.auth, c.invalid, c.want = "none", true, http.StatusUnauthorized
	case kindBadToken:
		c.auth, c.invalid, c.want = "bad", true, http.StatusUnauthorized
	case kindUnknownID:
		c.invalid = true
	}

	if op.body != nil {
		cr.buildBody(t, op, g, c)
	}
	if kind == kindUnknownID && op.body == nil {
		c.want = http.StatusNotFound
	}
	return c
}

func appendQuery(q, k, v string) string {
	kv := url.QueryEscape(k) + "=" + url.QueryEscape(v)
	if q == "" {
		return kv
	}
	return q + "&" + kv
}

// unknownIDs are path values no object has, already escaped: plain,
// long, odd characters.
var unknownIDs = []string{"no_such_id", "00000000000000000000000000000000", strings.Repeat("x", 129),
	"%E2%98%83", "a%20b", "%00", "a%2Fb", "1", "-", "null", "%27%20OR%201%3D1"}

func (cr *contractRunner) queryValue(g *schemaGenerator, op *contractOp, p oaParam) (string, bool) {
	switch p.name {
	case "cursor":
		cs := cr.cursors[op.id]
		if len(cs) == 0 || !g.chance(0.7) {
			return "", false
		}
		return cs[g.pick(len(cs))], true
	case "include":
		if g.chance(0.15) {
			break // the schema's plain string
		}
		parts := []string{"metrics", "users", "chat"}
		var out []string
		for _, x := range parts {
			if g.chance(0.6) {
				out = append(out, x)
			}
		}
		if len(out) == 0 {
			return "", false
		}
		return strings.Join(out, ","), true
	case "limit":
		if g.chance(0.7) {
			return strconv.Itoa(1 + g.pick(3)), true
		}
	case "q", "category":
		return []string{"boots", "FIX", "shoes", "a", "é"}[g.pick(5)], true
	case "since":
		return strconv.Itoa(g.pick(20)), true
	}
	v := g.instance(p.schema, 0)
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case bool:
		if g.chance(0.3) {
			return map[bool]string{true: "1", false: "0"}[x], true
		}
		return strconv.FormatBool(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	}
	return fmt.Sprint(v), true
}

// badQueryValue breaks one constrained query parameter's schema.
func badQueryValue(g *schemaGenerator, p oaParam) (string, string) {
	s := p.schema
	var opts [][2]string
	if s["enum"] != nil {
		opts = append(opts, [2]string{"bogus", p.name + " not in its enum"})
	}
	if slices.Contains(schemaTypes(s), "integer") {
		opts = append(opts, [2]string{"abc", p.name + " not an integer"}, [2]string{"1.5", p.name + " not an integer"})
		if m, ok := num(s["minimum"]); ok {
			opts = append(opts, [2]string{strconv.Itoa(int(m) - 1), p.name + " below its minimum"})
		}
		if m, ok := num(s["maximum"]); ok {
			opts = append(opts, [2]string{strconv.Itoa(int(m) + 1), p.name + " above its maximum"})
		}
	}
	if slices.Contains(schemaTypes(s), "boolean") {
		opts = append(opts, [2]string{"maybe", p.name + " not a boolean"})
	}
	if s["format"] == "date-time" {
		opts = append(opts, [2]string{"yesterday", p.name + " not a date-time"}, [2]string{"2026-11-22", p.name + " a date, not a date-time"})
	}
	if m, ok := intKeyword(s, "maxLength"); ok {
		opts = append(opts, [2]string{strings.Repeat("A", m+1), p.name + " longer than its maxLength"})
	}
	if pat, ok := s["pattern"].(string); ok {
		if re, err := compiledPattern(pat); err == nil && !re.MatchString(" ") {
			opts = append(opts, [2]string{" ", p.name + " not matching its pattern"})
		}
	}
	o := opts[g.pick(len(opts))]
	return o[0], o[1]
}

func (cr *contractRunner) buildBody(t *testing.T, op *contractOp, g *schemaGenerator, c *ccase) {
	if !op.bodyRequired && c.kind == kindValid && g.chance(0.2) {
		return // an optional body left out
	}
	js := op.jsonBody()
	c.hasBody = true
	form, _ := op.body["application/x-www-form-urlencoded"].(map[string]any)
	if form != nil && (js == nil || (c.kind == kindValid && g.chance(0.3))) {
		// A form: the schema's scalar members, encoded.
		v, _ := g.instance(form, 0).(map[string]any)
		vals := url.Values{}
		for k, x := range v {
			if x != nil {
				vals.Set(k, fmt.Sprint(x))
			}
		}
		c.ct, c.body = "application/x-www-form-urlencoded", []byte(vals.Encode())
		if errs := cr.doc.validate(form, v, "", false); len(errs) > 0 {
			c.invalid, c.what = true, strings.Join(errs, "; ")
		}
		js = nil
	}
	switch {
	case c.ct != "":
	case js != nil:
		c.ct = "application/json"
		v := g.instance(js, 0)
		if strings.HasPrefix(c.kind, kindMutation) {
			name := strings.TrimPrefix(c.kind, kindMutation)
			applied := false
			for _, m := range bodyMutations {
				if m.name != name {
					continue
				}
				if w, what, ok := m.apply(g, js, deepCopy(v)); ok {
					v, c.what, applied = w, what, true
				}
			}
			if !applied {
				c.what = "not applicable: sent valid"
			}
		}
		c.jsonBody = v
		c.body, _ = json.Marshal(v)
		// What the document says of the body sent: a body that breaks
		// its schema must be refused.
		if errs := cr.doc.validate(js, v, "", false); len(errs) > 0 {
			c.invalid = true
			if c.what == "" || c.what == "not applicable: sent valid" {
				c.what = strings.Join(errs, "; ")
			}
		}
	default:
		mts := make([]string, 0, len(op.body))
		for mt := range op.body {
			if mt != "application/x-www-form-urlencoded" {
				mts = append(mts, mt)
			}
		}
		slices.Sort(mts)
		mt := mts[g.pick(len(mts))]
		c.ct, c.body = cr.w.mediaBody(t, mt, g)
	}
	switch c.kind {
	case kindMalformed:
		cut := len(c.body) / 2
		if cut < 1 {
			cut = 1
		}
		bad := [][]byte{c.body[:cut], []byte(`{"a": `), append([]byte("{,"), c.body...), bytes.ReplaceAll(c.body, []byte(`"`), []byte(`'`)),
			[]byte(`[]`), []byte(`"x"`), []byte(`{} {}`)}
		c.body = bad[g.pick(len(bad))]
		if json.Valid(c.body) && bytes.HasPrefix(c.body, []byte("{")) {
			c.body = []byte(`{"a": `) // the quotes were all there was to break
		}
		c.what, c.invalid = "body "+clipBytes(c.body, 30), true
	case kindEmpty:
		c.body = nil
		c.what = "no body"
		c.invalid = op.bodyRequired
		if !op.bodyRequired {
			c.hasBody = false
		}
	case kindWrongType:
		c.ct = []string{"text/plain", "application/x-www-form-urlencoded", "", "application/json; charset=latin1", "application/xml"}[g.pick(5)]
		if js == nil && g.chance(0.5) {
			c.ct = "application/json"
		}
		c.what, c.invalid = fmt.Sprintf("Content-Type %q", c.ct), true
	case kindTooLarge:
		limit := maxJSONBody
		if strings.HasPrefix(c.ct, "image/") || strings.HasPrefix(c.ct, "multipart/") {
			limit = maxImage + multipartOverhead
		}
		pad := bytes.Repeat([]byte("a"), limit+1)
		if js != nil {
			c.body = append(append([]byte(`{"x": "`), pad...), `"}`...)
		} else {
			c.body = append(bytes.Clone(c.body), pad...)
		}
		c.what, c.invalid = fmt.Sprintf("%d bytes", len(c.body)), true
	case kindNotImage:
		bad := [][]byte{[]byte("<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>"), []byte("<html><body>x</body></html>"),
			[]byte("GIF89a"), []byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 64)}
		b := bad[g.pick(len(bad))]
		if c.ct == "" || strings.HasPrefix(c.ct, "multipart/") {
			c.ct = "image/png"
		}
		c.body = b
		c.what, c.invalid = "body "+clipBytes(b, 20), true
	}
}

// ---- sending and checking ----

func (cr *contractRunner) send(c *ccase) (*resp, error) {
	u := cr.e.srv.URL + c.path
	if c.query != "" {
		u += "?" + c.query
	}
	var body io.Reader
	if c.hasBody {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range c.header {
		req.Header[k] = slices.Clone(v)
	}
	if c.auth == "none" && c.cookies {
		for _, ck := range cr.cookies {
			req.AddCookie(ck)
		}
	}
	switch c.auth {
	case "admin":
		req.Header.Set("Authorization", "Bearer "+testToken)
	case "bad":
		req.Header.Set("Authorization", []string{"Bearer wrong-" + testToken, "Basic YWRtaW46YWRtaW4=", "Bearer", testToken}[len(c.path)%4])
	}
	if c.hasBody && c.ct != "" {
		req.Header.Set("Content-Type", c.ct)
	}
	client := *cr.e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	client.Timeout = 30 * time.Second
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	for _, ck := range res.Cookies() {
		if ck.Value == "" || ck.MaxAge < 0 {
			delete(cr.cookies, ck.Name)
		} else {
			cr.cookies[ck.Name] = ck
		}
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		return &resp{Status: res.StatusCode, Header: res.Header}, nil // a socket: hang up
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &resp{Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

func responseFor(op *contractOp, status int) (map[string]any, bool) {
	for _, k := range []string{strconv.Itoa(status), strconv.Itoa(status/100) + "XX", "default"} {
		if r, ok := op.responses[k].(map[string]any); ok {
			return r, true
		}
	}
	return nil, false
}

func (cr *contractRunner) check(op *contractOp, c *ccase, res *resp) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	st := res.Status
	if st >= 500 {
		add("status %d: a server error", st)
	}
	doc, ok := responseFor(op, st)
	if !ok {
		var listed []string
		for k := range op.responses {
			listed = append(listed, k)
		}
		slices.Sort(listed)
		add("status %d is not documented (documented: %s)", st, strings.Join(listed, ", "))
	}
	if c.want != 0 && st != c.want {
		add("status %d, want %d", st, c.want)
	}
	if c.invalid && st < 300 {
		add("an invalid request answered %d", st)
	}
	if !ok {
		return problems
	}
	content, _ := doc["content"].(map[string]any)
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	switch {
	case st == http.StatusSwitchingProtocols:
	case content == nil:
		if len(res.Body) > 0 {
			add("status %d documents no content, got %d bytes (%s)", st, len(res.Body), mt)
		}
	default:
		var schema map[string]any
		for k, v := range content {
			if k == mt || (strings.HasSuffix(k, "/*") && strings.HasPrefix(mt, strings.TrimSuffix(k, "*"))) {
				cm, _ := v.(map[string]any)
				schema, _ = cm["schema"].(map[string]any)
				mt = k
				goto found
			}
		}
		add("Content-Type %q is not documented for %d (documented: %v)", res.Header.Get("Content-Type"), st, mapKeys(content))
		return problems
	found:
		if mt != "application/json" || schema == nil {
			if len(res.Body) == 0 && op.method != http.MethodHead {
				add("empty %s body", mt)
			}
			return problems
		}
		v, err := decodeJSONValue(res.Body)
		if err != nil {
			add("body is not JSON: %v", err)
			return problems
		}
		for _, e := range cr.doc.validate(schema, v, "", st < 300) {
			add("body does not validate: %s", e)
		}
		if st >= 400 {
			e, _ := v.(map[string]any)["error"].(map[string]any)
			if code, _ := e["code"].(string); code == "" {
				add("error without a code")
			}
			if msg, _ := e["message"].(string); msg == "" {
				add("error without a message")
			}
		}
		if st < 300 {
			if m, ok := v.(map[string]any); ok {
				if nc, ok := m["next_cursor"].(string); ok && nc != "" {
					if cs := cr.cursors[op.id]; len(cs) < 20 {
						cr.cursors[op.id] = append(cs, nc)
					}
				}
			}
		}
	}
	return problems
}

func mapKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ---- the world: real objects to address ----

type contractWorld struct {
	e         *env
	products  []string // the first three are attached to live
	vouchers  []string // the first two are attached to live
	images    []string // the first is in live's images
	webhooks  []string
	live      string // published, live, with products, vouchers, chat, polls, pins
	campaigns []string
	items     map[string][2][]string // campaign -> attached products, vouchers
	messages  []string               // chat lines of live
	tokens    []string               // viewer tokens (not banned)
	banned    string                 // the token of a viewer banned from live
	polls     []string
	wins      []string
	media     map[string][]byte
	seq       int
}

func (w *contractWorld) next() int { w.seq++; return w.seq }

func newContractWorld(e *env) *contractWorld {
	t := e.t
	w := &contractWorld{e: e, items: map[string][2][]string{}, media: map[string][]byte{}}
	tt := t.(*testing.T)
	w.media["image/png"] = pngBytes(t)
	w.media["image/jpeg"] = jpegBytes(t)
	w.media["image/gif"] = gifBytes(tt)
	w.media["image/webp"] = webp1x1(tt)
	for i := range 6 {
		w.products = append(w.products, e.createProduct(fmt.Sprintf("CT-%d", i), map[string]any{"category": []string{"shoes", "coats"}[i%2]}).ID)
	}
	for i := range 3 {
		w.vouchers = append(w.vouchers, e.createVoucher(fmt.Sprintf("CT-%d", i)).ID)
	}
	for range 2 {
		w.images = append(w.images, e.uploadPNG().ID)
	}
	for i := range 2 {
		var wh webhookView
		e.must(http.StatusCreated, "POST", "/api/v1/webhooks", map[string]any{"url": fmt.Sprintf("https://hooks%d.example.com/in", i), "events": []string{"*"}}).decode(t, &wh)
		w.webhooks = append(w.webhooks, wh.ID)
	}
	w.live = w.campaign("live")
	for _, st := range []string{"upcoming", "draft", "ended", "completed"} {
		w.campaigns = append(w.campaigns, w.campaign(st))
	}
	w.campaigns = append(w.campaigns, w.live)

	// Life on the live campaign: viewers chatting, a ban, a poll, an
	// instant win, a pin, an order, tracking, a reminder elsewhere.
	live := "/live/" + w.live
	for i := range 3 {
		var hello struct {
			Token string `json:"token"`
		}
		e.must(http.StatusCreated, "POST", live+"/viewer", nil, noAuth).decode(t, &hello)
		w.tokens = append(w.tokens, hello.Token)
		e.must(http.StatusAccepted, "POST", live+"/actions", map[string]any{"type": "chat.send",
			"data": map[string]any{"text": fmt.Sprintf("Hello %d", i), "name": "Ann", "question": i == 1}}, noAuth, withHeader(viewerHeader, hello.Token))
	}
	var hello struct {
		Token    string `json:"token"`
		ViewerID string `json:"viewer_id"`
	}
	e.must(http.StatusCreated, "POST", live+"/viewer", nil, noAuth).decode(t, &hello)
	e.must(http.StatusCreated, "POST", "/api/v1/campaigns/"+w.live+"/bans", map[string]any{"viewer_id": hello.ViewerID})
	w.banned = hello.Token
	var msgs struct {
		Items []struct{ ID string } `json:"items"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/campaigns/"+w.live+"/messages", nil).decode(t, &msgs)
	for _, m := range msgs.Items {
		w.messages = append(w.messages, m.ID)
	}
	if len(w.messages) == 0 {
		t.Fatal("no chat messages")
	}
	admin := "/api/v1/campaigns/" + w.live
	w.polls = append(w.polls, w.openPoll(w.live))
	w.wins = append(w.wins, w.openInstantWin(w.live))
	e.must(http.StatusCreated, "POST", admin+"/pins", map[string]any{"kind": "product", "id": w.products[0]})
	e.must(http.StatusCreated, "POST", admin+"/orders", map[string]any{"code": "CT-ORDER-1", "customer_name": "Ann", "total": "10",
		"currency": "EUR", "items": []any{map[string]any{"product_id": w.products[0], "quantity": 1}}}, withHeader(idempotentHeader, "ct-order-1"))
	e.must(http.StatusAccepted, "POST", live+"/track", map[string]any{"viewer_id": "v1", "events": []any{
		map[string]any{"id": "evt-0000001", "type": "page.view"}, map[string]any{"id": "evt-0000002", "type": "product.click", "product_id": w.products[0]}}},
		noAuth, withHeader("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"))
	e.must(http.StatusCreated, "POST", "/live/"+w.campaigns[0]+"/reminders", map[string]any{"phone": "+33612345678", "opt_in": true}, noAuth)
	return w
}

// campaign creates a campaign in a state: draft (unpublished upcoming),
// upcoming (published), live, ended, completed.
func (w *contractWorld) campaign(state string) string {
	e := w.e
	n := w.next()
	prods := []string{w.products[n%3], w.products[3+n%3]}
	vouchers := []string{w.vouchers[n%2]}
	body := map[string]any{"title": fmt.Sprintf("Contract %s %d", state, n), "published": state != "draft",
		"product_ids": prods, "voucher_ids": vouchers}
	if state == "live" && w.live == "" {
		prods = w.products[:3]
		vouchers = w.vouchers[:2]
		body["product_ids"], body["voucher_ids"], body["images"] = prods, vouchers, w.images[:1]
	}
	if state == "completed" {
		now := e.clock.Now()
		e.clock.Set(now.Add(-72 * time.Hour))
		defer e.clock.Set(now)
		body["starts_at"] = now.Add(-71 * time.Hour).Format(time.RFC3339)
		body["ends_at"] = now.Add(-70 * time.Hour).Format(time.RFC3339)
	}
	if state == "live" || state == "ended" || state == "completed" {
		body["go_live"] = true
	}
	c := e.createCampaign(body)
	if state == "ended" || state == "completed" {
		e.must(http.StatusOK, "POST", "/api/v1/campaigns/"+c.ID+"/end", nil)
	}
	w.items[c.ID] = [2][]string{prods, vouchers}
	return c.ID
}

func (w *contractWorld) openPoll(campaign string) string {
	var ev struct {
		Data struct {
			Poll struct{ ID string } `json:"poll"`
		} `json:"data"`
	}
	w.e.must(http.StatusCreated, "POST", "/api/v1/campaigns/"+campaign+"/polls",
		map[string]any{"question": "Which colour?", "options": []string{"red", "blue"}}).decode(w.e.t, &ev)
	return ev.Data.Poll.ID
}

func (w *contractWorld) openInstantWin(campaign string) string {
	var ev struct {
		Data struct {
			InstantWin struct{ ID string } `json:"instant_win"`
		} `json:"data"`
	}
	w.e.must(http.StatusCreated, "POST", "/api/v1/campaigns/"+campaign+"/instant-wins",
		map[string]any{"prize": "A mug", "winners": 1}).decode(w.e.t, &ev)
	return ev.Data.InstantWin.ID
}

// mutatesCampaign: operations that change a campaign's state or delete
// it get a fresh campaign each time, so that the shared ones stay as set
// up.
func mutatesCampaign(op *contractOp) bool {
	if !strings.HasPrefix(op.path, "/api/v1/campaigns/{id}") {
		return false
	}
	rest := strings.TrimPrefix(op.path, "/api/v1/campaigns/{id}")
	switch {
	case rest == "" && (op.method == http.MethodPatch || op.method == http.MethodDelete):
		return true
	case op.method == http.MethodPost && slices.Contains([]string{"/live", "/end", "/reset", "/stream-key"}, rest):
		return true
	case rest == "/chat-settings" && op.method == http.MethodPut:
		return true // slow mode or blocked words would refuse the chat of the rest
	}
	return false
}

func (w *contractWorld) pathValue(t *testing.T, op *contractOp, c *ccase, name string, rnd *rand.Rand) string {
	e := w.e
	pickOf := func(ids []string) string { return ids[rnd.IntN(len(ids))] }
	switch name {
	case "id":
		switch {
		case strings.HasPrefix(op.path, "/api/v1/products/"):
			if op.method == http.MethodDelete {
				return e.createProduct(fmt.Sprintf("CT-DEL-%d", w.next()), nil).ID
			}
			return pickOf(w.products)
		case strings.HasPrefix(op.path, "/embed/products/"):
			return pickOf(w.products)
		case strings.HasPrefix(op.path, "/api/v1/vouchers/"):
			if op.method == http.MethodDelete {
				return e.createVoucher(fmt.Sprintf("CT-DEL-%d", w.next())).ID
			}
			return pickOf(w.vouchers)
		case strings.HasPrefix(op.path, "/api/v1/webhooks/"):
			if op.method == http.MethodDelete {
				var wh webhookView
				e.must(http.StatusCreated, "POST", "/api/v1/webhooks", map[string]any{"url": "https://del.example.com", "events": []string{"*"}}).decode(t, &wh)
				return wh.ID
			}
			return pickOf(w.webhooks)
		case strings.HasPrefix(op.path, "/api/v1/images/"):
			if rnd.IntN(5) == 0 {
				return w.images[0] // in use: 409
			}
			return e.uploadPNG().ID
		case strings.HasPrefix(op.path, "/media/images/"):
			return pickOf(w.images)
		}
		switch {
		case mutatesCampaign(op):
			c.campaign = w.campaign([]string{"draft", "upcoming", "live", "live", "ended", "completed"}[rnd.IntN(6)])
		case strings.Count(op.path, "{") > 1 || rnd.IntN(2) == 0:
			c.campaign = w.live
		default:
			c.campaign = pickOf(w.campaigns)
		}
		return c.campaign
	case "message_id":
		return pickOf(w.messages)
	case "viewer_id":
		if rnd.IntN(5) == 0 {
			return "v_" + strconv.Itoa(w.next())
		}
		id, _ := e.api.identity.Issue()
		if c.campaign != "" {
			e.must(http.StatusCreated, "POST", "/api/v1/campaigns/"+c.campaign+"/bans", map[string]any{"viewer_id": id})
		}
		return id
	case "poll_id":
		if rnd.IntN(4) == 0 || c.campaign == "" {
			return pickOf(w.polls)
		}
		id := w.openPoll(c.campaign)
		w.polls = append(w.polls, id)
		return id
	case "instant_win_id":
		if rnd.IntN(4) == 0 || c.campaign == "" {
			return pickOf(w.wins)
		}
		id := w.openInstantWin(c.campaign)
		w.wins = append(w.wins, id)
		return id
	case "kind":
		c.pathKind = []string{"product", "voucher", "product", "thing"}[rnd.IntN(4)]
		return c.pathKind
	case "item_id":
		items, ok := w.items[c.campaign]
		if !ok {
			items = [2][]string{w.products, w.vouchers}
		}
		var id string
		switch c.pathKind {
		case "product":
			id = pickOf(items[0])
		case "voucher":
			id = pickOf(items[1])
		default:
			return pickOf(w.products)
		}
		if c.campaign != "" && rnd.IntN(4) != 0 {
			// Pinned first, mostly: then the unpin has something to do.
			e.do("POST", "/api/v1/campaigns/"+c.campaign+"/pins", map[string]any{"kind": c.pathKind, "id": id})
		}
		return id
	case "seq_id":
		return "seq_" + strconv.Itoa(rnd.IntN(10))
	}
	t.Fatalf("%s: no value for path parameter %s", op.id, name)
	return ""
}

func (w *contractWorld) headerValue(g *schemaGenerator, c *ccase, p oaParam) string {
	switch p.name {
	case viewerHeader:
		switch r := g.rnd.Float64(); {
		case r < 0.85:
			return w.tokens[g.pick(len(w.tokens))]
		case r < 0.93:
			return w.banned // 403 where the campaign is live
		}
		return "v_x.forged"
	case idempotentHeader:
		if g.chance(0.7) {
			return fmt.Sprintf("ct-key-%d", w.next())
		}
	}
	if v, ok := g.instance(p.schema, 0).(string); ok && v != "" {
		return v
	}
	return fmt.Sprintf("h-%d", w.next())
}

// mediaBody is a valid body of a non-JSON media type.
func (w *contractWorld) mediaBody(t *testing.T, mt string, g *schemaGenerator) (string, []byte) {
	if b, ok := w.media[mt]; ok {
		return mt, b
	}
	if mt == "multipart/form-data" {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		types := mapKeysBytes(w.media)
		ct := types[g.pick(len(types))]
		fw, err := mw.CreateFormFile("file", "upload"+path.Ext(strings.Replace(ct, "image/", "x.", 1)))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(w.media[ct])
		_ = mw.Close()
		return mw.FormDataContentType(), buf.Bytes()
	}
	t.Fatalf("no sample body for %s", mt)
	return "", nil
}

func mapKeysBytes(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// hint supplies realistic members: ids of real objects, currencies the
// server knows, consistent values.
func (w *contractWorld) hint(g *schemaGenerator, c *ccase, comp, name string, s map[string]any) (any, bool) {
	someOf := func(ids []string, most int) []any {
		out := []any{}
		for _, i := range g.rnd.Perm(len(ids))[:g.pick(min(most, len(ids))+1)] {
			out = append(out, ids[i])
		}
		return out
	}
	items := w.items[c.campaign]
	switch name {
	case "product_ids":
		return someOf(w.products, 3), true
	case "voucher_ids":
		return someOf(w.vouchers, 2), true
	case "images":
		return someOf(w.images, 2), true
	case "product_id":
		if len(items[0]) > 0 {
			return items[0][g.pick(len(items[0]))], true
		}
		return w.products[g.pick(len(w.products))], true
	case "currency":
		return []string{"EUR", "USD", "GBP", "JPY"}[g.pick(4)], true
	case "confirm":
		if c.campaign != "" && g.chance(0.9) {
			return c.campaign, true
		}
	case "token":
		if comp == "SignInRequest" {
			return testToken, true
		}
	case "reply_to":
		return w.messages[g.pick(len(w.messages))], true
	case "viewer_id":
		if comp == "BanRequest" {
			id, _ := w.e.api.identity.Issue()
			return id, true
		}
	case "events":
		if comp == "WebhookCreate" {
			if g.chance(0.5) {
				return []any{"*"}, true
			}
			var out []any
			for _, i := range g.rnd.Perm(len(EventTypes))[:1+g.pick(3)] {
				out = append(out, EventTypes[i])
			}
			return out, true
		}
	case "url", "image_url":
		return fmt.Sprintf("https://shop.example.com/p/%d", w.next()), true
	case "notify_before_start":
		return []string{"30m", "1h30m", "0s", "", "2h"}[g.pick(5)], true
	case "discount_value":
		return []string{"10", "12.5", "5", "100"}[g.pick(4)], true
	case "sku", "code":
		return fmt.Sprintf("CT-%s-%d", strings.ToUpper(name), w.next()), true
	case "text":
		if comp == "AnswerRequest" {
			return "Thanks for asking!", true
		}
	}
	return nil, false
}

// fix makes generated objects consistent where members depend on each
// other (dates in order, a pin's kind and id, a viewer action's data).
func (w *contractWorld) fix(g *schemaGenerator, c *ccase, comp string, obj map[string]any) {
	now := g.now
	window := func(future bool) {
		_, hasStart := obj["starts_at"]
		_, hasEnd := obj["ends_at"]
		if !hasStart && !hasEnd {
			return
		}
		start := now.Add(time.Duration(1+g.pick(48)) * time.Hour)
		if !future {
			start = now.Add(-time.Duration(g.pick(3)) * time.Hour)
		}
		if hasStart || comp == "CampaignCreate" {
			obj["starts_at"] = start.Format(time.RFC3339)
		}
		obj["ends_at"] = start.Add(time.Duration(1+g.pick(6)) * time.Hour).Format(time.RFC3339)
	}
	items := w.items[c.campaign]
	switch comp {
	case "CampaignCreate", "CampaignClone":
		window(true)
	case "CampaignPatch":
		if _, ok := obj["starts_at"]; ok {
			window(true)
		} else if _, ok := obj["ends_at"]; ok {
			delete(obj, "ends_at")
		}
	case "OrderCreate":
		// An order is in its campaign's products' currency (else 422): the
		// world's products are all in EUR.
		obj["currency"] = "EUR"
	case "VoucherCreate", "VoucherPatch":
		window(false)
		if obj["discount_type"] == "amount" || obj["min_spend"] != nil {
			obj["currency"] = "EUR"
		}
	case "PinRequest":
		switch obj["kind"] {
		case "product":
			if len(items[0]) > 0 {
				obj["id"] = items[0][g.pick(len(items[0]))]
			}
		case "voucher":
			if len(items[1]) > 0 {
				obj["id"] = items[1][g.pick(len(items[1]))]
			}
		}
	case "ChatSettingsUpdate":
		obj["slow_mode_seconds"] = int64(0)
	case "InboundDoc":
		switch obj["type"] {
		case "chat.send":
			obj["data"] = map[string]any{"text": "Nice boots!", "name": "Ann", "question": g.chance(0.3)}
		case "like":
			delete(obj, "data")
		case "poll.vote":
			obj["data"] = map[string]any{"poll_id": w.polls[len(w.polls)-1], "option": int64(g.pick(2))}
		case "instant_win.enter":
			obj["data"] = map[string]any{"instant_win_id": w.wins[len(w.wins)-1], "name": "Ann"}
		case "survey.answer":
			obj["data"] = map[string]any{"rating": int64(1 + g.pick(5)), "comment": "good"}
		case "share":
			obj["data"] = map[string]any{"network": "link"}
		}
	case "TrackBatch":
		delete(obj, "sent_at")
	case "TrackEvent":
		allowed := map[string][]string{
			"widget.view": {"widget"}, "widget.click": {"widget"}, "teaser.watch": {"duration_ms"},
			"product.click": {"product_id"}, "cart.add": {"product_id", "quantity"}, "cart.create": {"amount", "currency"},
			"purchase": {"amount", "currency", "product_ids", "order_id"}, "share": {"network"}, "alert.open": {"channel"},
			"alert.subscribe": {"channel", "name", "email", "phone", "opt_in"},
		}
		typ, _ := obj["type"].(string)
		for k := range obj {
			if k != "id" && k != "type" && k != "at" && !slices.Contains(allowed[typ], k) {
				delete(obj, k)
			}
		}
		delete(obj, "at")
		switch typ {
		case "widget.view", "widget.click":
			obj["widget"] = []string{"product", "player", "gallery"}[g.pick(3)]
		case "teaser.watch":
			obj["duration_ms"] = int64(1 + g.pick(60000))
		case "product.click", "cart.add":
			obj["product_id"] = w.products[g.pick(len(w.products))]
			if q, ok := obj["quantity"].(int64); ok && q < 1 {
				obj["quantity"] = int64(1)
			}
		case "cart.create", "purchase":
			obj["amount"], obj["currency"] = "19.90", "EUR"
		case "alert.subscribe":
			obj["channel"] = []string{"sms", "calendar"}[g.pick(2)]
		}
	}
}

// TestContractChecker: the checks of TestContractOperations catch what
// they are meant to.
func TestContractChecker(t *testing.T) {
	e := newEnv(t)
	doc, err := parseOADoc(e.api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	ops, err := contractOps(doc)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ops, func(op *contractOp) bool { return op.id == "getWebhook" })
	if i < 0 {
		t.Fatal("no getWebhook")
	}
	op := ops[i]
	cr := &contractRunner{e: e, doc: doc, cursors: map[string][]string{}}
	jsonHeader := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	good := `{"id":"wh_1","url":"https://x.example.com","events":["*"],"created_at":"2026-11-22T09:00:00Z"}`
	for _, tc := range []struct {
		name    string
		c       ccase
		status  int
		header  http.Header
		body    string
		problem string // "" for none
	}{
		{"documented", ccase{}, 200, jsonHeader, good, ""},
		{"error", ccase{}, 404, jsonHeader, `{"error":{"code":"not_found","message":"no webhook"}}`, ""},
		{"undocumented status", ccase{}, 418, jsonHeader, `{"error":{"code":"x","message":"y"}}`, "not documented"},
		{"server error", ccase{}, 500, jsonHeader, `{"error":{"code":"internal_error","message":"bug"}}`, "server error"},
		{"missing member", ccase{}, 200, jsonHeader, `{"id":"wh_1","url":"https://x.example.com","events":["*"]}`, "lacks required member"},
		{"wrong type", ccase{}, 200, jsonHeader, strings.Replace(good, `["*"]`, `"*"`, 1), "is string, want array"},
		{"undocumented member", ccase{}, 200, jsonHeader, strings.Replace(good, `{`, `{"secret":"s",`, 1), "does not document"},
		{"null list", ccase{}, 200, jsonHeader, strings.Replace(good, `["*"]`, `null`, 1), "is null"},
		{"not JSON", ccase{}, 200, jsonHeader, `<html>`, "not JSON"},
		{"other type", ccase{}, 200, http.Header{"Content-Type": {"text/html"}}, `<html>`, "Content-Type"},
		{"error without code", ccase{}, 404, jsonHeader, `{"error":{"message":"no webhook"}}`, "code"},
		{"error as text", ccase{}, 404, http.Header{"Content-Type": {"text/plain"}}, `404 page not found`, "Content-Type"},
		{"invalid request accepted", ccase{invalid: true}, 200, jsonHeader, good, "invalid request answered 200"},
		{"not the status wanted", ccase{want: 401}, 404, jsonHeader, `{"error":{"code":"not_found","message":"x"}}`, "want 401"},
	} {
		problems := cr.check(op, &tc.c, &resp{Status: tc.status, Header: tc.header, Body: []byte(tc.body)})
		switch {
		case tc.problem == "" && len(problems) > 0:
			t.Errorf("%s: problems %v", tc.name, problems)
		case tc.problem != "" && !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.problem) }):
			t.Errorf("%s: problems %v, want one with %q", tc.name, problems, tc.problem)
		}
	}
}
