package server

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vitrine/store/sqlite"
	"vitrine/stream"
)

// TestPublishRefusalsSayWhy: a campaign's id pushed where its key goes is
// refused with a hint, also behind the demo key's authoriser; any other
// unknown key gets the bare refusal, which repeats nothing of the key.
func TestPublishRefusalsSayWhy(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys := campaignKeys{store: st, now: time.Now}
	demo := stream.AuthorizerFunc(func(_ context.Context, req stream.PublishRequest) (string, error) {
		return "", stream.ErrUnauthorized
	})
	for _, a := range []stream.Authorizer{keys, anyOf{demo, keys}} {
		for _, c := range []struct{ key, want string }{
			{"", stream.ErrUnauthorized.Error()},
			{"a-wrong-secret-key", stream.ErrUnauthorized.Error()},
			{"cmp_0123456789abcdefghij", "cmp_0123456789abcdefghij is a campaign id; publish with the campaign's stream_key"},
		} {
			_, err := a.AuthorizePublish(t.Context(), stream.PublishRequest{Key: c.key, Protocol: "rtmp"})
			if !errors.Is(err, stream.ErrUnauthorized) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%T, key %q: %v, want ErrUnauthorized saying %q", a, c.key, err, c.want)
			}
			if c.key != "" && !strings.HasPrefix(c.key, "cmp_") && strings.Contains(err.Error(), c.key) {
				t.Fatalf("the refusal repeats the key: %v", err)
			}
		}
	}
}
