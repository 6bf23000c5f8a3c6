package api

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// What the schema says of a body that encoding/json does not check by
// itself. Decoding leaves an absent member at its zero value: without the
// check below a client that forgets a required field (or sends it as
// null) gets a silent default, and a PUT that carries half a document
// turns the other half off. The rules come from the same struct tags the
// OpenAPI document is generated from (required:"true"), so the two agree.

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	marshalerType       = reflect.TypeFor[json.Marshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
)

// bodyField is one member of a request object.
type bodyField struct {
	name     string
	required bool
	nullable bool         // a pointer, map, interface: null means something
	nested   reflect.Type // a struct type the member holds (or holds a list of); nil: none to walk
	list     bool         // nested is the element type of an array
}

var bodyFieldCache sync.Map // reflect.Type -> []bodyField

// bodyFields lists the JSON members of struct type t the way encoding/json
// and schemaGen.fields see them (embedded structs flattened).
func bodyFields(t reflect.Type) []bodyField {
	if fs, ok := bodyFieldCache.Load(t); ok {
		return fs.([]bodyField)
	}
	var fs []bodyField
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			bf := bodyField{name: name, required: f.Tag.Get("required") == "true"}
			ft := f.Type
			switch ft.Kind() {
			case reflect.Pointer, reflect.Map, reflect.Interface:
				bf.nullable = true
			}
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Slice || ft.Kind() == reflect.Array {
				bf.list = true
				ft = ft.Elem()
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
			}
			if ft.Kind() == reflect.Struct && !customJSON(ft) {
				bf.nested = ft
			}
			fs = append(fs, bf)
		}
	}
	walk(t)
	bodyFieldCache.Store(t, fs)
	return fs
}

// customJSON: the type decodes itself (time.Time...): nothing to walk.
func customJSON(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t.Implements(unmarshalerType) || pt.Implements(unmarshalerType) ||
		t.Implements(textUnmarshalerType) || pt.Implements(textUnmarshalerType)
}

// checkMembers checks a decoded body against its type's rules: every
// required member present and not null, and every member named exactly as
// documented (encoding/json would take "Title" for "title"). data has been
// decoded into a value of type t already, so it is well-formed.
func checkMembers(data []byte, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || customJSON(t) {
		return nil
	}
	var v validator
	if err := checkObject(data, t, "", &v); err != nil {
		return err
	}
	return v.err()
}

func checkObject(data []byte, t reflect.Type, path string, v *validator) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil // not an object: decoding refused it already, or null
	}
	fields := bodyFields(t)
	for key := range obj {
		known := false
		for _, f := range fields {
			if f.name == key {
				known = true
				break
			}
		}
		if known {
			continue
		}
		for _, f := range fields {
			if strings.EqualFold(f.name, key) {
				msg := fmt.Sprintf("unknown field; member names are case-sensitive: did you mean %q?", f.name)
				return &apiError{Status: http.StatusBadRequest, Code: "unknown_field",
					Message: fmt.Sprintf("%s: %s", path+key, msg), Fields: []fieldError{{Field: path + key, Message: msg}}}
			}
		}
	}
	for _, f := range fields {
		raw, present := obj[f.name]
		isNull := present && bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
		switch {
		case f.required && !present:
			v.add(path+f.name, "is required")
			continue
		case f.required && isNull && !f.nullable:
			v.add(path+f.name, "is required and must not be null")
			continue
		}
		if !present || isNull || f.nested == nil {
			continue
		}
		if !f.list {
			if err := checkObject(raw, f.nested, path+f.name+".", v); err != nil {
				return err
			}
			continue
		}
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) != nil {
			continue
		}
		for i, el := range elems {
			if err := checkObject(el, f.nested, path+f.name+"["+strconv.Itoa(i)+"].", v); err != nil {
				return err
			}
		}
	}
	return nil
}

// requireAll panics unless every member of a PUT body is required: a PUT
// replaces the whole resource, so a member left out would silently be
// reset. Called on the route table at start.
func requireAll(rt *route) {
	t := reflect.TypeOf(rt.Body)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for _, f := range bodyFields(t) {
		if !f.required {
			panic(fmt.Sprintf("api: %s %s replaces the whole document, but its member %q is not required:\"true\"",
				rt.Method, rt.Path, f.name))
		}
	}
}

// Lists in responses are always arrays: a nil slice is written [] (and a
// nil map {}), never null, whichever handler built the response. The
// schema documents them as arrays (objects), not nullable.

var mayHoldNilCache sync.Map // reflect.Type -> bool

// mayHoldNil says whether a value of type t can contain a nil slice or map
// that JSON would write as null (through interfaces: anything).
func mayHoldNil(t reflect.Type) bool {
	if b, ok := mayHoldNilCache.Load(t); ok {
		return b.(bool)
	}
	mayHoldNilCache.Store(t, true) // recursive types: assume so while computing
	b := computeMayHoldNil(t)
	mayHoldNilCache.Store(t, b)
	return b
}

