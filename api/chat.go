package api

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"vitrine/analytics"
	"vitrine/events"
	"vitrine/overlay"
	"vitrine/store"
)

// Chat moderation: the chat tab (messages with their moderation state),
// brand answers, deleting and displaying messages, bans and the chat's
// settings. Each action is an event of the campaign's channel, durable
// before the answer.

func (a *API) chatRoutes() []*route {
	const tag = "Chat"
	return []*route{
		{Method: "GET", Path: "/api/v1/campaigns/{id}/messages", ID: "listMessages", Tag: tag,
			Summary: "The chat tab: messages, questions and answers with their moderation state",
			Doc: "Every chat line of the campaign, oldest first. filter: all (default), deleted (hidden by a moderator), " +
				"displayed (shown to the host), banned (lines of viewers banned now), questions (viewers' questions). " +
				"Deleted lines stay here, marked, for the record and the exports.",
			Query: append([]param{{Name: "filter", Type: "string", Enum: []string{"all", "deleted", "displayed", "banned", "questions"},
				Doc: "which lines; default all"}}, pageParams...),
			Status: http.StatusOK, Response: listOf(analytics.ChatRecord{}), handle: a.listMessages},
		{Method: "POST", Path: "/api/v1/campaigns/{id}/messages", ID: "answer", Tag: tag,
			Summary: "Post the brand's answer",
			Doc: "A chat.answer from the brand, optionally replying to a viewer's message or question (reply_to; " +
				"404 message_not_found if it is not a line of this campaign). Viewers see it at once.",
			Body: answerRequest{}, Status: http.StatusCreated, Response: eventView{},
			Errors: []int{http.StatusServiceUnavailable}, handle: a.answer},
		{Method: "DELETE", Path: "/api/v1/campaigns/{id}/messages/{message_id}", ID: "deleteMessage", Tag: tag,
			Summary: "Delete a message",
			Doc: "Hides the line from viewers (chat.deleted) — live and in replay — and keeps it, marked deleted, " +
				"in the chat tab and the exports. Deleting it again is a no-op (204).",
			Status: http.StatusNoContent, Errors: []int{http.StatusServiceUnavailable}, handle: a.roomAction(func(r *http.Request, room *overlay.Room) (*events.Message, error) {
				return room.DeleteMessage(r.Context(), r.PathValue("message_id"))
			}, http.StatusNoContent)},
		{Method: "POST", Path: "/api/v1/campaigns/{id}/messages/{message_id}/display", ID: "displayMessage", Tag: tag,
			Summary: "Display a message to the host",
			Doc: "Sends the line to the host's console (chat.displayed, host only: viewers do not receive it) and " +
				"marks it displayed in the chat tab. Again: a no-op (204).",
			Status: http.StatusNoContent, Errors: []int{http.StatusServiceUnavailable}, handle: a.roomAction(func(r *http.Request, room *overlay.Room) (*events.Message, error) {
				return room.DisplayMessage(r.Context(), r.PathValue("message_id"))
			}, http.StatusNoContent)},
		{Method: "GET", Path: "/api/v1/campaigns/{id}/bans", ID: "listBans", Tag: tag,
			Summary: "Banned viewers",
			Doc:     "The banned viewers' ids, and each with the name it last chatted under (empty if it never chatted).",
			Status:  http.StatusOK, Response: bansView{}, handle: a.listBans},
		{Method: "POST", Path: "/api/v1/campaigns/{id}/bans", ID: "ban", Tag: tag,
			Summary: "Ban a viewer",
			Doc: "The viewer (the viewer_id of its messages) can no longer chat, ask, vote or enter instant wins in this " +
				"campaign; it still watches. Its messages stay until deleted, or go with the ban (hide_messages: each is " +
				"deleted as DELETE …/messages/{id} does). Banning a banned viewer: 200, no change (hide_messages still hides).",
			Body: banRequest{}, Status: http.StatusCreated, Response: bansView{},
			Errors: []int{http.StatusOK, http.StatusServiceUnavailable}, RepeatDoc: "Already banned: the bans, unchanged.",
			handle: a.ban},
		{Method: "DELETE", Path: "/api/v1/campaigns/{id}/bans/{viewer_id}", ID: "unban", Tag: tag,
			Summary: "Unban a viewer", Doc: "404 not_banned when the viewer is not banned.",
			Status: http.StatusNoContent, Errors: []int{http.StatusServiceUnavailable}, handle: a.unban},
		{Method: "GET", Path: "/api/v1/campaigns/{id}/chat-settings", ID: "getChatSettings", Tag: tag,
			Summary: "The chat's settings",
			Status:  http.StatusOK, Response: chatSettingsView{}, handle: a.getChatSettings},
		{Method: "PUT", Path: "/api/v1/campaigns/{id}/chat-settings", ID: "putChatSettings", Tag: tag,
			Summary: "Change the chat's settings",
			Doc: "Replaces them all: every member is required (422 validation_failed names those missing). prelive_chat opens the chat before the first go-live, replay_chat keeps it open " +
				"after the end (during the live it is always open); slow_mode_seconds is the least time between two " +
				"messages of one viewer (0: off); max_length the longest message (1 to 500 characters); blocked_words " +
				"refuses messages holding one of them as a whole word, ignoring case (viewers are not told the list); " +
				"survey shows the satisfaction survey to viewers leaving the live; orders_ticker shows orders to viewers. " +
				"Viewers get the new settings at once (room.settings, without the words).",
			Body: chatSettingsUpdate{}, Status: http.StatusOK, Response: chatSettingsView{},
			Errors: []int{http.StatusServiceUnavailable}, handle: a.putChatSettings},
	}
}

