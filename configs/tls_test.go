package configs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTLSDefaultsAndOverrides(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.TLS() || c.HTTP.TLSCert != "" || len(c.HTTP.ACMEHosts) != 0 || c.HTTP.ACMEHTTPListen != ":80" {
		t.Fatalf("HTTPS is not off by default: %+v", c.HTTP)
	}
	if c.Admin.SessionTTL.Std() != 12*time.Hour {
		t.Fatalf("session ttl %s", c.Admin.SessionTTL.Std())
	}

	file := filepath.Join(t.TempDir(), "v.yml")
	yml := "http:\n  listen: \":443\"\n  tls_cert: /etc/v/cert.pem\n  tls_key: /etc/v/key.pem\nadmin:\n  session_ttl: 8h\n"
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.HTTP.TLS() || c.HTTP.TLSCert != "/etc/v/cert.pem" || c.HTTP.TLSKey != "/etc/v/key.pem" || c.Admin.SessionTTL.Std() != 8*time.Hour {
		t.Fatalf("file not applied: %+v %+v", c.HTTP, c.Admin)
	}

	c, err = Load("", []string{
		"VITRINE_HTTP_LISTEN=:443", "VITRINE_HTTP_ACME_HOSTS=live.example.com, shop.example.com",
		"VITRINE_HTTP_ACME_EMAIL=ops@example.com", "VITRINE_HTTP_ACME_HTTP_LISTEN=:8081",
		"VITRINE_HTTP_ACME_CACHE_DIR=/var/lib/v/acme", "VITRINE_HTTP_ACME_DIRECTORY_URL=https://ca.example.com/dir",
		"VITRINE_ADMIN_SESSION_TTL=1h",
	})
	if err != nil {
		t.Fatal(err)
	}
	h := c.HTTP
	if !h.TLS() || !slices.Equal(h.ACMEHosts, []string{"live.example.com", "shop.example.com"}) || h.ACMEEmail != "ops@example.com" ||
		h.ACMEHTTPListen != ":8081" || h.ACMECacheDir != "/var/lib/v/acme" || h.ACMEDirectoryURL != "https://ca.example.com/dir" ||
		c.Admin.SessionTTL.Std() != time.Hour {
		t.Fatalf("environment not applied: %+v", h)
	}
	// No challenge listener is fine on port 443 (TLS-ALPN-01).
	if _, err := Load("", []string{"VITRINE_HTTP_LISTEN=:443", "VITRINE_HTTP_ACME_HOSTS=live.example.com", "VITRINE_HTTP_ACME_HTTP_LISTEN="}); err != nil {
		t.Fatal(err)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"cert without key", []string{"VITRINE_HTTP_TLS_CERT=c.pem"}, "http.tls_cert: tls_cert and tls_key are set together"},
		{"key without cert", []string{"VITRINE_HTTP_TLS_KEY=k.pem"}, "http.tls_cert: tls_cert and tls_key are set together"},
		{"files and acme", []string{"VITRINE_HTTP_TLS_CERT=c.pem", "VITRINE_HTTP_TLS_KEY=k.pem", "VITRINE_HTTP_ACME_HOSTS=live.example.com"},
			"http.acme_hosts: either certificate files"},
		{"url as host", []string{"VITRINE_HTTP_ACME_HOSTS=https://live.example.com"}, "http.acme_hosts[0]"},
		{"host with port", []string{"VITRINE_HTTP_ACME_HOSTS=live.example.com:443"}, "http.acme_hosts[0]"},
		{"ip", []string{"VITRINE_HTTP_ACME_HOSTS=live.example.com,203.0.113.7"}, "http.acme_hosts[1]"},
		{"wildcard", []string{"VITRINE_HTTP_ACME_HOSTS=*.example.com"}, "http.acme_hosts[0]"},
		{"single label", []string{"VITRINE_HTTP_ACME_HOSTS=localhost"}, "http.acme_hosts[0]"},
		{"twice", []string{"VITRINE_HTTP_ACME_HOSTS=live.example.com,LIVE.example.com"}, "listed twice"},
		{"bad email", []string{"VITRINE_HTTP_ACME_HOSTS=live.example.com", "VITRINE_HTTP_ACME_EMAIL=Ops <ops@example.com>"}, "http.acme_email"},
		{"bad challenge listen", []string{"VITRINE_HTTP_ACME_HOSTS=live.example.com", "VITRINE_HTTP_ACME_HTTP_LISTEN=80"}, "http.acme_http_listen"},
		{"challenge on listen", []string{"VITRINE_HTTP_ACME_HOSTS=live.example.com", "VITRINE_HTTP_LISTEN=:80"}, "must differ from http.listen"},
		{"no challenge possible", []string{"VITRINE_HTTP_ACME_HOSTS=live.example.com", "VITRINE_HTTP_ACME_HTTP_LISTEN="}, "TLS-ALPN-01"},
		{"plain directory", []string{"VITRINE_HTTP_ACME_HOSTS=live.example.com", "VITRINE_HTTP_ACME_DIRECTORY_URL=http://ca.example.com/dir"},
			"http.acme_directory_url"},
		{"short session", []string{"VITRINE_ADMIN_SESSION_TTL=10s"}, "admin.session_ttl"},
		{"bad session", []string{"VITRINE_ADMIN_SESSION_TTL=forever"}, "not a duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("", tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
