package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// wsStats gathers what events-socket viewers observe between two reports.
// Message counts are atomic; the rest takes the lock.
type wsStats struct {
	events, snapshots atomic.Int64

	mu          sync.Mutex
	viewers     int
	cur         wsReport
	pub         map[int64]time.Time // seq of a pin event -> when its request was sent
	inflight    time.Time           // when the pin request awaiting its answer was sent
	inflightSet bool
}

type wsReport struct {
	events, snapshots int64
	pins, pinErrors   int
	errors, drops     int
	latency           []time.Duration
	pinRequest        []time.Duration // each pin request, from sending to its answer
	chats, chatErrors int
	chatLatency       []time.Duration
	viewers           int
	lastErr, pinErr   string
}

func newWSStats() *wsStats { return &wsStats{pub: map[int64]time.Time{}} }

func (s *wsStats) viewerJoined() { s.mu.Lock(); s.viewers++; s.mu.Unlock() }
func (s *wsStats) viewerLeft()   { s.mu.Lock(); s.viewers--; s.mu.Unlock() }

func (s *wsStats) error(err error, disconnect bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if disconnect {
		s.cur.drops++
	} else {
		s.cur.errors++
	}
	s.cur.lastErr = err.Error()
}

// pinEventLocked records that a viewer received pin event seq at recv.
func (s *wsStats) pinEventLocked(seq int64, recv time.Time) {
	sent, ok := s.pub[seq]
	if !ok {
		// Not answered yet: the event is the pending request's (the tool
		// sends one at a time). Else another client pinned: not ours.
		if !s.inflightSet {
			return
		}
		sent = s.inflight
	}
	s.cur.latency = append(s.cur.latency, recv.Sub(sent))
}

// sending records the time just before a pin request; answered (seq > 0)
// ties it to the event it made.
func (s *wsStats) sending(at time.Time) {
	s.mu.Lock()
	s.inflight, s.inflightSet = at, true
	s.mu.Unlock()
}

func (s *wsStats) answered(seq int64, err error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflightSet && err == nil && seq > 0 {
		s.cur.pinRequest = append(s.cur.pinRequest, now.Sub(s.inflight))
	}
	if seq > 0 {
		s.pub[seq] = s.inflight
		s.cur.pins++
		// Old seqs are of no use once every viewer has had time to see them.
		for k := range s.pub {
			if k < seq-100 {
				delete(s.pub, k)
			}
		}
	}
	if err != nil {
		s.cur.pinErrors++
		s.cur.pinErr = err.Error()
	}
	s.inflightSet = false
}

// take returns the report since the last call and starts a new one.
func (s *wsStats) take() wsReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.cur
	r.viewers = s.viewers
	r.events, r.snapshots = s.events.Swap(0), s.snapshots.Swap(0)
	s.cur = wsReport{}
	return r
}

func (r *wsReport) merge(o wsReport) {
	r.events += o.events
	r.snapshots += o.snapshots
	r.pins += o.pins
	r.pinErrors += o.pinErrors
	r.errors += o.errors
	r.drops += o.drops
	r.latency = append(r.latency, o.latency...)
	r.pinRequest = append(r.pinRequest, o.pinRequest...)
	r.chats += o.chats
	r.chatErrors += o.chatErrors
	r.chatLatency = append(r.chatLatency, o.chatLatency...)
	r.viewers = max(r.viewers, o.viewers)
	if o.lastErr != "" {
		r.lastErr = o.lastErr
	}
	if o.pinErr != "" {
		r.pinErr = o.pinErr
	}
}

// quantiles describes a latency sample: p50, p99, max and its size.
func quantiles(l []time.Duration) string {
	if len(l) == 0 {
		return "-"
	}
	slices.Sort(l)
	q := func(p float64) time.Duration { return l[int(p*float64(len(l)-1))].Round(100 * time.Microsecond) }
	return fmt.Sprintf("p50 %v p99 %v max %v (%d)", q(0.5), q(0.99), q(1), len(l))
}

