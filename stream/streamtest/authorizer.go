// Package streamtest holds the hub's test helpers: the ingest tests'
// authoriser and the stream key they publish with. It imports only stream.
package streamtest

import (
	"context"
	"fmt"
	"strings"

	"vitrine/stream"
)

// The key and stream of ingest tests.
const (
	TestKey    = "k3y-0123456789abcdef-tests"
	TestStream = "s1"
)

// Authorizer is the ingest tests' authoriser for protocol: TestKey opens
// TestStream, a key "ok-..." opens the stream of that name (for tests that
// need a stream each), "not-live" is a known key of a stream that is not
// live, anything else is unknown. A request without the protocol's name or
// the remote address is an error: protocols must fill them in.
func Authorizer(protocol string) stream.Authorizer {
	return stream.AuthorizerFunc(func(_ context.Context, req stream.PublishRequest) (string, error) {
		if req.Protocol != protocol || req.Remote == "" {
			return "", fmt.Errorf("bad request %+v", req)
		}
		switch {
		case req.Key == TestKey:
			return TestStream, nil
		case strings.HasPrefix(req.Key, "ok-"):
			return req.Key, nil
		case req.Key == "not-live":
			return "", stream.ErrNotLive
		}
		return "", stream.ErrUnauthorized
	})
}
