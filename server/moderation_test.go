package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"vitrine/analytics"
	"vitrine/events"
)

// viewerSocket is a viewer's events socket that keeps every message.
type viewerSocket struct {
	t    *testing.T
	c    *websocket.Conn
	msgs chan events.Envelope
}

func dialEvents(t *testing.T, url string, header http.Header) *viewerSocket {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	v := &viewerSocket{t: t, c: c, msgs: make(chan events.Envelope, 1024)}
	go func() {
		defer close(v.msgs)
		for {
			var env events.Envelope
			if err := wsjson.Read(context.Background(), c, &env); err != nil {
				return
			}
			v.msgs <- env
		}
	}()
	t.Cleanup(func() { _ = c.CloseNow() })
	return v
}

// next returns the next message of one of types, skipping others.
func (v *viewerSocket) next(types ...string) events.Envelope {
	v.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case env, ok := <-v.msgs:
			if !ok {
				v.t.Fatalf("socket closed waiting for %v", types)
			}
			for _, typ := range types {
				if env.Type == typ {
					return env
				}
			}
		case <-timeout:
			v.t.Fatalf("no %v within 10 s", types)
		}
	}
}

func (v *viewerSocket) send(s string) {
	v.t.Helper()
	if err := v.c.Write(v.t.Context(), websocket.MessageText, []byte(s)); err != nil {
		v.t.Fatal(err)
	}
}

func data[T any](t *testing.T, env events.Envelope) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(env.Data, &v); err != nil {
		t.Fatalf("%s data: %v in %s", env.Type, err, env.Data)
	}
	return v
}

