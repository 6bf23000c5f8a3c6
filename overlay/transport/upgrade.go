package transport

import (
	"errors"
	"fmt"
	"net"
	"net/http"

	"vitrine/internal/httperr"
	"vitrine/internal/wsproto"
)

// refuseUpgrade answers an upgrade request that wsproto.CheckUpgrade
// refused, in the API's error shape with the headers the refusal needs.
func refuseUpgrade(w http.ResponseWriter, e *wsproto.HandshakeError) {
	for k, v := range e.Header {
		w.Header()[k] = v
	}
	httperr.Write(w, e.Status, e.Code, e.Message)
}

// errNotTCP: the connection under the request is not a plain TCP socket
// (TLS, a test's pipe): it cannot be parked.
var errNotTCP = errors.New("not a TCP connection")

// upgradeBare answers the handshake and returns the bare connection of a
// socket to be parked, with nothing of the client's left unread in
// net/http's buffer: neither net/http's buffers nor a goroutine stay with
// an idle viewer (a client may not send frames before the handshake's
// answer; one that did is refused).
func upgradeBare(w http.ResponseWriter, r *http.Request) (*net.TCPConn, error) {
	conn, br, err := wsproto.Hijack(w, r)
	if err != nil {
		return nil, err
	}
	tcp, ok := conn.(*net.TCPConn)
	if !ok || br.Buffered() > 0 {
		conn.Close()
		if !ok {
			return nil, errNotTCP
		}
		return nil, fmt.Errorf("the client sent data before the handshake's answer")
	}
	return tcp, nil
}
