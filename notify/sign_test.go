package notify_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"vitrine/notify"
)

// TestSignSpecVector checks Sign against the published vector of the
// Standard Webhooks reference libraries.
func TestSignSpecVector(t *testing.T) {
	got, err := notify.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

// handSign computes a signature from the spec's text alone.
func handSign(t *testing.T, secret, id string, unix int64, body []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.%s", id, unix, body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestNewSecret(t *testing.T) {
	a, err := notify.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := notify.NewSecret()
	if a == b || !strings.HasPrefix(a, "whsec_") {
		t.Fatalf("secrets %q %q", a, b)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(a, "whsec_"))
	if err != nil || len(key) < 24 || len(key) > 64 {
		t.Fatalf("key of %d bytes, err %v; the spec wants 24..64", len(key), err)
	}
}

func TestVerify(t *testing.T) {
	secret, _ := notify.NewSecret()
	other, _ := notify.NewSecret()
	body := []byte(`{"type":"order.created","timestamp":"2026-01-01T00:00:00.000Z","data":{}}`)
	now := time.Now()
	headers := func(ts time.Time, sig string) http.Header {
		h := http.Header{}
		h.Set("webhook-id", "msg_1")
		h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
		h.Set("webhook-signature", sig)
		return h
	}
	good, err := notify.Sign(secret, "msg_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	if hand := handSign(t, secret, "msg_1", now.Unix(), body); hand != good {
		t.Fatalf("Sign %s != by hand %s", good, hand)
	}
	bad, _ := notify.Sign(other, "msg_1", now, body)
	old, _ := notify.Sign(secret, "msg_1", now.Add(-10*time.Minute), body)

	cases := []struct {
		name string
		h    http.Header
		body []byte
		want error
	}{
		{"valid", headers(now, good), body, nil},
		{"rotation: several signatures, one good", headers(now, bad+" v1a,xyz "+good), body, nil},
		{"wrong secret", headers(now, bad), body, notify.ErrBadSignature},
		{"body changed", headers(now, good), append([]byte(" "), body...), notify.ErrBadSignature},
		{"timestamp changed", headers(now.Add(time.Second), good), body, notify.ErrBadSignature},
		{"too old", headers(now.Add(-10*time.Minute), old), body, notify.ErrBadTimestamp},
		{"missing", http.Header{}, body, notify.ErrMissingHeaders},
		{"not v1", headers(now, strings.Replace(good, "v1,", "v2,", 1)), body, notify.ErrBadSignature},
	}
	for _, c := range cases {
		if err := notify.Verify(secret, c.h, c.body, 0); !errors.Is(err, c.want) {
			t.Errorf("%s: Verify = %v, want %v", c.name, err, c.want)
		}
	}
	if err := notify.Verify(secret, headers(now.Add(-10*time.Minute), old), body, time.Hour); err != nil {
		t.Errorf("wider tolerance: %v", err)
	}
	if _, err := notify.Sign(secret, "a.b", now, body); err == nil {
		t.Error("Sign accepted an id with '.'")
	}
	if _, err := notify.Sign("whsec_!!", "x", now, body); !errors.Is(err, notify.ErrBadSecret) {
		t.Errorf("bad secret: %v", err)
	}
}
