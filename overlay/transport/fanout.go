package transport

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"vitrine/events"
	"vitrine/internal/wsproto"
	"vitrine/overlay"
)

// fanout writes one room's events to the room's parked viewer sockets: each
// event is framed once and written to every socket, instead of a
// goroutine and a queue per viewer. It follows the room with a host
// subscription, so it sees every seq, and lives while it has sockets.
//
// Two goroutines: run takes the events from the subscription into the
// window (the frames some socket may still lack), and sweep writes the
// window to the sockets, pass after pass, split over the cores for a
// crowd. A pass reads the window afresh for every few sockets, so an
// event published during a pass reaches the sockets the pass has not
// written yet in the same write, and the next pass only the sockets it
// had already written: an event waits at most one pass, not the rest of
// the pass in progress and then a whole one.
type fanout struct {
	h    *Handler
	room *overlay.Room
	sub  *overlay.Subscription

	mu      sync.Mutex
	socks   map[*parkedSocket]struct{}
	last    int64 // the last event handled
	visible int64 // the last event viewers see, handled (in the window)
	floor   int64 // every socket has the visible events up to floor
	ended   bool
	done    chan struct{} // closed when ended

	win  atomic.Pointer[batch]
	wake chan struct{} // the window grew
	pass chan struct{} // a pass ended: the floor rose
}

// broadcastChunk is the number of sockets one goroutine writes an event
// to before the work is split over more; sweepChunk the sockets a worker
// takes at a time, reading the window once.
const (
	broadcastChunk = 500
	sweepChunk     = 64
)

// fanoutOf returns the room's running fanout, starting one if needed.
func (h *Handler) fanoutOf(room *overlay.Room) (*fanout, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, overlay.ErrClosed
	}
	if f := h.fanouts[room]; f != nil {
		f.mu.Lock()
		ended := f.ended
		f.mu.Unlock()
		if !ended {
			return f, nil
		}
		// It is stopping: a new one replaces it (the old one removes
		// itself from fanouts only while it is still there).
	}
	seq, visible := room.Position()
	sub, err := room.SubscribeRelay(h.ctx, seq)
	if err != nil {
		return nil, err
	}
	f := &fanout{h: h, room: room, sub: sub, socks: map[*parkedSocket]struct{}{}, last: seq, visible: visible, floor: visible,
		done: make(chan struct{}), wake: make(chan struct{}, 1), pass: make(chan struct{}, 1)}
	f.win.Store(&batch{last: visible})
	h.fanouts[room] = f
	h.wg.Go(f.run)
	h.wg.Go(f.sweep)
	return f, nil
}

// park hands s to the room's fanout if the viewer has every event the fanout
// has sent (the last seq it got is last); the caller keeps catching up
// from its subscription otherwise. onPark runs before the fanout or the
// poller can touch s.
func (h *Handler) park(room *overlay.Room, s *parkedSocket, last int64, onPark func()) (bool, error) {
	for {
		f, err := h.fanoutOf(room)
		if err != nil {
			return false, err
		}
		f.mu.Lock()
		if f.ended {
			f.mu.Unlock()
			continue // it just stopped: fanoutOf starts another
		}
		if !s.k.sub.CaughtUp() || last < f.visible {
			f.mu.Unlock()
			return false, nil
		}
		onPark()
		s.fanout, s.last = f, last
		s.slot = int(h.parkedSeq.Add(1) % pingSlots)
		f.socks[s] = struct{}{}
		f.mu.Unlock()
		if err := h.poller.Add(s.conn, s.readable); err != nil {
			s.finish()
			return true, fmt.Errorf("overlay: watch the socket: %w", err)
		}
		// A socket that ended between joining the fanout and the poller
		// (a pass, the pinger or an abort closed it) was taken out of the
		// poller before it was in: take it out now.
		s.mu.Lock()
		finished := s.finished
		s.mu.Unlock()
		if finished {
			h.poller.Remove(s.conn)
		}
		return true, nil
	}
}

