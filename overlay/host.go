package overlay

import (
	"context"
	"crypto/rand"
	"math/big"
	"slices"

	"vitrine/events"
)

// The host's actions, from the admin API. Each is one event of the log;
// the checks against the state are this node's view, and the fold keeps
// every node's answer the same when two nodes act at once.

// Answer publishes the brand's answer, replying to message replyTo (""
// for none; it must exist).
func (r *Room) Answer(ctx context.Context, name, text, replyTo string) (*events.Message, error) {
	m := events.ChatMessage{ID: newID("msg_"), Name: name, Text: text, ReplyTo: replyTo}
	if replyTo != "" {
		r.mu.Lock()
		orig, ok := r.state.messages[replyTo]
		r.mu.Unlock()
		if !ok {
			return nil, refused(events.CodeNotFound, "no message %q to reply to", replyTo)
		}
		m.ReplyText = orig.Text
	}
	return r.Publish(ctx, events.TypeChatAnswer, m)
}

// Message returns a chat line by id.
func (r *Room) Message(id string) (events.ChatMessage, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.state.messages[id]
	return m, ok
}

// DeleteMessage hides a message from viewers; it stays in the log, marked,
// for the chat tab and the exports. Deleting it again changes nothing
// (nil message, no error).
func (r *Room) DeleteMessage(ctx context.Context, id string) (*events.Message, error) {
	return r.markMessage(ctx, id, events.TypeChatDeleted, func(s *roomState) bool { return s.deleted[id] })
}

// DisplayMessage shows a message to the host (chat.displayed, host only).
func (r *Room) DisplayMessage(ctx context.Context, id string) (*events.Message, error) {
	return r.markMessage(ctx, id, events.TypeChatDisplayed, func(s *roomState) bool { return s.shown[id] })
}

func (r *Room) markMessage(ctx context.Context, id, typ string, done func(*roomState) bool) (*events.Message, error) {
	r.mu.Lock()
	_, ok := r.state.messages[id]
	already := done(r.state)
	r.mu.Unlock()
	if !ok {
		return nil, refused(events.CodeNotFound, "no message %q in this campaign", id)
	}
	if already {
		return nil, nil
	}
	return r.Publish(ctx, typ, events.MessageRef{MessageID: id})
}

// Ban stops a viewer from chatting, voting and entering; Unban lets it
// again. Either is a no-op (nil message) when already so.
func (r *Room) Ban(ctx context.Context, viewerID string, ban bool) (*events.Message, error) {
	r.mu.Lock()
	is := r.state.banned[viewerID]
	r.mu.Unlock()
	if is == ban {
		return nil, nil
	}
	typ := events.TypeViewerBanned
	if !ban {
		typ = events.TypeViewerUnban
	}
	return r.Publish(ctx, typ, events.ViewerRef{ViewerID: viewerID})
}

// Banned lists the banned viewers, sorted.
func (r *Room) Banned() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.state.banned))
	for v := range r.state.banned {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// IsBanned reports whether a viewer is banned.
func (r *Room) IsBanned(viewerID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state.banned[viewerID]
}

// SetSettings publishes the room's settings.
func (r *Room) SetSettings(ctx context.Context, s events.Settings) (*events.Message, error) {
	return r.Publish(ctx, events.TypeRoomSettings, s)
}

// Words is the word filter.
func (r *Room) Words() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.state.words)
}

// SetWords replaces the word filter.
func (r *Room) SetWords(ctx context.Context, words []string) (*events.Message, error) {
	if words == nil {
		words = []string{}
	}
	return r.Publish(ctx, events.TypeChatFilter, events.ChatFilter{Words: words})
}

// OpenPoll opens a poll; an open poll is closed by it.
func (r *Room) OpenPoll(ctx context.Context, question string, options []string) (*events.Message, error) {
	r.flushResults() // the last poll's pending results first
	return r.Publish(ctx, events.TypePollOpened, events.PollOpened{Poll: events.Poll{ID: newID("poll_"), Question: question, Options: options}})
}

