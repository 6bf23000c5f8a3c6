package analytics

import (
	"strconv"

	"vitrine/events"
	"vitrine/store"
)

// chatFold is what a phase's part of the overlay log says: chat, likes,
// shares, and who interacted.
type chatFold struct {
	messages, questions, answers int64
	likes, shares                int64
	chatters, askers             map[string]bool
	// interacting: viewers who chatted, voted, entered, answered the
	// survey or shared on the data channel.
	interacting map[string]bool
	// shown: products pinned on the video.
	shown map[string]bool
}

func newChatFold() *chatFold {
	return &chatFold{chatters: map[string]bool{}, askers: map[string]bool{}, interacting: map[string]bool{},
		shown: map[string]bool{}}
}

// add folds one event of the log.
func (f *chatFold) add(e *store.Event) {
	switch e.Type {
	case events.TypeChatMessage, events.TypeChatQuestion:
		m, ok := decode[events.ChatMessage](e)
		if !ok {
			return
		}
		if e.Type == events.TypeChatQuestion {
			f.questions++
		} else {
			f.messages++
		}
		if m.ViewerID != "" {
			f.chatters[m.ViewerID] = true
			f.interacting[m.ViewerID] = true
			if e.Type == events.TypeChatQuestion {
				f.askers[m.ViewerID] = true
			}
		}
	case events.TypeChatAnswer:
		f.answers++
	case events.TypeLikeCount:
		if l, ok := decode[events.LikeCount](e); ok && l.Added > 0 {
			f.likes += l.Added
		}
	case events.TypeShare:
		f.shares++
		if s, ok := decode[events.Share](e); ok && s.ViewerID != "" {
			f.interacting[s.ViewerID] = true
		}
	case events.TypePollVoted:
		if v, ok := decode[events.PollVoted](e); ok && v.ViewerID != "" {
			f.interacting[v.ViewerID] = true
		}
	case events.TypeInstantWinEntered:
		if v, ok := decode[events.InstantWinEntered](e); ok && v.ViewerID != "" {
			f.interacting[v.ViewerID] = true
		}
	case events.TypeSurveyAnswered:
		if v, ok := decode[events.SurveyAnswered](e); ok && v.ViewerID != "" {
			f.interacting[v.ViewerID] = true
		}
	case events.TypeProductPinned:
		if p, ok := decode[events.ProductPinned](e); ok {
			f.shown[p.Product.ID] = true
		}
	}
}

// interactionTypes are the tracked types that count as interacting.
var interactionTypes = []string{TypeProductClick, TypeCatalogOpen, TypeCartAdd, TypeCartCreate, TypePurchase,
	TypeShare, TypeLike}

// countIn counts the members of set that are in audience.
func countIn(set map[string]bool, audience map[string]bool) int64 {
	var n int64
	for v := range set {
		if audience[v] {
			n++
		}
	}
	return n
}

// satisfactionOf folds every survey answer of the log; views are the
// viewers the survey was shown to.
func satisfactionOf(log []store.Event, views []string) Satisfaction {
	var s Satisfaction
	reach := map[string]bool{}
	for _, v := range views {
		reach[v] = true
	}
	answered := map[string]bool{}
	var sum int64
	for i := range log {
		e := &log[i]
		if e.Type != events.TypeSurveyAnswered {
			continue
		}
		a, ok := decode[events.SurveyAnswered](e)
		if !ok || a.Rating < 1 || a.Rating > 5 {
			continue
		}
		key := a.ViewerID
		if key == "" {
			key = "seq:" + strconv.FormatInt(e.Seq, 10)
		}
		if answered[key] {
			continue // a viewer's first answer counts
		}
		answered[key] = true
		reach[key] = true
		s.Attendees++
		sum += int64(a.Rating)
		s.Distribution[a.Rating-1]++
		if a.Comment != "" {
			s.Comments++
		}
	}
	s.AudienceReach = int64(len(reach))
	if s.Attendees > 0 {
		s.AverageRating = round2(float64(sum) / float64(s.Attendees))
	}
	s.ResponseRate = pct(s.Attendees, s.AudienceReach)
	for i, n := range s.Distribution {
		s.DistributionPercent[i] = pct(n, s.Attendees)
	}
	return s
}

