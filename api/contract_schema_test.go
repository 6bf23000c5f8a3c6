package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// The JSON Schema side of the contract test (contract_gen_test.go): a
// reader of the OpenAPI document's schemas, a validator for the subset of
// JSON Schema 2020-12 the document uses, a generator of valid instances and
// the mutations that make an instance invalid. No dependency: the document
// uses type (a name or a list with "null"), $ref, anyOf, const, enum,
// properties, required, additionalProperties, items, minItems, maxItems,
// minLength, maxLength, pattern, minimum, maximum and format (date-time,
// uri, uri-reference, int64); the validator and the generator know those
// and ignore annotations (description, examples, default).

// oaDoc is the decoded OpenAPI document.
type oaDoc struct {
	raw     map[string]any
	schemas map[string]any // components.schemas
}

func parseOADoc(b []byte) (*oaDoc, error) {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	comps, _ := raw["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	if schemas == nil {
		return nil, fmt.Errorf("no components.schemas")
	}
	return &oaDoc{raw: raw, schemas: schemas}, nil
}

// deref follows $ref (one or more) and returns the schema and, when it
// came from a component, the component's name.
func (d *oaDoc) deref(s map[string]any) (map[string]any, string) {
	name := ""
	for i := 0; i < 16; i++ {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s, name
		}
		name = strings.TrimPrefix(ref, "#/components/schemas/")
		next, ok := d.schemas[name].(map[string]any)
		if !ok {
			return map[string]any{"not": "unresolved " + ref}, name
		}
		s = next
	}
	return s, name
}

// schemaTypes lists the JSON types a schema allows; nil: any.
func schemaTypes(s map[string]any) []string {
	switch t := s["type"].(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, 0, len(t))
		for _, x := range t {
			if str, ok := x.(string); ok {
				out = append(out, str)
			}
		}
		return out
	}
	return nil
}

func nonNullTypes(s map[string]any) []string {
	return slices.DeleteFunc(schemaTypes(s), func(t string) bool { return t == "null" })
}

func allowsNull(d *oaDoc, s map[string]any) bool {
	s, _ = d.deref(s)
	if branches, ok := s["anyOf"].([]any); ok {
		for _, b := range branches {
			if bm, ok := b.(map[string]any); ok && allowsNull(d, bm) {
				return true
			}
		}
		return false
	}
	ts := schemaTypes(s)
	return ts == nil || slices.Contains(ts, "null")
}

