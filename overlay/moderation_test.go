package overlay

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"vitrine/analytics"
	"vitrine/events"
)

func newTestRoom(t *testing.T) (*Room, *Rooms) {
	t.Helper()
	st := openSQLite(t)
	h := newRooms(t, Config{Log: st, LikeInterval: 20 * time.Millisecond, CountInterval: -1})
	return room(t, h, newCampaign(t, st)), h
}

func refusedCode(_ *events.Message, err error) string {
	var ref *events.RefusedError
	if errors.As(err, &ref) {
		return ref.Code
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return ""
}

func TestChatRules(t *testing.T) {
	r, _ := newTestRoom(t)
	ctx := t.Context()
	must := func(_ *events.Message, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Prelive: open by default.
	must(r.Chat(ctx, "v_a", "Ann", "hello", false))
	must(r.SetSettings(ctx, events.Settings{PreliveChat: false, ReplayChat: false, MaxLength: 10}))
	if code := refusedCode(r.Chat(ctx, "v_a", "Ann", "hi", false)); code != events.CodeChatClosed {
		t.Fatalf("prelive chat closed: %q", code)
	}
	must(r.Publish(ctx, events.TypeStreamLive, events.StreamLive{}))
	must(r.SetWords(ctx, []string{"spam", "bad word"}))
	cases := []struct {
		viewer, text string
		code         string
	}{
		{"v_a", "during live", "too_long"}, // 11 > 10
		{"v_a", "short", ""},
		{"v_a", "SPAM!", events.CodeBlockedWord},
		{"v_a", "spammer", ""}, // not a whole word
		{"v_a", "Bad  word", ""},
		{"v_a", "bad word!", events.CodeBlockedWord},
		{"v_b", "<b>x</b>", ""}, // stored as plain text
	}
	for _, c := range cases {
		_, err := r.Chat(ctx, c.viewer, "n", c.text, false)
		if got := refusedCode(nil, err); got != c.code {
			t.Errorf("%q: code %q, want %q", c.text, got, c.code)
		}
	}
	// Slow mode, per viewer.
	must(r.SetSettings(ctx, events.Settings{MaxLength: 500, SlowMode: 60}))
	must(r.Chat(ctx, "v_c", "C", "one", false))
	_, err := r.Chat(ctx, "v_c", "C", "two", false)
	var ref *events.RefusedError
	if !errors.As(err, &ref) || ref.Code != events.CodeSlowMode || ref.RetryAfter <= 0 || ref.RetryAfter > time.Minute {
		t.Fatalf("slow mode: %v", err)
	}
	must(r.Chat(ctx, "v_d", "D", "another viewer is not slowed", true))
	// Ban: refused everywhere; unban lets it again.
	must(r.Ban(ctx, "v_e", true))
	if m, err := r.Ban(ctx, "v_e", true); m != nil || err != nil {
		t.Fatalf("second ban: %v %v", m, err)
	}
	if code := refusedCode(r.Chat(ctx, "v_e", "E", "x", false)); code != events.CodeBanned {
		t.Fatalf("banned chat: %q", code)
	}
	must(r.Ban(ctx, "v_e", false))
	must(r.Chat(ctx, "v_e", "E", "back", false))
	// Replay: closed by the settings above.
	must(r.Publish(ctx, events.TypeStreamEnded, events.StreamEnded{}))
	if st := r.State(); st.Phase != events.PhaseReplay || refusedCode(r.Chat(ctx, "v_f", "F", "x", false)) != events.CodeChatClosed {
		t.Fatalf("replay: phase %s", st.Phase)
	}
}

func TestModerationAndChatLog(t *testing.T) {
	r, _ := newTestRoom(t)
	ctx := t.Context()
	host, err := r.SubscribeHost(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := r.Subscribe(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	m1, _ := r.Chat(ctx, "v_a", "Ann", "first", false)
	q, _ := r.Chat(ctx, "v_b", "Bob", "Is it waterproof?", true)
	if _, err := r.Answer(ctx, "Host", "Yes", "msg_nope"); refusedCode(nil, err) != events.CodeNotFound {
		t.Fatalf("answer to nothing: %v", err)
	}
	ans, err := r.Answer(ctx, "Host", "Yes, 50 m", chatID(t, q))
	if err != nil {
		t.Fatal(err)
	}
	var a events.ChatMessage
	_ = json.Unmarshal(ans.Data, &a)
	if a.ReplyText != "Is it waterproof?" || a.ViewerID != "" {
		t.Fatalf("answer %+v", a)
	}
	if _, err := r.DeleteMessage(ctx, chatID(t, m1)); err != nil {
		t.Fatal(err)
	}
	if m, err := r.DeleteMessage(ctx, chatID(t, m1)); m != nil || err != nil {
		t.Fatalf("delete again: %v %v", m, err)
	}
	if _, err := r.DisplayMessage(ctx, chatID(t, q)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Ban(ctx, "v_b", true); err != nil {
		t.Fatal(err)
	}
	// The host sees everything; the viewer neither the display nor the ban.
	want := func(s *Subscription, types ...string) {
		t.Helper()
		for _, typ := range types {
			if m := next(t, s); m.Type != typ {
				t.Fatalf("got %s (seq %d), want %s", m.Type, m.Seq, typ)
			}
		}
	}
	want(host, events.TypeChatMessage, events.TypeChatQuestion, events.TypeChatAnswer, events.TypeChatDeleted, events.TypeChatDisplayed, events.TypeViewerBanned)
	want(viewer, events.TypeChatMessage, events.TypeChatQuestion, events.TypeChatAnswer, events.TypeChatDeleted)
	// A viewer resuming skips host-only events of the backlog too.
	late, _ := r.Subscribe(ctx, 3)
	want(late, events.TypeChatDeleted)
	if _, err := r.Chat(ctx, "v_c", "C", "after", false); err != nil {
		t.Fatal(err)
	}
	want(late, events.TypeChatMessage)

	// The snapshot shows the chat without the deleted line.
	snap, _ := r.Subscribe(ctx, -1)
	var st events.State
	_ = json.Unmarshal(next(t, snap).Data, &st)
	var texts []string
	for _, c := range st.Chat {
		texts = append(texts, c.Text)
	}
	if strings.Join(texts, "|") != "Is it waterproof?|Yes, 50 m|after" {
		t.Fatalf("snapshot chat %q", texts)
	}
	// The chat log keeps every line with its state.
	evs, err := r.h.cfg.Log.ListEvents(ctx, r.ID(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	lines := analytics.ChatLog(evs)
	if len(lines) != 4 || !lines[0].Deleted || !lines[1].Question() || !lines[1].Displayed || !lines[1].Banned || lines[2].Type != events.TypeChatAnswer {
		t.Fatalf("chat log %+v", lines)
	}
}

// chatID is the id of a chat line's message.
func chatID(t *testing.T, m *events.Message) string {
	t.Helper()
	var c events.ChatMessage
	if err := json.Unmarshal(m.Data, &c); err != nil || c.ID == "" {
		t.Fatalf("not a chat line: %s", m.Data)
	}
	return c.ID
}

func TestPollsAndInstantWins(t *testing.T) {
	r, _ := newTestRoom(t)
	ctx := t.Context()
	viewer, _ := r.Subscribe(ctx, 0)
	opened, err := r.OpenPoll(ctx, "Which colour?", []string{"Red", "Blue"})
	if err != nil {
		t.Fatal(err)
	}
	var po events.PollOpened
	_ = json.Unmarshal(opened.Data, &po)
	id := po.Poll.ID
	for _, c := range []struct {
		viewer string
		option int
		code   string
	}{
		{"v_1", 0, ""}, {"v_2", 1, ""}, {"v_3", 1, ""},
		{"v_1", 1, events.CodeAlreadyDone}, {"v_4", 2, events.CodeInvalid},
	} {
		if _, err := r.Vote(ctx, c.viewer, id, c.option); refusedCode(nil, err) != c.code {
			t.Errorf("vote %+v: %v", c, err)
		}
	}
	if _, err := r.Vote(ctx, "v_1", "poll_nope", 0); refusedCode(nil, err) != events.CodeNotFound {
		t.Errorf("unknown poll: %v", err)
	}
	// The viewer gets the poll, then aggregated results, never the votes.
	if m := next(t, viewer); m.Type != events.TypePollOpened {
		t.Fatalf("got %s", m.Type)
	}
	var res events.PollResults
	for res.Total < 3 {
		m := next(t, viewer)
		if m.Type != events.TypePollResults {
			t.Fatalf("viewer got %s", m.Type)
		}
		_ = json.Unmarshal(m.Data, &res)
	}
	if res.Votes[0] != 1 || res.Votes[1] != 2 {
		t.Fatalf("results %+v", res)
	}
	closed, err := r.ClosePoll(ctx, id)
	if err != nil || closed.Type != events.TypePollClosed {
		t.Fatal(err)
	}
	if _, err := r.Vote(ctx, "v_5", id, 0); refusedCode(nil, err) != events.CodeClosed {
		t.Fatalf("vote after close: %v", err)
	}
	if ps := r.Polls(); len(ps) != 1 || !ps[0].Closed || ps[0].Total != 3 {
		t.Fatalf("polls %+v", ps)
	}

	iwMsg, _ := r.OpenInstantWin(ctx, "A bag", 2)
	var iw events.InstantWinOpened
	_ = json.Unmarshal(iwMsg.Data, &iw)
	for _, v := range []string{"v_1", "v_2", "v_3"} {
		if _, err := r.EnterInstantWin(ctx, v, iw.InstantWin.ID, strings.ToUpper(v)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.EnterInstantWin(ctx, "v_1", iw.InstantWin.ID, "again"); refusedCode(nil, err) != events.CodeAlreadyDone {
		t.Fatalf("second entry: %v", err)
	}
	drawn, err := r.DrawInstantWin(ctx, iw.InstantWin.ID)
	if err != nil {
		t.Fatal(err)
	}
	var d events.InstantWinDrawn
	_ = json.Unmarshal(drawn.Data, &d)
	if d.Entrants != 3 || len(d.Winners) != 2 || d.Winners[0].ViewerID == d.Winners[1].ViewerID {
		t.Fatalf("draw %+v", d)
	}
	if _, err := r.DrawInstantWin(ctx, iw.InstantWin.ID); refusedCode(nil, err) != events.CodeClosed {
		t.Fatalf("second draw: %v", err)
	}
	if st := r.State(); len(st.InstantWins) != 0 || st.LastDraw == nil || len(st.LastDraw.Winners) != 2 {
		t.Fatalf("state %+v", st)
	}
	// Survey: once per viewer, rating checked.
	if _, err := r.AnswerSurvey(ctx, "v_1", 6, ""); refusedCode(nil, err) != events.CodeInvalid {
		t.Fatalf("rating 6: %v", err)
	}
	if _, err := r.AnswerSurvey(ctx, "v_1", 5, "great"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AnswerSurvey(ctx, "v_1", 4, ""); refusedCode(nil, err) != events.CodeAlreadyDone {
		t.Fatalf("second answer: %v", err)
	}
}

// Two votes of one viewer logged by two nodes at once: the fold counts one
// on every node.
func TestDoubleVoteFoldsToOne(t *testing.T) {
	st := openSQLite(t)
	id := newCampaign(t, st)
	bus := NewLocalBus()
	a := room(t, newRooms(t, Config{Log: st, Bus: bus, CountInterval: -1}), id)
	b := room(t, newRooms(t, Config{Log: st, Bus: bus, CountInterval: -1}), id)
	m, err := a.OpenPoll(t.Context(), "Q", []string{"x", "y"})
	if err != nil {
		t.Fatal(err)
	}
	var po events.PollOpened
	_ = json.Unmarshal(m.Data, &po)
	if err := b.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Bypass the room's check, as two nodes racing would.
	for _, r := range []*Room{a, b} {
		if _, err := r.Publish(t.Context(), events.TypePollVoted, events.PollVoted{PollID: po.Poll.ID, ViewerID: "v_1", Option: 0}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []*Room{a, b} {
		_ = r.CatchUp(t.Context())
		if ps := r.Polls(); ps[0].Total != 1 {
			t.Fatalf("total %d on one node", ps[0].Total)
		}
	}
}

func TestViewerCountAcrossNodes(t *testing.T) {
	st := openSQLite(t)
	id := newCampaign(t, st)
	bus := NewLocalBus()
	ha := newRooms(t, Config{Log: st, Bus: bus, CountInterval: 20 * time.Millisecond})
	hb := newRooms(t, Config{Log: st, Bus: bus, CountInterval: 20 * time.Millisecond})
	a, b := room(t, ha, id), room(t, hb, id)
	for range 3 {
		if _, err := a.Subscribe(t.Context(), -1); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := b.Subscribe(t.Context(), -1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.SubscribeHost(t.Context(), -1); err != nil { // the host is not a viewer
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for a.State().Viewers != 5 || b.State().Viewers != 5 {
		if time.Now().After(deadline) {
			t.Fatalf("viewers: a %d, b %d, want 5", a.State().Viewers, b.State().Viewers)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestIdentity(t *testing.T) {
	i, err := NewIdentity([]byte("0123456789abcdef-secret"))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewIdentity([]byte("another secret of 16+ bytes"))
	id, tok := i.Issue()
	if got, err := i.Verify(tok); err != nil || got != id {
		t.Fatalf("verify: %q %v", got, err)
	}
	forged := "v_aaaaaaaaaaaaaaaa" + tok[strings.Index(tok, "."):]
	for _, bad := range []string{"", "v_x", tok + "x", forged, strings.Replace(tok, "v_", "w_", 1)} {
		if _, err := i.Verify(bad); !errors.Is(err, ErrBadViewerToken) {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := other.Verify(tok); err == nil {
		t.Error("a token of another key accepted")
	}
	if !ValidViewerID(id) {
		t.Errorf("an issued id %q is not valid", id)
	}
	for _, bad := range []string{"", "v_", "<script>", "v_<b>", "w_abc", "v_ABC", "v_" + strings.Repeat("a", 41), "v_aaa\u0000"} {
		if ValidViewerID(bad) {
			t.Errorf("viewer id %q valid", bad)
		}
	}
	if _, err := NewIdentity([]byte("short")); err == nil {
		t.Error("short secret accepted")
	}
}