type answerRequest struct {
	Text    string `json:"text" required:"true" minLength:"1" maxLength:"500" doc:"plain text"`
	Name    string `json:"name" maxLength:"40" doc:"shown as the author; default the campaign's host name or \"Host\""`
	ReplyTo string `json:"reply_to" doc:"id of the message or question answered"`
}

// eventView is the event an action recorded.
type eventView struct {
	Seq  int64     `json:"seq" doc:"the event's sequence number in the campaign's channel"`
	At   time.Time `json:"at" doc:"the event's time on the media clock"`
	Type string    `json:"type"`
	Data any       `json:"data"`
}

func eventOut(m *events.Message) eventView {
	return eventView{Seq: m.Seq, At: m.Time(), Type: m.Type, Data: m.Data}
}

type banRequest struct {
	ViewerID     string `json:"viewer_id" required:"true" pattern:"^v_[0-9a-hjkmnp-tv-z]{1,40}$" doc:"the viewer_id of the viewer's messages"`
	HideMessages bool   `json:"hide_messages" doc:"also delete the viewer's messages and questions (viewers stop seeing them)"`
}

type bansView struct {
	ViewerIDs []string  `json:"viewer_ids"`
	Bans      []banView `json:"bans" doc:"the same viewers, with their names"`
}

type banView struct {
	ViewerID string `json:"viewer_id"`
	Name     string `json:"name" doc:"the name the viewer last chatted under; empty if it never chatted"`
}

// bansOf lists the room's bans with the names the chat log knows.
func (a *API) bansOf(r *http.Request, campaignID string, room *overlay.Room) (bansView, error) {
	ids := room.Banned()
	v := bansView{ViewerIDs: ids, Bans: make([]banView, 0, len(ids))}
	if len(ids) == 0 {
		return v, nil
	}
	evs, err := a.allEvents(r, campaignID)
	if err != nil {
		return v, err
	}
	names := map[string]string{}
	for _, l := range analytics.ChatLog(evs) {
		if l.ViewerID != "" && l.Name != "" {
			names[l.ViewerID] = l.Name
		}
	}
	for _, id := range ids {
		v.Bans = append(v.Bans, banView{ViewerID: id, Name: names[id]})
	}
	return v, nil
}

