package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"vitrine/store"
)

// apiError is an error a handler returns to answer with a 4xx: it carries
// the status, the stable code and a message meant for people. Any other
// error reaching the router is a bug and becomes a logged 500.
type apiError struct {
	Status  int
	Code    string
	Message string
	Fields  []fieldError
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// fieldError names one invalid field of a request body or query.
type fieldError struct {
	Field   string `json:"field" doc:"JSON path of the field, e.g. items[0].quantity"`
	Message string `json:"message"`
}

// errorBody is the one error shape of Vitrine's HTTP surface (see
// internal/httperr), with two optional members: the invalid fields, and the
// request id of a 500 so that it can be found in the logs.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string       `json:"code" doc:"stable, machine-readable snake_case code" example:"validation_failed"`
	Message   string       `json:"message" doc:"for people"`
	Fields    []fieldError `json:"fields,omitempty" doc:"the invalid fields, for validation errors"`
	RequestID string       `json:"request_id,omitempty" doc:"set on internal errors; quote it when reporting"`
}

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func badRequest(code, format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, code, format, args...)
}

func conflict(code, format string, args ...any) *apiError {
	return errorf(http.StatusConflict, code, format, args...)
}

func notFound(what, id string) *apiError {
	return errorf(http.StatusNotFound, "not_found", "no %s with id %q", what, id)
}

func invalidField(field, format string, args ...any) *apiError {
	msg := fmt.Sprintf(format, args...)
	return &apiError{Status: http.StatusUnprocessableEntity, Code: "validation_failed",
		Message: field + ": " + msg, Fields: []fieldError{{Field: field, Message: msg}}}
}

// storeErr maps the store's sentinel errors for a lookup of one resource;
// anything else stays an internal error.
func storeErr(err error, what, id string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return notFound(what, id)
	case errors.Is(err, store.ErrInvalidCursor):
		return badRequest("invalid_cursor", "the cursor was not issued by this list; start again without it")
	}
	return fmt.Errorf("%s %q: %w", what, id, err)
}

// listErr maps errors of a list call.
func listErr(err error, what string) error {
	if errors.Is(err, store.ErrInvalidCursor) {
		return badRequest("invalid_cursor", "the cursor was not issued by this list; start again without it")
	}
	return fmt.Errorf("list %s: %w", what, err)
}

// validator collects every invalid field of a request so that the client
// learns about all of them at once.
type validator struct {
	fields []fieldError
}

func (v *validator) add(field, format string, args ...any) {
	v.fields = append(v.fields, fieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) ok() bool { return len(v.fields) == 0 }

func (v *validator) err() error {
	if len(v.fields) == 0 {
		return nil
	}
	parts := make([]string, len(v.fields))
	for i, f := range v.fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return &apiError{Status: http.StatusUnprocessableEntity, Code: "validation_failed",
		Message: strings.Join(parts, "; "), Fields: v.fields}
}

// writeError answers with the envelope. It is the only place that turns an
// unexpected error into a 500, and it logs it with the request id.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		rid := requestIDFrom(r.Context())
		a.log.ErrorContext(r.Context(), "internal error", "request_id", rid,
			"method", r.Method, "path", r.URL.Path, "err", err)
		ae = &apiError{Status: http.StatusInternalServerError, Code: "internal_error",
			Message: "internal error; quote request id " + rid + " when reporting it"}
		writeErrorBody(w, ae, rid)
		return
	}
	writeErrorBody(w, ae, "")
}

func writeErrorBody(w http.ResponseWriter, ae *apiError, requestID string) {
	b, _ := json.Marshal(errorBody{Error: errorDetail{Code: ae.Code, Message: ae.Message,
		Fields: ae.Fields, RequestID: requestID}})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	h.Del("Content-Disposition")
	w.WriteHeader(ae.Status)
	_, _ = w.Write(append(b, '\n'))
}
