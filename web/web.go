// Package web serves the browser side of Vitrine from the binary: the
// player page GET /watch/{id}, the seller's widget script GET /embed.js,
// the seller's console GET /console/ (a single-page app over the admin
// API) and their static assets under /static/ (content-hashed names,
// cached for a year, gzip).
//
// The JavaScript and CSS are plain modules in web/src, bundled by esbuild
// into web/dist (npm ci && npm run build in web/, which make run and CI do
// first). dist is embedded when the Go binary is built; without a build it
// holds only a placeholder, and the handler serves a page saying so, so
// that go build and go test work on a fresh clone without Node.
//
// It imports internal helpers only.
package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"
)

//go:embed all:dist
var dist embed.FS

// Dist is the embedded build output (web/dist).
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the directory is embedded: cannot happen
	}
	return sub
}

// Built reports whether the embedded dist holds a build (a manifest), as
// the browser tests need.
func Built() bool {
	_, err := fs.Stat(Dist(), "manifest.json")
	return err == nil
}

// Manifest is dist/manifest.json, written by build.mjs: the hashed file of
// each entry point, relative to dist.
type Manifest struct {
	PlayerJS   string `json:"player.js"`
	PlayerCSS  string `json:"player.css"`
	EmbedJS    string `json:"embed.js"`
	HLSJS      string `json:"hls.js"`
	ConsoleJS  string `json:"console.js"`
	ConsoleCSS string `json:"console.css"`
}

// Campaign is what the page's head needs of a campaign (title and preview
// for links shared in messengers).
type Campaign struct {
	Title       string
	Description string
	ImageURL    string
}

// ErrNotFound is Lookup's answer for a campaign viewers cannot see.
var ErrNotFound = errors.New("web: no such campaign")

// Config configures the handler.
type Config struct {
	// FS is the build output; nil: the embedded dist.
	FS fs.FS
	// Lookup finds a published campaign for the page's title; it returns
	// ErrNotFound (wrapped or not) for an unknown or unpublished one. nil:
	// every id gets the page, which finds out itself.
	Lookup func(ctx context.Context, id string) (Campaign, error)
	Logger *slog.Logger
}

// Handler serves the page, the widget and the assets.
type Handler struct {
	cfg      Config
	log      *slog.Logger
	built    bool
	manifest Manifest
	files    map[string]*asset // by URL path: /static/..., /embed.js
}

type asset struct {
	body, gz []byte
	ctype    string
	etag     string
	cache    string
}

// New loads every file of the build into memory, gzipped once.
func New(cfg Config) (*Handler, error) {
	if cfg.FS == nil {
		cfg.FS = Dist()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, log: cfg.Logger.With("component", "web"), files: map[string]*asset{}}
	b, err := fs.ReadFile(cfg.FS, "manifest.json")
	if errors.Is(err, fs.ErrNotExist) {
		h.log.Warn("the player page is not built: /watch and /embed.js answer 503; run make web (npm ci && npm run build in web/)")
		return h, nil
	}
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if err := json.Unmarshal(b, &h.manifest); err != nil {
		return nil, fmt.Errorf("web: manifest.json: %w", err)
	}
	if h.manifest.PlayerJS == "" || h.manifest.PlayerCSS == "" || h.manifest.EmbedJS == "" ||
		h.manifest.ConsoleJS == "" || h.manifest.ConsoleCSS == "" {
		return nil, errors.New("web: manifest.json lacks player.js, player.css, embed.js, console.js or console.css (rebuild: make web)")
	}
	err = fs.WalkDir(cfg.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		var cache string
		switch {
		case strings.HasPrefix(p, "static/"):
			cache = "public, max-age=31536000, immutable" // content-hashed names
		case p == h.manifest.EmbedJS:
			cache = "public, max-age=300" // a stable URL on sellers' pages
		default:
			return nil // manifest, placeholder, maps of other files
		}
		body, err := fs.ReadFile(cfg.FS, p)
		if err != nil {
			return err
		}
		h.files["/"+p] = newAsset(p, body, cache)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	for _, p := range []string{h.manifest.PlayerJS, h.manifest.PlayerCSS, h.manifest.EmbedJS, h.manifest.ConsoleJS, h.manifest.ConsoleCSS} {
		if h.files["/"+p] == nil {
			return nil, fmt.Errorf("web: manifest names %s, which is not in the build", p)
		}
	}
	h.built = true
	return h, nil
}

func newAsset(name string, body []byte, cache string) *asset {
	a := &asset{body: body, cache: cache}
	a.ctype = mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js", ".mjs":
		a.ctype = "text/javascript; charset=utf-8"
	case ".css":
		a.ctype = "text/css; charset=utf-8"
	case ".map", ".json":
		a.ctype = "application/json"
	}
	if a.ctype == "" {
		a.ctype = "application/octet-stream"
	}
	sum := sha256.Sum256(body)
	a.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
	if len(body) > 512 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if buf.Len() < len(body) {
			a.gz = buf.Bytes()
		}
	}
	return a
}

