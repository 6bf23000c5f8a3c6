package notify

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks (https://www.standardwebhooks.com) header names and
// secret format. Receivers verify a delivery with these three headers and
// the raw body; see Verify.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"

	// SecretPrefix marks a symmetric signing secret: "whsec_" + base64 of
	// random bytes. The HMAC key is the decoded bytes, not the string.
	SecretPrefix = "whsec_"

	// secretBytes: the spec asks for 24 to 64 random bytes.
	secretBytes = 32
	// DefaultTolerance is how far a webhook-timestamp may be from the
	// receiver's clock before Verify rejects it as a replay.
	DefaultTolerance = 5 * time.Minute
)

// Errors returned by Verify; they tell a receiver why a request is refused.
var (
	ErrMissingHeaders = errors.New("notify: missing webhook-id, webhook-timestamp or webhook-signature")
	ErrBadTimestamp   = errors.New("notify: webhook-timestamp malformed or outside tolerance")
	ErrBadSignature   = errors.New("notify: no matching v1 signature")
	ErrBadSecret      = errors.New("notify: secret is not whsec_ + base64")
)

// NewSecret returns a fresh signing secret for one webhook endpoint.
// Secrets must be unique per endpoint: a shared one would let one seller's
// receiver forge deliveries to another.
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("notify: generate secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// secretKey decodes the HMAC key of a secret. The prefix is optional, as
// in the reference libraries, so receivers may paste the bare base64.
func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, ErrBadSecret
	}
	return key, nil
}

// Sign returns the webhook-signature value for one attempt:
// "v1," + base64(HMAC-SHA256(key, id + "." + unix(ts) + "." + body)).
// The id must not contain '.', or two different (id, timestamp) pairs could
// sign the same bytes.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	if id == "" || strings.Contains(id, ".") {
		return "", fmt.Errorf("notify: message id %q is empty or contains '.'", id)
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, ts.Unix(), body)), nil
}

func mac(key []byte, id string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, unix, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a received delivery the way a seller's receiver should:
// all three headers present, webhook-timestamp within tolerance of now
// (tolerance <= 0 means DefaultTolerance), and one of the space-separated
// "v1,<base64>" signatures matching the raw body, compared in constant
// time. Pass the body exactly as received: re-encoding JSON changes bytes
// and breaks the signature. Receivers should also drop repeated
// webhook-id values, which stay the same across retries.
func Verify(secret string, headers http.Header, body []byte, tolerance time.Duration) error {
	id := headers.Get(HeaderID)
	tsText := headers.Get(HeaderTimestamp)
	sigs := headers.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return ErrMissingHeaders
	}
	key, err := secretKey(secret)
	if err != nil {
		return err
	}
	unix, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := time.Since(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return ErrBadTimestamp
	}
	want := mac(key, id, unix, body)
	for sig := range strings.FieldsSeq(sigs) {
		version, value, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue // other schemes (v1a) or garbage: try the next one
		}
		got, err := base64.StdEncoding.DecodeString(value)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrBadSignature
}
