package webrtc

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// writePool writes the viewers' queued packets on a few goroutines, one
// per core, instead of each viewer's own: a frame or an audio packet
// queued to a hundred viewers woke a hundred goroutines, and the
// scheduler's work for those wakeups (park, findRunnable, futex) was 15–20%
// of the server's CPU under 100 viewers. A worker woken once writes the
// packets of every viewer of its share that has some, in turn. A viewer
// joins the pool once its SRTP session is up (viewer.run writes its first
// packets, which may have to wait for it); its goroutine then only sends
// its sender reports.
//
// A write never blocks for long: pion encrypts into the batched socket
// (batchConn), which waits only when the kernel is slower than every
// writer together, as a full socket buffer would make a plain write wait.
type writePool struct {
	workers []*poolWorker
	next    atomic.Uint32
	wg      sync.WaitGroup
}

type poolWorker struct {
	mu      sync.Mutex
	pending []*viewer // viewers with packets to write, each once
	spare   []*viewer
	wake    chan struct{}
}

func newWritePool() *writePool {
	p := &writePool{workers: make([]*poolWorker, runtime.GOMAXPROCS(0))}
	for i := range p.workers {
		p.workers[i] = &poolWorker{wake: make(chan struct{}, 1)}
	}
	return p
}

// start runs the workers until ctx ends. A worker ends its pass first:
// the server's Close waits for the fanouts, which stop queueing, before
// it waits for the pool.
func (p *writePool) start(ctx context.Context) {
	for _, w := range p.workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			w.run(ctx)
		}()
	}
}

// wait returns once the workers have stopped.
func (p *writePool) wait() { p.wg.Wait() }

// worker picks the worker a new viewer's writes go to, in turn.
func (p *writePool) worker() *poolWorker {
	return p.workers[p.next.Add(1)%uint32(len(p.workers))]
}

// schedule asks for v's queue to be written; v.scheduled keeps a viewer
// listed once however many packets it is queued.
func (w *poolWorker) schedule(v *viewer) {
	if v.scheduled.Swap(true) {
		return
	}
	w.mu.Lock()
	w.pending = append(w.pending, v)
	first := len(w.pending) == 1
	w.mu.Unlock()
	if first {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

func (w *poolWorker) run(ctx context.Context) {
	batch := make([]*packet, 0, 64)
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
		for {
			w.mu.Lock()
			vs := w.pending
			if len(vs) == 0 {
				w.mu.Unlock()
				break
			}
			w.pending, w.spare = w.spare[:0], nil
			w.mu.Unlock()
			for i, v := range vs {
				// Cleared before the flush: packets queued during it list
				// the viewer again.
				v.scheduled.Store(false)
				batch = v.flush(batch, false)
				vs[i] = nil
			}
			w.mu.Lock()
			w.spare = vs[:0]
			w.mu.Unlock()
		}
	}
}