// unpark takes an ended socket out of its fanout and the poller; the fanout
// stops with its last socket.
func (h *Handler) unpark(s *parkedSocket) {
	h.poller.Remove(s.conn)
	f := s.fanout
	if f == nil {
		return
	}
	f.mu.Lock()
	_, ok := f.socks[s]
	delete(f.socks, s)
	stop := ok && len(f.socks) == 0 && !f.ended
	f.mu.Unlock()
	if ok {
		f.room.AddViewers(-1)
	}
	if stop {
		f.stop()
	}
}

// stop ends the fanout if no socket joined meanwhile.
func (f *fanout) stop() {
	f.mu.Lock()
	if f.ended || len(f.socks) > 0 {
		f.mu.Unlock()
		return
	}
	f.ended = true
	close(f.done)
	sub := f.sub
	f.mu.Unlock()
	f.h.mu.Lock()
	if f.h.fanouts[f.room] == f {
		delete(f.h.fanouts, f.room)
	}
	f.h.mu.Unlock()
	sub.Close()
}

// windowMax bounds the window: the events (and bytes) of about two
// passes. Past it the fanout stops taking events until the pass ends;
// its subscription buffers them meanwhile, and past that it follows again
// from the log.
var (
	windowMax      = 1024
	windowMaxBytes = 1 << 20
)

// batch is the window: the frames of consecutive events, oldest first.
// A socket that has every event up to some seq gets the rest with one
// write. It is never changed once published; run replaces it.
type batch struct {
	buf    []byte
	starts []batchFrame
	last   int64 // the last event's seq
}

type batchFrame struct {
	seq int64
	off int
}

// from is what a socket that has every event up to last still lacks, and
// how many frames that is.
func (b *batch) from(last int64) ([]byte, int) {
	i, _ := slices.BinarySearchFunc(b.starts, last+1, func(f batchFrame, seq int64) int { return cmp.Compare(f.seq, seq) })
	if i == len(b.starts) {
		return nil, 0
	}
	return b.buf[b.starts[i].off:], len(b.starts) - i
}

// extend returns a window with b's frames after floor, then msgs'. When
// it keeps all of b's frames it appends to b's arrays in place: b's
// readers see only b's length, and run, the only writer, always extends
// the window it last published.
func (b *batch) extend(floor int64, msgs []*events.Message) *batch {
	keep, _ := slices.BinarySearchFunc(b.starts, floor+1, func(f batchFrame, seq int64) int { return cmp.Compare(f.seq, seq) })
	nb := &batch{last: b.last}
	switch {
	case keep == 0:
		nb.buf, nb.starts = b.buf, b.starts
	case keep < len(b.starts):
		off := b.starts[keep].off
		nb.buf = append(nb.buf, b.buf[off:]...)
		for _, f := range b.starts[keep:] {
			nb.starts = append(nb.starts, batchFrame{seq: f.seq, off: f.off - off})
		}
	}
	for _, m := range msgs {
		nb.add(m)
	}
	return nb
}

// add appends m's frame unless viewers never see its type.
func (b *batch) add(m *events.Message) {
	b.last = m.Seq
	if events.HostOnly[m.Type] {
		return
	}
	b.starts = append(b.starts, batchFrame{seq: m.Seq, off: len(b.buf)})
	b.buf = wsproto.AppendFrame(b.buf, wsproto.OpText, m.JSON)
}

// run takes the room's events into the window until the room closes (its
// sockets are told to reconnect) or the fanout stops.
func (f *fanout) run() {
	var msgs []*events.Message
	for {
		m, err := f.sub.Next(f.h.ctx)
		if errors.Is(err, overlay.ErrSlow) {
			// The fanout itself fell behind: follow again from the log.
			f.mu.Lock()
			last := f.last
			f.mu.Unlock()
			var sub *overlay.Subscription
			if sub, err = f.room.SubscribeRelay(f.h.ctx, last); err == nil {
				f.mu.Lock()
				ended := f.ended
				if !ended {
					f.sub = sub // stop and abort read it under mu
				}
				f.mu.Unlock()
				if ended {
					sub.Close()
					return
				}
				continue
			}
		}
		if err != nil {
			f.abort()
			return
		}
		msgs = append(msgs[:0], m)
		for len(msgs) < 64 {
			m, ok := f.sub.Ready()
			if !ok {
				break
			}
			msgs = append(msgs, m)
		}
		if !f.publish(msgs) {
			return
		}
	}
}

