package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"vitrine/store"
	"vitrine/stream"
)

// campaignKeys lets a publisher in with the stream key of a campaign that
// is live (status ongoing) or in preparation (the host's rehearsal before
// the live: the viewer rule keeps its media from viewers, the recorder
// waits for the live); the stream id is the campaign id.
type campaignKeys struct {
	store store.Store
	now   func() time.Time
}

func (a campaignKeys) AuthorizePublish(ctx context.Context, req stream.PublishRequest) (string, error) {
	if req.Key == "" {
		return "", stream.ErrUnauthorized
	}
	c, err := a.store.GetCampaignByStreamKey(ctx, req.Key)
	if errors.Is(err, store.ErrNotFound) {
		if strings.HasPrefix(req.Key, "cmp_") {
			// An easy slip: the campaign's id where its key goes. The id
			// is public (it is in the player's URL): it may be repeated.
			return "", fmt.Errorf("%w: %s is a campaign id; publish with the campaign's stream_key (its ingest URLs carry it)",
				stream.ErrUnauthorized, req.Key)
		}
		return "", stream.ErrUnauthorized
	}
	if err != nil {
		return "", fmt.Errorf("look up stream key: %w", err)
	}
	if req.StreamID != "" && req.StreamID != c.ID {
		return "", stream.ErrUnauthorized
	}
	switch st := c.Status(a.now()); {
	case st == store.StatusOngoing:
		return c.ID, nil
	case st == store.StatusCompleted:
		// Also in preparation: a campaign past its end time cannot go live.
		return "", fmt.Errorf("%w: campaign %s is completed (its end time has passed)", stream.ErrNotLive, c.ID)
	case c.Preparing():
		return c.ID, nil
	default:
		return "", fmt.Errorf("%w: campaign %s is %s: prepare it or go live first", stream.ErrNotLive, c.ID, st)
	}
}

// anyOf tries authorisers in order; the first that recognises the key
// decides.
type anyOf []stream.Authorizer

func (as anyOf) AuthorizePublish(ctx context.Context, req stream.PublishRequest) (string, error) {
	refusal := stream.ErrUnauthorized
	for _, a := range as {
		id, err := a.AuthorizePublish(ctx, req)
		if !errors.Is(err, stream.ErrUnauthorized) {
			return id, err
		}
		if err != stream.ErrUnauthorized && refusal == stream.ErrUnauthorized {
			refusal = err // one that says more
		}
	}
	return "", refusal
}
