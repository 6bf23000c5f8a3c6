package clientaddr

import (
	"net/http/httptest"
	"testing"
)

func TestKey(t *testing.T) {
	for _, c := range []struct {
		remote, xff string
		trust       bool
		want        string
		loopback    bool
	}{
		{"203.0.113.7:5000", "", false, "203.0.113.7", false},
		{"203.0.113.7:5000", "198.51.100.1", false, "203.0.113.7", false}, // not trusted: the header is ignored
		{"127.0.0.1:5000", "10.0.0.1, 198.51.100.1", true, "198.51.100.1", false},
		{"127.0.0.1:5000", "not-an-ip", true, "127.0.0.1", true},
		{"[2001:db8::1]:5000", "", false, "2001:db8::/64", false},
		{"[::ffff:192.0.2.1]:5000", "", false, "192.0.2.1", false},
		{"[::1]:5000", "", false, "::/64", true},
		{"127.0.0.5:5000", "", false, "127.0.0.5", true},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		got := Key(r, c.trust)
		if got != c.want || Loopback(got) != c.loopback {
			t.Errorf("%s (X-Forwarded-For %q, trusted %v): %q, loopback %v; want %q, %v", c.remote, c.xff, c.trust, got, Loopback(got), c.want, c.loopback)
		}
	}
}
