package api

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"vitrine/events"
	"vitrine/overlay"
)

// Interactions: polls and instant wins the host runs during the live.

func (a *API) interactionRoutes() []*route {
	const tag = "Interactions"
	return []*route{
		{Method: "GET", Path: "/api/v1/campaigns/{id}/polls", ID: "listPolls", Tag: tag,
			Summary: "Polls and their results", Doc: "Every poll of the campaign, oldest first, with its votes per option.",
			Status: http.StatusOK, Response: pollsView{}, handle: a.roomView(func(room *overlay.Room) any { return pollsView{Polls: room.Polls()} })},
		{Method: "POST", Path: "/api/v1/campaigns/{id}/polls", ID: "openPoll", Tag: tag,
			Summary: "Open a poll",
			Doc: "Shows a question with 2 to 6 options to viewers (poll.opened). One poll is open at a time: opening one " +
				"closes the last. Each viewer votes once; results reach viewers a few times a second (poll.results).",
			Body: pollRequest{}, Status: http.StatusCreated, Response: eventView{},
			Errors: []int{http.StatusServiceUnavailable}, handle: a.openPoll},
		{Method: "POST", Path: "/api/v1/campaigns/{id}/polls/{poll_id}/close", ID: "closePoll", Tag: tag,
			Summary: "Close a poll", Doc: "Publishes the final results (poll.closed). 409 closed if it is closed already.",
			Status: http.StatusOK, Response: eventView{}, Errors: []int{http.StatusConflict, http.StatusServiceUnavailable},
			handle: a.roomAction(func(r *http.Request, room *overlay.Room) (*events.Message, error) {
				return room.ClosePoll(r.Context(), r.PathValue("poll_id"))
			}, http.StatusOK)},
		{Method: "GET", Path: "/api/v1/campaigns/{id}/instant-wins", ID: "listInstantWins", Tag: tag,
			Summary: "Instant wins, their entrants and winners",
			Status:  http.StatusOK, Response: instantWinsView{}, handle: a.roomView(func(room *overlay.Room) any { return instantWinsView{InstantWins: room.InstantWins()} })},
		{Method: "POST", Path: "/api/v1/campaigns/{id}/instant-wins", ID: "openInstantWin", Tag: tag,
			Summary: "Open an instant win",
			Doc:     "Viewers enter (once each) until it is drawn; then winners are drawn uniformly at random among them.",
			Body:    instantWinRequest{}, Status: http.StatusCreated, Response: eventView{},
			Errors: []int{http.StatusServiceUnavailable}, handle: a.openInstantWin},
		{Method: "POST", Path: "/api/v1/campaigns/{id}/instant-wins/{instant_win_id}/draw", ID: "drawInstantWin", Tag: tag,
			Summary: "Draw the winners",
			Doc: "Draws up to winners viewers among the entrants and tells every viewer (instant_win.drawn). " +
				"409 closed if drawn already.",
			Status: http.StatusOK, Response: eventView{}, Errors: []int{http.StatusConflict, http.StatusServiceUnavailable},
			handle: a.roomAction(func(r *http.Request, room *overlay.Room) (*events.Message, error) {
				return room.DrawInstantWin(r.Context(), r.PathValue("instant_win_id"))
			}, http.StatusOK)},
	}
}

type pollRequest struct {
	Question string   `json:"question" required:"true" minLength:"1" maxLength:"200"`
	Options  []string `json:"options" required:"true" minItems:"2" maxItems:"6" itemMinLength:"1" itemMaxLength:"80" doc:"2 to 6 answers, each 1 to 80 characters"`
}

type pollsView struct {
	Polls []events.PollState `json:"polls"`
}

type instantWinRequest struct {
	Prize   string `json:"prize" required:"true" minLength:"1" maxLength:"200" doc:"what the winners get"`
	Winners int    `json:"winners" minimum:"1" maximum:"100" default:"1" doc:"how many to draw"`
}

type instantWinsView struct {
	InstantWins []overlay.InstantWinStatus `json:"instant_wins"`
}

func textField(v *validator, field, s string, maxRunes int) string {
	s = strings.TrimSpace(s)
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxRunes {
		v.add(field, "required, 1 to %d characters", maxRunes)
	}
	return s
}

func (a *API) openPoll(w http.ResponseWriter, r *http.Request) error {
	var in pollRequest
	if err := decodeJSON(w, r, &in, maxJSONBody, false); err != nil {
		return err
	}
	_, room, err := a.campaignRoom(r)
	if err != nil {
		return err
	}
	var v validator
	q := textField(&v, "question", in.Question, 200)
	if len(in.Options) < 2 || len(in.Options) > 6 {
		v.add("options", "2 to 6 answers")
	}
	opts := make([]string, len(in.Options))
	for i, o := range in.Options {
		opts[i] = textField(&v, "options", o, 80)
	}
	if err := v.err(); err != nil {
		return err
	}
	msg, err := room.OpenPoll(r.Context(), q, opts)
	if err != nil {
		return roomErr(err)
	}
	return writeJSON(w, http.StatusCreated, eventOut(msg))
}

func (a *API) openInstantWin(w http.ResponseWriter, r *http.Request) error {
	in := instantWinRequest{Winners: 1} // absent: 1; an explicit 0 is refused
	if err := decodeJSON(w, r, &in, maxJSONBody, false); err != nil {
		return err
	}
	_, room, err := a.campaignRoom(r)
	if err != nil {
		return err
	}
	var v validator
	prize := textField(&v, "prize", in.Prize, 200)
	if in.Winners < 1 || in.Winners > 100 {
		v.add("winners", "1 to 100")
	}
	if err := v.err(); err != nil {
		return err
	}
	msg, err := room.OpenInstantWin(r.Context(), prize, in.Winners)
	if err != nil {
		return roomErr(err)
	}
	return writeJSON(w, http.StatusCreated, eventOut(msg))
}
