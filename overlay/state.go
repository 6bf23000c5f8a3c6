package overlay

import (
	"encoding/json"
	"slices"
	"time"

	"vitrine/events"
)

// DefaultMaxPins is how many products can be pinned at once by default.
const DefaultMaxPins = 3

// nodeCountTTL is how long a node's viewer count stands without being
// repeated: a node that died stops counting after it.
const nodeCountTTL = 45 * time.Second

// roomState is everything folded from a campaign's log: State, what
// viewers see, and what only the room uses (bans, the word filter, who
// voted and entered).
type roomState struct {
	events.State
	banned    map[string]bool
	words     []string
	polls     map[string]*events.PollState // every poll, by id
	pollOrder []string
	winOrder  []string
	voted     map[string]map[string]bool
	wins      map[string]*instantWinState
	nodes     map[string]nodeCount
	messages  map[string]events.ChatMessage // every line by id, for answers' reply_text
	deleted   map[string]bool
	shown     map[string]bool // displayed to the host
	surveyed  map[string]bool
}

type instantWinState struct {
	events.InstantWin
	entrants []events.Winner
	entered  map[string]bool
	drawn    bool
	winners  []events.Winner
}

type nodeCount struct {
	count int64
	at    time.Time
}

func newRoomState() *roomState {
	return &roomState{State: events.State{Products: []events.ProductRef{}, Phase: events.PhasePrelive, Settings: events.DefaultSettings,
		Chat: []events.ChatEntry{}, InstantWins: []events.InstantWin{}},
		banned: map[string]bool{}, polls: map[string]*events.PollState{}, voted: map[string]map[string]bool{},
		wins: map[string]*instantWinState{}, nodes: map[string]nodeCount{}, messages: map[string]events.ChatMessage{},
		deleted: map[string]bool{}, shown: map[string]bool{}, surveyed: map[string]bool{}}
}

