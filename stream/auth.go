package stream

import (
	"context"
	"errors"
)

// ErrUnauthorized is returned by an Authorizer for an unknown or wrong key.
var ErrUnauthorized = errors.New("stream key not recognised")

// ErrNotLive is returned by an Authorizer when the key is right but the
// stream may not be published now (a campaign that is not live, or completed).
var ErrNotLive = errors.New("stream is not open for publishing")

// PublishRequest is what a protocol knows about a publisher that wants in.
type PublishRequest struct {
	// Key is the secret stream key presented by the publisher.
	Key string
	// StreamID is set when the protocol addresses the stream by id as well
	// (WHIP: /whip/{id}); the key must then belong to that stream.
	StreamID string
	// Protocol is "rtmp", "rtsp" or "whip", for logs and metrics.
	Protocol string
	// Remote is the publisher's address.
	Remote string
}

// Authorizer decides whether a publisher may publish, and to which stream.
type Authorizer interface {
	AuthorizePublish(ctx context.Context, req PublishRequest) (streamID string, err error)
}

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(ctx context.Context, req PublishRequest) (string, error)

func (f AuthorizerFunc) AuthorizePublish(ctx context.Context, req PublishRequest) (string, error) {
	return f(ctx, req)
}

// ErrNotViewable is returned by a ReadAuthorizer for a stream viewers may
// not watch (unknown, or a campaign not published): protocols answer it as
// "not found", so that it tells nothing of what exists.
var ErrNotViewable = errors.New("no such stream")

// ReadAuthorizer decides whether viewers may read a stream: the one rule of
// every viewer-facing protocol (the server wires it to the store).
type ReadAuthorizer interface {
	AuthorizeRead(ctx context.Context, streamID string) error
}

// ReadAuthorizerFunc adapts a function to ReadAuthorizer.
type ReadAuthorizerFunc func(ctx context.Context, streamID string) error

func (f ReadAuthorizerFunc) AuthorizeRead(ctx context.Context, streamID string) error {
	return f(ctx, streamID)
}
