package notify

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestCheckAddr(t *testing.T) {
	refused := []string{
		"127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
		"fe80::1", "fc00::1", "0.0.0.0", "::", "100.64.0.1", "224.0.0.1", "255.255.255.255",
		"::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe", // NAT64 of 169.254.169.254
	}
	for _, s := range refused {
		if err := checkAddr(netip.MustParseAddr(s)); !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("%s: %v, want refused", s, err)
		}
	}
	for _, s := range []string{"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "64:ff9b::5db8:d822"} {
		if err := checkAddr(netip.MustParseAddr(s)); err != nil {
			t.Errorf("%s: %v, want allowed", s, err)
		}
	}
}

func TestValidateURL(t *testing.T) {
	for _, u := range []string{"ftp://x.example/", "http://", "https://u:p@x.example/", "http://127.0.0.1/", "http://[::1]:8080/",
		"http://localhost/", "http://LocalHost./h", "http://app.localhost:3000/", "http://[fe80::1%25eth0]/", "https://example.com:99999/", "https://example.com:0/", "::bad"} {
		if ValidateURL(u, false) == nil {
			t.Errorf("%s accepted", u)
		}
	}
	for _, u := range []string{"https://hooks.example.com/vitrine?k=1", "http://93.184.216.34:8080/"} {
		if err := ValidateURL(u, false); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	if err := ValidateURL("http://127.0.0.1:9/", true); err != nil {
		t.Errorf("allowPrivate: %v", err)
	}
}

func TestDefaultBackoff(t *testing.T) {
	want := []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, time.Hour}
	for i, w := range want {
		got := DefaultBackoff(i + 1)
		if got < w*8/10 || got > w*12/10 {
			t.Errorf("attempt %d: %v, want %v ±20%%", i+1, got, w)
		}
	}
}

func TestRetryAfterAndTruncate(t *testing.T) {
	now := time.Now()
	if d := retryAfter("120", now); d != 2*time.Minute {
		t.Errorf("seconds: %v", d)
	}
	if d := retryAfter(now.Add(30*time.Second).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"), now); d < 28*time.Second || d > 31*time.Second {
		t.Errorf("date: %v", d)
	}
	if d := retryAfter("999999", now); d != maxRetryAfter {
		t.Errorf("cap: %v", d)
	}
	long := ""
	for range 300 {
		long += "é"
	}
	s := truncate(long)
	if len(s) > maxErrorLen || s[len(s)-3:] != "…" {
		t.Errorf("truncate: %d bytes, %q", len(s), s[len(s)-6:])
	}
}
