package stream

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// ErrStreamClosed ends a reader whose stream was closed (ended, or its
// publisher did not come back in time).
var ErrStreamClosed = errors.New("stream closed")

// ErrTracksChanged ends a reader when a publisher came back with different
// codec parameters: the reader's owner must build a new reader (and muxer).
var ErrTracksChanged = errors.New("stream tracks changed")

// ErrReaderClosed is returned by Run after the reader's own Close.
var ErrReaderClosed = errors.New("reader closed")

// Reader receives every unit of a stream through its own bounded queue.
//
// The publisher only ever appends to the queue: a reader that falls behind
// until its queue is full loses the queued units and everything up to the
// next keyframe, so it resumes on a decodable picture without ever delaying
// the publisher or other readers.
type Reader struct {
	name   string
	stream *Stream

	mu       sync.Mutex
	ring     []*Unit
	head     int
	n        int
	skipping bool // waiting for the next GOP start after an overflow
	closed   bool
	err      error
	notify   chan struct{}

	dropped atomic.Uint64
}

func newReader(s *Stream, name string, size int) *Reader {
	return &Reader{
		name:     name,
		stream:   s,
		ring:     make([]*Unit, size),
		skipping: true,
		notify:   make(chan struct{}, 1),
	}
}

// Name is the reader's kind as given to AddReader ("hls", "whep", ...).
func (r *Reader) Name() string { return r.name }

// Stream returns the stream the reader reads.
func (r *Reader) Stream() *Stream { return r.stream }

// Dropped is the number of units this reader lost by falling behind.
func (r *Reader) Dropped() uint64 { return r.dropped.Load() }

// push is called by the publisher with the stream lock held; it never blocks
// on the reader.
func (r *Reader) push(u *Unit, gopStart bool) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	if r.skipping {
		if !gopStart {
			r.mu.Unlock()
			r.drop(1)
			return
		}
		r.skipping = false
	}
	if r.n == len(r.ring) {
		lost := r.n
		r.clearLocked()
		if !gopStart {
			r.skipping = true
			lost++
		}
		r.mu.Unlock()
		r.drop(lost)
		if !gopStart {
			return
		}
		r.mu.Lock()
	}
	r.ring[(r.head+r.n)%len(r.ring)] = u
	r.n++
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *Reader) drop(n int) {
	r.dropped.Add(uint64(n))
	r.stream.dropped.Add(uint64(n))
}

func (r *Reader) clearLocked() {
	for i := range r.n {
		r.ring[(r.head+i)%len(r.ring)] = nil
	}
	r.head, r.n = 0, 0
}

// Run delivers units to fn, in order, until ctx is done, fn fails, the reader
// is closed or its stream ends. On a stream end the units already queued are
// delivered first, so that writers can flush. It returns the reason it stopped.
func (r *Reader) Run(ctx context.Context, fn func(*Unit) error) error {
	defer r.Close()
	batch := make([]*Unit, 0, len(r.ring))
	for {
		r.mu.Lock()
		for r.n == 0 && !r.closed {
			r.mu.Unlock()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-r.notify:
			}
			r.mu.Lock()
		}
		if r.n == 0 {
			err := r.err
			r.mu.Unlock()
			return err
		}
		for range r.n {
			batch = append(batch, r.ring[r.head])
			r.ring[r.head] = nil
			r.head = (r.head + 1) % len(r.ring)
		}
		r.n = 0
		r.mu.Unlock()

		for i, u := range batch {
			if err := fn(u); err != nil {
				return err
			}
			batch[i] = nil
		}
		batch = batch[:0]
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// Close detaches the reader from its stream. Queued units are discarded.
func (r *Reader) Close() {
	r.stream.removeReader(r)
	r.finish(ErrReaderClosed, true)
}

// finish marks the reader closed with err; discard drops what is queued.
func (r *Reader) finish(err error, discard bool) {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		r.err = err
	}
	if discard {
		r.clearLocked()
	}
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}
