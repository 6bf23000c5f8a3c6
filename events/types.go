package events

// Event types. Those of HostOnly go to the host's console (the admin
// events socket) and the log only: never to viewers.
const (
	TypeProductPinned   = "product.pinned"
	TypeProductUnpinned = "product.unpinned"
	TypeVoucherPinned   = "voucher.pinned"
	TypeVoucherUnpinned = "voucher.unpinned"

	TypeChatMessage  = "chat.message"  // a viewer's message
	TypeChatQuestion = "chat.question" // a viewer's question
	TypeChatAnswer   = "chat.answer"   // the brand's answer, from the admin API
	TypeChatDeleted  = "chat.deleted"  // moderation: viewers hide the message
	// TypeChatDisplayed: the admin shows a message to the host (host only).
	TypeChatDisplayed = "chat.displayed"
	TypeViewerBanned  = "viewer.banned"   // host only
	TypeViewerUnban   = "viewer.unbanned" // host only
	// TypeRoomSettings: chat open before the live and in replay, slow
	// mode, maximum length, survey and orders ticker switches.
	TypeRoomSettings = "room.settings"
	TypeChatFilter   = "chat.filter" // host only: the blocked words

	TypeLikeCount = "like.count"
	TypeShare     = "share" // host only: a viewer shared the event

	TypePollOpened  = "poll.opened"
	TypePollVoted   = "poll.voted" // host only: one viewer's vote
	TypePollResults = "poll.results"
	TypePollClosed  = "poll.closed"

	TypeInstantWinOpened  = "instant_win.opened"
	TypeInstantWinEntered = "instant_win.entered" // host only
	TypeInstantWinDrawn   = "instant_win.drawn"

	TypeSurveyAnswered = "survey.answered" // host only
	TypeOrderPlaced    = "order.placed"

	TypeStreamLive  = "stream.live"
	TypeStreamEnded = "stream.ended"
	TypeViewerCount = "viewer.count"

	// TypeSnapshot is not logged: the state sent to a client joining
	// without since.
	TypeSnapshot = "snapshot"
	// TypeHello is not logged: sent first to a viewer, its identity
	// (seq 0).
	TypeHello = "hello"
)

// HostOnly are the types viewers never receive: per-viewer actions that
// count into aggregates (votes, entries, answers, shares), moderation and
// the word filter. They are in the log, the host's socket and analytics,
// never in the public replay timeline (the recorder hides them).
// A viewer's seq therefore skips them: resume with the last seq received,
// as always.
var HostOnly = map[string]bool{
	TypeChatDisplayed: true, TypeViewerBanned: true, TypeViewerUnban: true, TypeChatFilter: true,
	TypeShare: true, TypePollVoted: true, TypeInstantWinEntered: true, TypeSurveyAnswered: true,
}

// TypeError is a message the server sends one viewer about what it sent
// (rate limited, refused): {"v":1,"seq":0,"at":...,"type":"error",
// "data":{"code":"...","message":"..."}}. It is not an event of the log.
const TypeError = "error"
