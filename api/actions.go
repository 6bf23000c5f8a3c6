package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"vitrine/events"
	"vitrine/overlay"
)

// Viewer actions over plain HTTP, for players without the events socket
// (an LL-HLS viewer behind a proxy that drops WebSockets, a widget): the
// same messages as on the socket, under the same rules.

// viewerHeader carries the viewer's token on POST /live/{id}/actions.
const viewerHeader = "X-Vitrine-Viewer"

// DefaultActionLimit bounds viewer ids issued and actions posted per
// client address.
var DefaultActionLimit = RateLimit{Burst: 60, Period: time.Minute}

func (a *API) actionRoutes() []*route {
	const tag = "Viewers"
	return []*route{
		{Method: "POST", Path: "/live/{id}/viewer", ID: "issueViewer", Tag: tag, Public: true,
			Summary: "Get an anonymous viewer id",
			Doc: "Issues a viewer id and its token, signed by the server. The events socket issues one too (its hello " +
				"message); keep the token and send it back (?viewer= on the socket, " + viewerHeader + " here) so that " +
				"a viewer keeps its id, its votes and its bans across reconnections. Rate-limited per client address.",
			Status: http.StatusCreated, Response: events.Hello{}, Limit: a.actionLimit, handle: a.issueViewer},
		{Method: "POST", Path: "/live/{id}/actions", ID: "act", Tag: tag, Public: true,
			Summary: "Send a viewer action",
			Doc: "The messages a viewer sends on the events socket, over HTTP: chat.send (with question), like, " +
				"poll.vote, instant_win.enter, survey.answer, share. The " + viewerHeader + " header carries the viewer's " +
				"token (401 without a valid one). 202 once recorded (a like: once counted). Refusals: 403 banned or " +
				"chat_closed, 429 slow_mode (Retry-After), 409 closed or already_done, 404 not_found (poll, instant " +
				"win), 422 too_long, blocked_word, invalid. Rate-limited per client address.",
			Body: inboundDoc{}, Status: http.StatusAccepted, Response: acceptedView{},
			Header: []param{{Name: viewerHeader, Type: "string", Required: true, Doc: "the token of POST /live/{id}/viewer or of the socket's hello"}},
			Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict, http.StatusTooManyRequests, http.StatusServiceUnavailable},
			Limit:  a.actionLimit, handle: a.act},
	}
}

// inboundDoc documents an inbound message (decoded by events.DecodeInbound).
type inboundDoc struct {
	Type string         `json:"type" required:"true" enum:"chat.send,like,poll.vote,instant_win.enter,survey.answer,share"`
	Data map[string]any `json:"data,omitempty" doc:"chat.send: {text, name, question}; poll.vote: {poll_id, option}; instant_win.enter: {instant_win_id, name}; survey.answer: {rating 1-5, comment}; share: {network}"`
}

type acceptedView struct {
	Seq int64 `json:"seq" doc:"0 for a like (counted, published within a second)"`
}

// viewerRoom is the published campaign's room.
func (a *API) viewerRoom(r *http.Request) (*overlay.Room, error) {
	c, err := a.publishedCampaign(r)
	if err != nil {
		return nil, err
	}
	if a.overlay == nil || a.identity == nil {
		return nil, errorf(http.StatusServiceUnavailable, "overlay_unavailable", "this server runs no overlay channel")
	}
	return a.overlay.Room(r.Context(), c.ID)
}

func (a *API) issueViewer(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.viewerRoom(r); err != nil {
		return err
	}
	id, token := a.identity.Issue()
	return writeJSON(w, http.StatusCreated, events.Hello{ViewerID: id, Token: token})
}

func (a *API) act(w http.ResponseWriter, r *http.Request) error {
	var in inboundDoc
	if err := decodeJSON(w, r, &in, events.MaxInboundBytes, false); err != nil {
		return err
	}
	room, err := a.viewerRoom(r)
	if err != nil {
		return err
	}
	viewer, err := a.identity.Verify(r.Header.Get(viewerHeader))
	if err != nil {
		return errorf(http.StatusUnauthorized, "invalid_viewer", "%s must be a viewer token from POST /live/{id}/viewer", viewerHeader)
	}
	// Decoded again by the socket's strict decoder, which checks each
	// type's data: the same rules over HTTP and on the socket.
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	msg, err := events.DecodeInbound(b)
	if err != nil {
		return invalidField("data", "%s", clip(strings.TrimPrefix(err.Error(), events.ErrBadInbound.Error()+": ")))
	}
	if err := room.Act(r.Context(), viewer, msg); err != nil {
		var ref *events.RefusedError
		if errors.As(err, &ref) && ref.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(ref.RetryAfter.Seconds()+0.999)))
		}
		return roomErr(err)
	}
	return writeJSON(w, http.StatusAccepted, acceptedView{})
}
