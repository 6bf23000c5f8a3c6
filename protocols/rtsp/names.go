package rtsp

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// liveApp is the only path prefix: rtsp://HOST:PORT/live/{stream_key} to
// publish, rtsp://HOST:PORT/live/{campaign_id} to read.
const liveApp = "live"

// streamName returns the last element of a /live/{name} path as gortsplib
// hands it (leading slash, query already split off), or "" for any other path.
func streamName(path string) string {
	app, name, ok := strings.Cut(strings.Trim(path, "/"), "/")
	if !ok || app != liveApp || name == "" || strings.Contains(name, "/") {
		return ""
	}
	return name
}

// redactKey keeps enough of a stream key to tell keys apart in logs without
// making the log a credential store (same format as the RTMP ingest).
func redactKey(key string) string {
	if key == "" {
		return `""`
	}
	n := min(4, len(key)/4)
	prefix := strings.ToValidUTF8(key[:n], "")
	return fmt.Sprintf("%s…(%d)", prefix, utf8.RuneCountInString(key))
}

// redactPath logs a wrong path without a key someone may have put in it.
func redactPath(path string) string {
	path = strings.Trim(path, "/")
	if first, _, found := strings.Cut(path, "/"); found {
		return "/" + first + "/…"
	}
	return "/" + redactKey(path)
}