func num(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func intKeyword(s map[string]any, k string) (int, bool) {
	f, ok := num(s[k])
	return int(f), ok
}

// ---- validation ----

var patternCache sync.Map // string -> *regexp.Regexp

func compiledPattern(p string) (*regexp.Regexp, error) {
	if re, ok := patternCache.Load(p); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	patternCache.Store(p, re)
	return re, nil
}

// jsonType names the JSON type of a value decoded with UseNumber (or
// built by the generator).
func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		if f, err := x.Float64(); err == nil && f == math.Trunc(f) && !strings.ContainsAny(string(x), ".") {
			return "integer"
		}
		return "number"
	case int, int64:
		return "integer"
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func typeAllows(types []string, jt string) bool {
	return slices.Contains(types, jt) || (jt == "integer" && slices.Contains(types, "number"))
}

// validate checks v against s and returns every violation, each prefixed
// with its JSON path. strict also reports object members a schema does
// not name (the document's response schemas do not forbid them, but the
// API is generated from its types and should not write any).
func (d *oaDoc) validate(s map[string]any, v any, path string, strict bool) []string {
	var errs []string
	d.check(s, v, path, strict, &errs, 0)
	return errs
}

func (d *oaDoc) check(s map[string]any, v any, path string, strict bool, errs *[]string, depth int) {
	if depth > 64 {
		*errs = append(*errs, path+": schema too deep")
		return
	}
	s, _ = d.deref(s)
	fail := func(format string, args ...any) {
		*errs = append(*errs, pathName(path)+": "+fmt.Sprintf(format, args...))
	}
	if branches, ok := s["anyOf"].([]any); ok {
		matched := false
		var first []string
		for _, b := range branches {
			bm, _ := b.(map[string]any)
			var be []string
			d.check(bm, v, path, strict, &be, depth+1)
			if len(be) == 0 {
				matched = true
				break
			}
			if first == nil {
				first = be
			}
		}
		if !matched {
			fail("matches no anyOf branch (first: %s)", strings.Join(first, "; "))
		}
	}
	if c, ok := s["const"]; ok && !jsonEqual(c, v) {
		fail("must be %v", c)
	}
	if enum, ok := s["enum"].([]any); ok && v != nil {
		if !slices.ContainsFunc(enum, func(e any) bool { return jsonEqual(e, v) }) {
			fail("%s is not one of %v", clipValue(v), enum)
		}
	}
	jt := jsonType(v)
	if types := schemaTypes(s); types != nil && !typeAllows(types, jt) {
		fail("is %s, want %s", jt, strings.Join(types, " or "))
		return
	}
	switch x := v.(type) {
	case string:
		n := utf8.RuneCountInString(x)
		if m, ok := intKeyword(s, "minLength"); ok && n < m {
			fail("has %d characters, at least %d", n, m)
		}
		if m, ok := intKeyword(s, "maxLength"); ok && n > m {
			fail("has %d characters, at most %d", n, m)
		}
		if p, ok := s["pattern"].(string); ok {
			if re, err := compiledPattern(p); err != nil {
				fail("bad pattern %q in the document: %v", p, err)
			} else if !re.MatchString(x) {
				fail("%s does not match %s", clipValue(x), p)
			}
		}
		switch s["format"] {
		case "date-time":
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				fail("%s is not a date-time", clipValue(x))
			}
		case "uri":
			if u, err := url.Parse(x); err != nil || !u.IsAbs() {
				fail("%s is not an absolute URI", clipValue(x))
			}
		case "uri-reference":
			if _, err := url.Parse(x); err != nil {
				fail("%s is not a URI reference", clipValue(x))
			}
		}
	case json.Number, int, int64, float64:
		f, _ := num(x)
		if m, ok := num(s["minimum"]); ok && f < m {
			fail("%v is less than the minimum %v", f, m)
		}
		if m, ok := num(s["maximum"]); ok && f > m {
			fail("%v is more than the maximum %v", f, m)
		}
	case []any:
		if m, ok := intKeyword(s, "minItems"); ok && len(x) < m {
			fail("has %d items, at least %d", len(x), m)
		}
		if m, ok := intKeyword(s, "maxItems"); ok && len(x) > m {
			fail("has %d items, at most %d", len(x), m)
		}
		if items, ok := s["items"].(map[string]any); ok {
			for i, el := range x {
				d.check(items, el, path+"["+strconv.Itoa(i)+"]", strict, errs, depth+1)
			}
		}
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				name, _ := r.(string)
				if _, ok := x[name]; !ok {
					fail("lacks required member %q", name)
				}
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			el := x[k]
			if ps, ok := props[k].(map[string]any); ok {
				d.check(ps, el, joinPath(path, k), strict, errs, depth+1)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					fail("has member %q, which the schema does not allow", k)
				}
			case map[string]any:
				d.check(ap, el, joinPath(path, k), strict, errs, depth+1)
			case nil:
				if strict && props != nil {
					fail("has member %q, which the schema does not document", k)
				}
			}
		}
	}
}

