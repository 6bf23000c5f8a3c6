package hls

import "strings"

// ViewerRequest says whether a request path is a live playlist, which
// analytics counts: an LL-HLS player reloads its playlists all along, so
// they are what a viewer's HLS session is made of. It gives the stream
// (campaign) id; its parts and segments are not counted.
func ViewerRequest(path string) (id string, ok bool) {
	rest, ok := strings.CutPrefix(path, pathPrefix)
	id, _, _ = strings.Cut(rest, "/")
	if !ok || id == "" || !strings.HasSuffix(path, ".m3u8") {
		return "", false
	}
	return id, true
}