// interactionsOf lists the polls and instant wins of the log.
func interactionsOf(log []store.Event) Interactions {
	out := Interactions{Polls: []PollStats{}, InstantWins: []InstantWinStats{}}
	polls := map[string]int{}
	voted := map[string]map[string]bool{}
	counted := map[string][]int64{} // votes counted from poll.voted
	final := map[string][]int64{}   // from the last poll.results / poll.closed
	wins := map[string]int{}
	entered := map[string]map[string]bool{}
	for i := range log {
		e := &log[i]
		switch e.Type {
		case events.TypePollOpened:
			p, ok := decode[events.PollOpened](e)
			if !ok || p.Poll.ID == "" {
				continue
			}
			if _, dup := polls[p.Poll.ID]; dup {
				continue
			}
			polls[p.Poll.ID] = len(out.Polls)
			voted[p.Poll.ID] = map[string]bool{}
			counted[p.Poll.ID] = make([]int64, len(p.Poll.Options))
			ps := PollStats{ID: p.Poll.ID, Question: p.Poll.Question, OpenedAt: e.At, Options: make([]PollOption, len(p.Poll.Options))}
			for j, o := range p.Poll.Options {
				ps.Options[j].Text = o
			}
			out.Polls = append(out.Polls, ps)
		case events.TypePollVoted:
			v, ok := decode[events.PollVoted](e)
			if !ok || voted[v.PollID] == nil || voted[v.PollID][v.ViewerID] {
				continue
			}
			if v.Option < 0 || v.Option >= len(counted[v.PollID]) {
				continue
			}
			voted[v.PollID][v.ViewerID] = true
			counted[v.PollID][v.Option]++
		case events.TypePollResults, events.TypePollClosed:
			r, ok := decode[events.PollResults](e)
			if !ok {
				continue
			}
			if j, ok := polls[r.PollID]; ok {
				final[r.PollID] = r.Votes
				if e.Type == events.TypePollClosed {
					out.Polls[j].Closed = true
				}
			}
		case events.TypeInstantWinOpened:
			w, ok := decode[events.InstantWinOpened](e)
			if !ok || w.InstantWin.ID == "" {
				continue
			}
			if _, dup := wins[w.InstantWin.ID]; dup {
				continue
			}
			wins[w.InstantWin.ID] = len(out.InstantWins)
			entered[w.InstantWin.ID] = map[string]bool{}
			out.InstantWins = append(out.InstantWins, InstantWinStats{ID: w.InstantWin.ID, Prize: w.InstantWin.Prize,
				OpenedAt: e.At, Planned: w.InstantWin.Winners, Winners: []DrawnWinnerView{}})
		case events.TypeInstantWinEntered:
			w, ok := decode[events.InstantWinEntered](e)
			if ok && entered[w.InstantWinID] != nil {
				entered[w.InstantWinID][w.ViewerID] = true
			}
		case events.TypeInstantWinDrawn:
			d, ok := decode[events.InstantWinDrawn](e)
			if !ok {
				continue
			}
			if j, ok := wins[d.InstantWinID]; ok {
				iw := &out.InstantWins[j]
				iw.Drawn = true
				iw.Winners = iw.Winners[:0]
				for _, w := range d.Winners {
					iw.Winners = append(iw.Winners, DrawnWinnerView(w))
				}
				if d.Entrants > int64(len(entered[d.InstantWinID])) {
					iw.Entrants = d.Entrants
				}
			}
		}
	}
	for id, j := range polls {
		votes := counted[id]
		// The server's own tally wins when it saw more (votes counted on
		// another node before this log page...); both count first votes.
		if f := final[id]; len(f) == len(votes) && sum(f) >= sum(votes) {
			votes = f
		}
		p := &out.Polls[j]
		p.Votes = sum(votes)
		for k := range p.Options {
			p.Options[k].Votes = votes[k]
			p.Options[k].Percent = pct(votes[k], p.Votes)
		}
	}
	for id, j := range wins {
		out.InstantWins[j].Entrants = max(out.InstantWins[j].Entrants, int64(len(entered[id])))
	}
	return out
}

func sum(xs []int64) int64 {
	var n int64
	for _, x := range xs {
		n += x
	}
	return n
}
