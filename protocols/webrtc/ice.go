package webrtc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/pion/ice/v4"
	pion "github.com/pion/webrtc/v4"
)

const (
	// listenAttempts bounds the retries when the ephemeral UDP port picked
	// for ":0" is taken on TCP.
	listenAttempts = 20
	// socketBuffer is asked of the kernel for the one UDP socket that
	// carries every session (capped by net.core.[rw]mem_max).
	socketBuffer = 4 << 20
	// tcpWriteBuffer is the per-connection ICE-TCP send buffer: a viewer
	// whose TCP window is closed loses packets instead of blocking pion's
	// writers (ICE keepalives, DTLS, RTCP).
	tcpWriteBuffer = 1 << 20
	// tcpFirstSTUN drops TCP connections that do not start ICE quickly.
	tcpFirstSTUN = 10 * time.Second
	// iceKeepalive is the interval of STUN keepalives on a selected pair.
	iceKeepalive = 2 * time.Second
)

// iceListeners are the one UDP socket and the TCP listener on the same port
// that carry every session's ICE, DTLS and SRTP.
type iceListeners struct {
	udp    *net.UDPConn
	tcp    net.Listener
	udpMux ice.UDPMux
	tcpMux ice.TCPMux
	batch  *batchConn // the UDP socket's writer, shared with viewers' direct sends
	host   net.IP     // the bound IP; nil when unspecified
}

// listenICE binds UDP, then TCP on the same port. With port 0 the kernel
// picks a UDP port that may be taken on TCP: then it tries another.
func listenICE(addr string) (*iceListeners, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("ICE listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("ICE listen address %q: bad port", addr)
	}
	var ip net.IP
	if host != "" {
		if ip = net.ParseIP(host); ip == nil {
			return nil, fmt.Errorf("ICE listen address %q: host must be an IP address", addr)
		}
	}
	var lastErr error
	for range listenAttempts {
		udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port})
		if err != nil {
			return nil, fmt.Errorf("ICE UDP: %w", err)
		}
		bound := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(bound)))
		if err != nil {
			_ = udp.Close()
			lastErr = err
			if port != 0 || !errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("ICE TCP: %w", err)
			}
			continue
		}
		// Best effort: the kernel caps these, and a small buffer only
		// means drops under bursts.
		_ = udp.SetReadBuffer(socketBuffer)
		_ = udp.SetWriteBuffer(socketBuffer)

		l := &iceListeners{udp: udp, tcp: tcp}
		if ip != nil && !ip.IsUnspecified() {
			l.host = ip
		}
		return l, nil
	}
	return nil, fmt.Errorf("ICE TCP: no port free for both UDP and TCP: %w", lastErr)
}

// startMuxes hands the sockets to pion's muxes, which read them from then on.
func (l *iceListeners) startMuxes(log *slog.Logger) {
	// pion warns that a mux on an unspecified address should be a
	// MultiUDPMux (one socket per interface, so that replies leave from
	// the address the client used). One socket is what keeps one port for
	// ephemeral ports too; the kernel picks the source address by route,
	// right on single-homed hosts.
	l.batch = newBatchConn(l.udp) // writes leave in batches (udpbatch.go)
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{
		UDPConn: l.batch,
		Logger:  pionLogger{log: log.With("pion", "udpmux"), quiet: true},
	})
	l.udpMux = hostMux{UDPMux: mux, addrs: advertised(mux.GetListenAddresses(), l.host != nil)}
	l.tcpMux = ice.NewTCPMuxDefault(ice.TCPMuxParams{
		Listener:             l.tcp,
		Logger:               pionLogger{log: log.With("pion", "tcpmux")},
		ReadBufferSize:       64,
		WriteBufferSize:      tcpWriteBuffer,
		FirstStunBindTimeout: tcpFirstSTUN,
	})
}

// hostMux is the UDP mux with the addresses its host candidates advertise.
type hostMux struct {
	ice.UDPMux
	addrs []net.Addr
}

func (m hostMux) GetListenAddresses() []net.Addr { return m.addrs }

// advertised drops, from an unspecified bind's interface addresses, those
// no remote viewer can reach (loopback, link-local). An explicit bind
// address is advertised as it is.
func advertised(addrs []net.Addr, explicit bool) []net.Addr {
	if explicit {
		return addrs
	}
	out := make([]net.Addr, 0, len(addrs))
	for _, a := range addrs {
		if u, ok := a.(*net.UDPAddr); ok && (u.IP.IsLoopback() || u.IP.IsLinkLocalUnicast()) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// udpPort is the port of the UDP socket.
func (l *iceListeners) udpPort() int { return l.udp.LocalAddr().(*net.UDPAddr).Port }

func (l *iceListeners) close() {
	// The muxes close their sockets.
	if l.udpMux == nil {
		_ = l.udp.Close()
		_ = l.tcp.Close()
		return
	}
	_ = l.udpMux.Close()
	_ = l.tcpMux.Close()
}

// settingEngine is shared by every session: the muxes, candidates and
// timeouts.
func (s *Server) settingEngine(l *iceListeners) pion.SettingEngine {
	var se pion.SettingEngine
	se.LoggerFactory = pionLoggerFactory{log: s.log}
	se.SetICEUDPMux(l.udpMux)
	se.SetICETCPMux(l.tcpMux)
	// Everything on the one port: no active TCP dialing out from random
	// ports, no per-session sockets.
	se.DisableActiveTCP(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(s.cfg.ICEDisconnectedTimeout, s.cfg.ICEFailedTimeout, iceKeepalive)

	types := []pion.NetworkType{pion.NetworkTypeUDP4, pion.NetworkTypeTCP4, pion.NetworkTypeUDP6, pion.NetworkTypeTCP6}
	if l.host != nil && l.host.To4() != nil {
		types = types[:2]
	}
	se.SetNetworkTypes(types)
	if l.host != nil {
		// TCP candidates are gathered from the interfaces: advertise only
		// the address the listener is bound to.
		host := l.host
		se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(host) })
		se.SetIncludeLoopbackCandidate(host.IsLoopback())
	}
	if len(s.publicIPs) > 0 {
		se.SetNAT1To1IPs(s.publicIPs, pion.ICECandidateTypeHost)
	}
	return se
}
