package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"vitrine/events"
	"vitrine/internal/ratelimit"
	"vitrine/internal/wsproto"
	"vitrine/overlay"
)

// endReason is why the server ends a viewer's connection; each transport
// tells the viewer its own way (a WebSocket close code, an error message
// on a data channel).
type endReason int

const (
	endNormal     endReason = iota // the viewer left or its transport failed
	endSlow                        // it did not keep up: resume with since
	endGoingAway                   // the server shuts down, or no pong
	endInternal                    // the server failed: resume with since
	endBadMessage                  // the viewer sent a malformed message
	endNotText                     // the viewer sent a binary WebSocket frame
)

// transport is what a viewerConn needs of a WebSocket or a data channel.
// write and close may be called concurrently with read and each other.
type transport interface {
	write(ctx context.Context, b []byte) error
	// read returns the next message; errNotText for a binary frame.
	read(ctx context.Context) ([]byte, error)
	// close ends the transport, telling the viewer why.
	close(why endReason, reason string)
}

// viewers is what both transports share: the configuration (the rooms,
// the campaigns, the viewers' identity and limits) and each viewer's
// connection logic (viewerConn).
type viewers struct {
	cfg Config
	log *slog.Logger
}

// newViewers validates cfg and fills in its defaults.
func newViewers(cfg Config, component string) (*viewers, error) {
	if cfg.Rooms == nil || cfg.Campaigns == nil {
		return nil, errors.New("overlay: the events transports need the rooms and the campaigns")
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = wsproto.DefaultPingInterval
	}
	if cfg.PongTimeout <= 0 {
		cfg.PongTimeout = wsproto.DefaultPongTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.ChatRate <= 0 {
		cfg.ChatRate = 1
	}
	if cfg.ChatBurst <= 0 {
		cfg.ChatBurst = 5
	}
	if cfg.LikeRate <= 0 {
		cfg.LikeRate = 10
	}
	if cfg.LikeBurst <= 0 {
		cfg.LikeBurst = 20
	}
	if cfg.ResumeWait <= 0 {
		cfg.ResumeWait = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Identity == nil {
		cfg.Identity, _ = overlay.NewIdentity(nil)
	}
	if cfg.MaxSockets == 0 {
		cfg.MaxSockets = defaultMaxSockets()
	}
	if cfg.MaxPerAddress == 0 {
		cfg.MaxPerAddress = DefaultMaxPerAddress
	}
	return &viewers{cfg: cfg, log: cfg.Logger.With("component", component)}, nil
}

// viewerConn is one viewer's connection to a room, over any transport: a
// send loop from its subscription and a receive loop of its messages.
type viewerConn struct {
	v      *viewers
	t      transport
	room   *overlay.Room
	sub    *overlay.Subscription
	viewer string
	hello  *events.Message    // sent first: the viewer's id and token
	host   bool               // the host's read-only console
	chat   *ratelimit.Limiter // chat messages and other actions
	likes  *ratelimit.Limiter

	closeOnce sync.Once
}

// newConn makes a viewer's connection; token is the viewer's token ("":
// a new viewer id is issued).
func (h *viewers) newConn(room *overlay.Room, sub *overlay.Subscription, t transport, viewerID, token string) *viewerConn {
	if viewerID == "" {
		viewerID, token = h.cfg.Identity.Issue()
	}
	data, _ := json.Marshal(events.Hello{ViewerID: viewerID, Token: token})
	hello, _ := events.NewMessage(events.Envelope{V: events.Version, At: events.MediaTime(events.MediaNow()), Type: events.TypeHello, Data: data})
	return &viewerConn{v: h, t: t, room: room, sub: sub, viewer: viewerID, hello: hello,
		chat: ratelimit.NewLimiter(h.cfg.ChatRate, h.cfg.ChatBurst), likes: ratelimit.NewLimiter(h.cfg.LikeRate, h.cfg.LikeBurst)}
}

// close ends the subscription and the transport, once; the other
// goroutines see their reads and writes fail and return.
func (k *viewerConn) close(why endReason, reason string) {
	k.closeOnce.Do(func() {
		if k.sub != nil {
			k.sub.Close()
		}
		k.t.close(why, reason)
	})
}

// run sends and receives until the connection ends. first, if not nil, is
// a message the viewer already sent, handled before those read. Each of
// extra runs on its own goroutine until ctx ends.
func (k *viewerConn) run(ctx context.Context, first []byte, extra ...func(context.Context)) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { k.send(ctx); cancel() })
	for _, fn := range extra {
		wg.Go(func() { fn(ctx) })
	}
	k.receive(ctx, first)
	cancel()
	wg.Wait()
}

