package server

import (
	"errors"
	"net"
	"testing"
)

// The startup log names the URL a viewer reaches (no literal HOST).
func TestReachableBase(t *testing.T) {
	ifaces := func() ([]net.Addr, error) {
		return []net.Addr{
			&net.IPNet{IP: net.ParseIP("127.0.0.1"), Mask: net.CIDRMask(8, 32)},
			&net.IPNet{IP: net.ParseIP("fe80::1"), Mask: net.CIDRMask(64, 128)},
			&net.IPNet{IP: net.ParseIP("2001:db8::5"), Mask: net.CIDRMask(64, 128)},
			&net.IPNet{IP: net.ParseIP("192.168.1.20"), Mask: net.CIDRMask(24, 32)},
		}, nil
	}
	only6 := func() ([]net.Addr, error) {
		return []net.Addr{&net.IPNet{IP: net.ParseIP("2001:db8::5"), Mask: net.CIDRMask(64, 128)}}, nil
	}
	none := func() ([]net.Addr, error) { return nil, errors.New("no interfaces") }
	tcp := func(s string) net.Addr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	for _, tc := range []struct {
		public, scheme string
		ln             net.Addr
		ifaces         func() ([]net.Addr, error)
		want           string
	}{
		{"https://live.example.com/", "http", tcp("0.0.0.0:8080"), ifaces, "https://live.example.com"},
		{"", "http", tcp("0.0.0.0:8080"), ifaces, "http://192.168.1.20:8080"},
		{"", "http", tcp("[::]:8080"), only6, "http://[2001:db8::5]:8080"},
		{"", "http", tcp("0.0.0.0:8080"), none, "http://localhost:8080"},
		{"", "http", tcp("127.0.0.1:8080"), ifaces, "http://localhost:8080"},
		{"", "http", tcp("10.0.0.10:8080"), ifaces, "http://10.0.0.10:8080"},
		{"", "https", tcp("0.0.0.0:443"), ifaces, "https://192.168.1.20"},
	} {
		if got := reachableBase(tc.public, tc.scheme, tc.ln, tc.ifaces); got != tc.want {
			t.Errorf("reachableBase(%q, %q, %v) = %q, want %q", tc.public, tc.scheme, tc.ln, got, tc.want)
		}
	}
}
