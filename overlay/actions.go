package overlay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrRefused matches every *RefusedError.
var ErrRefused = errors.New("refused")

// Codes of a RefusedError: the transports send them to the viewer as an
// "error" message, the API maps them to a status.
const (
	CodeChatClosed  = "chat_closed"  // the chat is not open in this phase
	CodeBanned      = "banned"       // the viewer is banned
	CodeSlowMode    = "slow_mode"    // too soon after the viewer's last message
	CodeBlockedWord = "blocked_word" // the message holds a word of the filter
	CodeTooLong     = "too_long"     // longer than the room's maximum length
	CodeNotFound    = "not_found"    // no such message, poll or instant win
	CodeClosed      = "closed"       // the poll or instant win is closed
	CodeAlreadyDone = "already_done" // voted, entered, answered already
	CodeInvalid     = "invalid"      // an option out of range, a bad rating
)

// RefusedError is a viewer action or host action the room refuses: what
// was sent is well formed, but not allowed now.
type RefusedError struct {
	Code    string
	Message string
	// RetryAfter is set for slow_mode: when the viewer may send again.
	RetryAfter time.Duration
}

func (e *RefusedError) Error() string { return e.Message }

// Is makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

func refused(code, format string, args ...any) error {
	return &RefusedError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Chat publishes a viewer's message (question: as a question) after the
// room's rules: the chat open in this phase, the viewer not banned, the
// slow mode, the maximum length and the word filter. Text is stored as
// given, plain text; the per-connection rate limit is the transport's.
func (r *Room) Chat(ctx context.Context, viewerID, name, text string, question bool) (*Message, error) {
	r.mu.Lock()
	st := r.state
	switch {
	case !st.chatOpen():
		r.mu.Unlock()
		return nil, refused(CodeChatClosed, "the chat is closed during the %s", st.Phase)
	case st.banned[viewerID]:
		r.mu.Unlock()
		return nil, refused(CodeBanned, "you cannot send messages in this chat")
	case utf8.RuneCountInString(text) > st.Settings.MaxLength:
		r.mu.Unlock()
		return nil, refused(CodeTooLong, "messages are at most %d characters", st.Settings.MaxLength)
	case blocked(text, st.words):
		r.mu.Unlock()
		return nil, refused(CodeBlockedWord, "this message is not allowed here")
	}
	if slow := time.Duration(st.Settings.SlowMode) * time.Second; slow > 0 {
		now := time.Now()
		if last, ok := r.lastChat[viewerID]; ok && now.Sub(last) < slow {
			r.mu.Unlock()
			wait := slow - now.Sub(last)
			return nil, &RefusedError{Code: CodeSlowMode, RetryAfter: wait,
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
	typ := TypeChatMessage
	if question {
		typ = TypeChatQuestion
	}
	return r.Publish(ctx, typ, ChatMessage{ID: newID("msg_"), ViewerID: viewerID, Name: name, Text: text})
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
func (r *Room) Vote(ctx context.Context, viewerID, pollID string, option int) (*Message, error) {
	r.mu.Lock()
	p := r.state.polls[pollID]
	var err error
	switch {
	case r.state.banned[viewerID]:
		err = refused(CodeBanned, "you cannot vote in this room")
	case p == nil:
		err = refused(CodeNotFound, "no such poll")
	case p.Closed:
		err = refused(CodeClosed, "the poll is closed")
	case option < 0 || option >= len(p.Options):
		err = refused(CodeInvalid, "option must be 0..%d", len(p.Options)-1)
	case r.state.voted[pollID][viewerID]:
		err = refused(CodeAlreadyDone, "you have voted in this poll")
	}
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	msg, err := r.Publish(ctx, TypePollVoted, PollVoted{PollID: pollID, ViewerID: viewerID, Option: option})
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
	var out []PollResults
	for id := range r.dirtyPolls {
		if p := r.state.polls[id]; p != nil && !p.Closed {
			out = append(out, PollResults{PollID: id, Votes: append([]int64(nil), p.Votes...), Total: p.Total})
		}
	}
	r.dirtyPolls = nil
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, res := range out {
		if _, err := r.Publish(ctx, TypePollResults, res); err != nil {
			r.h.log.Warn("poll results not recorded", "campaign", r.id, "poll", res.PollID, "err", err)
		}
	}
}

// EnterInstantWin enters a viewer in an open instant win, once.
func (r *Room) EnterInstantWin(ctx context.Context, viewerID, id, name string) (*Message, error) {
	r.mu.Lock()
	w := r.state.wins[id]
	var err error
	switch {
	case r.state.banned[viewerID]:
		err = refused(CodeBanned, "you cannot take part in this room")
	case w == nil:
		err = refused(CodeNotFound, "no such instant win")
	case w.drawn:
		err = refused(CodeClosed, "the instant win is drawn")
	case w.entered[viewerID]:
		err = refused(CodeAlreadyDone, "you have entered this instant win")
	}
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return r.Publish(ctx, TypeInstantWinEntered, InstantWinEntered{InstantWinID: id, ViewerID: viewerID, Name: name})
}

// AnswerSurvey records a viewer's satisfaction (rating 1..5), once.
func (r *Room) AnswerSurvey(ctx context.Context, viewerID string, rating int, comment string) (*Message, error) {
	if rating < 1 || rating > 5 {
		return nil, refused(CodeInvalid, "rating must be 1 to 5")
	}
	r.mu.Lock()
	done := r.state.surveyed[viewerID]
	r.mu.Unlock()
	if done {
		return nil, refused(CodeAlreadyDone, "you have answered the survey")
	}
	return r.Publish(ctx, TypeSurveyAnswered, SurveyAnswered{ViewerID: viewerID, Rating: rating, Comment: comment})
}

// Share records that a viewer shared the event.
func (r *Room) Share(ctx context.Context, viewerID, network string) (*Message, error) {
	return r.Publish(ctx, TypeShare, Share{ViewerID: viewerID, Network: network})
}

// Act carries out a viewer's decoded message as viewerID. Likes return nil
// at once (counted, published later); a refused action returns a
// *RefusedError; any other error means it was not recorded.
func (r *Room) Act(ctx context.Context, viewerID string, in Inbound) error {
	var err error
	switch in.Type {
	case InLike:
		if !r.IsBanned(viewerID) {
			r.Like(1)
			if f := r.h.cfg.OnLike; f != nil && viewerID != "" {
				f(r.id, viewerID)
			}
		}
	case InChatSend:
		_, err = r.Chat(ctx, viewerID, in.Name, in.Text, in.Question)
	case InPollVote:
		_, err = r.Vote(ctx, viewerID, in.ID, in.Option)
	case InInstantWinEnter:
		_, err = r.EnterInstantWin(ctx, viewerID, in.ID, in.Name)
	case InSurveyAnswer:
		_, err = r.AnswerSurvey(ctx, viewerID, in.Rating, in.Comment)
	case InShare:
		_, err = r.Share(ctx, viewerID, in.Network)
	default:
		err = refused(CodeInvalid, "%s cannot be sent here", in.Type)
	}
	return err
}
