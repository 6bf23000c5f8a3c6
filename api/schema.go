package api

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// listSchema marks a list response of item in the route table.
type listSchema struct{ item any }

func listOf(item any) listSchema { return listSchema{item: item} }

// schemaGen derives JSON Schemas (OpenAPI 3.1 dialect) from the Go types
// the handlers decode and encode, so the document describes exactly what
// the code reads and writes. Named structs become components.
//
// Field tags: doc (description), enum (comma separated), format, pattern,
// example, default, minimum, maximum, minLength, maxLength, minItems,
// maxItems, itemMinLength and itemMaxLength (bounds of a list's strings),
// required:"true" (request types; decodeJSON enforces it). In response types every field without omitempty is required.
type schemaGen struct {
	components map[string]any
	owners     map[string]string // component name -> Go type and mode
}

func newSchemaGen() *schemaGen {
	return &schemaGen{components: map[string]any{}, owners: map[string]string{}}
}

var timeType = reflect.TypeFor[time.Time]()

func (g *schemaGen) schema(v any, response bool) (map[string]any, error) {
	if l, ok := v.(listSchema); ok {
		item, err := g.typeSchema(reflect.TypeOf(l.item), response)
		if err != nil {
			return nil, err
		}
		return map[string]any{
			"type": "object",
			"properties": map[string]any{
				"items":       map[string]any{"type": "array", "items": item},
				"next_cursor": map[string]any{"type": "string", "description": "pass as cursor for the next page; empty on the last page"},
			},
			"required": []string{"items", "next_cursor"},
		}, nil
	}
	return g.typeSchema(reflect.TypeOf(v), response)
}

func (g *schemaGen) typeSchema(t reflect.Type, response bool) (map[string]any, error) {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}, nil
	case t.Kind() == reflect.Pointer:
		inner, err := g.typeSchema(t.Elem(), response)
		if err != nil {
			return nil, err
		}
		return nullable(inner), nil
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}, nil
	case reflect.Bool:
		return map[string]any{"type": "boolean"}, nil
	case reflect.Int, reflect.Int32, reflect.Uint32, reflect.Int16, reflect.Uint16, reflect.Int8, reflect.Uint8:
		return map[string]any{"type": "integer"}, nil
	case reflect.Int64, reflect.Uint64, reflect.Uint:
		return map[string]any{"type": "integer", "format": "int64"}, nil
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}, nil
	case reflect.Slice, reflect.Array:
		items, err := g.typeSchema(t.Elem(), response)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "array", "items": items}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map key of %s is not a string", t)
		}
		vals, err := g.typeSchema(t.Elem(), response)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "object", "additionalProperties": vals}, nil
	case reflect.Struct:
		if t.Name() == "" {
			return g.structSchema(t, response)
		}
		name := componentName(t.Name())
		owner := t.PkgPath() + "." + t.Name() + " " + strconv.FormatBool(response)
		if prev, ok := g.owners[name]; ok {
			if prev != owner {
				return nil, fmt.Errorf("schema %s is used by %s and %s", name, prev, owner)
			}
		} else {
			g.owners[name] = owner
			s, err := g.structSchema(t, response)
			if err != nil {
				return nil, err
			}
			g.components[name] = s
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}, nil
	case reflect.Interface:
		return map[string]any{}, nil
	}
	return nil, fmt.Errorf("no schema for %s", t)
}

func (g *schemaGen) structSchema(t reflect.Type, response bool) (map[string]any, error) {
	props := map[string]any{}
	var required []string
	if err := g.fields(t, response, props, &required); err != nil {
		return nil, err
	}
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	if !response {
		s["additionalProperties"] = false // unknown fields are refused
	}
	return s, nil
}

func (g *schemaGen) fields(t reflect.Type, response bool, props map[string]any, required *[]string) error {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			if err := g.fields(f.Type, response, props, required); err != nil {
				return err
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fs, err := g.typeSchema(f.Type, response)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", t.Name(), f.Name, err)
		}
		if err := annotate(fs, f.Tag); err != nil {
			return fmt.Errorf("%s.%s: %w", t.Name(), f.Name, err)
		}
		props[name] = fs
		omit := strings.Contains(opts, "omitempty")
		if (response && !omit) || (!response && f.Tag.Get("required") == "true") {
			*required = append(*required, name)
		}
	}
	return nil
}

// annotate adds the tag-driven keywords. With a $ref (a component), 3.1
// allows sibling keywords such as description.
func annotate(s map[string]any, tag reflect.StructTag) error {
	target := s
	if branches, ok := s["anyOf"].([]any); ok { // nullable: constrain the non-null branch
		target = branches[0].(map[string]any)
		if d := tag.Get("doc"); d != "" {
			s["description"] = d
		}
	} else if d := tag.Get("doc"); d != "" {
		s["description"] = d
	}
	if e := tag.Get("enum"); e != "" {
		target["enum"] = strings.Split(e, ",")
	}
	for _, k := range []string{"format", "pattern"} {
		if v := tag.Get(k); v != "" {
			target[k] = v
		}
	}
	if v := tag.Get("example"); v != "" {
		s["examples"] = []any{v}
	}
	for _, k := range []string{"minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems"} {
		if v := tag.Get(k); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("tag %s: %w", k, err)
			}
			target[k] = n
		}
	}
	// Bounds of a list's strings: itemMinLength, itemMaxLength.
	for tk, k := range map[string]string{"itemMinLength": "minLength", "itemMaxLength": "maxLength"} {
		if v := tag.Get(tk); v != "" {
			items, ok := target["items"].(map[string]any)
			if !ok {
				return fmt.Errorf("tag %s on a member that is not a list", tk)
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("tag %s: %w", tk, err)
			}
			items[k] = n
		}
	}
	if v := tag.Get("default"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			s["default"] = n
		} else if b, err := strconv.ParseBool(v); err == nil {
			s["default"] = b
		} else {
			s["default"] = v
		}
	}
	return nil
}

// nullable allows null besides the schema: a type list for simple types,
// anyOf for references.
func nullable(s map[string]any) map[string]any {
	if typ, ok := s["type"].(string); ok {
		s["type"] = []string{typ, "null"}
		return s
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

// componentName turns productView into Product, campaignCreate into
// CampaignCreate.
func componentName(goName string) string {
	n := strings.TrimSuffix(goName, "View")
	r := []rune(n)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}
