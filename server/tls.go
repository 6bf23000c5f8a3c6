package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"vitrine/configs"
)

// HTTPS on the HTTP listener (http.listen), when configured: from a
// certificate and key in PEM files (re-read when they change, so that a
// renewal by certbot or another tool needs no restart), or from an ACME
// CA (Let's Encrypt) through autocert, which answers the HTTP-01
// challenge on http.acme_http_listen (":80") and TLS-ALPN-01 on the
// listener itself. HTTP/2 is offered beside HTTP/1.1 (LL-HLS gains from
// it; WebSockets go over HTTP/1.1).

// certCheckInterval is how often the certificate files are looked at.
const certCheckInterval = time.Minute

// httpsSetup is the HTTPS side of the server.
type httpsSetup struct {
	config *tls.Config
	files  *certFiles // nil with ACME

	// ACME's plain-HTTP listener: challenges, and a redirect to HTTPS.
	challenge     *http.Server // nil: none
	challengeAddr string
	challengeLn   net.Listener
	httpsPort     string // the bound port of http.listen, for the redirect
	log           *slog.Logger
}

// newHTTPS prepares HTTPS from the configuration: nil when it asks for
// plain HTTP. The certificate files are read now, so that a wrong path
// or a key that does not match stops the start with a clear error.
func newHTTPS(cfg *configs.Config, log *slog.Logger) (*httpsSetup, error) {
	h := cfg.HTTP
	switch {
	case h.TLSCert != "":
		files, err := loadCertFiles(h.TLSCert, h.TLSKey, log)
		if err != nil {
			return nil, err
		}
		return &httpsSetup{files: files, log: log,
			config: &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: files.get}}, nil
	case len(h.ACMEHosts) > 0:
		dir := h.ACMECacheDir
		if dir == "" {
			dir = filepath.Join(cfg.Data.Dir, "acme")
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("http.acme_cache_dir: %w", err)
		}
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS, // setting acme_hosts accepts them (README)
			Cache:      autocert.DirCache(dir),
			HostPolicy: autocert.HostWhitelist(h.ACMEHosts...),
			Email:      h.ACMEEmail,
		}
		if h.ACMEDirectoryURL != "" {
			m.Client = &acme.Client{DirectoryURL: h.ACMEDirectoryURL}
		}
		tc := m.TLSConfig() // h2, http/1.1 and acme-tls/1 (TLS-ALPN-01)
		tc.MinVersion = tls.VersionTLS12
		s := &httpsSetup{config: tc, log: log}
		if h.ACMEHTTPListen != "" {
			s.challengeAddr = h.ACMEHTTPListen
			s.challenge = &http.Server{
				Handler:           m.HTTPHandler(redirectToHTTPS(h.PublicURL, func() string { return s.httpsPort }, h.ACMEHosts)),
				ReadHeaderTimeout: 10 * time.Second,
				ReadTimeout:       30 * time.Second,
				WriteTimeout:      30 * time.Second,
				IdleTimeout:       time.Minute,
				ErrorLog:          slog.NewLogLogger(log.With("component", "acme-http").Handler(), slog.LevelWarn),
			}
		}
		log.Info("automatic certificates", "hosts", h.ACMEHosts, "cache", dir, "challenge_listen", h.ACMEHTTPListen)
		return s, nil
	}
	return nil, nil
}

// redirectToHTTPS sends plain-HTTP requests that are not ACME challenges
// to the same path over HTTPS: at the public URL when it is an https one
// (ports mapped by Docker or a firewall differ from the bound one), else
// on a configured host name (never one taken from the request unless it
// is one of them) and the HTTPS listener's port. The redirect is
// temporary: turning HTTPS off again leaves no browser stuck.
func redirectToHTTPS(publicURL string, httpsPort func() string, hosts []string) http.Handler {
	var public *url.URL
	if u, err := url.Parse(publicURL); err == nil && u.Scheme == "https" && u.Host != "" {
		public = u
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusTemporaryRedirect
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			code = http.StatusFound
		}
		if public != nil {
			http.Redirect(w, r, "https://"+public.Host+r.URL.RequestURI(), code)
			return
		}
		port := httpsPort()
		host := hosts[0]
		reqHost := r.Host
		if h, _, err := net.SplitHostPort(reqHost); err == nil {
			reqHost = h
		}
		for _, h := range hosts {
			if strings.EqualFold(h, reqHost) {
				host = h
			}
		}
		if port != "443" && port != "" {
			host = net.JoinHostPort(host, port)
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), code)
	})
}