// ClosePoll closes a poll and publishes its final results.
func (r *Room) ClosePoll(ctx context.Context, id string) (*events.Message, error) {
	r.mu.Lock()
	p := r.state.polls[id]
	var res events.PollResults
	if p != nil {
		res = events.PollResults{PollID: id, Votes: slices.Clone(p.Votes), Total: p.Total}
	}
	r.mu.Unlock()
	switch {
	case p == nil:
		return nil, refused(events.CodeNotFound, "no poll %q in this campaign", id)
	case p.Closed:
		return nil, refused(events.CodeClosed, "the poll is closed already")
	}
	return r.Publish(ctx, events.TypePollClosed, res)
}

// Polls returns every poll of the room with its results, oldest first.
func (r *Room) Polls() []events.PollState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]events.PollState, 0, len(r.state.polls))
	for _, id := range r.state.pollOrder {
		p := *r.state.polls[id]
		p.Options, p.Votes = slices.Clone(p.Options), slices.Clone(p.Votes)
		out = append(out, p)
	}
	return out
}

// OpenInstantWin opens an instant win: viewers enter, then DrawInstantWin
// draws winners among them.
func (r *Room) OpenInstantWin(ctx context.Context, prize string, winners int) (*events.Message, error) {
	return r.Publish(ctx, events.TypeInstantWinOpened, events.InstantWinOpened{InstantWin: events.InstantWin{ID: newID("iw_"), Prize: prize, Winners: winners}})
}

// DrawInstantWin draws the winners, uniformly at random among the
// entrants, and closes the instant win.
func (r *Room) DrawInstantWin(ctx context.Context, id string) (*events.Message, error) {
	r.mu.Lock()
	w := r.state.wins[id]
	var entrants []events.Winner
	var n int
	var drawn bool
	if w != nil {
		entrants, n, drawn = slices.Clone(w.entrants), w.Winners, w.drawn
	}
	r.mu.Unlock()
	switch {
	case w == nil:
		return nil, refused(events.CodeNotFound, "no instant win %q in this campaign", id)
	case drawn:
		return nil, refused(events.CodeClosed, "the instant win is drawn already")
	}
	// Partial Fisher-Yates with crypto/rand: the draw cannot be predicted.
	for i := 0; i < len(entrants) && i < n; i++ {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(len(entrants)-i)))
		if err != nil {
			return nil, err
		}
		k := i + int(j.Int64())
		entrants[i], entrants[k] = entrants[k], entrants[i]
	}
	winners := entrants[:min(n, len(entrants))]
	return r.Publish(ctx, events.TypeInstantWinDrawn, events.InstantWinDrawn{InstantWinID: id, Entrants: int64(len(entrants)), Winners: winners})
}

// InstantWins returns every instant win of the room, oldest first, with
// its entrants and whether it is drawn.
func (r *Room) InstantWins() []InstantWinStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]InstantWinStatus, 0, len(r.state.winOrder))
	for _, id := range r.state.winOrder {
		w := r.state.wins[id]
		out = append(out, InstantWinStatus{InstantWin: w.InstantWin, Entrants: int64(len(w.entrants)), Drawn: w.drawn, DrawnWinners: append([]events.Winner{}, w.winners...)})
	}
	return out
}

// InstantWinStatus is an instant win as the host sees it.
type InstantWinStatus struct {
	events.InstantWin
	Entrants     int64           `json:"entrants"`
	Drawn        bool            `json:"drawn"`
	DrawnWinners []events.Winner `json:"drawn_winners"` // empty until drawn
}

// OrderPlaced tells viewers of an order (for the orders ticker).
func (r *Room) OrderPlaced(ctx context.Context, o events.OrderPlaced) (*events.Message, error) {
	return r.Publish(ctx, events.TypeOrderPlaced, o)
}