func pathName(p string) string {
	if p == "" {
		return "(body)"
	}
	return p
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func clipValue(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return s
}

func jsonEqual(a, b any) bool {
	na, aNum := num(a)
	nb, bNum := num(b)
	if aNum && bNum {
		return na == nb
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// decodeJSONValue decodes with json.Number, so that integers stay
// distinguishable from numbers.
func decodeJSONValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

// ---- generation ----

// schemaGenerator makes instances of the document's schemas. hint, when
// set, may supply a realistic value for a member (an id of a real object,
// a consistent pair of dates): component is the schema's component name
// ("" inline), name the member's; it is consulted with probability
// realism, so that plain schema-made values are sent too. fix, when set,
// makes a generated object of a component consistent (members that
// depend on each other).
type schemaGenerator struct {
	doc     *oaDoc
	rnd     *rand.Rand
	now     time.Time
	realism float64
	hint    func(g *schemaGenerator, component, name string, s map[string]any) (any, bool)
	fix     func(g *schemaGenerator, component string, obj map[string]any)
}

func (g *schemaGenerator) chance(p float64) bool { return g.rnd.Float64() < p }

func (g *schemaGenerator) pick(n int) int { return g.rnd.IntN(n) }

// instance makes a value valid against s.
func (g *schemaGenerator) instance(s map[string]any, depth int) any {
	s, comp := g.doc.deref(s)
	if branches, ok := s["anyOf"].([]any); ok && len(branches) > 0 {
		var choices []map[string]any
		var null map[string]any
		for _, b := range branches {
			bm, _ := b.(map[string]any)
			if slices.Equal(schemaTypes(bm), []string{"null"}) {
				null = bm
				continue
			}
			choices = append(choices, bm)
		}
		if null != nil && (len(choices) == 0 || g.chance(0.1)) {
			return nil
		}
		return g.instance(choices[g.pick(len(choices))], depth+1)
	}
	if c, ok := s["const"]; ok {
		return c
	}
	types := schemaTypes(s)
	if slices.Contains(types, "null") && (len(types) == 1 || g.chance(0.1)) {
		return nil
	}
	if enum, ok := s["enum"].([]any); ok && len(enum) > 0 {
		return enum[g.pick(len(enum))]
	}
	nn := nonNullTypes(s)
	typ := ""
	switch {
	case len(nn) > 0:
		typ = nn[g.pick(len(nn))]
	case s["properties"] != nil:
		typ = "object"
	case s["items"] != nil:
		typ = "array"
	default: // any value
		typ = []string{"string", "integer", "boolean"}[g.pick(3)]
	}
	switch typ {
	case "object":
		return g.object(s, comp, depth)
	case "array":
		return g.array(s, comp, "", depth)
	case "string":
		return g.str(s)
	case "integer":
		return g.integer(s)
	case "number":
		lo, hi := g.bounds(s, -1000, 1000)
		return math.Round((lo+g.rnd.Float64()*(hi-lo))*100) / 100
	case "boolean":
		return g.chance(0.5)
	}
	return nil
}

func (g *schemaGenerator) object(s map[string]any, comp string, depth int) map[string]any {
	obj := map[string]any{}
	props, _ := s["properties"].(map[string]any)
	req := map[string]bool{}
	if rs, ok := s["required"].([]any); ok {
		for _, r := range rs {
			name, _ := r.(string)
			req[name] = true
		}
	}
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		if !req[name] && (depth > 6 || !g.chance(0.5)) {
			continue
		}
		ps, _ := props[name].(map[string]any)
		if g.hint != nil && g.chance(g.realism) {
			if v, ok := g.hint(g, comp, name, ps); ok {
				obj[name] = v
				continue
			}
		}
		obj[name] = g.instance(ps, depth+1)
	}
	if ap, ok := s["additionalProperties"].(map[string]any); ok && depth < 6 {
		for i, n := 0, g.pick(3); i < n; i++ {
			obj["k"+strconv.Itoa(i)] = g.instance(ap, depth+1)
		}
	}
	if g.fix != nil && comp != "" {
		g.fix(g, comp, obj)
	}
	return obj
}

func (g *schemaGenerator) array(s map[string]any, comp, name string, depth int) []any {
	lo, _ := intKeyword(s, "minItems")
	hi, ok := intKeyword(s, "maxItems")
	if !ok || hi > lo+4 {
		hi = lo + 4
	}
	if depth > 6 {
		hi = lo
	}
	n := lo + g.pick(hi-lo+1)
	items, _ := s["items"].(map[string]any)
	out := make([]any, 0, n)
	for range n {
		out = append(out, g.instance(items, depth+1))
	}
	return out
}

func (g *schemaGenerator) bounds(s map[string]any, lo, hi float64) (float64, float64) {
	if m, ok := num(s["minimum"]); ok {
		lo = m
		if hi < lo {
			hi = lo + 1000
		}
	}
	if m, ok := num(s["maximum"]); ok {
		hi = m
		if lo > hi {
			lo = hi - 1000
		}
	}
	return lo, hi
}

// extremeInts are valid for an integer without bounds, and sometimes
// sent to one.
var extremeInts = []int64{-1, 1 << 31, 1 << 53, math.MaxInt64, math.MinInt64}

// extremeTimes are valid date-times far from the usual.
var extremeTimes = []string{"0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "1970-01-01T00:00:00Z",
	"2026-11-22T09:00:00+14:00", "2026-11-22T09:00:00.123456789-05:30", "2000-02-29T00:00:00Z"}

func (g *schemaGenerator) integer(s map[string]any) int64 {
	if s["minimum"] == nil && s["maximum"] == nil && g.chance(0.05) {
		return extremeInts[g.pick(len(extremeInts))]
	}
	lo, hi := g.bounds(s, 0, 1000)
	switch r := g.rnd.Float64(); {
	case r < 0.2:
		return int64(lo)
	case r < 0.35:
		return int64(hi)
	case r < 0.7 && hi-lo > 10:
		return int64(lo) + g.rnd.Int64N(10)
	}
	span := hi - lo
	if span > 1<<40 {
		span = 1 << 40
	}
	return int64(lo) + g.rnd.Int64N(int64(span)+1)
}

var genWords = []string{"boots", "winter", "coat", "Sale", "live", "été", "日本", "red", "x", "42", "déjà-vu", "O'Neil", "50%", "a&b"}

func (g *schemaGenerator) str(s map[string]any) string {
	minL, _ := intKeyword(s, "minLength")
	maxL, hasMax := intKeyword(s, "maxLength")
	if !hasMax {
		maxL = minL + 40
	}
	fits := func(x string) bool {
		n := utf8.RuneCountInString(x)
		return n >= minL && n <= maxL
	}
	if p, ok := s["pattern"].(string); ok {
		for range 8 {
			if x, ok := genPattern(g.rnd, p); ok && fits(x) {
				return x
			}
		}
	}
	switch s["format"] {
	case "date-time":
		if g.chance(0.05) {
			return extremeTimes[g.pick(len(extremeTimes))]
		}
		return g.now.Add(time.Duration(g.rnd.IntN(72*60)-60) * time.Minute).Format(time.RFC3339)
	case "uri", "uri-reference":
		return "https://shop.example.com/p/" + strconv.Itoa(g.pick(100000))
	}
	if ex, ok := s["examples"].([]any); ok && len(ex) > 0 && g.chance(0.5) {
		if x, ok := ex[g.pick(len(ex))].(string); ok && fits(x) {
			return x
		}
	}
	// Words, no space at either end; the length within bounds.
	target := minL + g.pick(min(maxL-minL, 24)+1)
	if g.chance(0.05) {
		target = maxL // the longest allowed
	}
	var b []rune
	for len(b) < target {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, []rune(genWords[g.pick(len(genWords))])...)
	}
	b = b[:target]
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b[len(b)-1] = 'z'
	}
	return string(b)
}