// Register mounts GET /watch/{id}, GET /embed.js, GET /console/ and GET
// /static/.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /watch/{id}", h.watch)
	mux.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /console/", h.console)
	mux.HandleFunc("GET /embed.js", h.embed)
	mux.HandleFunc("GET /static/", h.static)
}

// Manifest is the loaded manifest (zero when not built).
func (h *Handler) Manifest() Manifest { return h.manifest }

func (h *Handler) static(w http.ResponseWriter, r *http.Request) {
	a := h.files[r.URL.Path]
	if a == nil || !strings.HasPrefix(r.URL.Path, "/static/") {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	h.serveAsset(w, r, a)
}

func (h *Handler) embed(w http.ResponseWriter, r *http.Request) {
	if !h.built {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`console.error("Vitrine: the widget is not built on this server (make web)");` + "\n"))
		return
	}
	h.serveAsset(w, r, h.files["/"+h.manifest.EmbedJS])
}

func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request, a *asset) {
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("Cache-Control", a.cache)
	hd.Set("ETag", a.etag)
	hd.Set("X-Content-Type-Options", "nosniff")
	// Sellers' pages load the widget and may load modules cross-origin.
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
	hd.Add("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gz != nil && acceptsGzip(r) {
		hd.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	hd.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// CSP is the player page's Content-Security-Policy: scripts and styles of
// this server only; product images from anywhere (the seller's shop or
// CDN); media from this server and MSE blobs; connections to this server
// (HTTP and its WebSocket); framed by any site, since sellers embed it.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src * data: blob:; " +
	"media-src 'self' blob: data:; connect-src 'self' ws: wss:; worker-src 'self' blob:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors *"

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="color-scheme" content="dark light">
<link rel="icon" href="data:,">
<title>{{.Title}}</title>
{{- if .Description}}
<meta name="description" content="{{.Description}}">{{end}}
<meta property="og:type" content="video.other">
<meta property="og:title" content="{{.Title}}">
{{- if .Image}}
<meta property="og:image" content="{{.Image}}">{{end}}
{{- if .CSS}}
<link rel="stylesheet" href="/{{.CSS}}">
<link rel="modulepreload" href="/{{.JS}}">
<script type="module" src="/{{.JS}}"></script>{{end}}
</head>
<body>
<main id="vitrine" class="vt" data-campaign="{{.ID}}">
{{- if .Message}}<p class="vt-message">{{.Message}}</p>{{else}}<p class="vt-loading">Loading the live…</p>{{end}}
</main>
<noscript>This live needs JavaScript.</noscript>
</body>
</html>
`))

type pageData struct {
	ID, Title, Description, Image string
	JS, CSS, HLS                  string
	Message                       string
}

func (h *Handler) watch(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	hd.Set("Cache-Control", "no-cache")
	d := pageData{ID: id, Title: "Live"}
	status := http.StatusOK
	switch {
	case id == "" || len(id) > 128 || !utf8.ValidString(id):
		status, d.Message, d.Title = http.StatusNotFound, "This live does not exist.", "Not found"
	case !h.built:
		status, d.Message = http.StatusServiceUnavailable,
			"The player is not built on this server: run make web (npm ci && npm run build in web/), then rebuild Vitrine."
	case h.cfg.Lookup != nil:
		c, err := h.cfg.Lookup(r.Context(), id)
		switch {
		case errors.Is(err, ErrNotFound):
			status, d.Message, d.Title = http.StatusNotFound, "This live does not exist or is not published.", "Not found"
		case err != nil:
			h.log.Warn("watch page lookup", "campaign", id, "err", err)
		default:
			d.Title, d.Description, d.Image = c.Title, truncate(c.Description, 300), c.ImageURL
			if strings.HasPrefix(d.Image, "/") && !strings.HasPrefix(d.Image, "//") {
				// og:image must be absolute: this server, as the viewer reached it.
				scheme := "http://"
				if r.TLS != nil {
					scheme = "https://"
				}
				d.Image = scheme + r.Host + d.Image
			}
		}
	}
	if status == http.StatusOK {
		d.JS, d.CSS, d.HLS = h.manifest.PlayerJS, h.manifest.PlayerCSS, h.manifest.HLSJS
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, d); err != nil {
		h.log.Error("watch page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
