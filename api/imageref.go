package api

import (
	"net/http"
	"net/url"
	"strings"
)

// A campaign's images are image ids and a product's image_url a URL, but a
// seller holds what POST /api/v1/images answered (both): each accepts
// either, for an uploaded image.

// imageRef turns an uploaded image's id given as a product's image_url
// into its URL; a URL stays as it is (checked later as a URL).
func (a *API) imageRef(r *http.Request, ref *string) {
	if id := strings.TrimSpace(*ref); imageIDPattern.MatchString(id) {
		if p, _ := a.imagePath(id); p != "" {
			*ref = a.links(r).images([]string{id})[0]
		}
	}
}

// imageID turns an uploaded image's URL (…/media/images/{id}) given among
// a campaign's images into its id; anything else stays as it is (checked
// later as an id).
func imageID(ref string) string {
	u, err := url.Parse(strings.TrimSpace(ref))
	if err != nil || !strings.Contains(u.Path, imagePrefix) {
		return ref
	}
	id := u.Path[strings.LastIndex(u.Path, "/")+1:]
	if i := strings.IndexByte(id, '.'); i >= 0 {
		id = id[:i]
	}
	return id
}
