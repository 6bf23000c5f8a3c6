package recorder

import "strings"

// ViewerRequest says whether a request path is one of a replay's, as
// Register routes them, that analytics counts: its playlists
// (/replay/{id}/index.m3u8, /replay/{id}/sequences/{seq}/index.m3u8) and
// its segments (/replay/{id}/s{n}/{seq}.m4s,
// /replay/{id}/sequences/{seq}/last.m4s): a VOD player loads its playlist
// once and then only segments, which keep its session alive. It gives the
// campaign id and whether the path is a segment.
func ViewerRequest(path string) (id string, segment, ok bool) {
	rest, ok := strings.CutPrefix(path, "/replay/")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) < 2 || len(parts) > 4 || parts[0] == "" {
		return "", false, false
	}
	switch file := parts[len(parts)-1]; {
	case file == "index.m3u8":
		return parts[0], false, true
	case strings.HasSuffix(file, ".m4s"):
		return parts[0], true, true
	}
	return "", false, false
}
