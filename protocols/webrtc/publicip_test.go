package webrtc

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/pion/stun/v3"
)

// fakeSTUN answers binding requests with a public address of its choice,
// as a STUN server seen through a 1:1 NAT would.
func fakeSTUN(t *testing.T, public net.IP) string {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			req := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if req.Decode() != nil || req.Type != stun.BindingRequest {
				continue
			}
			res, err := stun.Build(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess,
				&stun.XORMappedAddress{IP: public, Port: from.Port}, stun.Fingerprint)
			if err == nil {
				_, _ = conn.WriteToUDP(res.Raw, from)
			}
		}
	}()
	return "stun:" + conn.LocalAddr().String()
}

// Bound to every interface with no public IP configured, the server asks
// STUN for its public address at Start and advertises it on the one port.
func TestPublicIPDiscovery(t *testing.T) {
	t.Parallel()
	public := net.IPv4(203, 0, 113, 7)
	url := fakeSTUN(t, public)
	ts := newTestServer(t, func(c *Config) {
		c.ICEListen = ":0"
		c.ICEServers = []ICEServer{{URLs: []string{"stun:unresolvable.invalid:3478", url}}}
	})
	resp, answer := post(t, ts.base+"/whip/c1", testKey, "application/sdp", whipOfferSDP(t))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", resp.StatusCode, answer)
	}
	_, port, _ := net.SplitHostPort(ts.ICEAddr().String())
	udp, tcp := false, false
	for l := range strings.SplitSeq(answer, "\n") {
		if !strings.HasPrefix(l, "a=candidate:") {
			continue
		}
		f := strings.Fields(l)
		if ip := net.ParseIP(f[4]); ip == nil || ip.To4() == nil {
			continue // IPv6 addresses have no mapping: advertised as they are
		}
		if f[4] != public.String() || f[5] != port {
			t.Errorf("candidate %q: want %s:%s", l, public, port)
		}
		udp = udp || strings.EqualFold(f[2], "udp")
		tcp = tcp || strings.EqualFold(f[2], "tcp")
	}
	if !udp || !tcp {
		t.Errorf("no IPv4 UDP and TCP candidates:\n%s", answer)
	}
}
