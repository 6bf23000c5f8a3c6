package overlay

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"vitrine/events"
)

func refused(code, format string, args ...any) error {
	return &events.RefusedError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Chat publishes a viewer's message (question: as a question) after the
// room's rules: the chat open in this phase, the viewer not banned, the
// slow mode, the maximum length and the word filter. Text is stored as
// given, plain text; the per-connection rate limit is the transport's.
func (r *Room) Chat(ctx context.Context, viewerID, name, text string, question bool) (*events.Message, error) {
	r.mu.Lock()
	st := r.state
	switch {
	case !st.ChatOpen():
		r.mu.Unlock()
		return nil, refused(events.CodeChatClosed, "the chat is closed during the %s", st.Phase)
	case st.banned[viewerID]:
		r.mu.Unlock()
		return nil, refused(events.CodeBanned, "you cannot send messages in this chat")
	case utf8.RuneCountInString(text) > st.Settings.MaxLength:
		r.mu.Unlock()
		return nil, refused(events.CodeTooLong, "messages are at most %d characters", st.Settings.MaxLength)
	case blocked(text, st.words):
		r.mu.Unlock()
		return nil, refused(events.CodeBlockedWord, "this message is not allowed here")
	}
	if slow := time.Duration(st.Settings.SlowMode) * time.Second; slow > 0 {
		now := time.Now()
		if last, ok := r.lastChat[viewerID]; ok && now.Sub(last) < slow {
			r.mu.Unlock()
			wait := slow - now.Sub(last)
			return nil, &events.RefusedError{Code: events.CodeSlowMode, RetryAfter: wait,
				Message: fmt.Sprintf("slow mode: one message every %d s; wait %.0f s", st.Settings.SlowMode, wait.Seconds()+0.5)}
		}
		r.lastChat[viewerID] = now
		if len(r.lastChat) > 4096 {
			for v, t := range r.lastChat {
				if now.Sub(t) >= slow {
					delete(r.lastChat, v)
				}
			}
		}
	}
	r.mu.Unlock()
	typ := events.TypeChatMessage
	if question {
		typ = events.TypeChatQuestion
	}
	return r.Publish(ctx, typ, events.ChatMessage{ID: newID("msg_"), ViewerID: viewerID, Name: name, Text: text})
}

// blocked reports whether text holds one of words as a whole word (or
// phrase), ignoring case.
func blocked(text string, words []string) bool {
	if len(words) == 0 {
		return false
	}
	lower := strings.ToLower(text)
	for _, w := range words {
		w = strings.ToLower(strings.TrimSpace(w))
		if w == "" {
			continue
		}
		for i := 0; ; {
			j := strings.Index(lower[i:], w)
			if j < 0 {
				break
			}
			start, end := i+j, i+j+len(w)
			before, _ := utf8.DecodeLastRuneInString(lower[:start])
			after, _ := utf8.DecodeRuneInString(lower[end:])
			if (start == 0 || !isWordRune(before)) && (end == len(lower) || !isWordRune(after)) {
				return true
			}
			i = start + 1
		}
	}
	return false
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// Vote records a viewer's vote for option of an open poll, once per
// viewer; the results follow as poll.results a few times a second.
func (r *Room) Vote(ctx context.Context, viewerID, pollID string, option int) (*events.Message, error) {
	r.mu.Lock()
	p := r.state.polls[pollID]
	var err error
	switch {
	case r.state.banned[viewerID]:
		err = refused(events.CodeBanned, "you cannot vote in this room")
	case p == nil:
		err = refused(events.CodeNotFound, "no such poll")
	case p.Closed:
		err = refused(events.CodeClosed, "the poll is closed")
	case option < 0 || option >= len(p.Options):
		err = refused(events.CodeInvalid, "option must be 0..%d", len(p.Options)-1)
	case r.state.voted[pollID][viewerID]:
		err = refused(events.CodeAlreadyDone, "you have voted in this poll")
	}
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	msg, err := r.Publish(ctx, events.TypePollVoted, events.PollVoted{PollID: pollID, ViewerID: viewerID, Option: option})
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.dirtyPolls == nil {
		r.dirtyPolls = map[string]bool{}
	}
	r.dirtyPolls[pollID] = true
	r.mu.Unlock()
	r.results.mark()
	return msg, nil
}

// flushResults publishes poll.results of the polls voted since the last.
func (r *Room) flushResults() {
	r.mu.Lock()
	var out []events.PollResults
	for id := range r.dirtyPolls {
		if p := r.state.polls[id]; p != nil && !p.Closed {
			out = append(out, events.PollResults{PollID: id, Votes: append([]int64(nil), p.Votes...), Total: p.Total})
		}
	}
	r.dirtyPolls = nil
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, res := range out {
		if _, err := r.Publish(ctx, events.TypePollResults, res); err != nil {
			r.h.log.Warn("poll results not recorded", "campaign", r.id, "poll", res.PollID, "err", err)
		}
	}
}

// EnterInstantWin enters a viewer in an open instant win, once.
func (r *Room) EnterInstantWin(ctx context.Context, viewerID, id, name string) (*events.Message, error) {
	r.mu.Lock()
	w := r.state.wins[id]
	var err error
	switch {
	case r.state.banned[viewerID]:
		err = refused(events.CodeBanned, "you cannot take part in this room")
	case w == nil:
		err = refused(events.CodeNotFound, "no such instant win")
	case w.drawn:
		err = refused(events.CodeClosed, "the instant win is drawn")
	case w.entered[viewerID]:
		err = refused(events.CodeAlreadyDone, "you have entered this instant win")
	}
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return r.Publish(ctx, events.TypeInstantWinEntered, events.InstantWinEntered{InstantWinID: id, ViewerID: viewerID, Name: name})
}

// AnswerSurvey records a viewer's satisfaction (rating 1..5), once.
func (r *Room) AnswerSurvey(ctx context.Context, viewerID string, rating int, comment string) (*events.Message, error) {
	if rating < 1 || rating > 5 {
		return nil, refused(events.CodeInvalid, "rating must be 1 to 5")
	}
	r.mu.Lock()
	done := r.state.surveyed[viewerID]
	r.mu.Unlock()
	if done {
		return nil, refused(events.CodeAlreadyDone, "you have answered the survey")
	}
	return r.Publish(ctx, events.TypeSurveyAnswered, events.SurveyAnswered{ViewerID: viewerID, Rating: rating, Comment: comment})
}

// Share records that a viewer shared the event.
func (r *Room) Share(ctx context.Context, viewerID, network string) (*events.Message, error) {
	return r.Publish(ctx, events.TypeShare, events.Share{ViewerID: viewerID, Network: network})
}

// Act carries out a viewer's decoded message as viewerID. Likes return nil
// at once (counted, published later); a refused action returns a
// *RefusedError; any other error means it was not recorded.
func (r *Room) Act(ctx context.Context, viewerID string, in events.Inbound) error {
	var err error
	switch in.Type {
	case events.InLike:
		if !r.IsBanned(viewerID) {
			r.Like(1)
			if f := r.h.cfg.OnLike; f != nil && viewerID != "" {
				f(r.id, viewerID)
			}
		}
	case events.InChatSend:
		_, err = r.Chat(ctx, viewerID, in.Name, in.Text, in.Question)
	case events.InPollVote:
		_, err = r.Vote(ctx, viewerID, in.ID, in.Option)
	case events.InInstantWinEnter:
		_, err = r.EnterInstantWin(ctx, viewerID, in.ID, in.Name)
	case events.InSurveyAnswer:
		_, err = r.AnswerSurvey(ctx, viewerID, in.Rating, in.Comment)
	case events.InShare:
		_, err = r.Share(ctx, viewerID, in.Network)
	default:
		err = refused(events.CodeInvalid, "%s cannot be sent here", in.Type)
	}
	return err
}
