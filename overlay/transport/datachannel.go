package transport

import (
	"context"
	"errors"
	"time"

	"vitrine/events"
	"vitrine/overlay"
	"vitrine/store"
)

// DataChannel is a WebRTC data channel as DataChannels.Serve uses it;
// protocols/webrtc.DataChannel fits. Its methods must be safe for
// concurrent use.
type DataChannel interface {
	// Send sends one text message, waiting while the channel's buffer is
	// full, until ctx ends.
	Send(ctx context.Context, b []byte) error
	// Receive returns the next message the viewer sent. When ctx ends
	// first it returns ctx's error and no message is lost.
	Receive(ctx context.Context) ([]byte, error)
	Close() error
}

// DataChannels serves the events on WHEP sessions' data channels. It has
// no goroutine of its own: each Serve runs on its caller's.
type DataChannels struct {
	*viewers
}

// NewDataChannels returns the data-channel transport.
func NewDataChannels(cfg Config) (*DataChannels, error) {
	v, err := newViewers(cfg, "overlay.datachannel")
	if err != nil {
		return nil, err
	}
	return &DataChannels{viewers: v}, nil
}

// Serve serves campaign campaignID's events on a WebRTC data
// channel of a WHEP session, as ServeHTTP does on a WebSocket: the same
// envelopes (one per text message), the same inbound messages and limits.
// Since is given by a first "resume" message (see events.InResume). The server
// ends the channel where it would close the socket, after an "error"
// message whose code tells why: too_slow and going_away (reopen and
// resume), bad_message, invalid_since (resume from a seq the log has not
// reached: reopen without since), not_found, unavailable. It returns when
// the channel or ctx ends, and closes ch.
//
// Wiring, where the WHEP server is configured:
//
//	webrtc.Config{OnDataChannel: func(ctx context.Context, id string, ch webrtc.DataChannel) { dcs.Serve(ctx, id, ch) }}
func (d *DataChannels) Serve(ctx context.Context, campaignID string, ch DataChannel) {
	t := &dcTransport{ch: ch, timeout: d.cfg.WriteTimeout}
	defer ch.Close()
	refuse := func(code, message string) { t.sendError(ctx, code, message) }
	if _, err := d.cfg.Campaigns.GetCampaign(ctx, campaignID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			refuse("not_found", "no such campaign")
			return
		}
		d.log.Error("events data channel", "campaign", campaignID, "err", err)
		refuse("unavailable", "the events channel is unavailable; retry")
		return
	}

	since, first := int64(-1), []byte(nil)
	var viewerID, token string
	wctx, cancel := context.WithTimeout(ctx, d.cfg.ResumeWait)
	b, err := ch.Receive(wctx)
	cancel()
	switch {
	case err == nil:
		res, ok, err := events.DecodeResume(b)
		switch {
		case err != nil:
			refuse("bad_message", events.Truncate(err.Error(), 120))
			return
		case ok:
			since = *res.Since
			if res.Viewer != "" {
				if viewerID, err = d.cfg.Identity.Verify(res.Viewer); err != nil {
					refuse("bad_message", "viewer is not a token this server issued; resume without it for a new one")
					return
				}
				token = res.Viewer
			}
		default:
			if _, err := events.DecodeInbound(b); err != nil {
				refuse("bad_message", events.Truncate(err.Error(), 120))
				return
			}
			first = b
		}
	case ctx.Err() != nil:
		return
	case !errors.Is(err, context.DeadlineExceeded):
		return // the channel closed
	}

	room, err := d.cfg.Rooms.Room(ctx, campaignID)
	if err != nil {
		d.log.Error("events data channel", "campaign", campaignID, "err", err)
		refuse("unavailable", "the events channel is unavailable; retry")
		return
	}
	sub, err := room.Subscribe(ctx, since)
	if errors.Is(err, overlay.ErrFutureSince) {
		refuse("invalid_since", err.Error())
		return
	}
	if err != nil {
		d.log.Error("events data channel", "campaign", campaignID, "err", err)
		refuse("unavailable", "the events channel is unavailable; retry")
		return
	}
	defer sub.Close()
	d.newConn(room, sub, t, viewerID, token).run(ctx, first)
}

// dcTransport is a viewerConn's data channel.
type dcTransport struct {
	ch      DataChannel
	timeout time.Duration
}

func (t *dcTransport) write(ctx context.Context, b []byte) error { return t.ch.Send(ctx, b) }

func (t *dcTransport) read(ctx context.Context) ([]byte, error) { return t.ch.Receive(ctx) }

// dcCodes are the codes of the error message sent before the channel
// closes; "" sends none.
var dcCodes = [...]string{
	endNormal:     "",
	endSlow:       "too_slow",
	endGoingAway:  "going_away",
	endInternal:   "unavailable",
	endBadMessage: "bad_message",
	endNotText:    "bad_message",
}

func (t *dcTransport) close(why endReason, reason string) {
	if code := dcCodes[why]; code != "" {
		// Best effort: a viewer too slow may not take it either.
		t.sendError(context.Background(), code, reason)
	}
	_ = t.ch.Close()
}

func (t *dcTransport) sendError(ctx context.Context, code, message string) {
	m, err := errorMessage(code, message)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, min(t.timeout, time.Second))
	defer cancel()
	_ = t.ch.Send(ctx, m.JSON)
}
