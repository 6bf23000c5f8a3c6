package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// ErrClosed is returned by calls on a browser (or one of its pages) that has
// been closed.
var ErrClosed = errors.New("browser closed")

// errDetached is returned by calls on a page whose target went away (closed
// or crashed) while the browser lives on.
var errDetached = errors.New("page detached (closed or crashed)")

const (
	// A screenshot of a large page is a multi-megabyte base64 message;
	// coder/websocket's default limit is 32 KiB.
	readLimit = 256 << 20
	// Writes get their own deadline instead of the caller's context:
	// coder/websocket closes the whole connection when a write's context
	// expires, and one impatient caller must not kill every page.
	writeTimeout = 10 * time.Second
)

// Error is an error reply from the DevTools protocol.
type Error struct {
	Method  string `json:"-"`
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    string `json:"data,omitempty"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s (code %d)", e.Method, e.Message, e.Code)
	if e.Data != "" {
		s += ": " + e.Data
	}
	return s
}

type request struct {
	ID        int64  `json:"id"`
	SessionID string `json:"sessionId,omitempty"`
	Method    string `json:"method"`
	Params    any    `json:"params,omitempty"`
}

// message is anything chromium sends: a reply (ID set) or an event (Method
// set). SessionID names the page session; empty means the browser itself.
type message struct {
	ID        int64           `json:"id"`
	SessionID string          `json:"sessionId"`
	Method    string          `json:"method"`
	Params    json.RawMessage `json:"params"`
	Result    json.RawMessage `json:"result"`
	Error     *Error          `json:"error"`
}

type reply struct {
	result json.RawMessage
	err    error
}

type pendingCall struct {
	method  string
	session string
	ch      chan reply // 1-buffered: the reader never waits for the caller
}

type eventKey struct{ session, method string }

type handler struct{ fn func(json.RawMessage) }

// conn is the one DevTools websocket of a browser. Pages are multiplexed on
// it as flattened sessions, so there is exactly one reader goroutine per
// browser whatever the number of pages; conn owns it and close stops it.
type conn struct {
	ws     *websocket.Conn
	nextID atomic.Int64
	stop   context.CancelFunc // ends the reader's Read
	done   chan struct{}      // closed when the reader has returned

	mu       sync.Mutex
	pending  map[int64]*pendingCall
	handlers map[eventKey][]*handler
	detached map[string]bool // sessions whose target is gone
	closing  bool            // close has begun: no new calls
	quitting bool            // the browser was asked to exit: its EOF is no failure
	err      error           // why the reader stopped; set before done is closed
}

func dial(ctx context.Context, url string) (*conn, error) {
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial devtools %s: %w", url, err)
	}
	ws.SetReadLimit(readLimit)
	readCtx, stop := context.WithCancel(context.Background())
	c := &conn{
		ws:       ws,
		stop:     stop,
		done:     make(chan struct{}),
		pending:  make(map[int64]*pendingCall),
		handlers: make(map[eventKey][]*handler),
		detached: make(map[string]bool),
	}
	go c.read(readCtx)
	return c, nil
}

// read dispatches replies by id and events by (session, method) until the
// connection ends.
func (c *conn) read(ctx context.Context) {
	defer close(c.done)
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			c.mu.Lock()
			if c.closing || c.quitting {
				c.err = ErrClosed
			} else {
				c.err = fmt.Errorf("devtools connection lost: %w", err)
			}
			c.mu.Unlock()
			return
		}
		var m message
		if err := json.Unmarshal(data, &m); err != nil {
			continue // chromium only sends JSON objects; nothing to route a broken one to
		}
		if m.ID != 0 {
			c.deliver(m)
		} else if m.Method != "" {
			c.dispatch(m)
		}
	}
}

func (c *conn) deliver(m message) {
	c.mu.Lock()
	p := c.pending[m.ID]
	delete(c.pending, m.ID)
	c.mu.Unlock()
	if p == nil {
		return // the caller gave up (context done)
	}
	if m.Error != nil {
		m.Error.Method = p.method
		p.ch <- reply{err: m.Error}
		return
	}
	p.ch <- reply{result: m.Result}
}

func (c *conn) dispatch(m message) {
	c.mu.Lock()
	if m.SessionID == "" && m.Method == "Target.detachedFromTarget" {
		// A crashed or closed page never answers its outstanding calls:
		// fail them now rather than at their callers' deadlines.
		var p struct {
			SessionID string `json:"sessionId"`
		}
		if json.Unmarshal(m.Params, &p) == nil && p.SessionID != "" {
			c.detached[p.SessionID] = true
			for id, pc := range c.pending {
				if pc.session == p.SessionID {
					delete(c.pending, id)
					pc.ch <- reply{err: fmt.Errorf("%s: %w", pc.method, errDetached)}
				}
			}
		}
	}
	hs := append([]*handler(nil), c.handlers[eventKey{m.SessionID, m.Method}]...)
	c.mu.Unlock()
	for _, h := range hs {
		h.fn(m.Params)
	}
}

// call sends method with params on session ("" for the browser) and decodes
// the reply's result into result (when non-nil).
func (c *conn) call(ctx context.Context, session, method string, params, result any) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	id := c.nextID.Add(1)
	data, err := json.Marshal(request{ID: id, SessionID: session, Method: method, Params: params})
	if err != nil {
		return fmt.Errorf("%s: encode params: %w", method, err)
	}
	p := &pendingCall{method: method, session: session, ch: make(chan reply, 1)}
	c.mu.Lock()
	switch {
	case c.err != nil:
		err = c.err
	case c.closing:
		err = ErrClosed
	case session != "" && c.detached[session]:
		err = errDetached
	}
	if err != nil {
		c.mu.Unlock()
		return fmt.Errorf("%s: %w", method, err)
	}
	c.pending[id] = p
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()

	wctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	err = c.ws.Write(wctx, websocket.MessageText, data)
	cancel()
	if err != nil {
		return fmt.Errorf("%s: send: %w", method, c.errOr(err))
	}

	select {
	case r := <-p.ch:
		if r.err != nil {
			return r.err
		}
		if result != nil && len(r.result) > 0 {
			if err := json.Unmarshal(r.result, result); err != nil {
				return fmt.Errorf("%s: decode result: %w", method, err)
			}
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	case <-c.done:
		return fmt.Errorf("%s: %w", method, c.errOr(ErrClosed))
	}
}

// errOr returns why the connection stopped, or err while it still runs.
func (c *conn) errOr(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if c.closing {
		return ErrClosed
	}
	return err
}

// on registers fn for the events named method on session ("" for the
// browser) and returns its unregistration. fn runs on the reader goroutine:
// it must be quick and must not call c.call, whose reply that same goroutine
// would have to deliver.
func (c *conn) on(session, method string, fn func(params json.RawMessage)) (off func()) {
	h := &handler{fn: fn}
	k := eventKey{session, method}
	c.mu.Lock()
	c.handlers[k] = append(c.handlers[k], h)
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		hs := c.handlers[k]
		for i, x := range hs {
			if x == h {
				c.handlers[k] = append(hs[:i:i], hs[i+1:]...)
				break
			}
		}
		if len(c.handlers[k]) == 0 {
			delete(c.handlers, k)
		}
	}
}

// eventQueue buffers one kind of event for a caller that waits for it in its
// own goroutine. It is unbounded so that the reader never blocks, and it is
// registered before the action that triggers the event so none is missed.
type eventQueue struct {
	c     *conn
	off   func()
	ready chan struct{} // 1-buffered: items may be non-empty

	mu    sync.Mutex
	items []json.RawMessage
}

func (c *conn) listen(session, method string) *eventQueue {
	q := &eventQueue{c: c, ready: make(chan struct{}, 1)}
	q.off = c.on(session, method, func(params json.RawMessage) {
		q.mu.Lock()
		q.items = append(q.items, params)
		q.mu.Unlock()
		select {
		case q.ready <- struct{}{}:
		default:
		}
	})
	return q
}

// next returns the oldest queued event, waiting for one if needed.
func (q *eventQueue) next(ctx context.Context) (json.RawMessage, error) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			ev := q.items[0]
			q.items = q.items[1:]
			q.mu.Unlock()
			return ev, nil
		}
		q.mu.Unlock()
		select {
		case <-q.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-q.c.done:
			return nil, q.c.errOr(ErrClosed)
		}
	}
}

func (q *eventQueue) close() { q.off() }

// quit tells the connection that the browser is about to exit, so that the
// end of the stream is reported as ErrClosed rather than as a lost
// connection.
func (c *conn) quit() {
	c.mu.Lock()
	c.quitting = true
	c.mu.Unlock()
}

// close stops the reader and waits for it. Outstanding and later calls fail
// with ErrClosed, whatever ended the connection first.
func (c *conn) close() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	_ = c.ws.CloseNow() // chromium is usually gone already: no close handshake to wait for
	c.stop()
	<-c.done
	c.mu.Lock()
	c.err = ErrClosed
	c.mu.Unlock()
}
