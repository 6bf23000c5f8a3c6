package web

import (
	"bytes"
	"html/template"
	"net/http"
)

// ConsoleCSP is the console's Content-Security-Policy: its own scripts and
// styles; images uploaded here or on the seller's shop; the camera's
// preview and WHEP's media (blobs, streams); connections to this server
// only; never framed (it acts with the seller's session).
const ConsoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src * data: blob:; " +
	"media-src 'self' blob: mediastream:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

var consoleTmpl = template.Must(template.New("console").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<meta name="referrer" content="same-origin">
<link rel="icon" href="data:,">
<title>Vitrine console</title>
{{- if .CSS}}
<link rel="stylesheet" href="/{{.CSS}}">
<script type="module" src="/{{.JS}}"></script>{{end}}
</head>
<body>
<div id="console">{{if .Message}}<p class="boot-message">{{.Message}}</p>{{else}}<p class="boot-message">Loading the console…</p>{{end}}</div>
<noscript>The console needs JavaScript.</noscript>
</body>
</html>
`))

// console serves the console's page for every path under /console/: the
// app routes in the browser (History API), so a reload or a bookmarked
// screen gets the same page.
func (h *Handler) console(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", ConsoleCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-cache")
	d := struct{ JS, CSS, Message string }{}
	status := http.StatusOK
	if h.built {
		d.JS, d.CSS = h.manifest.ConsoleJS, h.manifest.ConsoleCSS
	} else {
		status = http.StatusServiceUnavailable
		d.Message = "The console is not built on this server: run make web (npm ci && npm run build in web/), then rebuild Vitrine."
	}
	var buf bytes.Buffer
	if err := consoleTmpl.Execute(&buf, d); err != nil {
		h.log.Error("console page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}