// send writes the subscription's messages until it ends.
func (k *viewerConn) send(ctx context.Context) {
	if !k.host {
		if err := k.write(ctx, k.hello.JSON); err != nil {
			k.close(endSlow, "too slow; reconnect")
			return
		}
	}
	for {
		m, err := k.sub.Next(ctx)
		switch {
		case errors.Is(err, overlay.ErrSlow):
			k.close(endSlow, fmt.Sprintf("too slow; reconnect with since=%d", k.sub.Last()))
			return
		case errors.Is(err, overlay.ErrClosed):
			k.close(endGoingAway, "server shutting down; reconnect with since")
			return
		case err != nil:
			if ctx.Err() == nil {
				k.v.log.Warn("events connection", "campaign", k.room.ID(), "err", err)
				k.close(endInternal, "internal error; reconnect with since")
			}
			return
		}
		if err := k.write(ctx, m.JSON); err != nil {
			// A viewer whose transport cannot take a message in time is too slow.
			k.close(endSlow, fmt.Sprintf("too slow; reconnect with since=%d", k.sub.Last()-1))
			return
		}
	}
}

// write sends one message within WriteTimeout.
func (k *viewerConn) write(ctx context.Context, b []byte) error {
	wctx, cancel := context.WithTimeout(ctx, k.v.cfg.WriteTimeout)
	defer cancel()
	return k.t.write(wctx, b)
}

// receive reads viewer messages until the transport ends. A message that
// is not valid closes this connection only.
func (k *viewerConn) receive(ctx context.Context, first []byte) {
	for {
		b := first
		first = nil
		if b == nil {
			var err error
			b, err = k.t.read(ctx)
			if errors.Is(err, errNotText) {
				k.close(endNotText, "text frames only")
				return
			}
			if err != nil {
				k.close(endNormal, "")
				return
			}
		}
		if !k.handle(ctx, b) {
			return
		}
	}
}

// handle acts on one message of the viewer; false when it closed the
// connection for it.
func (k *viewerConn) handle(ctx context.Context, b []byte) bool {
	if k.host {
		k.close(endBadMessage, "the host console is read-only: act through the admin API")
		return false
	}
	in, err := events.DecodeInbound(b)
	if err != nil {
		k.close(endBadMessage, events.Truncate(err.Error(), 120))
		return false
	}
	if in.Type == events.InLike {
		if k.likes.Allow() {
			_ = k.room.Act(ctx, k.viewer, in)
		}
		return true
	}
	if !k.chat.Allow() {
		k.sendError(ctx, "rate_limited", "too many messages; wait a moment")
		return true
	}
	var ref *events.RefusedError
	if err := k.room.Act(ctx, k.viewer, in); errors.As(err, &ref) {
		k.sendError(ctx, ref.Code, ref.Message)
	} else if err != nil {
		k.v.log.Error("viewer action not recorded", "campaign", k.room.ID(), "type", in.Type, "err", err)
		k.sendError(ctx, "unavailable", "not sent; retry")
	}
	return true
}

func (k *viewerConn) sendError(ctx context.Context, code, message string) {
	if m, err := errorMessage(code, message); err == nil {
		_ = k.write(ctx, m.JSON)
	}
}

// errorMessage is an "error" message for one viewer.
func errorMessage(code, message string) (*events.Message, error) {
	data, _ := json.Marshal(map[string]string{"code": code, "message": message})
	return events.NewMessage(events.Envelope{V: events.Version, At: events.MediaTime(events.MediaNow()), Type: events.TypeError, Data: data})
}
