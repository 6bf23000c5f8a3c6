package httperr

import (
	"net/http"
	"time"
)

// BodyTimeout bounds the reading of a request's body from when its handler
// starts to read it: a client that announces a body and sends it a byte at
// a time (slowloris) loses its connection instead of holding it forever.
// A variable for the tests.
var BodyTimeout = 30 * time.Second

// LimitBodyTime sets BodyTimeout's read deadline on w's connection; where
// the writer cannot reach it (a test recorder), nothing changes.
func LimitBodyTime(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(BodyTimeout))
}