// start opens the ACME challenge listener, if any, once the HTTPS
// listener is open at httpsAddr. nil-safe.
func (h *httpsSetup) start(httpsAddr net.Addr) error {
	if h == nil || h.challenge == nil {
		return nil
	}
	_, h.httpsPort, _ = net.SplitHostPort(httpsAddr.String())
	ln, err := net.Listen("tcp", h.challengeAddr)
	if err != nil {
		return fmt.Errorf("acme_http_listen (HTTP-01 challenges; port 80 needs root or CAP_NET_BIND_SERVICE): %w", err)
	}
	h.challengeLn = ln
	go func() {
		if err := h.challenge.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("ACME challenge listener stopped", "error", err)
		}
	}()
	return nil
}

// close stops the challenge listener. nil-safe.
func (h *httpsSetup) close(ctx context.Context) {
	if h == nil || h.challengeLn == nil {
		return
	}
	if err := h.challenge.Shutdown(ctx); err != nil {
		h.log.Warn("acme challenge listener shutdown", "error", err)
	}
}

// serveHTTP serves the HTTP listener, over TLS when configured.
func (s *Server) serveHTTP() error {
	if s.https != nil {
		return s.httpSrv.ServeTLS(s.httpLn, "", "")
	}
	return s.httpSrv.Serve(s.httpLn)
}

// scheme is the HTTP listener's URL scheme.
func (s *Server) scheme() string {
	if s.https != nil {
		return "https"
	}
	return "http"
}

// certFiles serves a certificate from PEM files and loads them again
// when they change. A pair that does not load (a renewal half written) is
// retried at the next check; the previous certificate stays in service.
type certFiles struct {
	certFile, keyFile string
	log               *slog.Logger

	mu       sync.Mutex
	cert     *tls.Certificate
	stamp    string // the files' sizes and modification times
	checked  time.Time
	interval time.Duration
}

func loadCertFiles(certFile, keyFile string, log *slog.Logger) (*certFiles, error) {
	f := &certFiles{certFile: certFile, keyFile: keyFile, log: log, interval: certCheckInterval}
	stamp, err := f.fileStamp()
	if err != nil {
		return nil, fmt.Errorf("http.tls_cert: %w", err)
	}
	if err := f.load(stamp); err != nil {
		return nil, fmt.Errorf("http.tls_cert and http.tls_key: %w", err)
	}
	f.checked = time.Now()
	return f, nil
}

func (f *certFiles) fileStamp() (string, error) {
	var b strings.Builder
	for _, name := range []string{f.certFile, f.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%d/%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String(), nil
}

// load reads the pair; f.mu is held (or f is not shared yet).
func (f *certFiles) load(stamp string) error {
	cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		return err
	}
	f.cert, f.stamp = &cert, stamp
	if leaf := cert.Leaf; leaf != nil {
		attrs := []any{"file", f.certFile, "names", leaf.DNSNames, "expires", leaf.NotAfter}
		if time.Now().After(leaf.NotAfter) {
			f.log.Warn("the TLS certificate has expired", attrs...)
		} else {
			f.log.Info("TLS certificate loaded", attrs...)
		}
	}
	return nil
}

// get is the tls.Config's GetCertificate.
func (f *certFiles) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := time.Now(); now.Sub(f.checked) >= f.interval {
		f.checked = now
		stamp, err := f.fileStamp()
		switch {
		case err != nil:
			f.log.Warn("TLS certificate files unreadable; keeping the loaded certificate", "error", err)
		case stamp != f.stamp:
			if err := f.load(stamp); err != nil {
				f.log.Warn("TLS certificate files changed but do not load; keeping the loaded certificate", "error", err)
			}
		}
	}
	return f.cert, nil
}