// genPattern makes a string matching pattern from its syntax tree; false
// when the pattern uses what it does not know or the result does not
// match.
func genPattern(rnd *rand.Rand, pattern string) (string, bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	if !genRegexp(rnd, re, &b, 0) {
		return "", false
	}
	cre, err := compiledPattern(pattern)
	if err != nil || !cre.MatchString(b.String()) {
		return "", false
	}
	return b.String(), true
}

func genRegexp(rnd *rand.Rand, re *syntax.Regexp, b *strings.Builder, depth int) bool {
	if depth > 100 {
		return false
	}
	repeat := func(lo, hi int) bool {
		if hi < 0 {
			hi = lo + 3
		}
		n := lo
		if hi > lo {
			span := hi - lo
			if span > 8 && rnd.Float64() < 0.8 {
				span = 8 // mostly short; sometimes up to the bound
			}
			n += rnd.IntN(span + 1)
		}
		for range n {
			if !genRegexp(rnd, re.Sub[0], b, depth+1) {
				return false
			}
		}
		return true
	}
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	case syntax.OpLiteral:
		b.WriteString(string(re.Rune))
		return true
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return false
		}
		// Prefer printable ASCII where the class has some.
		type span struct{ lo, hi rune }
		var ascii, all []span
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			all = append(all, span{lo, hi})
			if l, h := max(lo, 0x21), min(hi, 0x7e); l <= h {
				ascii = append(ascii, span{l, h})
			}
		}
		spans := all
		if len(ascii) > 0 {
			spans = ascii
		}
		sp := spans[rnd.IntN(len(spans))]
		b.WriteRune(sp.lo + rune(rnd.IntN(int(sp.hi-sp.lo)+1)))
		return true
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		b.WriteByte("abcdefghijklmnopqrstuvwxyz0123456789"[rnd.IntN(36)])
		return true
	case syntax.OpCapture:
		return genRegexp(rnd, re.Sub[0], b, depth+1)
	case syntax.OpStar:
		return repeat(0, 3)
	case syntax.OpPlus:
		return repeat(1, 4)
	case syntax.OpQuest:
		return repeat(0, 1)
	case syntax.OpRepeat:
		return repeat(re.Min, re.Max)
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if !genRegexp(rnd, sub, b, depth+1) {
				return false
			}
		}
		return true
	case syntax.OpAlternate:
		return genRegexp(rnd, re.Sub[rnd.IntN(len(re.Sub))], b, depth+1)
	}
	return false
}

