package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vitrine/api"
	"vitrine/configs"
)

const tlsTestToken = "tls-test-admin-token-0123456789"

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and
// localhost, and its key, as PEM files in dir; it returns the certificate.
func writeSelfSigned(t *testing.T, dir, name string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	// Written aside and renamed, as a renewal tool does.
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "PRIVATE KEY", Bytes: kb}} {
		if err := os.WriteFile(file+".new", pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".new", file); err != nil {
			t.Fatal(err)
		}
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// tlsClient trusts the given certificates only.
func tlsClient(certs ...*x509.Certificate) *http.Client {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true},
		Timeout:   10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func TestTLSCertificateFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, cert := writeSelfSigned(t, dir, "first")
	s := startServer(t, func(c *configs.Config) {
		c.HTTP.TLSCert, c.HTTP.TLSKey = certFile, keyFile
		c.Admin.Token = tlsTestToken
	})
	base := "https://" + s.HTTPAddr().String()
	client := tlsClient(cert)

	res, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(body) != "ok\n" || res.TLS == nil {
		t.Fatalf("healthz over HTTPS: %d %q", res.StatusCode, body)
	}
	if res.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2 offered over TLS", res.Proto)
	}
	if v := res.TLS.Version; v < tls.VersionTLS12 {
		t.Errorf("TLS version %x", v)
	}

	// Plain HTTP on the HTTPS port is refused.
	if res, err := http.Get("http://" + s.HTTPAddr().String() + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP on the HTTPS port: %d", res.StatusCode)
		}
	}

	// Signing in over TLS sets a Secure cookie, which then works with the
	// server's own https origin (and not with an http one).
	res, err = client.Post(base+"/api/v1/session", "application/json", strings.NewReader(`{"token": "`+tlsTestToken+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == api.SessionCookie {
			cookie = c
		}
	}
	if res.StatusCode != http.StatusCreated || cookie == nil {
		t.Fatalf("sign-in over HTTPS: %d, cookies %v", res.StatusCode, res.Header.Values("Set-Cookie"))
	}
	if !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Fatalf("session cookie over TLS: %+v", cookie)
	}
	post := func(origin string) int {
		req, _ := http.NewRequest("POST", base+"/api/v1/products",
			strings.NewReader(`{"sku": "S-`+strings.TrimPrefix(origin, "http")+`", "name": "Boots", "price": "10", "currency": "EUR"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := post(base); st != http.StatusCreated {
		t.Errorf("cookie POST from the https origin: %d", st)
	}
	if st := post("http://" + s.HTTPAddr().String()); st != http.StatusForbidden {
		t.Errorf("cookie POST from the http origin: %d, want 403", st)
	}

	// A renewed certificate is served without a restart.
	_, _, renewed := writeSelfSigned(t, dir, "second")
	s.https.files.mu.Lock()
	s.https.files.checked = time.Time{}
	s.https.files.mu.Unlock()
	conn, err := tls.Dial("tcp", s.HTTPAddr().String(), &tls.Config{RootCAs: tlsClient(renewed).Transport.(*http.Transport).TLSClientConfig.RootCAs})
	if err != nil {
		t.Fatalf("the renewed certificate is not served: %v", err)
	}
	if cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "second" {
		t.Errorf("served %q after the renewal", cn)
	}
	conn.Close()
}

func TestTLSConfigRefused(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := writeSelfSigned(t, dir, "x")
	cfg, err := configs.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data.Dir = t.TempDir()
	for name, set := range map[string]func(*configs.Config){
		"missing cert":    func(c *configs.Config) { c.HTTP.TLSCert, c.HTTP.TLSKey = filepath.Join(dir, "none.pem"), keyFile },
		"key is the cert": func(c *configs.Config) { c.HTTP.TLSCert, c.HTTP.TLSKey = certFile, certFile },
		"only the cert":   func(c *configs.Config) { c.HTTP.TLSCert, c.HTTP.TLSKey = certFile, "" },
	} {
		c := *cfg
		set(&c)
		if _, err := New(&c, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "http.tls_") {
			t.Errorf("%s: %v, want an http.tls_ error", name, err)
		}
	}
}

// With ACME, the plain-HTTP listener answers challenges and sends the
// rest to HTTPS on a configured host name; a TLS handshake for a name not
// configured is refused without asking the CA.
func TestTLSAutomaticCertificates(t *testing.T) {
	s := startServer(t, func(c *configs.Config) {
		c.HTTP.ACMEHosts = []string{"live.example.com"}
		c.HTTP.ACMEHTTPListen = "127.0.0.1:0"
		c.HTTP.ACMEDirectoryURL = "https://127.0.0.1:1/directory" // never reached here
	})
	if fi, err := os.Stat(filepath.Join(s.cfg.Data.Dir, "acme")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("cache directory: %v %v", fi, err)
	}
	plain := "http://" + s.https.challengeLn.Addr().String()
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	_, port, _ := net.SplitHostPort(s.HTTPAddr().String())
	for _, tc := range []struct {
		method, host, path string
		status             int
		location           string
	}{
		{"GET", "live.example.com", "/console/?x=1", http.StatusFound, "https://live.example.com:" + port + "/console/?x=1"},
		{"POST", "LIVE.example.com", "/api/v1/session", http.StatusTemporaryRedirect, "https://live.example.com:" + port + "/api/v1/session"},
		{"GET", "evil.example", "/", http.StatusFound, "https://live.example.com:" + port + "/"},
	} {
		req, _ := http.NewRequest(tc.method, plain+tc.path, nil)
		req.Host = tc.host
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.status || res.Header.Get("Location") != tc.location {
			t.Errorf("%s %s%s: %d %q, want %d %q", tc.method, tc.host, tc.path, res.StatusCode, res.Header.Get("Location"), tc.status, tc.location)
		}
	}
	// A challenge token the server does not hold: not a redirect.
	req, _ := http.NewRequest("GET", plain+"/.well-known/acme-challenge/unknown", nil)
	req.Host = "live.example.com"
	if res, err := client.Do(req); err != nil {
		t.Fatal(err)
	} else if res.Body.Close(); res.StatusCode < 400 {
		t.Errorf("unknown challenge: %d", res.StatusCode)
	}
	conn, err := tls.Dial("tcp", s.HTTPAddr().String(), &tls.Config{ServerName: "other.example.com", InsecureSkipVerify: true})
	if err == nil {
		conn.Close()
		t.Fatal("a handshake for a host not in acme_hosts succeeded")
	}

	// With an https public URL, the redirect goes there (ports mapped
	// outside differ from the bound one).
	h := redirectToHTTPS("https://live.example.com", func() string { return "8443" }, []string{"live.example.com"})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://live.example.com/console/", nil))
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "https://live.example.com/console/" {
		t.Fatalf("redirect with a public URL: %d %q", rec.Code, rec.Header().Get("Location"))
	}
}
