// Package analytics turns what happened around a live — tracked events
// from players and widgets, the sessions the server saw, the overlay's
// log (chat, likes, polls, survey...), orders and reminders — into the
// metrics a seller reads after the show, for each of its three phases,
// and into a spreadsheet export.
//
// # Phases
//
// Prelive is everything before the first go-live (the first stream.live
// event of the campaign's log, or its live_started_at), live runs from
// there to the end of the live (the last stream.ended after it, or
// live_ended_at; until now while the campaign is live), replay is
// everything after. A campaign that never went live has a prelive only.
// A time range (from, to) narrows prelive and replay; live is always
// whole.
//
// It imports events, store and internal helpers; never overlay (the log is
// read as events).
package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"vitrine/events"
	"vitrine/store"
)

// Phase names.
const (
	Prelive = "prelive"
	Live    = "live"
	Replay  = "replay"
)

// Phases in order.
var Phases = []string{Prelive, Live, Replay}

// Window is a half-open time interval [From, To).
type Window struct {
	From time.Time `json:"from" doc:"start of the phase's window (inclusive)"`
	To   time.Time `json:"to" doc:"end of the phase's window (exclusive); now for a phase still going on"`
}

// Duration is To - From, never negative.
func (w Window) Duration() time.Duration { return max(0, w.To.Sub(w.From)) }

// Contains reports whether t is in [From, To).
func (w Window) Contains(t time.Time) bool { return !t.Before(w.From) && t.Before(w.To) }

// Empty reports whether the window holds no instant.
func (w Window) Empty() bool { return !w.From.Before(w.To) }

// clip narrows w to [from, to) (nil bounds: open).
func (w Window) clip(from, to *time.Time) Window {
	if from != nil && from.After(w.From) {
		w.From = *from
	}
	if to != nil && to.Before(w.To) {
		w.To = *to
	}
	if w.To.Before(w.From) {
		w.To = w.From
	}
	return w
}

// Timeline is when a campaign's phases begin and end.
type Timeline struct {
	// Created is the campaign's creation: nothing is tracked before.
	Created time.Time
	// WentLive is the first go-live; nil: never live (all prelive).
	WentLive *time.Time
	// Ended is the end of the live; nil: never live, or live now.
	Ended *time.Time
	// Now is when the metrics are computed.
	Now time.Time
}

// TimelineOf reads the phases' boundaries from the campaign and its log
// (which must start at its first event).
func TimelineOf(c *store.Campaign, log []store.Event, now time.Time) Timeline {
	var b timelineBuilder
	for i := range log {
		b.add(&log[i])
	}
	return b.build(c, now)
}

// timelineBuilder reads the boundaries from the log one event at a time.
type timelineBuilder struct {
	wentLive, ended *time.Time
}

func (b *timelineBuilder) add(e *store.Event) {
	switch e.Type {
	case events.TypeStreamLive:
		if b.wentLive == nil {
			at := e.At
			b.wentLive = &at
		}
	case events.TypeStreamEnded:
		if b.wentLive != nil {
			at := e.At
			b.ended = &at
		}
	}
}

func (b *timelineBuilder) build(c *store.Campaign, now time.Time) Timeline {
	tl := Timeline{Created: c.CreatedAt, Now: now, WentLive: b.wentLive, Ended: b.ended}
	if tl.WentLive == nil && c.LiveStartedAt != nil {
		at := *c.LiveStartedAt
		tl.WentLive = &at
	}
	live := c.LiveStartedAt != nil && (c.LiveEndedAt == nil || c.LiveEndedAt.Before(*c.LiveStartedAt))
	switch {
	case tl.WentLive == nil || live:
		tl.Ended = nil
	case tl.Ended == nil || (c.LiveEndedAt != nil && c.LiveEndedAt.After(*tl.Ended)):
		if c.LiveEndedAt != nil {
			at := *c.LiveEndedAt
			tl.Ended = &at
		}
	}
	if tl.Ended != nil && tl.Ended.Before(*tl.WentLive) {
		tl.Ended = tl.WentLive
	}
	return tl
}

// EachEvent calls fn with every event of the campaign's log in order, a
// page at a time: the log is never held whole.
func EachEvent(ctx context.Context, st store.Store, campaignID string, fn func(*store.Event) error) error {
	for after := int64(0); ; {
		page, err := st.ListEvents(ctx, campaignID, after, store.MaxEventPage)
		if err != nil {
			return fmt.Errorf("analytics: event log: %w", err)
		}
		for i := range page {
			if err := fn(&page[i]); err != nil {
				return err
			}
		}
		if len(page) < store.MaxEventPage {
			return nil
		}
		after = page[len(page)-1].Seq
	}
}

// LoadTimeline reads the campaign's phases from its log.
func LoadTimeline(ctx context.Context, st store.Store, c *store.Campaign, now time.Time) (Timeline, error) {
	var b timelineBuilder
	err := EachEvent(ctx, st, c.ID, func(e *store.Event) error {
		if e.Type == events.TypeStreamLive || e.Type == events.TypeStreamEnded {
			b.add(e)
		}
		return nil
	})
	return b.build(c, now), err
}

// Window returns the phase's window, narrowed to [from, to) for prelive
// and replay, and whether the phase has begun at all.
func (tl Timeline) Window(phase string, from, to *time.Time) (Window, bool) {
	switch phase {
	case Prelive:
		end := tl.Now
		if tl.WentLive != nil {
			end = *tl.WentLive
		}
		return Window{From: tl.Created, To: end}.clip(from, to), true
	case Live:
		if tl.WentLive == nil {
			return Window{}, false
		}
		end := tl.Now
		if tl.Ended != nil {
			end = *tl.Ended
		}
		return Window{From: *tl.WentLive, To: later(end, *tl.WentLive)}, true
	case Replay:
		if tl.Ended == nil {
			return Window{}, false
		}
		return Window{From: *tl.Ended, To: later(tl.Now, *tl.Ended)}.clip(from, to), true
	}
	return Window{}, false
}

// PhaseOf tells the phase of an event at t.
func (tl Timeline) PhaseOf(t time.Time) string {
	switch {
	case tl.WentLive == nil || t.Before(*tl.WentLive):
		return Prelive
	case tl.Ended == nil || t.Before(*tl.Ended):
		return Live
	}
	return Replay
}

func decode[T any](e *store.Event) (T, bool) {
	var v T
	err := json.Unmarshal(e.Data, &v)
	return v, err == nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
