package overlay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// RedisChannelPrefix starts the Redis pub/sub channel of a campaign:
// vitrine:overlay:{campaign id}. Messages are envelopes (JSON).
const RedisChannelPrefix = "vitrine:overlay:"

// RedisBus is the Bus of several nodes: Redis pub/sub, one channel per
// campaign, one subscriber connection per node. Redis pub/sub delivers at
// most once, so a message lost while the connection is re-established is
// found later by the Room in the store's log (a gap on the next event, or
// the hub's periodic sync).
type RedisBus struct {
	client *redis.Client
	ps     *redis.PubSub
	log    *slog.Logger

	mu      sync.RWMutex
	next    int
	subs    map[string]map[int]func([]byte)
	started bool          // the receive loop runs (from the first Subscribe)
	done    chan struct{} // closed when it ends
}

// NewRedisBus connects to url (redis://[:password@]host:6379/0, or
// rediss:// for TLS) and checks that the server answers. Its receive loop
// starts with the first Subscribe; Close stops it.
func NewRedisBus(ctx context.Context, url string, logger *slog.Logger) (*RedisBus, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, errors.New("overlay: invalid Redis URL (want redis://[:password@]host:6379/0)")
	}
	if logger == nil {
		logger = slog.Default()
	}
	client := redis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("overlay: connect to Redis at %s: %w", opts.Addr, err)
	}
	b := &RedisBus{client: client, ps: client.Subscribe(ctx), log: logger.With("component", "overlay.redis"),
		subs: map[string]map[int]func([]byte){}, done: make(chan struct{})}
	return b, nil
}

func (b *RedisBus) loop() {
	defer close(b.done)
	for m := range b.ps.Channel(redis.WithChannelSize(1024)) {
		id, ok := strings.CutPrefix(m.Channel, RedisChannelPrefix)
		if !ok {
			continue
		}
		b.mu.RLock()
		fns := make([]func([]byte), 0, len(b.subs[id]))
		for _, fn := range b.subs[id] {
			fns = append(fns, fn)
		}
		b.mu.RUnlock()
		msg := []byte(m.Payload)
		for _, fn := range fns {
			fn(msg)
		}
	}
}

// Publish sends msg on the campaign's channel.
func (b *RedisBus) Publish(ctx context.Context, campaignID string, msg []byte) error {
	if err := b.client.Publish(ctx, RedisChannelPrefix+campaignID, msg).Err(); err != nil {
		return fmt.Errorf("overlay: redis publish: %w", err)
	}
	return nil
}

// Subscribe calls fn with the campaign's messages; the node subscribes to
// the channel with its first subscriber and leaves it with its last.
func (b *RedisBus) Subscribe(ctx context.Context, campaignID string, fn func([]byte)) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.started {
		b.started = true
		go b.loop()
	}
	if b.subs[campaignID] == nil {
		if err := b.ps.Subscribe(ctx, RedisChannelPrefix+campaignID); err != nil {
			return nil, fmt.Errorf("overlay: redis subscribe: %w", err)
		}
		b.subs[campaignID] = map[int]func([]byte){}
	}
	id := b.next
	b.next++
	b.subs[campaignID][id] = fn
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			delete(b.subs[campaignID], id)
			if len(b.subs[campaignID]) == 0 {
				delete(b.subs, campaignID)
				if err := b.ps.Unsubscribe(context.Background(), RedisChannelPrefix+campaignID); err != nil {
					b.log.Warn("redis unsubscribe", "campaign", campaignID, "err", err)
				}
			}
		})
	}, nil
}

// Close closes the subscriber connection and the client.
func (b *RedisBus) Close() error {
	err := b.ps.Close()
	b.mu.Lock()
	started := b.started
	b.started = true // no loop starts after Close
	b.mu.Unlock()
	if started {
		<-b.done
	}
	return errors.Join(err, b.client.Close())
}
