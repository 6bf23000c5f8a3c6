// Package clientaddr names the client of an HTTP request for per-client
// limits (rate limits, connection caps).
package clientaddr

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Key identifies the client of r: its IP address, or for IPv6 its /64
// network (one subscriber usually holds a whole /64 and can change
// addresses within it at will). Behind a reverse proxy every request comes
// from the proxy: with trustProxy the address is the last one of
// X-Forwarded-For, the one the proxy itself appended, which a client
// cannot forge (earlier entries it can). Without trustProxy, behind a
// proxy, all clients share one key.
func Key(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if addr, err := netip.ParseAddr(strings.TrimSpace(last)); err == nil {
				return addrKey(addr)
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	return addrKey(addr)
}

func addrKey(addr netip.Addr) string {
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// Loopback says whether a Key is this machine's own (127.0.0.0/8, ::1).
func Loopback(key string) bool {
	if a, err := netip.ParseAddr(key); err == nil {
		return a.IsLoopback()
	}
	if p, err := netip.ParsePrefix(key); err == nil {
		return p.Addr().IsLoopback() || p.Contains(netip.IPv6Loopback())
	}
	return false
}