// ---- mutations ----

// mutation is one way to make a valid instance invalid; apply returns
// the mutated copy and what it did, or false when the instance has
// nothing it applies to.
type mutation struct {
	name  string
	apply func(g *schemaGenerator, s map[string]any, v any) (any, string, bool)
}

// member is an object member reachable from the top of an instance, with
// its schema, for the mutations to pick from.
type member struct {
	path   []any // keys (string) and indexes (int) from the top
	schema map[string]any
	parent map[string]any // the schema of the object holding it
	value  any
}

// members lists the members of v (objects within objects and arrays, up
// to a few levels), the top object itself not included.
func (g *schemaGenerator) members(s map[string]any, v any, path []any, out *[]member, depth int) {
	if depth > 4 {
		return
	}
	s, _ = g.doc.deref(s)
	if branches, ok := s["anyOf"].([]any); ok {
		for _, b := range branches {
			bm, _ := b.(map[string]any)
			if len(g.doc.validate(bm, v, "", false)) == 0 {
				g.members(bm, v, path, out, depth)
				return
			}
		}
		return
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ps, ok := props[k].(map[string]any)
			if !ok {
				continue
			}
			p := append(slices.Clone(path), k)
			*out = append(*out, member{path: p, schema: ps, parent: s, value: x[k]})
			g.members(ps, x[k], p, out, depth+1)
		}
	case []any:
		items, _ := s["items"].(map[string]any)
		for i, el := range x {
			g.members(items, el, append(slices.Clone(path), i), out, depth+1)
		}
	}
}

// objects lists the objects within v (v included) with their schemas.
func (g *schemaGenerator) objects(s map[string]any, v any) []member {
	var all []member
	if top, ok := v.(map[string]any); ok {
		all = append(all, member{schema: s, value: top})
	}
	var ms []member
	g.members(s, v, nil, &ms, 0)
	for _, m := range ms {
		if _, ok := m.value.(map[string]any); ok {
			all = append(all, m)
		}
	}
	return all
}

// deepCopy copies a generated instance.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, el := range x {
			out[k] = deepCopy(el)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = deepCopy(el)
		}
		return out
	}
	return v
}

// setAt replaces (or, with del, removes) the value at path in root.
func setAt(root any, path []any, val any, del bool) any {
	if len(path) == 0 {
		return val
	}
	switch x := root.(type) {
	case map[string]any:
		k := path[0].(string)
		if len(path) == 1 {
			if del {
				delete(x, k)
			} else {
				x[k] = val
			}
			return x
		}
		x[k] = setAt(x[k], path[1:], val, del)
	case []any:
		i := path[0].(int)
		x[i] = setAt(x[i], path[1:], val, del)
	}
	return root
}

func pathString(p []any) string {
	var b strings.Builder
	for _, el := range p {
		switch x := el.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(x)
		case int:
			fmt.Fprintf(&b, "[%d]", x)
		}
	}
	return b.String()
}

func (g *schemaGenerator) pickMember(s map[string]any, v any, ok func(m member) bool) (member, bool) {
	var ms []member
	g.members(s, v, nil, &ms, 0)
	ms = slices.DeleteFunc(ms, func(m member) bool { return !ok(m) })
	if len(ms) == 0 {
		return member{}, false
	}
	return ms[g.pick(len(ms))], true
}

func (g *schemaGenerator) pickObject(s map[string]any, v any, ok func(m member) bool) (member, bool) {
	objs := slices.DeleteFunc(g.objects(s, v), func(m member) bool { return !ok(m) })
	if len(objs) == 0 {
		return member{}, false
	}
	return objs[g.pick(len(objs))], true
}

func resolvedKeyword(d *oaDoc, s map[string]any, k string) (any, map[string]any) {
	s, _ = d.deref(s)
	if branches, ok := s["anyOf"].([]any); ok {
		for _, b := range branches {
			bm, _ := b.(map[string]any)
			if v, bs := resolvedKeyword(d, bm, k); v != nil {
				return v, bs
			}
		}
	}
	return s[k], s
}

