package transport

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"vitrine/overlay"
)

// handshakeFrom opens an events socket as a client behind a proxy that
// says it is from (empty: no header, the loopback peer itself) and
// returns the status and the body of a refusal; a socket that was
// upgraded stays open until the test ends or close is called.
func handshakeFrom(t *testing.T, e *wsEnv, from string) (status int, body string, close func()) {
	t.Helper()
	xff := ""
	if from != "" {
		xff = "X-Forwarded-For: " + from + "\r\n"
	}
	conn, _, resp := rawHandshake(t, e, "", xff)
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body.Close()
	}
	return resp.StatusCode, string(b), func() { conn.Close() }
}

// TestWSSocketCaps: one address holds at most MaxPerAddress sockets (429),
// loopback only counts in the server's total, the total is bounded (503),
// and a socket that closes gives its slot back; on both the parked and the
// goroutine path.
func TestWSSocketCaps(t *testing.T) {
	for _, noParking := range []bool{false, true} {
		t.Run(fmt.Sprintf("noParking=%v", noParking), func(t *testing.T) {
			e := newWSEnv(t, overlay.Config{CountInterval: -1}, Config{MaxSockets: 5, MaxPerAddress: 2, TrustProxy: true, NoParking: noParking})
			expect := func(from string, want int, inBody string) func() {
				t.Helper()
				status, body, closeIt := handshakeFrom(t, e, from)
				if status != want || !strings.Contains(body, inBody) {
					t.Fatalf("from %q: %d %s, want %d with %q", from, status, body, want, inBody)
				}
				return closeIt
			}
			first := expect("203.0.113.7", http.StatusSwitchingProtocols, "")
			expect("203.0.113.7", http.StatusSwitchingProtocols, "")
			expect("203.0.113.7", http.StatusTooManyRequests, `"code":"rate_limited"`)
			expect("203.0.113.8", http.StatusSwitchingProtocols, "")
			expect("2001:db8::1", http.StatusSwitchingProtocols, "")
			expect("", http.StatusSwitchingProtocols, "") // loopback: exempt from the per-address bound
			expect("198.51.100.1", http.StatusServiceUnavailable, `"code":"too_many_sockets"`)
			if n := e.h.Open(); n != 5 {
				t.Fatalf("%d sockets open, want 5", n)
			}
			first()
			waitFor(t, "the closed socket's slot back", func() bool { return e.h.Open() == 4 })
			expect("203.0.113.7", http.StatusSwitchingProtocols, "")
		})
	}
}
