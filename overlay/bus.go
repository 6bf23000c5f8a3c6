package overlay

import (
	"context"
	"sync"
)

// Bus carries envelopes between the Rooms of one campaign on every node.
// It is a fast path only: a Room orders what it receives by seq and reads
// whatever it missed (a gap, a lost message) from the store's log, so a
// bus may drop, repeat or reorder messages without a viewer noticing
// more than a delay.
type Bus interface {
	// Publish sends msg, an envelope's JSON, to every subscriber of the
	// campaign on every node, this one included.
	Publish(ctx context.Context, campaignID string, msg []byte) error
	// Subscribe calls fn with every message published for the campaign
	// until the returned cancel is called. fn must not block for long.
	Subscribe(ctx context.Context, campaignID string, fn func(msg []byte)) (cancel func(), err error)
	Close() error
}

// LocalBus is the in-process Bus: the default, for a single node. Rooms
// sharing one LocalBus behave like nodes sharing Redis.
type LocalBus struct {
	mu   sync.RWMutex
	next int
	subs map[string]map[int]func([]byte)
}

// NewLocalBus returns an in-process bus.
func NewLocalBus() *LocalBus { return &LocalBus{subs: map[string]map[int]func([]byte){}} }

// Publish calls every subscriber of the campaign, synchronously.
func (b *LocalBus) Publish(_ context.Context, campaignID string, msg []byte) error {
	b.mu.RLock()
	fns := make([]func([]byte), 0, len(b.subs[campaignID]))
	for _, fn := range b.subs[campaignID] {
		fns = append(fns, fn)
	}
	b.mu.RUnlock()
	for _, fn := range fns {
		fn(msg)
	}
	return nil
}

// Subscribe registers fn for the campaign.
func (b *LocalBus) Subscribe(_ context.Context, campaignID string, fn func([]byte)) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.next
	b.next++
	if b.subs[campaignID] == nil {
		b.subs[campaignID] = map[int]func([]byte){}
	}
	b.subs[campaignID][id] = fn
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.subs[campaignID], id)
		if len(b.subs[campaignID]) == 0 {
			delete(b.subs, campaignID)
		}
	}, nil
}

// Close does nothing: there is nothing to release.
func (b *LocalBus) Close() error { return nil }