// bodyMutations are the invalid variants of a JSON body. Each result
// violates the schema; the contract test checks that with the validator
// before it expects a refusal.
var bodyMutations = []mutation{
	{"required member removed", func(g *schemaGenerator, s map[string]any, v any) (any, string, bool) {
		o, ok := g.pickObject(s, v, func(m member) bool {
			req, _ := resolvedKeyword(g.doc, m.schema, "required")
			r, _ := req.([]any)
			return len(r) > 0
		})
		if !ok {
			return nil, "", false
		}
		req, _ := resolvedKeyword(g.doc, o.schema, "required")
		r := req.([]any)
		name := r[g.pick(len(r))].(string)
		return setAt(v, append(o.path, name), nil, true), "removed " + pathString(append(o.path, name)), true
	}},
	{"required member null", func(g *schemaGenerator, s map[string]any, v any) (any, string, bool) {
		o, ok := g.pickObject(s, v, func(m member) bool {
			req, rs := resolvedKeyword(g.doc, m.schema, "required")
			r, _ := req.([]any)
			props, _ := rs["properties"].(map[string]any)
			for _, name := range r {
				if ps, ok := props[name.(string)].(map[string]any); ok && !allowsNull(g.doc, ps) {
					return true
				}
			}
			return false
		})
		if !ok {
			return nil, "", false
		}
		req, rs := resolvedKeyword(g.doc, o.schema, "required")
		props, _ := rs["properties"].(map[string]any)
		var names []string
		for _, name := range req.([]any) {
			if ps, ok := props[name.(string)].(map[string]any); ok && !allowsNull(g.doc, ps) {
				names = append(names, name.(string))
			}
		}
		p := append(o.path, names[g.pick(len(names))])
		return setAt(v, p, nil, false), "null " + pathString(p), true
	}},
	{"wrong type", func(g *schemaGenerator, s map[string]any, v any) (any, string, bool) {
		m, ok := g.pickMember(s, v, func(m member) bool { return wrongValue(g.doc, m.schema) != nil })
		if !ok {
			return nil, "", false
		}
		w := wrongValue(g.doc, m.schema)
		return setAt(v, m.path, w, false), fmt.Sprintf("%s = %s", pathString(m.path), clipValue(w)), true
	}},
	{"out of range", func(g *schemaGenerator, s map[string]any, v any) (any, string, bool) {
		m, ok := g.pickMember(s, v, func(m member) bool {
			lo, _ := resolvedKeyword(g.doc, m.schema, "minimum")
			hi, _ := resolvedKeyword(g.doc, m.schema, "maximum")
			return lo != nil || hi != nil
		})
		if !ok {
			return nil, "", false
		}
		lo, _ := resolvedKeyword(g.doc, m.schema, "minimum")
		hi, _ := resolvedKeyword(g.doc, m.schema, "maximum")
		var w int64
		if l, ok := num(lo); ok && (hi == nil || g.chance(0.5)) {
			w = int64(l) - 1 - g.rnd.Int64N(3)
		} else {
			h, _ := num(hi)
			w = int64(h) + 1 + g.rnd.Int64N(3)
		}
		return setAt(v, m.path, w, false), fmt.Sprintf("%s = %d", pathString(m.path), w), true
	}},
	{"unknown member", func(g *schemaGenerator, s map[string]any, v any) (any, string, bool) {
		o, ok := g.pickObject(s, v, func(m member) bool {
			ap, _ := resolvedKeyword(g.doc, m.schema, "additionalProperties")
			return ap == false
		})
		if !ok {
			return nil, "", false
		}
		name := []string{"zz_unknown", "extra", "id", "created_at", "Title", "status"}[g.pick(6)]
		_, rs := resolvedKeyword(g.doc, o.schema, "properties")
		props, _ := rs["properties"].(map[string]any)
		if _, known := props[name]; known {
			name = "zz_unknown"
		}
		return setAt(v, append(o.path, name), 1, false), "added " + pathString(append(o.path, name)), true
	}},
	{"member name in another case", func(g *schemaGenerator, s map[string]any, v any) (any, string, bool) {
		m, ok := g.pickMember(s, v, func(m member) bool {
			ap, _ := resolvedKeyword(g.doc, m.parent, "additionalProperties")
			k, _ := m.path[len(m.path)-1].(string)
			return ap == false && k != "" && strings.ToUpper(k) != k
		})
		if !ok {
			return nil, "", false
		}
		k := m.path[len(m.path)-1].(string)
		parent := m.path[:len(m.path)-1]
		v = setAt(v, m.path, nil, true)
		up := strings.ToUpper(k[:1]) + k[1:]
		return setAt(v, append(slices.Clone(parent), up), m.value, false), "renamed " + pathString(m.path) + " to " + up, true
	}},
	{"too long", func(g *schemaGenerator, s map[string]any, v any) (any, string, bool) {
		m, ok := g.pickMember(s, v, func(m member) bool {
			ml, _ := resolvedKeyword(g.doc, m.schema, "maxLength")
			mi, _ := resolvedKeyword(g.doc, m.schema, "maxItems")
			_, isStr := m.value.(string)
			_, isArr := m.value.([]any)
			return (ml != nil && isStr) || (mi != nil && isArr)
		})
		if !ok {
			return nil, "", false
		}
		if _, isStr := m.value.(string); isStr {
			ml, _ := resolvedKeyword(g.doc, m.schema, "maxLength")
			n, _ := num(ml)
			long := strings.Repeat("é", int(n)+1+g.pick(5))
			return setAt(v, m.path, long, false), fmt.Sprintf("%s has %d characters", pathString(m.path), utf8.RuneCountInString(long)), true
		}
		mi, ss := resolvedKeyword(g.doc, m.schema, "maxItems")
		n, _ := num(mi)
		items, _ := ss["items"].(map[string]any)
		arr := slices.Clone(m.value.([]any))
		for len(arr) <= int(n) {
			arr = append(arr, g.instance(items, 3))
		}
		return setAt(v, m.path, arr, false), fmt.Sprintf("%s has %d items", pathString(m.path), len(arr)), true
	}},
	{"too short", func(g *schemaGenerator, s map[string]any, v any) (any, string, bool) {
		m, ok := g.pickMember(s, v, func(m member) bool {
			ml, _ := resolvedKeyword(g.doc, m.schema, "minLength")
			mi, _ := resolvedKeyword(g.doc, m.schema, "minItems")
			_, isStr := m.value.(string)
			_, isArr := m.value.([]any)
			n1, _ := num(ml)
			n2, _ := num(mi)
			return (n1 > 0 && isStr) || (n2 > 0 && isArr)
		})
		if !ok {
			return nil, "", false
		}
		if _, isStr := m.value.(string); isStr {
			return setAt(v, m.path, "", false), pathString(m.path) + ` = ""`, true
		}
		return setAt(v, m.path, []any{}, false), pathString(m.path) + " = []", true
	}},
	{"not in enum", func(g *schemaGenerator, s map[string]any, v any) (any, string, bool) {
		m, ok := g.pickMember(s, v, func(m member) bool {
			e, _ := resolvedKeyword(g.doc, m.schema, "enum")
			return e != nil
		})
		if !ok {
			return nil, "", false
		}
		e, _ := resolvedKeyword(g.doc, m.schema, "enum")
		cands := slices.DeleteFunc([]string{"not_a_choice", "", "PRODUCT", "percent "}, func(w string) bool {
			return slices.ContainsFunc(e.([]any), func(x any) bool { return x == w })
		})
		w := cands[g.pick(len(cands))]
		return setAt(v, m.path, w, false), fmt.Sprintf("%s = %q", pathString(m.path), w), true
	}},
	{"pattern mismatch", func(g *schemaGenerator, s map[string]any, v any) (any, string, bool) {
		m, ok := g.pickMember(s, v, func(m member) bool {
			p, _ := resolvedKeyword(g.doc, m.schema, "pattern")
			return p != nil
		})
		if !ok {
			return nil, "", false
		}
		p, _ := resolvedKeyword(g.doc, m.schema, "pattern")
		re, err := compiledPattern(p.(string))
		if err != nil {
			return nil, "", false
		}
		for _, w := range []string{"!bad value!", " ", "x y", "12,5", "eur", "-1", "\u00e9\u00e9\u00e9"} {
			if !re.MatchString(w) {
				return setAt(v, m.path, w, false), fmt.Sprintf("%s = %q (pattern %s)", pathString(m.path), w, p), true
			}
		}
		return nil, "", false
	}},
	{"bad date-time", func(g *schemaGenerator, s map[string]any, v any) (any, string, bool) {
		m, ok := g.pickMember(s, v, func(m member) bool {
			f, _ := resolvedKeyword(g.doc, m.schema, "format")
			return f == "date-time"
		})
		if !ok {
			return nil, "", false
		}
		w := []string{"tomorrow", "2026-13-01T00:00:00Z", "2026-11-22 10:00:00", "1763805600"}[g.pick(4)]
		return setAt(v, m.path, w, false), fmt.Sprintf("%s = %q", pathString(m.path), w), true
	}},
}