func (r wsReport) String(over time.Duration, pinning, chatting bool) string {
	sec := over.Seconds()
	s := fmt.Sprintf("viewers %d, %.0f events/s, %.0f snapshots/s", r.viewers,
		float64(r.events)/sec, float64(r.snapshots)/sec)
	if pinning {
		s += fmt.Sprintf(", pins %d", r.pins)
		if r.pinErrors > 0 {
			s += fmt.Sprintf(" (%d failed)", r.pinErrors)
		}
		s += ", pin broadcast latency " + quantiles(r.latency) + ", pin request " + quantiles(r.pinRequest)
	}
	if chatting {
		s += fmt.Sprintf(", chats %d", r.chats)
		if r.chatErrors > 0 {
			s += fmt.Sprintf(" (%d failed)", r.chatErrors)
		}
		s += ", chat broadcast latency " + quantiles(r.chatLatency)
	}
	s += fmt.Sprintf(", errors %d, disconnects %d", r.errors, r.drops)
	if r.lastErr != "" {
		s += fmt.Sprintf(" (last error: %.120s)", r.lastErr)
	}
	if r.pinErr != "" {
		s += fmt.Sprintf(" (last pin error: %.120s)", r.pinErr)
	}
	return s
}

// wsEventsURL is the campaign's events socket.
func wsEventsURL(server, campaignID string) string {
	u := strings.TrimRight(server, "/") + "/live/" + url.PathEscape(campaignID) + "/events"
	if rest, ok := strings.CutPrefix(u, "https://"); ok {
		return "wss://" + rest
	}
	if rest, ok := strings.CutPrefix(u, "http://"); ok {
		return "ws://" + rest
	}
	return u
}

// wsHeader is the part of an envelope the chatter looks at.
type wsHeader struct {
	Seq  int64           `json:"seq"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

func (s *wsStats) chatSent() { s.mu.Lock(); s.cur.chats++; s.mu.Unlock() }

func (s *wsStats) chatError(err error) {
	s.mu.Lock()
	s.cur.chatErrors++
	s.cur.lastErr = err.Error()
	s.mu.Unlock()
}

// runWSViewer holds one events socket until ctx ends: it reads the
// snapshot, then the events, and after a disconnect resumes (a second
// later, as players do) with since= the last seq it saw. With readers (an
// epoll loop, Linux) the socket is read there; else this goroutine is its
// read loop. A viewer not measured (readers only) reads what arrived once
// a second and times nothing.
func runWSViewer(ctx context.Context, eventsURL string, st *wsStats, readers *wsReaders, measured bool) {
	since := int64(-1)
	for ctx.Err() == nil {
		u := eventsURL
		if since >= 0 {
			u += "?since=" + strconv.FormatInt(since, 10)
		}
		c, err := dialWSViewer(ctx, u)
		if err != nil {
			if ctx.Err() == nil {
				st.error(err, false)
				sleep(ctx, time.Second)
			}
			continue
		}
		st.viewerJoined()
		if readers != nil {
			err = readers.follow(c, &since, measured)
		} else {
			stop := context.AfterFunc(ctx, func() { c.Close() })
			err = readWS(c, st, &since)
			stop()
		}
		st.viewerLeft()
		c.Close()
		if ctx.Err() == nil {
			st.error(err, true)
			sleep(ctx, time.Second)
		}
	}
}

func readWS(c *wsViewerConn, st *wsStats, since *int64) error {
	var t tally
	for {
		b, err := c.next()
		if err != nil {
			return err
		}
		seq, err := t.envelope(b, time.Now())
		if err != nil {
			return err
		}
		if seq > 0 {
			*since = seq
		}
		t.flush(st)
	}
}

// tally is what a reader saw since it last reported to the shared
// stats: the epoll loops take the stats' lock once per batch of sockets,
// not once per message.
type tally struct {
	unmeasured        bool // count the events, time none
	events, snapshots int64
	pins              []pinRecv
	chats             []time.Duration
}

type pinRecv struct {
	seq  int64
	recv time.Time
}

// envelope counts one message received at now and returns its seq (0 for
// messages outside the log: hello, error).
func (t *tally) envelope(b []byte, now time.Time) (int64, error) {
	seq, typ, ok := envelopeHeader(b)
	if !ok {
		return 0, fmt.Errorf("bad envelope: %.100s", b)
	}
	switch string(typ) {
	case "hello":
		return 0, nil // seq 0, not an event of the log
	case "snapshot":
		t.snapshots++
	case "error":
		t.events++
		return 0, nil // seq 0, not an event of the log
	case "product.pinned", "product.unpinned":
		t.events++
		if !t.unmeasured {
			t.pins = append(t.pins, pinRecv{seq, now})
		}
	case "chat.message":
		t.events++
		if at, ok := chatSentAt(b); ok && !t.unmeasured {
			t.chats = append(t.chats, now.Sub(at))
		}
	default:
		t.events++
	}
	return seq, nil
}

// flush adds the tally to st and empties it.
func (t *tally) flush(st *wsStats) {
	if t.events > 0 {
		st.events.Add(t.events)
	}
	if t.snapshots > 0 {
		st.snapshots.Add(t.snapshots)
	}
	if len(t.pins) > 0 || len(t.chats) > 0 {
		st.mu.Lock()
		for _, p := range t.pins {
			st.pinEventLocked(p.seq, p.recv)
		}
		st.cur.chatLatency = append(st.cur.chatLatency, t.chats...)
		st.mu.Unlock()
	}
	t.events, t.snapshots, t.pins, t.chats = 0, 0, t.pins[:0], t.chats[:0]
}

// pinner pins and unpins one product of the campaign, alternately, through
// the admin API.
type pinner struct {
	hc       *http.Client
	api      string // .../api/v1/campaigns/{id}
	token    string
	product  string
	st       *wsStats
	isPinned bool
}

func newPinner(ctx context.Context, hc *http.Client, server, campaignID, token, product string, st *wsStats) (*pinner, error) {
	p := &pinner{hc: hc, token: token, product: product, st: st,
		api: strings.TrimRight(server, "/") + "/api/v1/campaigns/" + url.PathEscape(campaignID)}
	if p.product != "" {
		return p, nil
	}
	b, status, err := p.do(ctx, http.MethodGet, p.api, nil)
	if err != nil {
		return nil, fmt.Errorf("GET the campaign: %w", err)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET the campaign: HTTP %d: %.200s", status, b)
	}
	var c struct {
		ProductIDs []string `json:"product_ids"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("GET the campaign: %w", err)
	}
	if len(c.ProductIDs) == 0 {
		return nil, errors.New("the campaign has no product to pin: attach one or give -product")
	}
	p.product = c.ProductIDs[0]
	return p, nil
}