func (a *API) listBans(w http.ResponseWriter, r *http.Request) error {
	c, room, err := a.campaignRoom(r)
	if err != nil {
		return err
	}
	v, err := a.bansOf(r, c.ID, room)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

// chatSettingsUpdate is the whole of the settings: a PUT replaces them,
// so every member is required (routeTable checks that of every PUT).
type chatSettingsUpdate struct {
	PreliveChat  bool     `json:"prelive_chat" required:"true"`
	ReplayChat   bool     `json:"replay_chat" required:"true"`
	SlowMode     int      `json:"slow_mode_seconds" required:"true" minimum:"0" maximum:"3600" doc:"0: off"`
	MaxLength    int      `json:"max_length" required:"true" minimum:"1" maximum:"500" doc:"characters; 500 is the most a message can have anyway"`
	BlockedWords []string `json:"blocked_words" required:"true" maxItems:"500" itemMinLength:"1" itemMaxLength:"64" doc:"whole words, ignoring case; [] for none"`
	Survey       bool     `json:"survey" required:"true"`
	OrdersTicker bool     `json:"orders_ticker" required:"true"`
}

func (a *API) listMessages(w http.ResponseWriter, r *http.Request) error {
	page, err := pageFrom(r)
	if err != nil {
		return err
	}
	c, err := a.loadCampaign(r)
	if err != nil {
		return err
	}
	// The cursor is the seq of the last line returned: lines are in seq order.
	var after int64
	if page.Cursor != "" {
		if after, err = strconv.ParseInt(page.Cursor, 10, 64); err != nil || after < 0 {
			return badRequest("invalid_cursor", "the cursor was not issued by this list; start again without it")
		}
	}
	limit := page.Limit
	if limit == 0 {
		limit = defaultLimit
	}
	events, err := a.allEvents(r, c.ID)
	if err != nil {
		return err
	}
	keep := map[string]func(*analytics.ChatRecord) bool{
		"": func(*analytics.ChatRecord) bool { return true }, "all": func(*analytics.ChatRecord) bool { return true },
		"deleted":   func(l *analytics.ChatRecord) bool { return l.Deleted },
		"displayed": func(l *analytics.ChatRecord) bool { return l.Displayed },
		"banned":    func(l *analytics.ChatRecord) bool { return l.Banned },
		"questions": (*analytics.ChatRecord).Question,
	}[r.URL.Query().Get("filter")]
	out := []analytics.ChatRecord{}
	next := ""
	for _, l := range analytics.ChatLog(events) {
		if l.Seq <= after || !keep(&l) {
			continue
		}
		if len(out) == limit {
			next = strconv.FormatInt(out[len(out)-1].Seq, 10)
			break
		}
		out = append(out, l)
	}
	return writeJSON(w, http.StatusOK, listResponse{Items: out, NextCursor: next})
}

// allEvents reads a campaign's whole log.
func (a *API) allEvents(r *http.Request, campaignID string) ([]store.Event, error) {
	var all []store.Event
	for {
		var after int64
		if n := len(all); n > 0 {
			after = all[n-1].Seq
		}
		evs, err := a.st.ListEvents(r.Context(), campaignID, after, store.MaxEventPage)
		if err != nil {
			return nil, err
		}
		all = append(all, evs...)
		if len(evs) < store.MaxEventPage {
			return all, nil
		}
	}
}

func (a *API) answer(w http.ResponseWriter, r *http.Request) error {
	var in answerRequest
	if err := decodeJSON(w, r, &in, maxJSONBody, false); err != nil {
		return err
	}
	_, room, err := a.campaignRoom(r)
	if err != nil {
		return err
	}
	text, name := strings.TrimSpace(in.Text), strings.TrimSpace(in.Name)
	var v validator
	if text == "" || utf8.RuneCountInString(text) > events.MaxChatRunes || !utf8.ValidString(text) {
		v.add("text", "required, 1 to 500 characters")
	}
	if utf8.RuneCountInString(name) > events.MaxNameRunes {
		v.add("name", "at most 40 characters")
	}
	if err := v.err(); err != nil {
		return err
	}
	if name == "" {
		name = "Host"
	}
	msg, err := room.Answer(r.Context(), name, text, in.ReplyTo)
	if err != nil {
		return roomErr(err)
	}
	return writeJSON(w, http.StatusCreated, eventOut(msg))
}

func (a *API) ban(w http.ResponseWriter, r *http.Request) error {
	var in banRequest
	if err := decodeJSON(w, r, &in, maxJSONBody, false); err != nil {
		return err
	}
	c, room, err := a.campaignRoom(r)
	if err != nil {
		return err
	}
	if !overlay.ValidViewerID(in.ViewerID) {
		return invalidField("viewer_id", "required: the viewer_id of the viewer's messages (v_…)")
	}
	msg, err := room.Ban(r.Context(), in.ViewerID, true)
	if err != nil {
		return roomErr(err)
	}
	if in.HideMessages {
		evs, err := a.allEvents(r, c.ID)
		if err != nil {
			return err
		}
		for _, l := range analytics.ChatLog(evs) {
			if l.ViewerID != in.ViewerID || l.Deleted {
				continue
			}
			if _, err := room.DeleteMessage(r.Context(), l.ID); err != nil {
				return roomErr(err)
			}
		}
	}
	status := http.StatusCreated
	if msg == nil {
		status = http.StatusOK
	}
	v, err := a.bansOf(r, c.ID, room)
	if err != nil {
		return err
	}
	return writeJSON(w, status, v)
}

func (a *API) unban(w http.ResponseWriter, r *http.Request) error {
	_, room, err := a.campaignRoom(r)
	if err != nil {
		return err
	}
	msg, err := room.Ban(r.Context(), r.PathValue("viewer_id"), false)
	if err != nil {
		return roomErr(err)
	}
	if msg == nil {
		return errorf(http.StatusNotFound, "not_banned", "this viewer is not banned")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// chatSettingsView is chatSettings as answered (a schema of its own: the
// request's has required fields and refuses unknown ones).
type chatSettingsView chatSettingsUpdate

func settingsOut(room *overlay.Room) chatSettingsView {
	s := room.State().Settings
	return chatSettingsView{PreliveChat: s.PreliveChat, ReplayChat: s.ReplayChat, SlowMode: s.SlowMode, MaxLength: s.MaxLength,
		BlockedWords: room.Words(), Survey: s.Survey, OrdersTicker: s.OrdersTicker}
}

func (a *API) getChatSettings(w http.ResponseWriter, r *http.Request) error {
	_, room, err := a.campaignRoom(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, settingsOut(room))
}

func (a *API) putChatSettings(w http.ResponseWriter, r *http.Request) error {
	var in chatSettingsUpdate
	if err := decodeJSON(w, r, &in, maxJSONBody, false); err != nil {
		return err
	}
	_, room, err := a.campaignRoom(r)
	if err != nil {
		return err
	}
	var v validator
	if in.SlowMode < 0 || in.SlowMode > 3600 {
		v.add("slow_mode_seconds", "0 to 3600")
	}
	if in.MaxLength < 1 || in.MaxLength > events.MaxChatRunes {
		v.add("max_length", "1 to 500")
	}
	if len(in.BlockedWords) > 500 {
		v.add("blocked_words", "at most 500 words")
	}
	words := make([]string, 0, len(in.BlockedWords))
	for _, w := range in.BlockedWords {
		w = strings.TrimSpace(w)
		if w == "" || utf8.RuneCountInString(w) > 64 || !utf8.ValidString(w) {
			v.add("blocked_words", "each 1 to 64 characters")
			break
		}
		words = append(words, w)
	}
	if err := v.err(); err != nil {
		return err
	}
	ctx := r.Context()
	set := events.Settings{PreliveChat: in.PreliveChat, ReplayChat: in.ReplayChat, SlowMode: in.SlowMode,
		MaxLength: in.MaxLength, Survey: in.Survey, OrdersTicker: in.OrdersTicker}
	if room.State().Settings != set {
		if _, err := room.SetSettings(ctx, set); err != nil {
			return err
		}
	}
	if cur := room.Words(); !slices.Equal(cur, words) {
		if _, err := room.SetWords(ctx, words); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, settingsOut(room))
}

// roomErr maps a room's refusal to a status.
func roomErr(err error) error {
	var ref *events.RefusedError
	if !errors.As(err, &ref) {
		return err
	}
	switch ref.Code {
	case events.CodeNotFound:
		return errorf(http.StatusNotFound, "not_found", "%s", ref.Message)
	case events.CodeClosed, events.CodeAlreadyDone:
		return conflict(ref.Code, "%s", ref.Message)
	case events.CodeSlowMode:
		return errorf(http.StatusTooManyRequests, ref.Code, "%s", ref.Message)
	case events.CodeBanned, events.CodeChatClosed:
		return errorf(http.StatusForbidden, ref.Code, "%s", ref.Message)
	}
	return errorf(http.StatusUnprocessableEntity, ref.Code, "%s", ref.Message)
}

func (a *API) hostEventRoutes() []*route {
	return []*route{
		{Method: "GET", Path: "/api/v1/campaigns/{id}/events", ID: "hostEvents", Tag: "Chat",
			Summary: "The host's events socket (WebSocket)",
			Doc: "Upgrades to a WebSocket carrying the campaign's channel as viewers get it (?since=SEQ, snapshot, " +
				"envelopes) plus the host-only events: chat.displayed, viewer.banned/unbanned, chat.filter, poll.voted, " +
				"instant_win.entered, survey.answered, share. For the host's console and the seller's tools; read-only " +
				"(act through this API). Authenticate with the admin token in the Authorization header, or, from the console, its session cookie (browsers cannot set headers on a WebSocket; the Origin must be this server). Without a WebSocket handshake: " +
				"426 upgrade_required; from an origin not allowed: 403 forbidden_origin.",
			Query:  []param{{Name: "since", Type: "integer", Min: 0, Doc: "the seq of the last event received"}},
			Status: http.StatusSwitchingProtocols, Errors: []int{http.StatusForbidden, http.StatusUpgradeRequired, http.StatusServiceUnavailable},
			handle: a.serveHostEvents},
	}
}

func (a *API) serveHostEvents(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.loadCampaign(r); err != nil {
		return err
	}
	if a.hostEvents == nil {
		return errorf(http.StatusServiceUnavailable, "overlay_unavailable", "this server runs no overlay channel")
	}
	a.hostEvents(w, r)
	return nil
}

// roomAction is a route that carries out one room action: 204 with no
// body, or another status with the event recorded (a no-op answers the
// same, without an event).
func (a *API) roomAction(act func(*http.Request, *overlay.Room) (*events.Message, error), status int) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		_, room, err := a.campaignRoom(r)
		if err != nil {
			return err
		}
		msg, err := act(r, room)
		if err != nil {
			return roomErr(err)
		}
		if status == http.StatusNoContent || msg == nil {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		return writeJSON(w, status, eventOut(msg))
	}
}

// roomView is a route that answers a view of the room's state.
func (a *API) roomView(view func(*overlay.Room) any) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		_, room, err := a.campaignRoom(r)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, view(room))
	}
}