// apply folds one logged event into s. It is deterministic, so every node
// that applies the same log in seq order holds the same state. It never
// fails: an event it cannot read (a newer type, bad data) changes nothing.
// Pinning beyond maxPins drops the oldest pin: the API refuses a pin past
// the maximum, but two nodes can each accept one at the same moment, and
// the log must still fold to one answer everywhere. Likewise a second
// vote of one viewer (cast on two nodes at once) is not counted.
func (s *roomState) apply(typ string, at time.Time, data json.RawMessage, maxPins int) {
	switch typ {
	case events.TypeProductPinned:
		var d events.ProductPinned
		if json.Unmarshal(data, &d) != nil || d.Product.ID == "" {
			return
		}
		s.Products = slices.DeleteFunc(s.Products, func(p events.ProductRef) bool { return p.ID == d.Product.ID })
		s.Products = append(s.Products, d.Product)
		if over := len(s.Products) - maxPins; over > 0 {
			s.Products = slices.Delete(s.Products, 0, over)
		}
	case events.TypeProductUnpinned:
		var d events.ProductUnpinned
		if json.Unmarshal(data, &d) != nil {
			return
		}
		s.Products = slices.DeleteFunc(s.Products, func(p events.ProductRef) bool { return p.ID == d.ProductID })
	case events.TypeVoucherPinned:
		var d events.VoucherPinned
		if json.Unmarshal(data, &d) != nil || d.Voucher.ID == "" {
			return
		}
		s.Voucher = &d.Voucher
	case events.TypeVoucherUnpinned:
		var d events.VoucherUnpinned
		if json.Unmarshal(data, &d) != nil {
			return
		}
		if s.Voucher != nil && s.Voucher.ID == d.VoucherID {
			s.Voucher = nil
		}
	case events.TypeChatMessage, events.TypeChatQuestion, events.TypeChatAnswer:
		var d events.ChatMessage
		if json.Unmarshal(data, &d) != nil || d.ID == "" {
			return
		}
		s.messages[d.ID] = d
		s.Chat = append(s.Chat, events.ChatEntry{Type: typ, At: events.MediaTime(at), ChatMessage: d})
		if over := len(s.Chat) - events.RecentChat; over > 0 {
			s.Chat = slices.Delete(s.Chat, 0, over)
		}
	case events.TypeChatDeleted:
		var d events.MessageRef
		if json.Unmarshal(data, &d) != nil {
			return
		}
		s.deleted[d.MessageID] = true
		s.Chat = slices.DeleteFunc(s.Chat, func(c events.ChatEntry) bool { return c.ID == d.MessageID })
	case events.TypeChatDisplayed:
		var d events.MessageRef
		if json.Unmarshal(data, &d) == nil {
			s.shown[d.MessageID] = true
		}
	case events.TypeSurveyAnswered:
		var d events.SurveyAnswered
		if json.Unmarshal(data, &d) == nil {
			s.surveyed[d.ViewerID] = true
		}
	case events.TypeViewerBanned, events.TypeViewerUnban:
		var d events.ViewerRef
		if json.Unmarshal(data, &d) != nil || d.ViewerID == "" {
			return
		}
		if typ == events.TypeViewerBanned {
			s.banned[d.ViewerID] = true
		} else {
			delete(s.banned, d.ViewerID)
		}
	case events.TypeRoomSettings:
		var d events.Settings
		if json.Unmarshal(data, &d) != nil {
			return
		}
		if d.MaxLength <= 0 || d.MaxLength > events.MaxChatRunes {
			d.MaxLength = events.MaxChatRunes
		}
		s.Settings = d
	case events.TypeChatFilter:
		var d events.ChatFilter
		if json.Unmarshal(data, &d) != nil {
			return
		}
		s.words = d.Words
	case events.TypeLikeCount:
		var d events.LikeCount
		if json.Unmarshal(data, &d) != nil || d.Added < 0 {
			return
		}
		s.Likes += d.Added // the sum of every node's taps, whatever order they logged in
	case events.TypePollOpened:
		var d events.PollOpened
		if json.Unmarshal(data, &d) != nil || d.Poll.ID == "" || s.polls[d.Poll.ID] != nil {
			return
		}
		p := &events.PollState{Poll: d.Poll, Votes: make([]int64, len(d.Poll.Options))}
		s.polls[p.ID] = p
		s.pollOrder = append(s.pollOrder, p.ID)
		s.voted[p.ID] = map[string]bool{}
		if s.Poll != nil && !s.Poll.Closed {
			s.Poll.Closed = true // one poll at a time: a new one closes the last
		}
		s.Poll = p
	case events.TypePollVoted:
		var d events.PollVoted
		if json.Unmarshal(data, &d) != nil {
			return
		}
		p := s.polls[d.PollID]
		if p == nil || p.Closed || d.Option < 0 || d.Option >= len(p.Votes) || s.voted[p.ID][d.ViewerID] {
			return
		}
		s.voted[p.ID][d.ViewerID] = true
		p.Votes[d.Option]++
		p.Total++
	case events.TypePollClosed:
		var d events.PollResults
		if json.Unmarshal(data, &d) != nil {
			return
		}
		if p := s.polls[d.PollID]; p != nil {
			p.Closed = true
		}
	case events.TypeInstantWinOpened:
		var d events.InstantWinOpened
		if json.Unmarshal(data, &d) != nil || d.InstantWin.ID == "" || s.wins[d.InstantWin.ID] != nil {
			return
		}
		s.wins[d.InstantWin.ID] = &instantWinState{InstantWin: d.InstantWin, entered: map[string]bool{}}
		s.winOrder = append(s.winOrder, d.InstantWin.ID)
		s.InstantWins = append(s.InstantWins, d.InstantWin)
	case events.TypeInstantWinEntered:
		var d events.InstantWinEntered
		if json.Unmarshal(data, &d) != nil {
			return
		}
		w := s.wins[d.InstantWinID]
		if w == nil || w.drawn || w.entered[d.ViewerID] {
			return
		}
		w.entered[d.ViewerID] = true
		w.entrants = append(w.entrants, events.Winner{ViewerID: d.ViewerID, Name: d.Name})
	case events.TypeInstantWinDrawn:
		var d events.InstantWinDrawn
		if json.Unmarshal(data, &d) != nil {
			return
		}
		w := s.wins[d.InstantWinID]
		if w == nil || w.drawn {
			return
		}
		w.drawn, w.winners = true, d.Winners
		s.InstantWins = slices.DeleteFunc(s.InstantWins, func(w events.InstantWin) bool { return w.ID == d.InstantWinID })
		s.LastDraw = &d
	case events.TypeViewerCount:
		var d events.ViewerCount
		if json.Unmarshal(data, &d) != nil {
			return
		}
		if d.Node == "" { // a count without a node stands for every node
			clear(s.nodes)
			s.nodes[""] = nodeCount{count: d.Count, at: at}
		} else {
			s.nodes[d.Node] = nodeCount{count: d.NodeCount, at: at}
		}
		s.Viewers = 0
		for n, c := range s.nodes {
			if at.Sub(c.at) > nodeCountTTL {
				delete(s.nodes, n)
				continue
			}
			s.Viewers += c.count
		}
	case events.TypeStreamLive:
		s.Live = true
		s.Phase = events.PhaseLive
	case events.TypeStreamEnded:
		s.Live = false
		s.Phase = events.PhaseReplay
	}
}