// TestModerationEndToEnd runs the chat of a campaign on a real server: a
// viewer over the socket and another over HTTP, the host's console, and
// the admin API's moderation, interactions and chat tab.
func TestModerationEndToEnd(t *testing.T) {
	s := startServer(t, nil)
	admin := newAdmin(t, s)
	base := "http://" + s.HTTPAddr().String()
	var c campaignView
	admin.must(201, "POST", "/api/v1/campaigns", map[string]any{
		"title": "Moderated", "visibility": "suggested", "published": true,
		"starts_at": time.Now().Add(time.Hour).Format(time.RFC3339), "ends_at": time.Now().Add(2 * time.Hour).Format(time.RFC3339),
	}, &c)
	api := "/api/v1/campaigns/" + c.ID
	eventsURL := "ws://" + s.HTTPAddr().String() + "/live/" + c.ID + "/events"

	host := dialEvents(t, "ws://"+s.HTTPAddr().String()+api+"/events", http.Header{"Authorization": {"Bearer " + admin.token}})
	host.next(events.TypeSnapshot)
	if code := admin.do("GET", api+"/events", nil, nil); code != http.StatusUpgradeRequired && code != http.StatusBadRequest {
		t.Fatalf("host events without an upgrade: %d", code)
	}
	if res, err := http.Get(base + api + "/events"); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("host events without the token: %v %v", res.StatusCode, err)
	}

	ann := dialEvents(t, eventsURL, nil)
	hello := data[events.Hello](t, ann.next(events.TypeHello))
	snap := data[events.State](t, ann.next(events.TypeSnapshot))
	if snap.Phase != events.PhasePrelive || !snap.Settings.PreliveChat {
		t.Fatalf("snapshot %+v", snap)
	}

	// Prelive chat: a question, answered by the brand.
	ann.send(`{"type":"chat.send","data":{"text":"<img src=x onerror=alert(1)> waterproof?","name":"Ann","question":true}}`)
	q := data[events.ChatMessage](t, ann.next(events.TypeChatQuestion))
	if q.ViewerID != hello.ViewerID || q.Text != "<img src=x onerror=alert(1)> waterproof?" {
		t.Fatalf("question %+v (viewer %s)", q, hello.ViewerID)
	}
	var ev struct{ Seq int64 }
	admin.must(201, "POST", api+"/messages", map[string]any{"text": "Yes, to 50 m", "reply_to": q.ID}, &ev)
	ans := data[events.ChatMessage](t, ann.next(events.TypeChatAnswer))
	if ans.ReplyTo != q.ID || ans.ReplyText != q.Text || ans.Name != "Host" {
		t.Fatalf("answer %+v", ans)
	}
	admin.must(404, "POST", api+"/messages", map[string]any{"text": "x", "reply_to": "msg_nope"}, nil)

	// A second viewer over HTTP.
	var bob events.Hello
	post := func(path string, body string, token string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("X-Vitrine-Viewer", token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode == http.StatusCreated && strings.HasSuffix(path, "/viewer") {
			_ = json.Unmarshal(b, &bob)
		}
		return res.StatusCode, res.Header, string(b)
	}
	if code, _, body := post("/live/"+c.ID+"/viewer", "", ""); code != 201 || bob.Token == "" {
		t.Fatalf("viewer id: %d %s", code, body)
	}
	actions := "/live/" + c.ID + "/actions"
	if code, _, _ := post(actions, `{"type":"chat.send","data":{"text":"hi","name":"Bob"}}`, ""); code != 401 {
		t.Fatalf("action without a token: %d", code)
	}
	if code, _, _ := post(actions, `{"type":"chat.send","data":{"text":"hi","name":"Bob"}}`, hello.Token+"x"); code != 401 {
		t.Fatalf("action with a forged token: %d", code)
	}
	if code, _, body := post(actions, `{"type":"chat.send","data":{"text":"","name":"Bob"}}`, bob.Token); code != 422 {
		t.Fatalf("empty chat: %d %s", code, body)
	}
	if code, _, body := post(actions, `{"type":"chat.send","data":{"text":"buy now at spam.example","name":"Bob"}}`, bob.Token); code != 202 {
		t.Fatalf("chat over HTTP: %d %s", code, body)
	}
	bobMsg := data[events.ChatMessage](t, ann.next(events.TypeChatMessage))
	if bobMsg.ViewerID != bob.ViewerID {
		t.Fatalf("Bob's message %+v", bobMsg)
	}

	// Settings: slow mode and the word filter.
	admin.must(200, "PUT", api+"/chat-settings", map[string]any{"prelive_chat": true, "replay_chat": false,
		"slow_mode_seconds": 30, "blocked_words": []string{"spam"}, "survey": true, "max_length": 500, "orders_ticker": false}, nil)
	set := data[events.Settings](t, ann.next(events.TypeRoomSettings))
	if set.SlowMode != 30 {
		t.Fatalf("settings %+v", set)
	}
	if code, _, body := post(actions, `{"type":"chat.send","data":{"text":"more SPAM","name":"Bob"}}`, bob.Token); code != 422 || !strings.Contains(body, "blocked_word") {
		t.Fatalf("blocked word: %d %s", code, body)
	}
	if code, _, _ := post(actions, `{"type":"chat.send","data":{"text":"one","name":"Bob"}}`, bob.Token); code != 202 {
		t.Fatalf("first under slow mode: %d", code)
	}
	code, hdr, body := post(actions, `{"type":"chat.send","data":{"text":"two","name":"Bob"}}`, bob.Token)
	if code != 429 || !strings.Contains(body, "slow_mode") || hdr.Get("Retry-After") == "" {
		t.Fatalf("slow mode: %d %s %v", code, body, hdr)
	}

	// Moderation: delete Bob's spam, show Ann's question to the host, ban Bob.
	admin.must(204, "DELETE", api+"/messages/"+bobMsg.ID, nil, nil)
	if del := data[events.MessageRef](t, ann.next(events.TypeChatDeleted)); del.MessageID != bobMsg.ID {
		t.Fatalf("deleted %+v", del)
	}
	admin.must(404, "DELETE", api+"/messages/msg_nope", nil, nil)
	admin.must(204, "POST", api+"/messages/"+q.ID+"/display", nil, nil)
	if d := data[events.MessageRef](t, host.next(events.TypeChatDisplayed)); d.MessageID != q.ID {
		t.Fatalf("displayed %+v", d)
	}
	admin.must(201, "POST", api+"/bans", map[string]any{"viewer_id": bob.ViewerID}, nil)
	admin.must(200, "POST", api+"/bans", map[string]any{"viewer_id": bob.ViewerID}, nil)
	host.next(events.TypeViewerBanned)
	if code, _, body := post(actions, `{"type":"like"}`, bob.Token); code != 202 {
		t.Fatalf("a banned viewer's like is dropped quietly: %d %s", code, body)
	}
	if code, _, body := post(actions, `{"type":"chat.send","data":{"text":"let me in","name":"Bob"}}`, bob.Token); code != 403 || !strings.Contains(body, "banned") {
		t.Fatalf("banned chat: %d %s", code, body)
	}

	// A poll: Ann votes on the socket, Bob (banned) cannot.
	var poll struct{ Data events.PollOpened }
	admin.must(201, "POST", api+"/polls", map[string]any{"question": "Red or blue?", "options": []string{"Red", "Blue"}}, &poll)
	opened := data[events.PollOpened](t, ann.next(events.TypePollOpened))
	ann.send(`{"type":"poll.vote","data":{"poll_id":"` + opened.Poll.ID + `","option":1}}`)
	res := data[events.PollResults](t, ann.next(events.TypePollResults))
	if res.Total != 1 || res.Votes[1] != 1 {
		t.Fatalf("results %+v", res)
	}
	ann.send(`{"type":"poll.vote","data":{"poll_id":"` + opened.Poll.ID + `","option":0}}`)
	if e := data[events.ErrorData](t, ann.next(events.TypeError)); e.Code != events.CodeAlreadyDone {
		t.Fatalf("second vote: %+v", e)
	}
	if code, _, _ := post(actions, `{"type":"poll.vote","data":{"poll_id":"`+opened.Poll.ID+`","option":0}}`, bob.Token); code != 403 {
		t.Fatalf("banned vote: %d", code)
	}
	host.next(events.TypePollVoted)
	admin.must(200, "POST", api+"/polls/"+opened.Poll.ID+"/close", nil, nil)
	admin.must(409, "POST", api+"/polls/"+opened.Poll.ID+"/close", nil, nil)
	if final := data[events.PollResults](t, ann.next(events.TypePollClosed)); final.Total != 1 {
		t.Fatalf("final %+v", final)
	}

	// The chat tab, each filter.
	for filter, want := range map[string]int{"all": 4, "questions": 1, "deleted": 1, "displayed": 1, "banned": 2} {
		var page struct {
			Items []analytics.ChatRecord `json:"items"`
		}
		admin.must(200, "GET", api+"/messages?filter="+filter, nil, &page)
		if len(page.Items) != want {
			t.Errorf("filter %s: %d lines, want %d: %+v", filter, len(page.Items), want, page.Items)
		}
	}
	var page struct {
		Items      []analytics.ChatRecord `json:"items"`
		NextCursor string                 `json:"next_cursor"`
	}
	admin.must(200, "GET", api+"/messages?limit=2", nil, &page)
	if len(page.Items) != 2 || page.NextCursor == "" {
		t.Fatalf("first page %+v", page)
	}
	first := page
	page.Items, page.NextCursor = nil, ""
	admin.must(200, "GET", api+"/messages?limit=3&cursor="+first.NextCursor, nil, &page)
	if len(page.Items) != 2 || page.NextCursor != "" || page.Items[0].Seq <= first.Items[1].Seq {
		t.Fatalf("second page %+v after %+v", page, first)
	}
	admin.must(400, "GET", api+"/messages?filter=nope", nil, nil)

	// Ann reconnects with her token: the same viewer, and the host-only
	// events of the backlog stay hidden.
	again := dialEvents(t, eventsURL+"?since=0&viewer="+hello.Token, nil)
	if h := data[events.Hello](t, again.next(events.TypeHello)); h.ViewerID != hello.ViewerID {
		t.Fatalf("reconnected as %s, was %s", h.ViewerID, hello.ViewerID)
	}
	deadline := time.After(2 * time.Second)
	for done := false; !done; {
		select {
		case env := <-again.msgs:
			if events.HostOnly[env.Type] {
				t.Fatalf("a viewer got %s", env.Type)
			}
		case <-deadline:
			done = true
		}
	}
	if res, err := http.Get(base + "/live/" + c.ID + "/events?viewer=forged.token"); err != nil || res.StatusCode != 400 {
		t.Fatalf("forged viewer token: %v", res.StatusCode)
	}
}
