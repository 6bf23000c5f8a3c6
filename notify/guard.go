package notify

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrForbiddenAddress: the endpoint resolved to an address Vitrine refuses
// to call (loopback, private, link-local...), so that a webhook URL cannot
// be used to reach the server's own network (SSRF).
var ErrForbiddenAddress = errors.New("notify: refusing to connect to a non-public address (set webhooks.allow_private to reach one)")

// blocked lists ranges that are not on the public internet beyond what
// netip's predicates cover. Each one leads somewhere internal or nowhere.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT, often internal
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
}

// nat64 is the well-known NAT64 prefix: its last 32 bits are an IPv4
// address that a NAT64 gateway would reach, so they are checked too.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// checkAddr reports whether a may be dialled.
func checkAddr(a netip.Addr) error {
	a = a.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte(b[12:]))
	}
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, a)
	}
	for _, p := range blocked {
		if p.Contains(a) {
			return fmt.Errorf("%w: %s", ErrForbiddenAddress, a)
		}
	}
	return nil
}

// guardControl runs after name resolution, on the exact address about to
// be dialled: checking here rather than on the URL's host defeats DNS
// names that resolve (or re-resolve) to internal addresses.
func guardControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparseable address %q", ErrForbiddenAddress, address)
	}
	return checkAddr(ap.Addr())
}

// NewTransport returns the HTTP transport deliveries use: with
// allowPrivate false its dialer refuses non-public addresses. It ignores
// proxy environment variables, since the guard would then vet the proxy
// rather than the endpoint; a deployment that needs an egress proxy passes
// its own Config.HTTPClient and takes over the filtering.
func NewTransport(allowPrivate bool) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guardControl
	}
	return &http.Transport{
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          32,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
	}
}

// ValidateURL checks a webhook URL when it is registered, so the API can
// answer 422 at once instead of recording failed deliveries later: http or
// https, a host, no credentials, and, when the host is an IP literal, a
// public one unless allowPrivate. Host names are only vetted at dial time.
func ValidateURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("notify: webhook url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("notify: webhook url must be http or https, not %q", u.Scheme)
	}
	if u.Hostname() == "" {
		return errors.New("notify: webhook url has no host")
	}
	if u.User != nil {
		return errors.New("notify: webhook url must not carry credentials")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("notify: webhook url port %q is not between 1 and 65535", p)
		}
	}
	if allowPrivate {
		return nil
	}
	if a, err := netip.ParseAddr(u.Hostname()); err == nil {
		return checkAddr(a)
	}
	if h := strings.TrimSuffix(strings.ToLower(u.Hostname()), "."); h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, u.Hostname())
	}
	return nil
}
