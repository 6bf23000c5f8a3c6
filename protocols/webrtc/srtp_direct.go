package webrtc

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/pion/dtls/v3"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	pion "github.com/pion/webrtc/v4"
)

// directSender writes one viewer's RTP without pion's per-packet layers:
// it encrypts with the viewer's own SRTP context, keyed from the session's
// DTLS handshake, and hands the datagram to the batched ICE socket
// addressed to the selected candidate pair's remote end.
//
// Why: with sends batched and segmented by the kernel (udpbatch.go), about
// 15% of a viewer's CPU was pion between WriteRTP and the socket, per
// packet: the interceptor adapter, the SRTP session's lock and pooled
// buffer (the packet marshalled, then encrypted into a second buffer), the
// mux endpoint, ICE's selected-pair lookup and its last-sent clock, then
// the UDP mux's checks. Here a packet is marshalled once into the viewer's
// buffer, encrypted in place, and copied once into the batch.
//
// pion keeps the DTLS connection private (no API exports the keying
// material of a PeerConnection), so dtlsConnOf reads the DTLS transport's
// field by reflection. It is checked, not assumed: a pion that renames or
// retypes the field makes newDirectSender fail, the viewer is served
// through pion as before, and TestWHIPToWHEP fails, so an upgrade
// cannot silently lose the fast path. Viewers on ICE-TCP keep pion's path.
type directSender struct {
	ctx  *srtp.Context // the writer goroutine's: a Context is not safe for concurrent use
	conn *batchConn
	addr atomic.Pointer[net.UDPAddr] // the selected pair's remote end
	buf  []byte
	hdr  rtp.Header // EncryptRTP's scratch: it parses the header into it
}

// srtpMaxOverhead is the most an SRTP profile adds to a packet (a GCM tag).
const srtpMaxOverhead = 16

var errNoDirectPath = errors.New("no direct SRTP path")

// newDirectSender keys a sender for pc, which must be connected, and
// follows its selected candidate pair. conn is the batched UDP socket and
// port its local port: a pair not on it (ICE-TCP) is refused.
func newDirectSender(pc *pion.PeerConnection, conn *batchConn, port int) (*directSender, error) {
	if conn == nil || pc.SCTP() == nil {
		return nil, errNoDirectPath
	}
	dt := pc.SCTP().Transport()
	dc, err := dtlsConnOf(dt)
	if err != nil {
		return nil, err
	}
	state, ok := dc.ConnectionState()
	if !ok {
		return nil, fmt.Errorf("%w: DTLS handshake not complete", errNoDirectPath)
	}
	selected, ok := dc.SelectedSRTPProtectionProfile()
	if !ok {
		return nil, fmt.Errorf("%w: no SRTP profile negotiated", errNoDirectPath)
	}
	profile, err := srtpProfile(selected)
	if err != nil {
		return nil, err
	}
	local := pc.LocalDescription()
	if local == nil {
		return nil, fmt.Errorf("%w: no local description", errNoDirectPath)
	}
	cfg := srtp.Config{Profile: profile}
	if err := cfg.ExtractSessionKeysFromDTLS(&state, dtlsClient(local.SDP)); err != nil {
		return nil, fmt.Errorf("%w: %w", errNoDirectPath, err)
	}
	ctx, err := srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, profile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoDirectPath, err)
	}
	s := &directSender{ctx: ctx, conn: conn, buf: make([]byte, 0, batchMTU)}
	it := dt.ICETransport()
	pair, err := it.GetSelectedCandidatePair()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoDirectPath, err)
	}
	addr := pairRemote(pair, port)
	if addr == nil {
		return nil, fmt.Errorf("%w: selected pair %v is not on the UDP socket", errNoDirectPath, pair)
	}
	s.addr.Store(addr)
	// A pair chosen later (a viewer whose network changed) is followed;
	// one that leaves the UDP socket sends nothing more from here.
	it.OnSelectedCandidatePairChange(func(p *pion.ICECandidatePair) {
		s.addr.Store(pairRemote(p, port))
	})
	return s, nil
}

// write sends one RTP packet: h with payload after it.
func (s *directSender) write(h *rtp.Header, payload []byte) (int, error) {
	addr := s.addr.Load()
	if addr == nil {
		return 0, nil
	}
	size := h.MarshalSize() + len(payload)
	if size+srtpMaxOverhead > cap(s.buf) {
		s.buf = make([]byte, 0, size+srtpMaxOverhead)
	}
	b := s.buf[:size]
	n, err := h.MarshalTo(b)
	if err != nil {
		return 0, err
	}
	copy(b[n:], payload)
	// In place: dst starts where the plaintext does.
	out, err := s.ctx.EncryptRTP(s.buf[:0], b, &s.hdr)
	if err != nil {
		return 0, err
	}
	return s.conn.WriteTo(out, addr)
}

// pairRemote is the pair's remote UDP address when its local end is the
// batched socket (a UDP host candidate on its port: the server gathers no
// others, see settingEngine); nil otherwise.
func pairRemote(p *pion.ICECandidatePair, port int) *net.UDPAddr {
	if p == nil || p.Local == nil || p.Remote == nil {
		return nil
	}
	if p.Local.Protocol != pion.ICEProtocolUDP || p.Local.Typ != pion.ICECandidateTypeHost || int(p.Local.Port) != port {
		return nil
	}
	ip := net.ParseIP(p.Remote.Address)
	if ip == nil {
		return nil
	}
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return &net.UDPAddr{IP: ip, Port: int(p.Remote.Port)}
}

// dtlsConnOf reads the DTLS transport's connection, which pion keeps in
// an unexported field (see directSender).
func dtlsConnOf(t *pion.DTLSTransport) (*dtls.Conn, error) {
	if t == nil {
		return nil, errNoDirectPath
	}
	f := reflect.ValueOf(t).Elem().FieldByName("conn")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*dtls.Conn]() {
		return nil, fmt.Errorf("%w: pion's DTLSTransport has no conn *dtls.Conn field", errNoDirectPath)
	}
	c := *(**dtls.Conn)(unsafe.Pointer(f.UnsafeAddr()))
	if c == nil {
		return nil, fmt.Errorf("%w: DTLS not connected", errNoDirectPath)
	}
	return c, nil
}

// dtlsClient tells from the local description whether this end is the
// DTLS client: "a=setup:active" (RFC 5763).
func dtlsClient(sdp string) bool {
	return strings.Contains(sdp, "a=setup:active")
}

func srtpProfile(p dtls.SRTPProtectionProfile) (srtp.ProtectionProfile, error) {
	switch p {
	case dtls.SRTP_AEAD_AES_128_GCM:
		return srtp.ProtectionProfileAeadAes128Gcm, nil
	case dtls.SRTP_AEAD_AES_256_GCM:
		return srtp.ProtectionProfileAeadAes256Gcm, nil
	case dtls.SRTP_AES128_CM_HMAC_SHA1_80:
		return srtp.ProtectionProfileAes128CmHmacSha1_80, nil
	}
	return 0, fmt.Errorf("%w: SRTP profile %#x", errNoDirectPath, uint16(p))
}

// directSender is a connected viewer's direct path, or nil (logged) when
// it has none and pion sends its packets.
func (s *Server) directSender(ss *session) *directSender {
	if s.ice == nil || ss.pc == nil {
		return nil
	}
	d, err := newDirectSender(ss.pc, s.ice.batch, s.ice.udpPort())
	if err != nil {
		ss.log.Debug("whep viewer sent through pion", "reason", err)
		return nil
	}
	return d
}
