package notify_test

import (
	"io"
	"net/http"
	"time"

	"vitrine/notify"
)

// A seller's receiver: read the raw body, verify it, then act. Answer 2xx
// quickly (queue slow work); answer 410 Gone to stop further deliveries.
func ExampleVerify() {
	secret := "whsec_..." // shown once when the webhook was created
	http.HandleFunc("/vitrine", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read error", http.StatusBadRequest)
			return
		}
		if err := notify.Verify(secret, r.Header, body, 5*time.Minute); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		// r.Header.Get("webhook-id") is the same on every retry of one
		// delivery: remember it to process each delivery once.
		w.WriteHeader(http.StatusNoContent)
	})
}
