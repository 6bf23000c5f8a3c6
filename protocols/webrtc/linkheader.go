package webrtc

import (
	"fmt"
	"strings"
)

// iceLinks formats the ICE servers as Link header values (RFC 9725
// section 4.6): one per URL, rel="ice-server", with the TURN credentials as
// link parameters.
func iceLinks(servers []ICEServer) ([]string, error) {
	var out []string
	for _, srv := range servers {
		if len(srv.URLs) == 0 {
			return nil, fmt.Errorf("ICE server without URLs")
		}
		for _, u := range srv.URLs {
			scheme, _, ok := strings.Cut(u, ":")
			scheme = strings.ToLower(scheme)
			if !ok || (scheme != "stun" && scheme != "stuns" && scheme != "turn" && scheme != "turns") {
				return nil, fmt.Errorf("ICE server URL %q: want stun:, stuns:, turn: or turns:", u)
			}
			// A URI reference inside <...> may not hold these (RFC 8288).
			if strings.ContainsAny(u, "<> \t\r\n\"") {
				return nil, fmt.Errorf("ICE server URL %q has characters not allowed in a Link header", u)
			}
			if hasCTL(srv.Username) || hasCTL(srv.Credential) {
				return nil, fmt.Errorf("ICE server %q: control characters in the credentials", u)
			}
			v := "<" + u + `>; rel="ice-server"`
			if scheme == "turn" || scheme == "turns" {
				if srv.Username != "" || srv.Credential != "" {
					v += `; username=` + quote(srv.Username) + `; credential=` + quote(srv.Credential) +
						`; credential-type="password"`
				}
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// quote makes an HTTP quoted-string (RFC 9110 section 5.6.4).
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}