func computeMayHoldNil(t reflect.Type) bool {
	if selfMarshals(t) {
		return false
	}
	switch t.Kind() {
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Uint8 || selfMarshals(t.Elem())
	case reflect.Map, reflect.Interface:
		return true
	case reflect.Pointer, reflect.Array:
		return mayHoldNil(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if (f.IsExported() || f.Anonymous) && mayHoldNil(f.Type) {
				return true
			}
		}
	}
	return false
}

// selfMarshals: the type writes its own JSON (time.Time, json.RawMessage).
func selfMarshals(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t.Implements(marshalerType) || pt.Implements(marshalerType) ||
		t.Implements(textMarshalerType) || pt.Implements(textMarshalerType)
}

// withEmptyLists returns v with every nil slice and map replaced by an
// empty one. It never changes v: what it changes it copies (handlers
// answer with slices shared with the rooms' state).
func withEmptyLists(v any) any {
	if v == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	if !mayHoldNil(rv.Type()) {
		return v
	}
	if nv, changed := emptyLists(rv, 0); changed {
		return nv.Interface()
	}
	return v
}

const maxEmptyListsDepth = 32

func emptyLists(v reflect.Value, depth int) (reflect.Value, bool) {
	t := v.Type()
	if depth > maxEmptyListsDepth || !mayHoldNil(t) {
		return v, false
	}
	switch t.Kind() {
	case reflect.Slice:
		if v.IsNil() {
			if t.Elem().Kind() == reflect.Uint8 && !selfMarshals(t.Elem()) {
				return v, false // []byte is a base64 string, not a list
			}
			return reflect.MakeSlice(t, 0, 0), true
		}
		var out reflect.Value
		for i := range v.Len() {
			if ne, changed := emptyLists(v.Index(i), depth+1); changed {
				if !out.IsValid() {
					out = reflect.MakeSlice(t, v.Len(), v.Len())
					reflect.Copy(out, v)
				}
				out.Index(i).Set(ne)
			}
		}
		return out, out.IsValid()
	case reflect.Array:
		var out reflect.Value
		for i := range v.Len() {
			if ne, changed := emptyLists(v.Index(i), depth+1); changed {
				if !out.IsValid() {
					out = reflect.New(t).Elem()
					out.Set(v)
				}
				out.Index(i).Set(ne)
			}
		}
		return out, out.IsValid()
	case reflect.Map:
		if v.IsNil() {
			return reflect.MakeMap(t), true
		}
		changedAny := false
		vals := map[int]reflect.Value{}
		keys := v.MapKeys()
		for i, k := range keys {
			if ne, changed := emptyLists(v.MapIndex(k), depth+1); changed {
				vals[i], changedAny = ne, true
			}
		}
		if !changedAny {
			return v, false
		}
		out := reflect.MakeMapWithSize(t, len(keys))
		for i, k := range keys {
			if ne, ok := vals[i]; ok {
				out.SetMapIndex(k, ne)
			} else {
				out.SetMapIndex(k, v.MapIndex(k))
			}
		}
		return out, true
	case reflect.Interface:
		if v.IsNil() {
			return v, false
		}
		ne, changed := emptyLists(v.Elem(), depth+1)
		if !changed {
			return v, false
		}
		out := reflect.New(t).Elem()
		out.Set(ne)
		return out, true
	case reflect.Pointer:
		if v.IsNil() {
			return v, false // a nil pointer is a documented null
		}
		ne, changed := emptyLists(v.Elem(), depth+1)
		if !changed {
			return v, false
		}
		out := reflect.New(t.Elem())
		out.Elem().Set(ne)
		return out, true
	case reflect.Struct:
		var out reflect.Value
		dst := func() reflect.Value {
			if !out.IsValid() {
				out = reflect.New(t).Elem()
				out.Set(v)
			}
			return out
		}
		structLists(v, dst, depth)
		return out, out.IsValid()
	}
	return v, false
}

// structLists sets the changed fields of struct v into dst(), a copy made
// on the first change. Embedded structs of unexported types, whose fields
// encoding/json promotes, are walked field by field: reflect lets their
// exported fields be set, not the embedded value as a whole.
func structLists(v reflect.Value, dst func() reflect.Value, depth int) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		switch {
		case f.Anonymous && !f.IsExported() && f.Type.Kind() == reflect.Struct:
			structLists(v.Field(i), func() reflect.Value { return dst().Field(i) }, depth+1)
		case f.IsExported():
			if ne, changed := emptyLists(v.Field(i), depth+1); changed {
				dst().Field(i).Set(ne)
			}
		}
	}
}
