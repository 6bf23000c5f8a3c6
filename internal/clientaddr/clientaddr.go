// Package clientaddr names the client of an HTTP request for per-client
// limits (rate limits, connection caps).
//
// It imports no package of the project.
package clientaddr

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Addr is the address of r's client: with trustProxy the last entry of
// X-Forwarded-For, the one the proxy itself appended, which a client
// cannot forge (earlier entries it can); else, or when that entry is not
// an address, the peer's. It is invalid when neither is an address.
func Addr(r *http.Request, trustProxy bool) netip.Addr {
	if trustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if addr, err := netip.ParseAddr(strings.TrimSpace(last)); err == nil {
				return addr
			}
		}
	}
	addr, _ := netip.ParseAddr(host(r.RemoteAddr))
	return addr
}

// Key identifies the client of r (Addr): its IP address, or for IPv6 its
// /64 network (one subscriber usually holds a whole /64 and can change
// addresses within it at will). Behind a reverse proxy every request comes
// from the proxy: without trustProxy all clients share one key.
func Key(r *http.Request, trustProxy bool) string {
	addr := Addr(r, trustProxy)
	if !addr.IsValid() {
		return host(r.RemoteAddr)
	}
	return addrKey(addr)
}

// host is the host part of a host:port address, or the address.
func host(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
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