// publish adds msgs to the window, waiting for the next pass while the
// window is full; false once the fanout has ended.
func (f *fanout) publish(msgs []*events.Message) bool {
	for {
		f.mu.Lock()
		if f.ended {
			f.mu.Unlock()
			return false
		}
		cur := f.win.Load()
		w := cur.extend(f.floor, msgs)
		// A window of these events alone is taken whatever its size: no
		// pass may be coming to make room.
		alone := len(cur.starts) == 0 || cur.starts[len(cur.starts)-1].seq <= f.floor
		if len(w.starts) <= windowMax && len(w.buf) <= windowMaxBytes || alone {
			f.last = w.last
			visible := len(w.starts) > 0 && w.starts[len(w.starts)-1].seq > f.visible
			if visible {
				f.visible = w.starts[len(w.starts)-1].seq
			}
			f.win.Store(w)
			f.mu.Unlock()
			f.h.broadcasts.Add(int64(countVisible(msgs)))
			if visible {
				select {
				case f.wake <- struct{}{}:
				default:
				}
			}
			return true
		}
		f.mu.Unlock()
		select {
		case <-f.pass:
		case <-f.done:
			return false
		case <-f.h.ctx.Done():
			f.abort()
			return false
		}
	}
}

func countVisible(msgs []*events.Message) int {
	n := 0
	for _, m := range msgs {
		if !events.HostOnly[m.Type] {
			n++
		}
	}
	return n
}

// sweep writes the window to the sockets, a pass at a time, while some
// socket may lack an event.
func (f *fanout) sweep() {
	// Every socket has the events up to the floor; only this goroutine
	// raises it.
	f.mu.Lock()
	swept := f.floor
	f.mu.Unlock()
	var list []*parkedSocket // this pass's copy of socks
	for {
		select {
		case <-f.wake:
		case <-f.done:
			return
		}
		for {
			w := f.win.Load()
			if len(w.starts) == 0 || w.starts[len(w.starts)-1].seq <= swept {
				break
			}
			f.mu.Lock()
			if f.ended {
				f.mu.Unlock()
				return
			}
			list = list[:0]
			for s := range f.socks {
				list = append(list, s)
			}
			f.mu.Unlock()
			t0 := time.Now()
			f.h.framesOut.Add(f.broadcast(list))
			f.h.broadcastNanos.Add(int64(time.Since(t0)))
			clear(list)
			// Every socket of the pass has the events up to w's last now,
			// and a socket parked meanwhile had them all: the window may
			// drop them.
			swept = w.last
			f.mu.Lock()
			f.floor = max(f.floor, swept)
			f.mu.Unlock()
			select {
			case f.pass <- struct{}{}:
			default:
			}
		}
	}
}

// broadcast makes one pass over list, over several goroutines for a
// crowd, each taking sweepChunk sockets at a time with the window as it
// is then; it returns the frames written.
func (f *fanout) broadcast(list []*parkedSocket) int64 {
	workers := min(runtime.GOMAXPROCS(0), (len(list)+broadcastChunk-1)/broadcastChunk)
	var next atomic.Int64
	var frames atomic.Int64
	work := func() {
		var n int64
		for {
			end := int(next.Add(sweepChunk))
			start := end - sweepChunk
			if start >= len(list) {
				break
			}
			n += sendAll(list[start:min(end, len(list))], f.win.Load())
		}
		frames.Add(n)
	}
	if workers <= 1 {
		work()
		return frames.Load()
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(work)
	}
	wg.Wait()
	return frames.Load()
}

func sendAll(socks []*parkedSocket, b *batch) int64 {
	var frames int64
	for _, s := range socks {
		p, n := b.from(s.last)
		if p == nil {
			continue // it has them all
		}
		s.last = b.last
		if s.send(p) {
			frames += int64(n)
		}
	}
	return frames
}

// abort ends the fanout because its room closed or the handler shuts down:
// every socket is told to reconnect.
func (f *fanout) abort() {
	f.mu.Lock()
	already := f.ended
	if !already {
		f.ended = true
		close(f.done)
	}
	sub := f.sub
	socks := make([]*parkedSocket, 0, len(f.socks))
	for s := range f.socks {
		socks = append(socks, s)
	}
	f.mu.Unlock()
	if already {
		return
	}
	f.h.mu.Lock()
	if f.h.fanouts[f.room] == f {
		delete(f.h.fanouts, f.room)
	}
	f.h.mu.Unlock()
	sub.Close()
	for _, s := range socks {
		s.k.close(endGoingAway, "server shutting down; reconnect with since")
	}
}

