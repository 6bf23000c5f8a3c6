package api

import (
	"context"
	"errors"
	"fmt"
	"image"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"vitrine/store"
)

// Listing and deleting uploaded images. The image directory is the record:
// an image is a file named {id}.{ext}; its upload time is the file's.

// storedImage is one image file.
type storedImage struct {
	id, ext string
	size    int64
	mod     time.Time
}

// storedImages lists the image directory, newest first (ties: by id).
func (a *API) storedImages() ([]storedImage, error) {
	entries, err := os.ReadDir(a.imageDir)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []storedImage
	for _, en := range entries {
		id, ext, ok := strings.Cut(en.Name(), ".")
		if !ok || !imageIDPattern.MatchString(id) || imageExts[ext] == "" || !en.Type().IsRegular() {
			continue // temporary uploads, anything else
		}
		fi, err := en.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		out = append(out, storedImage{id: id, ext: ext, size: fi.Size(), mod: fi.ModTime().UTC()})
	}
	slices.SortFunc(out, func(x, y storedImage) int {
		if c := y.mod.Compare(x.mod); c != 0 {
			return c
		}
		return strings.Compare(x.id, y.id)
	})
	return out, nil
}

// imageCursor is the position after an image: its time and id.
func imageCursor(im storedImage) string {
	return strconv.FormatInt(im.mod.UnixNano(), 10) + "_" + im.id
}

func parseImageCursor(s string) (time.Time, string, bool) {
	ns, id, ok := strings.Cut(s, "_")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || n < 0 || !imageIDPattern.MatchString(id) {
		return time.Time{}, "", false
	}
	return time.Unix(0, n).UTC(), id, true
}

func (a *API) listImages(w http.ResponseWriter, r *http.Request) error {
	page, err := pageFrom(r)
	if err != nil {
		return err
	}
	limit := page.Limit
	if limit == 0 {
		limit = defaultLimit
	}
	all, err := a.storedImages()
	if err != nil {
		return err
	}
	start := 0
	if page.Cursor != "" {
		at, id, ok := parseImageCursor(page.Cursor)
		if !ok {
			return badRequest("invalid_cursor", "the cursor was not issued by this list; start again without it")
		}
		start, _ = slices.BinarySearchFunc(all, storedImage{id: id, mod: at}, func(x, target storedImage) int {
			if c := target.mod.Compare(x.mod); c != 0 {
				return c
			}
			return strings.Compare(x.id, target.id)
		})
		if start < len(all) && all[start].id == id {
			start++
		}
	}
	l := a.links(r)
	items := []imageView{}
	next := ""
	for _, im := range all[start:] {
		if len(items) == limit {
			next = imageCursor(all[start+limit-1])
			break
		}
		v := imageView{ID: im.id, URL: l.image(im.id), ContentType: imageExts[im.ext], Size: im.size, CreatedAt: im.mod}
		v.Width, v.Height = imageSize(filepath.Join(a.imageDir, im.id+"."+im.ext), im.size, v.ContentType)
		items = append(items, v)
	}
	return writeJSON(w, http.StatusOK, listResponse{Items: items, NextCursor: next})
}

// imageSize reads a stored image's dimensions from its header (checked at
// upload); 0, 0 if it cannot be read now.
func imageSize(path string, size int64, contentType string) (int, int) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	var cfg image.Config
	if contentType == "image/webp" {
		cfg, err = webpConfig(f, size)
	} else {
		cfg, _, err = image.DecodeConfig(f)
	}
	if err != nil {
		return 0, 0
	}
	return cfg.Width, cfg.Height
}

func (a *API) deleteImage(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	path, _ := a.imagePath(id)
	if path == "" {
		return errorf(http.StatusNotFound, "not_found", "no image with id %q", clip(id))
	}
	if err := a.imageInUse(r.Context(), id); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errorf(http.StatusNotFound, "not_found", "no image with id %q", clip(id))
		}
		return fmt.Errorf("delete image: %w", err)
	}
	syncDir(a.imageDir)
	a.log.InfoContext(r.Context(), "image deleted", "image", id, "request_id", requestIDFrom(r.Context()))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// imageInUse answers 409 when a campaign lists the image or a product's
// image_url is its URL (under any host: the public URL may have changed).
// It reads every campaign and product: deleting an image is rare.
func (a *API) imageInUse(ctx context.Context, id string) error {
	suffix := imagePrefix + id
	for cursor := ""; ; {
		cs, next, err := a.st.ListCampaigns(ctx, store.CampaignFilter{Now: a.now(), Page: store.Page{Limit: maxLimit, Cursor: cursor}})
		if err != nil {
			return fmt.Errorf("list campaigns: %w", err)
		}
		for _, c := range cs {
			if slices.Contains(c.Images, id) {
				return conflict("image_in_use", "campaign %s lists this image: take it out of its images first", c.ID)
			}
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	for cursor := ""; ; {
		ps, next, err := a.st.ListProducts(ctx, store.ProductFilter{Page: store.Page{Limit: maxLimit, Cursor: cursor}})
		if err != nil {
			return fmt.Errorf("list products: %w", err)
		}
		for _, p := range ps {
			if strings.HasSuffix(p.ImageURL, suffix) {
				return conflict("image_in_use", "product %s has this image as its image_url: change it first", p.ID)
			}
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	return nil
}
