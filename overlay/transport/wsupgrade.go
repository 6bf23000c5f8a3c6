package transport

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"vitrine/internal/httperr"
)

// The upgrade of a parked socket (RFC 6455, section 4.2): the handler
// answers the handshake itself and keeps the bare TCP connection, so that
// neither net/http's buffers nor a goroutine stay with an idle viewer.

// wsGUID is the key suffix of the handshake.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// headerHas says whether a comma-separated header holds token.
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// checkUpgrade validates a WebSocket upgrade request: its status and
// message if it is not one this server accepts.
func checkUpgrade(r *http.Request, origins []string) (int, string, string) {
	if r.Method != http.MethodGet || !headerHas(r.Header, "Connection", "upgrade") ||
		!headerHas(r.Header, "Upgrade", "websocket") {
		return http.StatusUpgradeRequired, "upgrade_required", "this is a WebSocket endpoint: connect with a WebSocket client"
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		return http.StatusBadRequest, "bad_handshake", "Sec-WebSocket-Version must be 13"
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return http.StatusBadRequest, "bad_handshake", "Sec-WebSocket-Key must be 16 bytes in base64"
	}
	if err := checkOrigin(r, origins); err != nil {
		return http.StatusForbidden, "forbidden_origin", err.Error()
	}
	return 0, "", ""
}

// checkOrigin allows a request without Origin, from the server's own
// host, or from an origin whose host matches one of patterns (path.Match,
// case-insensitive). nil patterns allow every origin.
func checkOrigin(r *http.Request, patterns []string) error {
	origin := r.Header.Get("Origin")
	if origin == "" || patterns == nil {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Errorf("origin %q is not a URL with a host", origin)
	}
	if strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	for _, p := range patterns {
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(u.Host)); ok {
			return nil
		}
	}
	return fmt.Errorf("origin %q may not open this socket", u.Host)
}

// errNotTCP: the connection under the request is not a plain TCP socket
// (TLS, a test's pipe): it cannot be parked.
var errNotTCP = errors.New("not a TCP connection")

// upgrade answers the handshake checked by checkUpgrade and returns the
// bare connection, with nothing of the client's left unread in net/http's
// buffer (a client may not send frames before the handshake's answer; one
// that did is refused).
func upgrade(w http.ResponseWriter, r *http.Request) (*net.TCPConn, error) {
	rc := http.NewResponseController(w)
	conn, brw, err := rc.Hijack()
	if err != nil {
		httperr.Write(w, http.StatusInternalServerError, "internal", "the connection cannot be upgraded")
		return nil, fmt.Errorf("hijack: %w", err)
	}
	tcp, ok := conn.(*net.TCPConn)
	if !ok || brw.Reader.Buffered() > 0 {
		conn.Close()
		if !ok {
			return nil, errNotTCP
		}
		return nil, errors.New("the client sent data before the handshake's answer")
	}
	sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + wsGUID))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
	_ = tcp.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := tcp.Write([]byte(resp)); err != nil {
		tcp.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	_ = tcp.SetDeadline(time.Time{})
	return tcp, nil
}
