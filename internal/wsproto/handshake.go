package wsproto

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// The opening handshake (section 4).

// keyGUID is appended to a client's key to make the server's accept.
const keyGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Version is the only protocol version spoken (section 4.4).
const Version = "13"

// HandshakeError is an upgrade request refused: the HTTP status, the
// API's error code and message, and the headers the answer must carry.
type HandshakeError struct {
	Status  int
	Code    string
	Message string
	Header  http.Header
}

func (e *HandshakeError) Error() string { return e.Message }

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

// CheckUpgrade validates a WebSocket upgrade request against the origins
// allowed (see CheckOrigin): nil if it may be upgraded.
func CheckUpgrade(r *http.Request, origins []string) *HandshakeError {
	if r.Method != http.MethodGet || !headerHas(r.Header, "Connection", "upgrade") ||
		!headerHas(r.Header, "Upgrade", "websocket") {
		return &HandshakeError{Status: http.StatusUpgradeRequired, Code: "upgrade_required",
			Message: "this is a WebSocket endpoint: connect with a WebSocket client",
			Header:  http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {Version}}}
	}
	if r.Header.Get("Sec-WebSocket-Version") != Version {
		// Section 4.4: the versions the server speaks, in the answer.
		return &HandshakeError{Status: http.StatusUpgradeRequired, Code: "bad_handshake",
			Message: "Sec-WebSocket-Version must be " + Version,
			Header:  http.Header{"Sec-Websocket-Version": {Version}}}
	}
	if k, err := base64.StdEncoding.DecodeString(r.Header.Get("Sec-WebSocket-Key")); err != nil || len(k) != 16 {
		return &HandshakeError{Status: http.StatusBadRequest, Code: "bad_handshake",
			Message: "Sec-WebSocket-Key must be 16 bytes in base64"}
	}
	if err := CheckOrigin(r, origins); err != nil {
		return &HandshakeError{Status: http.StatusForbidden, Code: "forbidden_origin", Message: err.Error()}
	}
	return nil
}

// CheckOrigin allows a request without Origin (not a browser), from the
// server's own host, or from an origin whose host matches one of patterns
// (path.Match, case-insensitive). nil patterns allow every origin.
func CheckOrigin(r *http.Request, patterns []string) error {
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

// AcceptKey is the Sec-WebSocket-Accept for a client's key.
func AcceptKey(key string) string {
	sum := sha1.Sum([]byte(key + keyGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// AcceptResponse is the server's answer to an upgrade with key.
func AcceptResponse(key string) []byte {
	return []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		AcceptKey(key) + "\r\n\r\n")
}

// NewKey is a client's random Sec-WebSocket-Key.
func NewKey() string {
	var k [16]byte
	_, _ = rand.Read(k[:])
	return base64.StdEncoding.EncodeToString(k[:])
}

// WriteRequest writes a client's upgrade request for u with key.
func WriteRequest(w io.Writer, u *url.URL, key string) error {
	_, err := fmt.Fprintf(w, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: %s\r\n\r\n", u.RequestURI(), u.Host, key, Version)
	return err
}

// CheckResponse checks a server's answer to an upgrade with key.
func CheckResponse(res *http.Response, key string) error {
	if res.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("handshake: HTTP %s", res.Status)
	}
	if res.Header.Get("Sec-WebSocket-Accept") != AcceptKey(key) {
		return fmt.Errorf("handshake: Sec-WebSocket-Accept does not match the key")
	}
	return nil
}
