package configs

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
)

// hostNamePattern is a DNS name with at least two labels: what a public
// CA issues a certificate for (no IP address, wildcard, port or scheme).
var hostNamePattern = regexp.MustCompile(`^(?i)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// validateTLS checks the HTTPS settings of the http section: certificate
// files or ACME host names, not both.
func (c *Config) validateTLS(bad func(key, format string, args ...any), checkListen func(key, addr string)) {
	h := c.HTTP
	if (h.TLSCert == "") != (h.TLSKey == "") {
		bad("http.tls_cert", "tls_cert and tls_key are set together (a certificate and its key), or both left empty")
	}
	if h.TLSCert != "" && len(h.ACMEHosts) > 0 {
		bad("http.acme_hosts", "either certificate files (tls_cert, tls_key) or automatic certificates (acme_hosts), not both")
	}
	if len(h.ACMEHosts) == 0 {
		return
	}
	seen := map[string]bool{}
	for i, host := range h.ACMEHosts {
		key := fmt.Sprintf("http.acme_hosts[%d]", i)
		switch {
		case !hostNamePattern.MatchString(host) || len(host) > 253:
			bad(key, "%q is not a host name such as live.example.com (no scheme, port, IP address or wildcard)", host)
		case seen[strings.ToLower(host)]:
			bad(key, "%q is listed twice", host)
		}
		seen[strings.ToLower(host)] = true
	}
	if e := h.ACMEEmail; e != "" {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			bad("http.acme_email", "%q is not an e-mail address such as ops@example.com", e)
		}
	}
	if h.ACMEHTTPListen != "" {
		checkListen("http.acme_http_listen", h.ACMEHTTPListen)
		if _, port, _ := net.SplitHostPort(h.Listen); h.ACMEHTTPListen == h.Listen && port != "0" {
			bad("http.acme_http_listen", "must differ from http.listen (plain HTTP beside HTTPS)")
		}
	} else if _, port, _ := net.SplitHostPort(h.Listen); port != "443" {
		bad("http.acme_http_listen", "empty leaves only the TLS-ALPN-01 challenge, which the CA makes on port 443: "+
			"set http.listen to \":443\" or acme_http_listen to \":80\"")
	}
	if d := h.ACMEDirectoryURL; d != "" {
		if u, err := url.Parse(d); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("http.acme_directory_url", "%q is not an https URL", d)
		}
	}
}
