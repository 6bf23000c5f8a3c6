package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"vitrine/internal/httperr"
)

// maxJSONBody bounds every JSON request body.
const maxJSONBody = 1 << 20

// errNoBody is returned by decodeJSON for an optional body that was not sent.
var errNoBody = errors.New("no body")

// decodeJSON reads a strict JSON body into dst: application/json only, at
// most limit bytes, valid UTF-8, exactly one JSON object, no unknown
// fields, member names as documented (case-sensitive), every member tagged
// required:"true" present and not null (see checkMembers). Errors are 4xx
// apiErrors that name the offending fields. With optional set, an empty
// body returns errNoBody.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any, limit int64, optional bool) error {
	if optional && r.ContentLength == 0 {
		return errNoBody
	}
	data, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if optional {
			return errNoBody
		}
		return badRequest("invalid_json", "the request body is empty; send a JSON object")
	}
	if err := checkJSONContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	if !utf8.Valid(data) {
		return badRequest("invalid_json", "the request body is not valid UTF-8")
	}
	if data = bytes.TrimSpace(data); data[0] != '{' {
		return badRequest("invalid_json", "the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("invalid_json", "the request body must hold exactly one JSON value")
	}
	return checkMembers(data, reflect.TypeOf(dst))
}

// readBody reads at most limit bytes of the body; more is a 413.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	httperr.LimitBodyTime(w)
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(limit)
		}
		return nil, badRequest("invalid_body", "the request body could not be read")
	}
	return data, nil
}

func tooLarge(limit int64) *apiError {
	return errorf(http.StatusRequestEntityTooLarge, "body_too_large",
		"the request body is larger than %s", byteSize(limit))
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func checkJSONContentType(ct string) error {
	if ct == "" {
		return errorf(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send the body with Content-Type: application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return errorf(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"the body must be application/json, not %q", ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return errorf(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"the body must be UTF-8, not %q", cs)
	}
	return nil
}

// jsonError turns a decoding error into a 400 that names the field.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var inv *json.InvalidUnmarshalError
	switch {
	case errors.As(err, &syn):
		return badRequest("invalid_json", "malformed JSON at byte %d: %s", syn.Offset,
			strings.TrimPrefix(syn.Error(), "json: "))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		msg := "must be " + jsonKind(typ.Type)
		if typ.Value != "" {
			msg += ", not " + typ.Value
		}
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_json",
			Message: field + ": " + msg, Fields: []fieldError{{Field: field, Message: msg}}}
	case errors.As(err, &inv):
		return fmt.Errorf("decode: %w", err) // a bug: dst is not a pointer
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badRequest("invalid_json", "the JSON body is truncated")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		msg := "unknown field"
		if why, ok := readOnlyFields[name]; ok {
			msg += "; " + why
		}
		return &apiError{Status: http.StatusBadRequest, Code: "unknown_field",
			Message: fmt.Sprintf("%s %q", msg, name),
			Fields:  []fieldError{{Field: name, Message: msg}}}
	}
	return badRequest("invalid_json", "invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// readOnlyFields are fields of the API's answers that a request cannot
// set, with what does set them: a client that sends one back gets told.
var readOnlyFields = map[string]string{
	"id":              "ids are given by the server",
	"status":          "statuses are derived by the server (a campaign's from its window and its live: POST …/live, POST …/end)",
	"stream_key":      "rotate it with POST /api/v1/campaigns/{id}/stream-key",
	"created_at":      "set by the server",
	"updated_at":      "set by the server",
	"live_started_at": "set by POST /api/v1/campaigns/{id}/live",
	"live_ended_at":   "set by POST /api/v1/campaigns/{id}/end",
}

func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a valid value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a valid value"
}

// writeJSON marshals v before writing anything, so that a marshalling bug
// still gets a proper 500 instead of a truncated 200. Lists in v are
// written as arrays even when nil (see withEmptyLists).
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(withEmptyLists(v))
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

// listResponse is the shape of every list.
type listResponse struct {
	Items      any    `json:"items"`
	NextCursor string `json:"next_cursor"`
}
