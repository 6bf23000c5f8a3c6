package api

import (
	"slices"
	"testing"
	"time"

	"vitrine/notify"
)

// The API validates subscriptions and generates secrets on its own (it
// depends on the notifier through an interface only); these must stay the
// notifier's.
func TestNotifyCompatibility(t *testing.T) {
	if !slices.Equal(EventTypes, notify.EventTypes) {
		t.Fatalf("api event types %v, notify %v", EventTypes, notify.EventTypes)
	}
	secret, err := newWebhookSecret()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := notify.Sign(secret, "msg_1", time.Now(), []byte(`{}`)); err != nil {
		t.Fatalf("notify cannot sign with an API secret: %v", err)
	}
	var _ Notifier = (*notify.Notifier)(nil)
}
