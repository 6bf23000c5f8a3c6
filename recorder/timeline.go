package recorder

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"vitrine/events"
	"vitrine/store"
)

// The shopping timeline of a replay: the campaign's recorded data-channel
// events on the media clock, and what follows from them (the products
// timeline, the product sequences). The replay timeline is public, what a
// replay viewer sees: event types this package does not know pass through
// as they are, but chat lines deleted by moderation are left out (with the
// chat.deleted events that deleted them), and so are the types viewers
// never receive live (events.HostOnly).

// ReplayEvent is one event of the replay timeline: the data channel's
// envelope, plus where it falls in the replay.
type ReplayEvent struct {
	V    int             `json:"v"`
	Seq  int64           `json:"seq"`
	At   time.Time       `json:"at"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
	// Offset is the event's position in the replay, in seconds from its
	// start: the recording's first frame (the replay's currentTime 0), not
	// the first logged event. Events before the first frame (the prelive's
	// viewer counts, chat) are at 0, after the last at the end; publisher
	// drops are not part of the replay: an event during one falls at the
	// start of what follows.
	Offset float64 `json:"offset"`
}

// readEvents reads a campaign's whole event log.
func readEvents(ctx context.Context, st Store, id string) ([]store.Event, error) {
	var all []store.Event
	after := int64(0)
	for {
		page, err := st.ListEvents(ctx, id, after, store.MaxEventPage)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < store.MaxEventPage {
			return all, nil
		}
		after = page[len(page)-1].Seq
	}
}

// visible drops chat lines (messages, questions, answers) deleted later in
// the log, the deletions, and the host-only types.
func visible(evs []store.Event) []store.Event {
	deleted := map[string]bool{}
	for _, e := range evs {
		if e.Type == events.TypeChatDeleted {
			var d struct {
				MessageID string `json:"message_id"`
			}
			if json.Unmarshal(e.Data, &d) == nil && d.MessageID != "" {
				deleted[d.MessageID] = true
			}
		}
	}
	out := make([]store.Event, 0, len(evs))
	for _, e := range evs {
		if events.HostOnly[e.Type] {
			continue
		}
		switch e.Type {
		case events.TypeChatDeleted:
			continue
		case events.TypeChatMessage, events.TypeChatQuestion, events.TypeChatAnswer:
			var m struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(e.Data, &m) == nil && deleted[m.ID] {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// clockMap maps the media clock to positions in the replay: segments play
// one after the other, so the replay's time is the sum of the durations of
// the segments before, plus the time into the segment.
type clockMap struct {
	starts  []time.Time     // StartAt of each segment
	offsets []time.Duration // replay position of each segment
	durs    []time.Duration
}

func newClockMap(segs []store.RecordingSegment) clockMap {
	var m clockMap
	var pos time.Duration
	for _, s := range segs {
		m.starts = append(m.starts, s.StartAt)
		m.offsets = append(m.offsets, pos)
		m.durs = append(m.durs, s.Duration)
		pos += s.Duration
	}
	return m
}

// offset is the replay position of media time t, clamped to the replay.
func (m clockMap) offset(t time.Time) time.Duration {
	i := sort.Search(len(m.starts), func(i int) bool { return m.starts[i].After(t) }) - 1
	if i < 0 {
		return 0
	}
	return m.offsets[i] + min(max(t.Sub(m.starts[i]), 0), m.durs[i])
}

// total is the replay's duration.
func (m clockMap) total() time.Duration {
	if n := len(m.offsets); n > 0 {
		return m.offsets[n-1] + m.durs[n-1]
	}
	return 0
}

// replayEvents is the replay timeline of evs between from and to
// (inclusive; zero: unbounded), at most limit after afterSeq.
func replayEvents(evs []store.Event, m clockMap, from, to time.Time, afterSeq int64, limit int) ([]ReplayEvent, bool) {
	out := []ReplayEvent{}
	for _, e := range visible(evs) {
		if e.Seq <= afterSeq || (!from.IsZero() && e.At.Before(from)) || (!to.IsZero() && e.At.After(to)) {
			continue
		}
		if len(out) == limit {
			return out, true
		}
		out = append(out, ReplayEvent{V: 1, Seq: e.Seq, At: e.At, Type: e.Type, Data: e.Data,
			Offset: m.offset(e.At).Seconds()})
	}
	return out, false
}

// ProductInterval is one time a product was on screen.
type ProductInterval struct {
	PinSeq int64     `json:"pin_seq"` // the product.pinned event; also the sequence's id
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// Open: never unpinned; To is the end of the live.
	Open     bool    `json:"open"`
	Duration float64 `json:"duration"` // seconds
}

// ProductTimeline is a product of the Products tab.
type ProductTimeline struct {
	ProductID string            `json:"product_id"`
	Name      string            `json:"name"`
	Price     string            `json:"price"`
	Currency  string            `json:"currency"`
	ImageURL  string            `json:"image_url"`
	FirstAt   time.Time         `json:"first_shown_at"`
	Intervals []ProductInterval `json:"intervals"`
	// Total is the time the product was shown, in seconds.
	Total float64 `json:"total_display_time"`
}

// productsTimeline lists products in order of first appearance, each with
// its display intervals: pinned -> unpinned, or -> the end of the live
// (the stream.ended event, else liveEnd, else the last event).
func productsTimeline(evs []store.Event, liveEnd time.Time) []ProductTimeline {
	type ref struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Price    string `json:"price"`
		Currency string `json:"currency"`
		ImageURL string `json:"image_url"`
	}
	var out []ProductTimeline
	index := map[string]int{}
	open := map[string]int{} // product -> index of its open interval
	closeAt := func(id string, at time.Time, isOpen bool) {
		i, ok := open[id]
		if !ok {
			return
		}
		p := &out[index[id]]
		iv := &p.Intervals[i]
		if at.Before(iv.From) {
			at = iv.From
		}
		iv.To, iv.Open = at, isOpen
		iv.Duration = at.Sub(iv.From).Seconds()
		delete(open, id)
	}
	var last time.Time
	for _, e := range evs {
		last = e.At
		switch e.Type {
		case events.TypeProductPinned:
			var d struct {
				Product ref `json:"product"`
			}
			if json.Unmarshal(e.Data, &d) != nil || d.Product.ID == "" {
				continue
			}
			id := d.Product.ID
			i, ok := index[id]
			if !ok {
				i = len(out)
				index[id] = i
				out = append(out, ProductTimeline{ProductID: id, Name: d.Product.Name, Price: d.Product.Price,
					Currency: d.Product.Currency, ImageURL: d.Product.ImageURL, FirstAt: e.At, Intervals: []ProductInterval{}})
			}
			closeAt(id, e.At, false) // pinned twice: the first ends here
			out[i].Intervals = append(out[i].Intervals, ProductInterval{PinSeq: e.Seq, From: e.At, To: e.At})
			open[id] = len(out[i].Intervals) - 1
		case events.TypeProductUnpinned:
			var d struct {
				ProductID string `json:"product_id"`
			}
			if json.Unmarshal(e.Data, &d) == nil {
				closeAt(d.ProductID, e.At, false)
			}
		case events.TypeStreamEnded:
			for id := range open {
				closeAt(id, e.At, true)
			}
		}
	}
	end := liveEnd
	if end.IsZero() {
		end = last
	}
	for id := range open {
		closeAt(id, end, true)
	}
	for i := range out {
		var total float64
		for _, iv := range out[i].Intervals {
			total += iv.Duration
		}
		out[i].Total = total
	}
	if out == nil {
		out = []ProductTimeline{}
	}
	return out
}
