package overlay

import (
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"

	"vitrine/internal/httperr"
)

// fan writes one room's events to the room's parked viewer sockets: each
// event is framed once and written to every socket from one goroutine
// (split over the cores for a crowd), instead of a goroutine and a queue
// per viewer. It follows the room with a host subscription, so it sees
// every seq, and lives while it has sockets.
type fan struct {
	h    *Handler
	room *Room
	sub  *Subscription

	mu      sync.Mutex
	socks   map[*parkedSocket]struct{}
	last    int64 // the last event handled
	visible int64 // the last event viewers see, handled
	ended   bool

	list []*parkedSocket // the run goroutine's copy of socks
}

// broadcastChunk is the number of sockets one goroutine writes an event
// to before the work is split over more.
const broadcastChunk = 500

// fanOf returns the room's running fan, starting one if needed.
func (h *Handler) fanOf(room *Room) (*fan, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	if f := h.fans[room]; f != nil {
		return f, nil
	}
	seq, visible := room.position()
	sub, err := room.subscribeFan(h.ctx, seq)
	if err != nil {
		return nil, err
	}
	f := &fan{h: h, room: room, sub: sub, socks: map[*parkedSocket]struct{}{}, last: seq, visible: visible}
	h.fans[room] = f
	h.wg.Go(f.run)
	return f, nil
}

// park hands s to the room's fan if the viewer has every event the fan
// has sent (the last seq it got is last); the caller keeps catching up
// from its subscription otherwise. onPark runs before the fan or the
// poller can touch s.
func (h *Handler) park(room *Room, s *parkedSocket, last int64, onPark func()) (bool, error) {
	for {
		f, err := h.fanOf(room)
		if err != nil {
			return false, err
		}
		f.mu.Lock()
		if f.ended {
			f.mu.Unlock()
			continue // it just stopped: start another
		}
		if !s.k.sub.caughtUp() || last < f.visible {
			f.mu.Unlock()
			return false, nil
		}
		onPark()
		s.fan, s.last = f, last
		f.socks[s] = struct{}{}
		f.mu.Unlock()
		if err := h.poller.Add(s.conn, s.readable); err != nil {
			s.finish()
			return true, fmt.Errorf("overlay: watch the socket: %w", err)
		}
		return true, nil
	}
}

// unpark takes an ended socket out of its fan and the poller; the fan
// stops with its last socket.
func (h *Handler) unpark(s *parkedSocket) {
	h.poller.Remove(s.conn)
	f := s.fan
	if f == nil {
		return
	}
	f.mu.Lock()
	_, ok := f.socks[s]
	delete(f.socks, s)
	stop := ok && len(f.socks) == 0 && !f.ended
	f.mu.Unlock()
	if ok {
		f.room.addParked(-1)
	}
	if stop {
		f.stop()
	}
}

// stop ends the fan if no socket joined meanwhile.
func (f *fan) stop() {
	f.mu.Lock()
	if f.ended || len(f.socks) > 0 {
		f.mu.Unlock()
		return
	}
	f.ended = true
	sub := f.sub
	f.mu.Unlock()
	f.h.mu.Lock()
	if f.h.fans[f.room] == f {
		delete(f.h.fans, f.room)
	}
	f.h.mu.Unlock()
	sub.Close()
}

// batchMax bounds the events (and bytes) written together in one pass.
const (
	batchMax      = 64
	batchMaxBytes = 64 << 10
)

// batch is the frames of one or more consecutive events, written to each
// socket with one write: while a pass writes to ten thousand sockets,
// the events published meanwhile queue up and go out together next.
type batch struct {
	buf    []byte
	starts []batchFrame
	last   int64 // the last event's seq
}

type batchFrame struct {
	seq int64
	off int
}

// from is what a socket that has every event up to last still lacks.
func (b *batch) from(last int64) []byte {
	for _, f := range b.starts {
		if f.seq > last {
			return b.buf[f.off:]
		}
	}
	return nil
}

