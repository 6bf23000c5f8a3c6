package rtmp

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// liveApp is the only RTMP application: rtmp://HOST:PORT/live/{stream_key}.
const liveApp = "live"

// normalizeApp strips what encoders add around the application name: a query
// string (OBS sends the server URL's "?x=y" with the app) and slashes (a
// server URL typed with a trailing slash).
func normalizeApp(app string) string {
	app, _, _ = strings.Cut(app, "?")
	return strings.Trim(strings.TrimSpace(app), "/")
}

// streamKey is the publishing name without its query string (ffmpeg sends
// "KEY?x=y" for rtmp://HOST/live/KEY?x=y) and surrounding slashes.
func streamKey(name string) string {
	name, _, _ = strings.Cut(name, "?")
	return strings.Trim(strings.TrimSpace(name), "/")
}

// redactKey keeps enough of a stream key to tell keys apart in logs without
// making the log a credential store.
func redactKey(key string) string {
	if key == "" {
		return `""`
	}
	n := min(4, len(key)/4)
	prefix := strings.ToValidUTF8(key[:n], "")
	return fmt.Sprintf("%s…(%d)", prefix, utf8.RuneCountInString(key))
}

// redactApp logs a wrong application name without the key a user may have
// pasted into the server URL (rtmp://HOST/live/KEY as the OBS "Server").
func redactApp(app string) string {
	app = normalizeApp(app)
	if first, _, found := strings.Cut(app, "/"); found {
		return first + "/…"
	}
	if len(app) > 32 {
		return strings.ToValidUTF8(app[:32], "") + "…"
	}
	return app
}