func (p *pinner) do(ctx context.Context, method, u string, body []byte) ([]byte, int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := p.hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return b, res.StatusCode, err
}

// toggle pins the product if the tool last left it unpinned, else unpins
// it. A pin the server already had (409 already_pinned, 404 not_pinned:
// left by an earlier run) flips the side and tries again at once.
func (p *pinner) toggle(ctx context.Context) {
	for range 2 {
		method, u, body, want := http.MethodPost, p.api+"/pins", fmt.Appendf(nil, `{"kind":"product","id":%q}`, p.product), http.StatusCreated
		if p.isPinned {
			method, u, body, want = http.MethodDelete, p.api+"/pins/product/"+url.PathEscape(p.product), nil, http.StatusOK
		}
		p.st.sending(time.Now())
		b, status, err := p.do(ctx, method, u, body)
		if err == nil && status == want {
			var v struct {
				Seq int64 `json:"seq"`
			}
			err = json.Unmarshal(b, &v)
			p.isPinned = !p.isPinned
			p.st.answered(v.Seq, err)
			return
		}
		if err == nil && ((!p.isPinned && status == http.StatusConflict && bytes.Contains(b, []byte("already_pinned"))) ||
			(p.isPinned && status == http.StatusNotFound && bytes.Contains(b, []byte("not_pinned")))) {
			p.st.answered(0, nil)
			p.isPinned = !p.isPinned
			continue
		}
		if err == nil {
			err = fmt.Errorf("%s %s: HTTP %d: %.200s", method, strings.TrimPrefix(u, p.api), status, bytes.TrimSpace(b))
		}
		if ctx.Err() != nil {
			err = nil
		}
		p.st.answered(0, err)
		return
	}
}

// run toggles the pin every interval until ctx ends, then leaves the
// product unpinned.
func (p *pinner) run(ctx context.Context, every time.Duration, jitter float64) {
	pace(ctx, every, jitter, func() bool { p.toggle(ctx); return true })
	if p.isPinned {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, _ = p.do(cctx, http.MethodDelete, p.api+"/pins/product/"+url.PathEscape(p.product), nil)
		cancel()
	}
}