// pingSlots spreads the pings: every PingInterval/pingSlots the pinger
// pings one slot's sockets, so that ten thousand pings (and their pongs)
// do not come at once and hold up the events' passes.
const pingSlots = 20

// pingLoop keeps the parked sockets alive: a ping to each every
// PingInterval, a slot of them at a time; a socket from which nothing
// came (not even the pong) for PingInterval+PongTimeout is closed.
func (h *Handler) pingLoop() {
	t := time.NewTicker(max(h.cfg.PingInterval/pingSlots, time.Millisecond))
	defer t.Stop()
	ping := wsproto.AppendFrame(nil, wsproto.OpPing, nil)
	var socks []*parkedSocket
	for slot := 0; ; slot = (slot + 1) % pingSlots {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		socks = socks[:0]
		h.mu.Lock()
		for _, f := range h.fanouts {
			f.mu.Lock()
			for s := range f.socks {
				if s.slot == slot {
					socks = append(socks, s)
				}
			}
			f.mu.Unlock()
		}
		h.mu.Unlock()
		dead := time.Now().Add(-h.cfg.PingInterval - h.cfg.PongTimeout).UnixNano()
		for _, s := range socks {
			if s.lastSeen.Load() < dead {
				s.k.close(endGoingAway, "no pong")
				continue
			}
			s.send(ping)
		}
		clear(socks)
	}
}

// serveParked serves a viewer's socket without a goroutine once it has
// caught up: the handshake, hello, the snapshot or the missed events with
// blocking writes on this goroutine, then the socket is handed to the
// room's fanout and the poller and this goroutine returns.
func (h *Handler) serveParked(w http.ResponseWriter, r *http.Request, room *overlay.Room, sub *overlay.Subscription, viewerID, token string, release func()) {
	conn, err := upgradeBare(w, r)
	if err != nil {
		sub.Close()
		release()
		h.log.Debug("events socket not upgraded", "err", err)
		return
	}
	s, err := newParkedSocket(h, conn, room.Buffer(), release)
	if err != nil {
		sub.Close()
		conn.Close()
		release()
		return
	}
	k := h.newConn(room, sub, s, viewerID, token)
	s.k = k
	write := func(b []byte) error {
		_ = conn.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
		_, err := conn.Write(wsproto.AppendFrame(make([]byte, 0, len(b)+10), wsproto.OpText, b))
		return err
	}
	if err := write(k.hello.JSON); err != nil {
		k.close(endSlow, "too slow; reconnect")
		return
	}
	ctx := h.ctx
	for {
		parked, err := h.park(room, s, sub.Last(), func() {
			// The raw writes of a parked socket honour the deadline of
			// the catch-up's blocking writes: clear it.
			_ = conn.SetWriteDeadline(time.Time{})
			room.AddViewers(1)
			sub.Close()
			k.sub, k.hello = nil, nil // sent; a parked socket keeps the least
		})
		if parked {
			if err != nil {
				h.log.Warn("events socket", "campaign", room.ID(), "err", err)
			}
			return
		}
		if err != nil {
			k.close(endGoingAway, "server shutting down; reconnect with since")
			return
		}
		m, err := sub.Next(ctx)
		switch {
		case errors.Is(err, overlay.ErrSlow):
			k.close(endSlow, fmt.Sprintf("too slow; reconnect with since=%d", sub.Last()))
			return
		case err != nil:
			k.close(endGoingAway, "server shutting down; reconnect with since")
			return
		}
		if err := write(m.JSON); err != nil {
			k.close(endSlow, fmt.Sprintf("too slow; reconnect with since=%d", sub.Last()-1))
			return
		}
	}
}

// parkable says whether a request's socket can be parked: a viewer's, on
// a plain TCP connection, where this platform has a poller.
func (h *Handler) parkable(r *http.Request, host bool) bool {
	return !host && h.poller != nil && r.TLS == nil // no poller with NoParking
}
