package overlay

import (
	"context"
	"time"

	"vitrine/events"
)

// countRepeat is how often a node repeats an unchanged, non-zero viewer
// count, so that its count stands (nodeCountTTL) while it lives.
const countRepeat = 20 * time.Second

// countMark is what a node last published as its viewer count.
type countMark struct {
	n  int64
	at time.Time
}

// countLoop publishes each room's viewer count on this node when it
// changes (at most once per interval) and every countRepeat while it is
// not zero. Each node publishes its own; the state sums them, so the
// count viewers see covers every node.
func (h *Rooms) countLoop(interval time.Duration) {
	defer h.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		h.mu.Lock()
		rooms := make([]*Room, 0, len(h.rooms))
		for _, r := range h.rooms {
			rooms = append(rooms, r)
		}
		h.mu.Unlock()
		for _, r := range rooms {
			r.publishCount()
		}
	}
}

func (r *Room) publishCount() {
	now := time.Now()
	r.mu.Lock()
	n, last := r.viewers, r.counted
	others := r.state.Viewers
	if c, ok := r.state.nodes[r.h.node]; ok {
		others -= c.count
	}
	r.mu.Unlock()
	if n == last.n && (n == 0 || now.Sub(last.at) < countRepeat) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := r.Publish(ctx, events.TypeViewerCount, events.ViewerCount{Count: others + n, Node: r.h.node, NodeCount: n}); err != nil {
		r.h.log.Warn("viewer count not recorded", "campaign", r.id, "err", err)
		return
	}
	r.mu.Lock()
	r.counted = countMark{n: n, at: now}
	r.mu.Unlock()
}