// run writes the room's events to the sockets until the room closes
// (its sockets are told to reconnect) or the fan stops.
func (f *fan) run() {
	for {
		m, err := f.sub.Next(f.h.ctx)
		if errors.Is(err, ErrSlow) {
			// The fan itself fell behind: follow again from the log.
			f.mu.Lock()
			last := f.last
			f.mu.Unlock()
			var sub *Subscription
			if sub, err = f.room.subscribeFan(f.h.ctx, last); err == nil {
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
		b := &batch{}
		b.add(m)
		for len(b.starts) < batchMax && len(b.buf) < batchMaxBytes {
			m, ok := f.sub.ready()
			if !ok {
				break
			}
			b.add(m)
		}
		f.mu.Lock()
		if f.ended {
			f.mu.Unlock()
			return
		}
		f.last = b.last
		if len(b.starts) == 0 { // host-only events
			f.mu.Unlock()
			continue
		}
		f.visible = b.starts[len(b.starts)-1].seq
		f.list = f.list[:0]
		for s := range f.socks {
			f.list = append(f.list, s)
		}
		f.mu.Unlock()
		t0 := time.Now()
		f.broadcast(b)
		f.h.broadcasts.Add(int64(len(b.starts)))
		f.h.broadcastNanos.Add(int64(time.Since(t0)))
		f.h.framesOut.Add(int64(len(f.list) * len(b.starts)))
	}
}

// add appends m's frame unless viewers never see its type.
func (b *batch) add(m *Message) {
	b.last = m.Seq
	if HostOnly[m.Type] {
		return
	}
	b.starts = append(b.starts, batchFrame{seq: m.Seq, off: len(b.buf)})
	b.buf = appendFrame(b.buf, opText, m.JSON)
}

// broadcast writes the batch to the sockets, each from the first event it
// lacks, over several goroutines for a crowd.
func (f *fan) broadcast(b *batch) {
	list := f.list
	workers := min(runtime.GOMAXPROCS(0), (len(list)+broadcastChunk-1)/broadcastChunk)
	if workers <= 1 {
		sendAll(list, b)
		return
	}
	var wg sync.WaitGroup
	per := (len(list) + workers - 1) / workers
	for i := 0; i < len(list); i += per {
		part := list[i:min(i+per, len(list))]
		wg.Go(func() { sendAll(part, b) })
	}
	wg.Wait()
}

func sendAll(socks []*parkedSocket, b *batch) {
	for _, s := range socks {
		p := b.from(s.last)
		if p == nil {
			continue // it had them all before it was parked
		}
		s.last = b.last
		s.send(p)
	}
}

// abort ends the fan because its room closed or the handler shuts down:
// every socket is told to reconnect.
func (f *fan) abort() {
	f.mu.Lock()
	already := f.ended
	f.ended = true
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
	if f.h.fans[f.room] == f {
		delete(f.h.fans, f.room)
	}
	f.h.mu.Unlock()
	sub.Close()
	for _, s := range socks {
		s.k.close(endGoingAway, "server shutting down; reconnect with since")
	}
}

// pingLoop keeps the parked sockets alive: a ping to each every
// PingInterval; a socket from which nothing came (not even the pong) for
// PingInterval+PongTimeout is closed.
func (h *Handler) pingLoop() {
	t := time.NewTicker(h.cfg.PingInterval)
	defer t.Stop()
	ping := appendFrame(nil, opPing, nil)
	var socks []*parkedSocket
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		socks = socks[:0]
		h.mu.Lock()
		for _, f := range h.fans {
			f.mu.Lock()
			for s := range f.socks {
				socks = append(socks, s)
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
// room's fan and the poller and this goroutine returns.
func (h *Handler) serveParked(w http.ResponseWriter, r *http.Request, room *Room, sub *Subscription, viewerID, token string) {
	if status, code, msg := checkUpgrade(r, h.cfg.OriginPatterns); status != 0 {
		sub.Close()
		if status == http.StatusUpgradeRequired {
			w.Header().Set("Upgrade", "websocket")
			w.Header().Set("Connection", "Upgrade")
		}
		httperr.Write(w, status, code, msg)
		return
	}
	conn, err := upgrade(w, r)
	if err != nil {
		sub.Close()
		h.log.Debug("events socket not upgraded", "err", err)
		return
	}
	s, err := newParkedSocket(h, conn, room.h.cfg.Buffer)
	if err != nil {
		sub.Close()
		conn.Close()
		return
	}
	k := h.newConn(room, sub, s, viewerID, token)
	s.k = k
	write := func(b []byte) error {
		_ = conn.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
		_, err := conn.Write(appendFrame(make([]byte, 0, len(b)+10), opText, b))
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
			room.addParked(1)
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
		case errors.Is(err, ErrSlow):
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