// wrongValue is a value of a JSON type s does not allow; nil when s
// allows any.
func wrongValue(d *oaDoc, s map[string]any) any {
	s, _ = d.deref(s)
	var types []string
	if branches, ok := s["anyOf"].([]any); ok {
		for _, b := range branches {
			bm, _ := b.(map[string]any)
			bm, _ = d.deref(bm)
			ts := schemaTypes(bm)
			if ts == nil {
				if bm["properties"] != nil {
					ts = []string{"object"}
				} else {
					return nil
				}
			}
			types = append(types, ts...)
		}
	} else {
		types = schemaTypes(s)
	}
	if types == nil {
		return nil
	}
	for _, c := range []struct {
		typ string
		v   any
	}{{"string", 12}, {"integer", "7"}, {"boolean", "yes"}, {"array", map[string]any{}}, {"object", []any{"x"}}, {"number", "1.5"}} {
		if slices.Contains(types, c.typ) && !typeAllows(types, jsonType(c.v)) {
			return c.v
		}
	}
	if slices.Contains(types, "integer") {
		return 1.5
	}
	return nil
}

// ---- a check of the tools themselves ----

// TestContractSchemaTools: the generator's instances of every request
// schema validate, and every mutation's result does not.
func TestContractSchemaTools(t *testing.T) {
	e := newEnv(t)
	doc, err := parseOADoc(e.api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	g := &schemaGenerator{doc: doc, rnd: rand.New(rand.NewPCG(1, 2)), now: t0}
	for _, p := range []string{`^v_[0-9a-hjkmnp-tv-z]{1,40}$`, `^[!-~]{1,255}$`, `^\+[1-9]\d{6,14}$`, `^\d{1,10}(\.\d{1,4})?$`,
		`^([A-Z]{3})?$`, `^(\d{1,10}(\.\d{1,4})?)?$`, `^[A-Za-z0-9_-]{8,64}$`, `a|b+c*`} {
		for range 50 {
			if _, ok := genPattern(g.rnd, p); !ok {
				t.Fatalf("pattern %s: no string generated", p)
			}
		}
	}
	names := make([]string, 0, len(doc.schemas))
	for name := range doc.schemas {
		names = append(names, name)
	}
	slices.Sort(names)
	mutated := 0
	for _, name := range names {
		s := map[string]any{"$ref": "#/components/schemas/" + name}
		for range 20 {
			v := g.instance(s, 0)
			if errs := doc.validate(s, v, "", false); len(errs) > 0 {
				t.Fatalf("%s: generated %s, invalid: %v", name, clipValue(v), errs)
			}
			for _, m := range bodyMutations {
				w, what, ok := m.apply(g, s, deepCopy(v))
				if !ok {
					continue
				}
				mutated++
				if len(doc.validate(s, w, "", false)) == 0 {
					t.Fatalf("%s: mutation %s (%s) left it valid: %s", name, m.name, what, clipValue(w))
				}
			}
		}
	}
	if mutated == 0 {
		t.Fatal("no mutation applied")
	}
	// The validator itself.
	obj := map[string]any{"type": "object", "required": []any{"a"}, "additionalProperties": false,
		"properties": map[string]any{"a": map[string]any{"type": []any{"integer", "null"}, "minimum": 1.0},
			"b": map[string]any{"type": "array", "items": map[string]any{"type": "string", "enum": []any{"x"}}}}}
	for _, tc := range []struct {
		json  string
		valid bool
	}{
		{`{"a": 1}`, true}, {`{"a": null, "b": ["x"]}`, true}, {`{}`, false}, {`{"a": 0}`, false}, {`{"a": 1.5}`, false},
		{`{"a": 1, "c": 1}`, false}, {`{"a": 1, "b": ["y"]}`, false}, {`{"a": "1"}`, false}, {`[]`, false},
	} {
		v, err := decodeJSONValue([]byte(tc.json))
		if err != nil {
			t.Fatal(err)
		}
		if errs := doc.validate(obj, v, "", false); (len(errs) == 0) != tc.valid {
			t.Errorf("%s: valid %v, errors %v", tc.json, tc.valid, errs)
		}
	}
}
