// Package httperr writes the one error shape of Vitrine's HTTP surface:
// {"error": {"code": "...", "message": "..."}}. It is a leaf package so that
// protocols and the API answer alike without importing each other.
//
// It imports no package of the project.
package httperr

import (
	"encoding/json"
	"net/http"
)

// Body is the JSON error envelope.
type Body struct {
	Error Detail `json:"error"`
}

// Detail is the content of the envelope.
type Detail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Write sends status with the error envelope. code is a stable, machine
// readable snake_case identifier; message is for people.
func Write(w http.ResponseWriter, status int, code, message string) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Body{Error: Detail{Code: code, Message: message}})
}
