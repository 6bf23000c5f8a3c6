package api

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"vitrine/store"
)

// Uploaded images nothing refers to are deleted after a while: a seller's
// team uploads, then changes its mind, and the files would pile up.
const (
	// ImageSweepEvery is how often RunImageSweep looks.
	ImageSweepEvery = time.Hour
	// ImageUnusedFor is how old an image must be, unreferenced, to go:
	// long enough for a form opened with a fresh upload to be saved.
	ImageUnusedFor = 24 * time.Hour
)

// RunImageSweep deletes, every ImageSweepEvery until ctx ends, the
// uploaded images older than ImageUnusedFor that no campaign lists and no
// product's image_url names.
func (a *API) RunImageSweep(ctx context.Context) {
	t := time.NewTicker(ImageSweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := a.SweepImages(ctx, ImageUnusedFor); err != nil {
			a.log.Warn("image sweep", "err", err)
		} else if n > 0 {
			a.log.Info("unused images deleted", "images", n)
		}
	}
}

// SweepImages deletes the images older than olderThan that nothing refers
// to, and reports how many went.
func (a *API) SweepImages(ctx context.Context, olderThan time.Duration) (int, error) {
	images, err := a.storedImages()
	if err != nil {
		return 0, err
	}
	cutoff := a.now().Add(-olderThan)
	images = slices.DeleteFunc(images, func(im storedImage) bool { return im.mod.After(cutoff) })
	if len(images) == 0 {
		return 0, nil
	}
	used, err := a.usedImages(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, im := range images {
		if used[im.id] {
			continue
		}
		if err := os.Remove(filepath.Join(a.imageDir, im.id+"."+im.ext)); err != nil && !os.IsNotExist(err) {
			return n, fmt.Errorf("delete image %s: %w", im.id, err)
		}
		n++
	}
	return n, nil
}

// usedImages are the ids of the images campaigns list and products name.
func (a *API) usedImages(ctx context.Context) (map[string]bool, error) {
	used := map[string]bool{}
	for cursor := ""; ; {
		cs, next, err := a.st.ListCampaigns(ctx, store.CampaignFilter{Now: a.now(), Page: store.Page{Limit: maxLimit, Cursor: cursor}})
		if err != nil {
			return nil, fmt.Errorf("list campaigns: %w", err)
		}
		for _, c := range cs {
			for _, id := range c.Images {
				used[id] = true
			}
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	for cursor := ""; ; {
		ps, next, err := a.st.ListProducts(ctx, store.ProductFilter{Page: store.Page{Limit: maxLimit, Cursor: cursor}})
		if err != nil {
			return nil, fmt.Errorf("list products: %w", err)
		}
		for _, p := range ps {
			if _, id, ok := strings.Cut(p.ImageURL, imagePrefix); ok {
				used[id] = true
			}
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	return used, nil
}
