package webrtc

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pion/stun/v3"
)

// stunDiscoveryTimeout bounds the public address discovery at Start.
const stunDiscoveryTimeout = 2 * time.Second

// discoverPublicIP asks STUN servers, from the ICE socket itself (before
// the mux reads it), which address the Internet sees. pion's own
// server-reflexive gathering would open a socket per session on a random
// port, breaking the one-port promise: the answer is used as a NAT 1:1
// address instead, which fits the usual cloud setup (a VM behind a
// provider's 1:1 NAT, the ICE port forwarded as is).
func discoverPublicIP(conn *net.UDPConn, urls []string) (net.IP, string, error) {
	deadline := time.Now().Add(stunDiscoveryTimeout)
	defer func() { _ = conn.SetReadDeadline(time.Time{}) }()
	var errs []error
	for _, raw := range urls {
		if time.Now().After(deadline) {
			break
		}
		u, err := stun.ParseURI(raw)
		if err != nil || u.Scheme != stun.SchemeTypeSTUN {
			continue
		}
		addr, err := net.ResolveUDPAddr("udp4", net.JoinHostPort(u.Host, strconv.Itoa(u.Port)))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", raw, err))
			continue
		}
		ip, err := stunBinding(conn, addr, deadline)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", raw, err))
			continue
		}
		return ip, raw, nil
	}
	if len(errs) == 0 {
		return nil, "", errors.New("no usable stun: URL")
	}
	return nil, "", errors.Join(errs...)
}

func stunBinding(conn *net.UDPConn, server *net.UDPAddr, deadline time.Time) (net.IP, error) {
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		return nil, err
	}
	// One retransmission halfway, as a lost datagram is likely enough.
	for attempt := range 2 {
		if _, err := conn.WriteToUDP(req.Raw, server); err != nil {
			return nil, err
		}
		wait := time.Until(deadline) / time.Duration(2-attempt)
		_ = conn.SetReadDeadline(time.Now().Add(wait))
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				return nil, err
			}
			if !from.IP.Equal(server.IP) || !stun.IsMessage(buf[:n]) {
				continue
			}
			res := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if err := res.Decode(); err != nil || res.TransactionID != req.TransactionID {
				continue
			}
			var xor stun.XORMappedAddress
			if err := xor.GetFrom(res); err != nil {
				return nil, fmt.Errorf("binding response: %w", err)
			}
			return xor.IP, nil
		}
	}
	return nil, errors.New("no answer")
}

// isLocalIP tells whether ip is one of the host's addresses (no NAT).
func isLocalIP(ip net.IP) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

func stunURLs(servers []ICEServer) []string {
	var out []string
	for _, srv := range servers {
		for _, u := range srv.URLs {
			if strings.HasPrefix(strings.ToLower(u), "stun:") {
				out = append(out, u)
			}
		}
	}
	return out
}
