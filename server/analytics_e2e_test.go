package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	pion "github.com/pion/webrtc/v4"

	"vitrine/analytics"
	"vitrine/events"
	"vitrine/internal/testenv"
)

// User-Agents of the script's viewers: the device of each comes from them.
const (
	uaDesktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	uaFirefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	uaIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	uaIPad    = "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	uaAndroid = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
)

// tracker sends POST /live/{id}/track batches as a player or widget does.
type tracker struct {
	t    *testing.T
	url  string
	next atomic.Int64
}

// ev is one event of a batch; at, when set, back-dates it to the
// script's clock (it must have passed: the server keeps the earlier of
// at and its own now).
func (tr *tracker) ev(typ string, at time.Time, fields ...any) map[string]any {
	e := map[string]any{"id": fmt.Sprintf("e2e-%06d", tr.next.Add(1)), "type": typ}
	if !at.IsZero() {
		e["at"] = at.UTC().Format(time.RFC3339Nano)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		e[fields[i].(string)] = fields[i+1]
	}
	return e
}

// send posts one viewer's batch; the server must record every event.
func (tr *tracker) send(ua string, batch map[string]any, events ...map[string]any) {
	tr.t.Helper()
	b := map[string]any{"events": events}
	for k, v := range batch {
		b[k] = v
	}
	body, _ := json.Marshal(b)
	req, _ := http.NewRequest("POST", tr.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", ua)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tr.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	var r struct{ Accepted int }
	_ = json.Unmarshal(out, &r)
	if res.StatusCode != http.StatusAccepted || r.Accepted != len(events) {
		tr.t.Fatalf("track batch: %d %s", res.StatusCode, out)
	}
}

// order reports a shop's order through the admin API.
func order(admin *adminClient, campaignID string, o map[string]any) {
	admin.t.Helper()
	b, _ := json.Marshal(o)
	req, _ := http.NewRequest("POST", admin.base+"/api/v1/campaigns/"+campaignID+"/orders", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+admin.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", fmt.Sprint("order-", o["code"]))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		admin.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		admin.t.Fatalf("order %v: %d %s", o["code"], res.StatusCode, body)
	}
}

// sleepUntil waits for the script's clock to reach at.
func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }

// whepViewer is an in-process pion WHEP player.
type whepViewer struct {
	pc       *pion.PeerConnection
	location string
	packets  atomic.Int64
}

// playWHEP plays the campaign's live over WHEP as viewer, with the
// User-Agent ua, and returns once ICE is connected.
func playWHEP(t *testing.T, s *Server, id, viewer, ua string) *whepViewer {
	t.Helper()
	m := &pion.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := pion.RegisterDefaultInterceptors(m, ir); err != nil {
		t.Fatal(err)
	}
	var se pion.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	pc, err := pion.NewAPI(pion.WithMediaEngine(m), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se)).
		NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	v := &whepViewer{pc: pc}
	t.Cleanup(func() { _ = pc.Close() })
	for _, k := range []pion.RTPCodecType{pion.RTPCodecTypeVideo, pion.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			v.packets.Add(1)
		}
	})
	connected := make(chan struct{})
	var once atomic.Bool
	pc.OnICEConnectionStateChange(func(st pion.ICEConnectionState) {
		if st == pion.ICEConnectionStateConnected && once.CompareAndSwap(false, true) {
			close(connected)
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	u := fmt.Sprintf("http://%s/live/%s/whep?viewer=%s", s.HTTPAddr(), id, viewer)
	req, _ := http.NewRequest("POST", u, strings.NewReader(pc.LocalDescription().SDP))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("User-Agent", ua)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("WHEP POST: %d %s", res.StatusCode, answer)
	}
	v.location = res.Header.Get("Location")
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("WHEP viewer not connected after 10 s")
	}
	return v
}

// stop leaves: DELETE of the WHEP session, then the peer is closed.
func (v *whepViewer) stop(t *testing.T, s *Server) {
	t.Helper()
	u := v.location
	if !strings.HasPrefix(u, "http") {
		u = "http://" + s.HTTPAddr().String() + u
	}
	req, _ := http.NewRequest("DELETE", u, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("WHEP DELETE: %d", res.StatusCode)
	}
	_ = v.pc.Close()
}

// hlsViewer is gohlslib's LL-HLS client playing as one viewer.
type hlsViewer struct {
	c     *gohlslib.Client
	parts atomic.Int64
}

func playHLS(t *testing.T, s *Server, id, viewer string) *hlsViewer {
	t.Helper()
	v := &hlsViewer{}
	quiet := func(string) {}
	v.c = &gohlslib.Client{URI: s.hlsURL(id) + "?viewer=" + viewer,
		OnDownloadPrimaryPlaylist: quiet, OnDownloadStreamPlaylist: quiet,
		OnDownloadSegment: quiet, OnDownloadPart: func(string) { v.parts.Add(1) },
		OnDecodeError: func(error) {}}
	if err := v.c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.c.Close)
	return v
}

// within checks lo <= got <= hi.
func within(t *testing.T, what string, got, lo, hi float64) {
	t.Helper()
	if got < lo-0.01 || got > hi+0.01 {
		t.Errorf("%s = %v, want %v..%v", what, got, lo, hi)
	}
}

func eqJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// pointValues are a series' values; the buckets' starts are checked
// against the window apart.
func pointValues(t *testing.T, what string, ps []analytics.Point, w analytics.Window, bucket time.Duration) []int64 {
	t.Helper()
	out := make([]int64, len(ps))
	for i, p := range ps {
		if want := w.From.Add(time.Duration(i) * bucket); !p.At.Equal(want) {
			t.Errorf("%s[%d] at %v, want %v", what, i, p.At, want)
		}
		out[i] = p.Value
	}
	return out
}

// TestAnalyticsEndToEnd drives a scripted event through a real server —
// viewers on the prelive page, the live over LL-HLS (gohlslib) and WHEP
// (pion) pushed by ffmpeg over RTMP, chat, likes, poll, survey, clicks,
// carts and purchases, the shop's orders, then the replay — and asserts
// every metric of GET /api/v1/campaigns/{id}/analytics against values
// computed by hand from the script below. Times of the viewers' own
// beacons are set by the script (back-dated to planned instants), so
// that sessions are exact; what only the server times (a WHEP or HLS
// session without a page, the phases' windows) is checked against
// bounds measured around it.
func TestAnalyticsEndToEnd(t *testing.T) {
	testenv.RequireFFmpeg(t)
	s := startServer(t, nil)
	admin := newAdmin(t, s)
	base := "http://" + s.HTTPAddr().String()
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

	// Catalog: P1 Bag 129.00 and P2 Scarf 39.00 will be pinned during the
	// live; P3 Belt 50.00 never is.
	var pids []string
	for i, p := range [][2]string{{"Bag", "129.00"}, {"Scarf", "39.00"}, {"Belt", "50.00"}} {
		var v struct{ ID string }
		admin.must(201, "POST", "/api/v1/products", map[string]any{"sku": fmt.Sprintf("E2E-%d", i), "name": p[0],
			"category": "acc", "price": p[1], "currency": "EUR", "stock": 10, "url": "https://shop.example.com/p"}, &v)
		pids = append(pids, v.ID)
	}
	P1, P2, P3 := pids[0], pids[1], pids[2]
	var c campaignView
	admin.must(201, "POST", "/api/v1/campaigns", map[string]any{
		"title": "Analytics show", "visibility": "suggested", "published": true,
		"starts_at": time.Now().Add(time.Hour).Format(time.RFC3339), "ends_at": time.Now().Add(3 * time.Hour).Format(time.RFC3339),
		"product_ids": pids}, &c)
	api := "/api/v1/campaigns/" + c.ID
	P0 := time.Now() // after the campaign's creation: the prelive's clock
	tr := &tracker{t: t, url: base + "/live/" + c.ID + "/track"}
	at := func(anchor time.Time, f float64) time.Time { return anchor.Add(sec(f)) }

	// The viewers' events sockets, open from the prelive to the replay:
	// Ann, Bob, Cleo, Dan and Eve; their ids are the hello's.
	wsURL := "ws://" + s.HTTPAddr().String() + "/live/" + c.ID + "/events"
	type viewer struct {
		ws *viewerSocket
		id string
	}
	join := func() viewer {
		ws := dialEvents(t, wsURL, nil)
		return viewer{ws: ws, id: data[events.Hello](t, ws.next(events.TypeHello)).ViewerID}
	}
	ann, bob, cleo, dan, eve := join(), join(), join(), join(), join()
	// The host's console sees what viewers are not sent (shares, votes,
	// entries, survey answers): the script waits there for each.
	host := dialEvents(t, "ws://"+s.HTTPAddr().String()+api+"/events", http.Header{"Authorization": {"Bearer " + admin.token}})
	chat := func(v viewer, text string, question bool) events.ChatMessage {
		t.Helper()
		typ := events.TypeChatMessage
		if question {
			typ = events.TypeChatQuestion
		}
		b, _ := json.Marshal(map[string]any{"type": "chat.send", "data": map[string]any{"text": text, "name": "x", "question": question}})
		v.ws.send(string(b))
		for {
			m := data[events.ChatMessage](t, v.ws.next(typ))
			if m.ViewerID == v.id && m.Text == text {
				return m
			}
		}
	}

	// ---- Prelive ----------------------------------------------------------
	// Ann visits the prelive page from a newsletter on a desktop, P0+0.5 to
	// P0+2.5 (2.0 s): watches the teaser 1.5 s, opens the alert modal,
	// subscribes by SMS (and leaves her phone for the reminder, opt-in),
	// clicks P1. Bob visits from Instagram on an iPhone, P0+0.6 to P0+1.6
	// (1.0 s): opens the modal, subscribes with his calendar, clicks P1
	// and P2. On the seller's site, w1 sees the product widget twice and
	// clicks it, w2 sees it once, w3 sees the gallery widget.
	annPre := map[string]any{"viewer_id": ann.id, "session_id": "ann-pre", "page_url": "https://shop.example.com/live?utm_source=newsletter"}
	bobPre := map[string]any{"viewer_id": bob.id, "session_id": "bob-pre", "referrer": "https://www.instagram.com/"}
	sleepUntil(at(P0, 2.6))
	tr.send(uaDesktop, annPre,
		tr.ev("page.view", at(P0, 0.5)), tr.ev("session.start", at(P0, 0.5)), tr.ev("session.heartbeat", at(P0, 1.0)),
		tr.ev("teaser.watch", at(P0, 1.0), "duration_ms", 1500), tr.ev("alert.open", at(P0, 1.2), "channel", "sms"),
		tr.ev("alert.subscribe", at(P0, 1.4), "channel", "sms", "phone", "+33600000001", "opt_in", true),
		tr.ev("product.click", at(P0, 1.5), "product_id", P1), tr.ev("session.end", at(P0, 2.5)))
	tr.send(uaIPhone, bobPre,
		tr.ev("page.view", at(P0, 0.6)), tr.ev("session.start", at(P0, 0.6)), tr.ev("alert.open", at(P0, 1.0), "channel", "calendar"),
		tr.ev("alert.subscribe", at(P0, 1.1), "channel", "calendar"), tr.ev("product.click", at(P0, 1.2), "product_id", P1),
		tr.ev("product.click", at(P0, 1.3), "product_id", P2), tr.ev("session.end", at(P0, 1.6)))
	site := func(v string) map[string]any {
		return map[string]any{"viewer_id": v, "page_url": "https://shop.example.com/bags"}
	}
	tr.send(uaDesktop, site("w1"), tr.ev("widget.view", time.Time{}, "widget", "product"),
		tr.ev("widget.view", time.Time{}, "widget", "product"), tr.ev("widget.click", time.Time{}, "widget", "product"))
	tr.send(uaDesktop, site("w2"), tr.ev("widget.view", time.Time{}, "widget", "product"))
	tr.send(uaDesktop, site("w3"), tr.ev("widget.view", time.Time{}, "widget", "gallery"))
	var rem struct{ ID string }
	if code := admin.do("POST", "/live/"+c.ID+"/reminders", map[string]any{"phone": "+33600000001", "opt_in": true}, &rem); code != 201 {
		t.Fatalf("reminder: %d", code)
	}
	// Prelive chat (not the live's messages) and a share on the socket.
	chat(ann, "can't wait", false)
	chat(bob, "which colours?", true)
	bob.ws.send(`{"type":"share","data":{"network":"whatsapp"}}`)
	host.next(events.TypeShare)

	// ---- Live -------------------------------------------------------------
	admin.must(200, "POST", api+"/live", nil, nil)
	src := testenv.DefaultSource(60)
	src.BFrames = 0 // what WebRTC viewers can decode
	push := testenv.Push(t, src, c.Ingest.RTMP)
	waitOnline(t, s, c.ID, 15*time.Second)
	// The playlist is probed with HEAD: a GET would be a viewer.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if res, err := http.Head(s.hlsURL(c.ID)); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no LL-HLS playlist after 15 s")
		}
	}
	M := time.Now() // the live's clock: after the go-live, with a stream to watch

	// M+0: Ann (desktop, newsletter) opens the player and plays over WHEP;
	// Bob (iPhone, Instagram) plays LL-HLS. Both pages stay open to M+10.
	annLive := map[string]any{"viewer_id": ann.id, "session_id": "ann-live", "page_url": "https://shop.example.com/live?utm_source=newsletter"}
	bobLive := map[string]any{"viewer_id": bob.id, "session_id": "bob-live", "referrer": "https://www.instagram.com/"}
	cleoLive := map[string]any{"viewer_id": cleo.id, "session_id": "cleo-live", "referrer": "https://www.google.com/search?q=bags"}
	tr.send(uaDesktop, annLive, tr.ev("page.view", M), tr.ev("session.start", M))
	tr.send(uaIPhone, bobLive, tr.ev("page.view", M), tr.ev("session.start", M))
	annWHEP := playWHEP(t, s, c.ID, ann.id, uaDesktop)
	bobHLS := playHLS(t, s, c.ID, bob.id)
	// M+1: Cleo (iPad, from Google) opens the player, plays LL-HLS, to M+9.
	sleepUntil(at(M, 1))
	tr.send(uaIPad, cleoLive, tr.ev("page.view", at(M, 1)), tr.ev("session.start", at(M, 1)))
	cleoHLS := playHLS(t, s, c.ID, cleo.id)
	// M+1.5: Dan plays over WHEP with no player page (Firefox on a
	// desktop); then a bare LL-HLS reader (gohlslib's own User-Agent,
	// id "hls-reader") joins, with neither page nor socket. The server
	// alone sees these two.
	sleepUntil(at(M, 1.5))
	danPost := time.Now()
	danWHEP := playWHEP(t, s, c.ID, dan.id, uaFirefox)
	// Media flows once the server counts the viewer (its whep.start).
	for deadline := time.Now().Add(5 * time.Second); danWHEP.packets.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Dan's WHEP session got no media")
		}
	}
	danConnected := time.Now()
	readerStart := time.Now()
	reader := playHLS(t, s, c.ID, "hls-reader")

	// The host pins P1 and P2; viewers act.
	admin.must(201, "POST", api+"/pins", map[string]any{"kind": "product", "id": P1}, nil)
	admin.must(201, "POST", api+"/pins", map[string]any{"kind": "product", "id": P2}, nil)
	chat(ann, "love it", false)
	q := chat(bob, "size?", true)
	admin.must(201, "POST", api+"/messages", map[string]any{"text": "M and L", "reply_to": q.ID}, nil)
	chat(dan, "hello from WebRTC", false)
	for range 3 {
		ann.ws.send(`{"type":"like"}`)
	}
	for range 2 {
		cleo.ws.send(`{"type":"like"}`)
	}
	// The player counts each tap for the engagement rate as well (the
	// socket's like.count carries no viewer).
	tr.send(uaDesktop, annLive, tr.ev("like", time.Time{}), tr.ev("like", time.Time{}), tr.ev("like", time.Time{}))
	tr.send(uaIPad, cleoLive, tr.ev("like", time.Time{}), tr.ev("like", time.Time{}))
	ann.ws.send(`{"type":"share","data":{"network":"x"}}`)
	host.next(events.TypeShare)
	var poll struct{ Data events.PollOpened }
	admin.must(201, "POST", api+"/polls", map[string]any{"question": "Colour?", "options": []string{"Red", "Blue"}}, &poll)
	pollID := poll.Data.Poll.ID
	ann.ws.send(`{"type":"poll.vote","data":{"poll_id":"` + pollID + `","option":0}}`)
	bob.ws.send(`{"type":"poll.vote","data":{"poll_id":"` + pollID + `","option":1}}`)
	host.next(events.TypePollVoted)
	host.next(events.TypePollVoted)
	var win struct{ Data events.InstantWinOpened }
	admin.must(201, "POST", api+"/instant-wins", map[string]any{"prize": "A scarf", "winners": 1}, &win)
	winID := win.Data.InstantWin.ID
	ann.ws.send(`{"type":"instant_win.enter","data":{"instant_win_id":"` + winID + `","name":"Ann"}}`)
	dan.ws.send(`{"type":"instant_win.enter","data":{"instant_win_id":"` + winID + `","name":"Dan"}}`)
	host.next(events.TypeInstantWinEntered)
	host.next(events.TypeInstantWinEntered)
	// Ann: clicks P1, adds 2 to her cart (258.00) and buys order A-1 of
	// 263.00 (P1 x2 + 5.00 shipping), which the shop reports too.
	tr.send(uaDesktop, annLive, tr.ev("product.click", time.Time{}, "product_id", P1),
		tr.ev("cart.add", time.Time{}, "product_id", P1, "quantity", 2),
		tr.ev("cart.create", time.Time{}, "amount", "258.00", "currency", "EUR"),
		tr.ev("purchase", time.Time{}, "amount", "263.00", "currency", "EUR", "product_ids", []string{P1}, "order_id", "A-1"))
	order(admin, c.ID, map[string]any{"code": "A-1", "customer_name": "Ann", "total": "263.00",
		"currency": "EUR", "items": []map[string]any{{"product_id": P1, "quantity": 2}}})
	// Bob: opens the catalog, clicks P2, adds it (39.00) and buys it; the
	// shop does not report it (a tracked purchase only).
	tr.send(uaIPhone, bobLive, tr.ev("catalog.open", time.Time{}), tr.ev("product.click", time.Time{}, "product_id", P2),
		tr.ev("cart.add", time.Time{}, "product_id", P2), tr.ev("cart.create", time.Time{}, "amount", "39.00", "currency", "EUR"),
		tr.ev("purchase", time.Time{}, "amount", "39.00", "currency", "EUR", "product_ids", []string{P2}))
	// The shop reports order Z-9 (P3, 50.00) that no viewer tracked: not a
	// purchase by a viewer who watched.
	order(admin, c.ID, map[string]any{"code": "Z-9", "customer_name": "Zoe", "total": "50.00",
		"currency": "EUR", "items": []map[string]any{{"product_id": P3, "quantity": 1}}})
	// Floating player widget: w4 sees it twice and clicks it, w5 sees it;
	// w6 sees the product widget.
	tr.send(uaDesktop, site("w4"), tr.ev("widget.view", time.Time{}, "widget", "player"),
		tr.ev("widget.view", time.Time{}, "widget", "player"), tr.ev("widget.click", time.Time{}, "widget", "player"))
	tr.send(uaDesktop, site("w5"), tr.ev("widget.view", time.Time{}, "widget", "player"))
	tr.send(uaDesktop, site("w6"), tr.ev("widget.view", time.Time{}, "widget", "product"))
	// The survey is shown to Ann, Bob and Cleo; Ann rates 5 with a
	// comment, Bob 3, Cleo does not answer.
	tr.send(uaDesktop, annLive, tr.ev("survey.view", time.Time{}))
	tr.send(uaIPhone, bobLive, tr.ev("survey.view", time.Time{}))
	tr.send(uaIPad, cleoLive, tr.ev("survey.view", time.Time{}))
	ann.ws.send(`{"type":"survey.answer","data":{"rating":5,"comment":"Great show"}}`)
	bob.ws.send(`{"type":"survey.answer","data":{"rating":3}}`)
	host.next(events.TypeSurveyAnswered)
	host.next(events.TypeSurveyAnswered)
	admin.must(200, "POST", api+"/instant-wins/"+winID+"/draw", nil, nil)
	admin.must(200, "POST", api+"/polls/"+pollID+"/close", nil, nil)
	if time.Since(M) > sec(5.5) {
		t.Fatalf("the live's actions took until M+%v: the script needs them before M+5.5", time.Since(M))
	}

	// M+6: Dan leaves; M+7.5 the LL-HLS players stop and Ann's WHEP ends;
	// Cleo closes her page at M+9, Ann and Bob at M+10.
	sleepUntil(at(M, 6))
	danLeave := time.Now()
	danWHEP.stop(t, s)
	danLeft := time.Now()
	sleepUntil(at(M, 7.5))
	bobHLS.c.Close()
	cleoHLS.c.Close()
	reader.c.Close()
	readerEnd := time.Now()
	annWHEP.stop(t, s)
	if annWHEP.packets.Load() == 0 || danWHEP.packets.Load() == 0 {
		t.Fatalf("WHEP viewers received %d and %d RTP packets", annWHEP.packets.Load(), danWHEP.packets.Load())
	}
	if bobHLS.parts.Load() == 0 || cleoHLS.parts.Load() == 0 || reader.parts.Load() == 0 {
		t.Fatalf("LL-HLS viewers downloaded %d, %d and %d parts", bobHLS.parts.Load(), cleoHLS.parts.Load(), reader.parts.Load())
	}
	sleepUntil(at(M, 9))
	tr.send(uaIPad, cleoLive, tr.ev("session.heartbeat", at(M, 5)), tr.ev("session.end", at(M, 9)))
	sleepUntil(at(M, 10))
	tr.send(uaDesktop, annLive, tr.ev("session.end", at(M, 10)))
	tr.send(uaIPhone, bobLive, tr.ev("session.end", at(M, 10)))
	endStart := time.Now()
	admin.must(200, "POST", api+"/end", nil, nil)
	R := time.Now() // the replay's clock
	_, _ = push.Wait(15 * time.Second)

	// ---- Replay -----------------------------------------------------------
	// Eve (Android phone, from Facebook) watches the replay R+0.2 to R+2.2
	// (2.0 s): clicks P3, adds it, a 50.00 cart, buys it (tracked), and
	// chats. Ann comes back on her desktop R+0.5 to R+1.5 (1.0 s) through
	// the product widget (seen and clicked).
	sleepUntil(at(R, 2.3))
	eveReplay := map[string]any{"viewer_id": eve.id, "session_id": "eve-replay", "referrer": "https://m.facebook.com/"}
	tr.send(uaAndroid, eveReplay, tr.ev("page.view", at(R, 0.2)), tr.ev("session.start", at(R, 0.2)),
		tr.ev("product.click", at(R, 0.8), "product_id", P3), tr.ev("cart.add", at(R, 0.9), "product_id", P3),
		tr.ev("cart.create", at(R, 1.0), "amount", "50.00", "currency", "EUR"),
		tr.ev("purchase", at(R, 1.2), "amount", "50.00", "currency", "EUR", "product_ids", []string{P3}),
		tr.ev("session.end", at(R, 2.2)))
	tr.send(uaDesktop, map[string]any{"viewer_id": ann.id, "page_url": "https://shop.example.com/bags"},
		tr.ev("widget.view", at(R, 0.3), "widget", "product"), tr.ev("widget.click", at(R, 0.4), "widget", "product"))
	tr.send(uaDesktop, map[string]any{"viewer_id": ann.id, "session_id": "ann-replay", "page_url": "https://shop.example.com/live?utm_source=newsletter"},
		tr.ev("page.view", at(R, 0.5)), tr.ev("session.start", at(R, 0.5)), tr.ev("session.end", at(R, 1.5)))
	chat(eve, "watched the replay", false)

	// The server's own sessions reach the store within a flush (1 s).
	time.Sleep(2 * analytics.FlushEvery)

	// ---- Metrics ----------------------------------------------------------
	var rep analytics.Report
	admin.must(200, "GET", api+"/analytics", nil, &rep)
	bucket := time.Duration(rep.BucketSeconds) * time.Second
	// Every phase is shorter than a minute: the automatic bucket is 1 min
	// and each series has one point.
	if bucket != time.Minute {
		t.Fatalf("bucket %v, want 1m", bucket)
	}
	if rep.Currency != "EUR" || rep.WentLiveAt == nil || rep.EndedAt == nil || rep.Prelive == nil || rep.Live == nil || rep.Replay == nil {
		t.Fatalf("report: %+v", rep)
	}
	// The go-live came after the prelive's last event and before M; the
	// end between endStart and R.
	if rep.WentLiveAt.Before(at(P0, 2.5)) || rep.WentLiveAt.After(M) || rep.EndedAt.Before(endStart) || rep.EndedAt.After(R) {
		t.Fatalf("went live %v (prelive until P0+2.5 = %v, M %v), ended %v (end called %v..%v)",
			rep.WentLiveAt, at(P0, 2.5), M, rep.EndedAt, endStart, R)
	}

	// -- Prelive.
	pre := rep.Prelive
	if !pre.Window.From.Before(P0) || !pre.Window.To.Equal(*rep.WentLiveAt) {
		t.Errorf("prelive window %+v", pre.Window)
	}
	eqJSON(t, "prelive audience", pre.Audience, analytics.VisitorAudience{
		TotalVisitors:         2,   // Ann's visit and Bob's
		UniqueVisitors:        2,   // Ann, Bob
		AverageSessionSeconds: 1.5, // (2.0 + 1.0) / 2
		Shares:                1,   // Bob's share on the socket
	})
	eqJSON(t, "prelive evolution viewers", pointValues(t, "prelive viewers", pre.Evolution.Viewers, pre.Window, bucket), []int64{2})
	eqJSON(t, "prelive evolution sms", pointValues(t, "prelive sms", pre.Evolution.SMSSubscriptions, pre.Window, bucket), []int64{1})                // Ann's reminder
	eqJSON(t, "prelive evolution calendar", pointValues(t, "prelive calendar", pre.Evolution.CalendarSubscriptions, pre.Window, bucket), []int64{1}) // Bob
	eqJSON(t, "prelive product widget", pre.ProductWidget, analytics.WidgetStats{
		TotalViews:  3,  // w1 twice, w2
		UniqueViews: 2,  // w1, w2
		Clicks:      1,  // w1
		ClickRate:   50, // 1 clicker of 2 unique viewers
	})
	eqJSON(t, "prelive teasing video", pre.TeasingVideo, analytics.TeaserStats{
		TotalWatch: 1, UniqueWatch: 1, // Ann
		AverageWatchSeconds: 1.5, // her 1500 ms
	})
	eqJSON(t, "prelive devices", pre.Devices, analytics.DeviceShare{
		Desktop: 50, Mobile: 50, // Ann desktop, Bob iPhone
		DesktopCount: 1, MobileCount: 1})
	eqJSON(t, "prelive traffic sources", pre.TrafficSources, []analytics.SourceShare{
		{Source: "instagram.com", Visitors: 1, Percent: 50}, // Bob's referrer (ties sorted by name)
		{Source: "newsletter", Visitors: 1, Percent: 50}})   // Ann's utm_source
	eqJSON(t, "prelive alerting funnel", pre.AlertingFunnel, analytics.AlertingFunnel{
		AudienceReach:      3, // w1, w2 (product widget), w3 (gallery)
		UniqueViewers:      2, // Ann, Bob opened the page
		AlertingModal:      2, // Ann (sms), Bob (calendar)
		AlertingValidation: 2, // both subscribed
	})
	eqJSON(t, "prelive alerting", pre.Alerting, analytics.AlertingStats{
		SMSAlerts:            1,   // Ann's reminder
		CalendarAlerts:       1,   // Bob
		CommercialOptIn:      1,   // Ann's opt-in
		SMSAlertingRate:      50,  // 1 of 2 unique visitors
		CalendarAlertingRate: 50,  // 1 of 2
		RetargetingRate:      100, // 1 opt-in of 1 SMS alert
	})
	eqJSON(t, "prelive products", pre.Products, []analytics.ProductClicks{
		{ProductID: P1, Name: "Bag", Clicks: 2},   // Ann, Bob
		{ProductID: P2, Name: "Scarf", Clicks: 1}, // Bob
	})

	// -- Live: viewers Ann (page M..M+10, WHEP inside it), Bob (page
	// M..M+10, LL-HLS inside), Cleo (page M+1..M+9, LL-HLS inside), Dan
	// (WHEP only) and the bare LL-HLS reader.
	live := rep.Live
	if !live.Window.From.Equal(*rep.WentLiveAt) || !live.Window.To.Equal(*rep.EndedAt) {
		t.Errorf("live window %+v", live.Window)
	}
	window := live.Window.To.Sub(live.Window.From).Seconds()
	within(t, "live duration", live.General.DurationSeconds, endStart.Sub(M).Seconds(), R.Sub(P0).Seconds())
	within(t, "live duration against its window", live.General.DurationSeconds, window, window)
	got := live.General
	got.DurationSeconds = 0
	eqJSON(t, "live general", got, analytics.LiveGeneral{
		Messages:              2,  // Ann "love it", Dan (the prelive's and replay's are not the live's)
		Questions:             1,  // Bob "size?"
		BrandAnswers:          1,  // the host's "M and L"
		Likes:                 5,  // Ann 3, Cleo 2
		Shares:                1,  // Ann's
		ViewerEngagementRate:  80, // Ann, Bob, Cleo (likes), Dan (chat) of 5 unique viewers
		ChatParticipationRate: 60, // Ann, Bob, Dan of 5
		ChatQuestionRate:      20, // Bob of 5
	})
	// Dan watched from his WHEP session's start (after his POST, by his
	// connection) to its end (his DELETE); the reader from its first
	// playlist to, at most, its last.
	danMin, danMax := danLeave.Sub(danConnected).Seconds(), danLeft.Sub(danPost).Seconds()
	readerMax := readerEnd.Sub(readerStart).Seconds()
	known := 10.0 + 10 + 8 // Ann, Bob, Cleo
	a := live.Audience
	within(t, "live average session", a.AverageSessionSeconds, (known+danMin)/5, (known+danMax+readerMax)/5)
	within(t, "live average viewers", a.AverageViewers, (known+danMin)/window-0.01, (known+danMax+readerMax)/window+0.01)
	a.AverageSessionSeconds, a.AverageViewers = 0, 0
	eqJSON(t, "live audience", a, analytics.ViewerAudience{
		TotalViewers:  5, // one view each: Ann, Bob, Cleo, Dan, the reader
		UniqueViewers: 5,
		MaxViewers:    5, // all five at the reader's start (M+1.5 to M+6)
		Shares:        1, // Ann's
	})
	eqJSON(t, "live evolution viewers", pointValues(t, "live viewers", live.Evolution.Viewers, live.Window, bucket), []int64{5})
	eqJSON(t, "live evolution clicks", pointValues(t, "live clicks", live.Evolution.ProductClicks, live.Window, bucket), []int64{2}) // Ann P1, Bob P2
	eqJSON(t, "live evolution purchases", pointValues(t, "live purchases", live.Evolution.Purchases, live.Window, bucket), []int64{3})
	eqJSON(t, "live product widget", live.ProductWidget, analytics.WidgetStats{TotalViews: 1, UniqueViews: 1}) // w6, no click
	eqJSON(t, "live floating player widget", live.FloatingPlayerWidget, analytics.WidgetStats{
		TotalViews:  3,  // w4 twice, w5
		UniqueViews: 2,  // w4, w5
		Clicks:      1,  // w4
		ClickRate:   50, // 1 of 2
	})
	eqJSON(t, "live devices", live.Devices, analytics.DeviceShare{
		Desktop: 40, Mobile: 20, Tablet: 20, Other: 20, // of 5
		DesktopCount: 2, // Ann (Chrome), Dan (Firefox, from his WHEP request)
		MobileCount:  1, // Bob's iPhone
		TabletCount:  1, // Cleo's iPad
		OtherCount:   1, // the bare reader (Go's User-Agent)
	})
	eqJSON(t, "live traffic sources", live.TrafficSources, []analytics.SourceShare{
		{Source: "direct", Visitors: 2, Percent: 40}, // Dan and the reader: no page, no origin
		{Source: "google.com", Visitors: 1, Percent: 20},
		{Source: "instagram.com", Visitors: 1, Percent: 20},
		{Source: "newsletter", Visitors: 1, Percent: 20}})
	eqJSON(t, "live conversion funnel", live.ConversionFunnel, analytics.ConversionFunnel{
		AudienceReach: 1, // w6 saw the product widget
		UniqueViewers: 5,
		Purchases:     3, // Ann's A-1 (tracked and reported: one), Bob's, and Z-9: the shop reported it during the live
	})
	eqJSON(t, "live business", live.Business, analytics.Business{
		CatalogOpened:        1,          // Bob
		ProductClicks:        2,          // Ann P1, Bob P2
		ViewersProductClicks: 2,          // Ann, Bob
		ProductClicksRate:    40,         // 2 of 5
		AddToCart:            2,          // Ann (x2, one event), Bob
		CartsCreated:         2,          // Ann 258.00, Bob 39.00
		CartsCreatedRate:     40,         // 2 of 5
		TotalCarts:           "297.00",   // 258 + 39
		AverageCart:          "148.50",   // 297 / 2
		MaximumCart:          "258.00",   //
		MinimumCart:          "39.00",    //
		Purchases:            3,          // A-1, Bob's, Z-9 (reported by the shop, nobody's)
		PurchasesRate:        40,         // Ann, Bob of 5: Z-9 has no buyer
		TotalSales:           "352.00",   // 263 + 39 + 50
		ProductSales:         "297.00",   // P1 2 x 129 + P2 39, both pinned
		OtherSales:           "55.00",    // A-1's shipping, Z-9's belt (never pinned)
		AveragePurchase:      "117.3333", // 352 / 3
		MaximumPurchase:      "263.00",   //
		MinimumPurchase:      "39.00",    //
	})
	eqJSON(t, "live products", live.Products, sortedProducts([]analytics.ProductStats{
		{ProductID: P1, Name: "Bag", Shown: true, Clicks: 1, Purchases: 1, Quantity: 2, Sales: "258.00"},  // Ann: A-1
		{ProductID: P2, Name: "Scarf", Shown: true, Clicks: 1, Purchases: 1, Quantity: 1, Sales: "39.00"}, // Bob
		{ProductID: P3, Name: "Belt", Purchases: 1, Quantity: 1, Sales: "50.00"},                          // Z-9
	}))
	eqJSON(t, "live satisfaction", live.Satisfaction, analytics.Satisfaction{
		AudienceReach:       3,     // shown to Ann, Bob, Cleo
		Attendees:           2,     // Ann, Bob
		AverageRating:       4,     // (5 + 3) / 2
		Comments:            1,     // Ann's
		ResponseRate:        66.67, // 2 of 3
		Distribution:        [5]int64{0, 0, 1, 0, 1},
		DistributionPercent: [5]float64{0, 0, 50, 0, 50},
	})

	// -- Interactions.
	ix := rep.Interactions
	if len(ix.Polls) != 1 || len(ix.InstantWins) != 1 {
		t.Fatalf("interactions %+v", ix)
	}
	p := ix.Polls[0]
	p.OpenedAt = time.Time{}
	eqJSON(t, "poll", p, analytics.PollStats{ID: pollID, Question: "Colour?", Closed: true, Votes: 2, // Ann, Bob
		Options: []analytics.PollOption{{Text: "Red", Votes: 1, Percent: 50}, {Text: "Blue", Votes: 1, Percent: 50}}})
	iw := ix.InstantWins[0]
	if iw.ID != winID || iw.Prize != "A scarf" || iw.Planned != 1 || iw.Entrants != 2 || !iw.Drawn || len(iw.Winners) != 1 ||
		(iw.Winners[0].ViewerID != ann.id && iw.Winners[0].ViewerID != dan.id) {
		t.Errorf("instant win %+v: want 2 entrants (Ann, Dan), drawn, one of them the winner", iw)
	}

	// -- Replay: Eve 2.0 s and Ann 1.0 s, together from R+0.5 to R+1.5.
	rp := rep.Replay
	if !rp.Window.From.Equal(*rep.EndedAt) || rp.Window.To.Before(at(R, 2.3)) {
		t.Errorf("replay window %+v", rp.Window)
	}
	ra := rp.Audience
	within(t, "replay average viewers", ra.AverageViewers, 3.0/rp.Window.Duration().Seconds(), 3.0/rp.Window.Duration().Seconds())
	ra.AverageViewers = 0
	eqJSON(t, "replay audience", ra, analytics.ViewerAudience{
		TotalViewers: 2, UniqueViewers: 2, // Eve, Ann
		MaxViewers:            2,   // R+0.5..R+1.5
		AverageSessionSeconds: 1.5, // (2.0 + 1.0) / 2
	})
	eqJSON(t, "replay evolution viewers", pointValues(t, "replay viewers", rp.Evolution.Viewers, rp.Window, bucket), []int64{2})
	eqJSON(t, "replay evolution clicks", pointValues(t, "replay clicks", rp.Evolution.ProductClicks, rp.Window, bucket), []int64{1})
	eqJSON(t, "replay evolution purchases", pointValues(t, "replay purchases", rp.Evolution.Purchases, rp.Window, bucket), []int64{1})
	eqJSON(t, "replay product widget", rp.ProductWidget, analytics.WidgetStats{TotalViews: 1, UniqueViews: 1, Clicks: 1, ClickRate: 100}) // Ann
	eqJSON(t, "replay devices", rp.Devices, analytics.DeviceShare{Desktop: 50, Mobile: 50, DesktopCount: 1, MobileCount: 1})              // Ann, Eve
	eqJSON(t, "replay traffic sources", rp.TrafficSources, []analytics.SourceShare{
		{Source: "direct", Visitors: 1, Percent: 50},          // Ann: her first event of the replay, the widget's view, on the seller's page without utm_source
		{Source: "m.facebook.com", Visitors: 1, Percent: 50}}) // Eve's referrer
	eqJSON(t, "replay conversion funnel", rp.ConversionFunnel, analytics.ConversionFunnel{
		AudienceReach: 1, // Ann saw the product widget
		UniqueViewers: 2,
		Purchases:     1, // Eve's
	})
	eqJSON(t, "replay business", rp.Business, analytics.Business{
		ProductClicks: 1, ViewersProductClicks: 1, ProductClicksRate: 50, // Eve, of 2
		AddToCart: 1, CartsCreated: 1, CartsCreatedRate: 50,
		TotalCarts: "50.00", AverageCart: "50.00", MaximumCart: "50.00", MinimumCart: "50.00",
		Purchases: 1, PurchasesRate: 50,
		TotalSales: "50.00", ProductSales: "0.00", OtherSales: "50.00", // P3 was never pinned
		AveragePurchase: "50.00", MaximumPurchase: "50.00", MinimumPurchase: "50.00",
	})
	eqJSON(t, "replay products", rp.Products, sortedProducts([]analytics.ProductStats{
		{ProductID: P3, Name: "Belt", Clicks: 1, Purchases: 1, Quantity: 1, Sales: "50.00"}, // Eve
		{ProductID: P1, Name: "Bag", Shown: true, Sales: "0.00"},                            // pinned during the live
		{ProductID: P2, Name: "Scarf", Shown: true, Sales: "0.00"},
	}))

	// Each phase alone is the same as in the whole report.
	for _, ph := range analytics.Phases {
		var one analytics.Report
		admin.must(200, "GET", api+"/analytics?phase="+ph, nil, &one)
		var gotPh, wantPh any
		switch ph {
		case analytics.Prelive:
			gotPh, wantPh = one.Prelive, rep.Prelive
		case analytics.Live:
			gotPh, wantPh = one.Live, rep.Live
		case analytics.Replay:
			gotPh, wantPh = one.Replay, rep.Replay
		}
		if ph == analytics.Replay {
			// The replay runs to now: its window and average moved on.
			one.Replay.Window, one.Replay.Audience.AverageViewers = rep.Replay.Window, rep.Replay.Audience.AverageViewers
		}
		eqJSON(t, "phase="+ph, gotPh, wantPh)
	}

	// The seller reads the same in the console's event page.
	checkEventPage(t, s, admin, c.ID)
}

// sortedProducts orders product stats as the report does: most clicked
// first, then most purchased, then by id.
func sortedProducts(ps []analytics.ProductStats) []analytics.ProductStats {
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Clicks != b.Clicks {
			return a.Clicks > b.Clicks
		}
		if a.Purchases != b.Purchases {
			return a.Purchases > b.Purchases
		}
		return a.ProductID < b.ProductID
	})
	return ps
}
