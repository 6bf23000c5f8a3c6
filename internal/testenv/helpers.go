package testenv

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"

	"vitrine/server/stream"
)

// LogBuffer is a buffer safe for concurrent writers: a test's slog handler,
// a child process's stderr.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

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
