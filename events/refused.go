package events

import (
	"errors"
	"time"
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
