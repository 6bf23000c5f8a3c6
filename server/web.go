package server

import (
	"context"
	"errors"

	"vitrine/notify/payload"
	"vitrine/store"
	"vitrine/web"
)

// watchLookup tells the player page about a published campaign.
func (s *Server) watchLookup(ctx context.Context, id string) (web.Campaign, error) {
	c, err := s.store.GetCampaign(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !c.Published) {
		return web.Campaign{}, web.ErrNotFound
	}
	if err != nil {
		return web.Campaign{}, err
	}
	out := web.Campaign{Title: c.Title, Description: c.Description}
	if len(c.Images) > 0 {
		out.ImageURL = payload.ImageURL(s.cfg.HTTP.PublicURL, c.Images[0])
	}
	return out, nil
}
