package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"vitrine/configs"
	"vitrine/internal/browser"
	"vitrine/internal/testenv"
	"vitrine/store"
	"vitrine/web"
)

// The player page and the widget in headless Chromium, against a real
// server and a real ffmpeg publisher. The page is the built bundle
// (web/dist): without a build (make web) these tests skip.

func requireWebBuild(t *testing.T) {
	t.Helper()
	if !web.Built() {
		t.Skip("web/ is not built: run make web (npm ci && npm run build in web/) before go test")
	}
}

type playerEnv struct {
	t        *testing.T
	s        *Server
	admin    *adminClient
	base     string
	c        campaignView
	products []string
}

// newPlayerEnv starts a server with a published campaign of two products;
// live starts it live (go_live) without an encoder yet.
func newPlayerEnv(t *testing.T, live bool) *playerEnv {
	t.Helper()
	return newPlayerEnvWith(t, live, nil)
}

// newPlayerEnvWith is newPlayerEnv on a server configured by mutate.
func newPlayerEnvWith(t *testing.T, live bool, mutate func(*configs.Config)) *playerEnv {
	t.Helper()
	requireWebBuild(t)
	s := startServer(t, mutate)
	e := &playerEnv{t: t, s: s, admin: newAdmin(t, s), base: "http://" + s.HTTPAddr().String()}
	for i, name := range []string{"Leather bag", "Silk <scarf> & co"} {
		var p struct{ ID string }
		e.admin.must(201, "POST", "/api/v1/products", map[string]any{
			"sku": fmt.Sprintf("WEB-%d", i), "name": name, "category": "bags", "price": "129.00", "currency": "EUR",
			"stock": 10, "url": "https://shop.example.com/p" + fmt.Sprint(i)}, &p)
		e.products = append(e.products, p.ID)
	}
	starts := time.Now().Add(time.Hour)
	if live {
		starts = time.Now()
	}
	e.admin.must(201, "POST", "/api/v1/campaigns", map[string]any{
		"title": "Autumn <b>bags</b>", "description": "New leather collection", "visibility": "suggested",
		"published": true, "go_live": live,
		"starts_at": starts.Format(time.RFC3339), "ends_at": starts.Add(2 * time.Hour).Format(time.RFC3339),
		"product_ids": e.products}, &e.c)
	return e
}

// push publishes the synthetic show to the campaign: 30 fps without
// B-frames (as advised for WebRTC), a keyframe every second, AAC.
func (e *playerEnv) push(seconds float64) *testenv.Process {
	e.t.Helper()
	testenv.RequireFFmpeg(e.t)
	src := testenv.DefaultSource(seconds)
	src.BFrames = 0
	p := testenv.Push(e.t, src, e.c.Ingest.RTMP)
	waitOnline(e.t, e.s, e.c.ID, 15*time.Second)
	return p
}

// viewerUA is a desktop Chrome's User-Agent: headless Chromium's own says
// HeadlessChrome, which the analytics rightly count as a bot (its batches
// are accepted and ignored), so the pages the tests drive present this one.
const viewerUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"

// page opens the player in a fresh browser; the screenshot is saved when
// the test fails (CI keeps the artifacts) and at the end in any case.
func (e *playerEnv) page(ctx context.Context, query string) *browser.Page {
	e.t.Helper()
	b := browser.Launch(e.t, browser.WithArgs("--user-agent="+viewerUA))
	p, err := b.NewPage(ctx, e.base+"/watch/"+e.c.ID+query)
	if err != nil {
		e.t.Fatal(err)
	}
	browser.ScreenshotOnFailure(e.t, p, browser.ArtifactsDir())
	e.t.Cleanup(func() { saveScreenshot(e.t, p) })
	return p
}

// saveScreenshot keeps the page's last picture of a passing test too, in
// the artifacts directory under <test>.final.png.
func saveScreenshot(t *testing.T, p *browser.Page) {
	if t.Failed() {
		return // ScreenshotOnFailure has it
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + ".final.png"
	path := filepath.Join(browser.ArtifactsDir(), name)
	if err := p.Screenshot(ctx, path); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot saved to %s", path)
}

func (e *playerEnv) pin(id string) {
	e.admin.must(201, "POST", "/api/v1/campaigns/"+e.c.ID+"/pins", map[string]any{"kind": "product", "id": id}, nil)
}

// waitPlaying waits until the page plays over transport: frames decoded
// and currentTime advancing.
func waitPlaying(t *testing.T, ctx context.Context, p *browser.Page, transport string) {
	t.Helper()
	if err := p.WaitFor(ctx, `window.__vitrine && __vitrine.transport === "`+transport+`" && __vitrine.video.getVideoPlaybackQuality().totalVideoFrames > 30`, 100*time.Millisecond); err != nil {
		t.Fatalf("the page does not play over %s: %v", transport, err)
	}
	var t0, t1 float64
	if err := p.Eval(ctx, `__vitrine.video.currentTime`, &t0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	var st struct {
		Time     float64  `json:"time"`
		Frames   int      `json:"frames"`
		Dropped  int      `json:"dropped"`
		Width    int      `json:"width"`
		MediaNow *float64 `json:"mediaNow"`
	}
	if err := p.Eval(ctx, `(() => { const v = __vitrine.video, q = v.getVideoPlaybackQuality();
	  return {time: v.currentTime, frames: q.totalVideoFrames, dropped: q.droppedVideoFrames, width: v.videoWidth, mediaNow: __vitrine.mediaNow()} })()`, &st); err != nil {
		t.Fatal(err)
	}
	t1 = st.Time
	if t1-t0 < 0.5 || st.Width == 0 || st.MediaNow == nil {
		t.Fatalf("%s: currentTime %.2f -> %.2f in 1 s, width %d, media clock %v", transport, t0, t1, st.Width, st.MediaNow)
	}
	t.Logf("%s plays: currentTime %.2f -> %.2f s in 1 s, %d frames decoded (%d dropped), %d px wide; frame on screen %.0f ms behind the wall clock",
		transport, t0, t1, st.Frames, st.Dropped, st.Width, float64(time.Now().UnixMilli())-*st.MediaNow)
}

type pinShown struct {
	ID        string   `json:"id"`
	At        string   `json:"at"`
	Media     *float64 `json:"media"`
	Wall      int64    `json:"wall"`
	Transport string   `json:"transport"`
}

// measurePin pins a product and reports how far the frame on screen was
// from the pin's at when its card was painted: the media clock of the
// frame (WHEP: its arrival, on the server's clock; LL-HLS: its
// PROGRAM-DATE-TIME) minus at. 0 is perfect; negative would be early.
func (e *playerEnv) measurePin(ctx context.Context, p *browser.Page, productID string) time.Duration {
	e.t.Helper()
	e.pin(productID)
	if err := p.WaitFor(ctx, `__vitrine.pins.some(x => x.id === "`+productID+`") && !!document.querySelector('.vt-card[data-product="`+productID+`"]')`, 20*time.Millisecond); err != nil {
		e.t.Fatalf("pinned product not shown: %v", err)
	}
	var shown pinShown
	if err := p.Eval(ctx, `__vitrine.pins.find(x => x.id === "`+productID+`")`, &shown); err != nil {
		e.t.Fatal(err)
	}
	at, err := time.Parse(time.RFC3339Nano, shown.At)
	if err != nil || shown.Media == nil {
		e.t.Fatalf("pin shown without a media clock: %+v", shown)
	}
	delay := time.Duration((*shown.Media - float64(at.UnixMilli())) * float64(time.Millisecond))
	behind := time.Duration(shown.Wall-at.UnixMilli()) * time.Millisecond
	e.t.Logf("%s: pin card painted when the frame on screen was %v past the pin's at (the card showed %v after the pin on the wall clock)",
		shown.Transport, delay, behind)
	return delay
}

func checkPinDelay(t *testing.T, d time.Duration) {
	t.Helper()
	if d < -100*time.Millisecond || d > 100*time.Millisecond {
		t.Errorf("the pin showed %v from the frame it belongs to, want within 100 ms", d)
	}
}

// TestPlayerWHEP: the page plays over WebRTC and shows a pin with its frame.
func TestPlayerWHEP(t *testing.T) {
	e := newPlayerEnv(t, true)
	e.push(60)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p := e.page(ctx, "?transport=whep")
	waitPlaying(t, ctx, p, "whep")
	time.Sleep(2 * time.Second) // latency estimates settle
	checkPinDelay(t, e.measurePin(ctx, p, e.products[0]))

	var name string
	if err := p.Eval(ctx, `document.querySelector('.vt-card .vt-card-name').textContent`, &name); err != nil || name != "Leather bag" {
		t.Fatalf("card name %q, %v", name, err)
	}

	// Add to cart hands the product to the shop (standalone page: the
	// VitrineCallbacks) and is tracked.
	if err := p.Eval(ctx, `window.VitrineCallbacks = {onAddToCart: p => { window.__added = p; }};
	  document.querySelector('.vt-card .vt-add').click()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(ctx, `window.__added && __added.id === "`+e.products[0]+`" && __added.price === "129.00"`, 50*time.Millisecond); err != nil {
		t.Fatalf("add to cart not handed to VitrineCallbacks: %v", err)
	}
	// The analytics got them: the server accepted the page's batches.
	got := waitTracked(t, e.s, e.c.ID, "page.view", "session.start", "cart.add", "cart.create")
	if add := got["cart.add"]; add.ProductID != e.products[0] || add.SessionID == "" || add.SessionID != got["page.view"].SessionID {
		t.Errorf("cart.add recorded as %+v (page.view %+v)", add, got["page.view"])
	}
	if c := got["cart.create"]; c.AmountE4 != 1290000 || c.Currency != "EUR" {
		t.Errorf("cart.create recorded as %+v", c)
	}
	// The server's own record of the WHEP session names the page's viewer.
	oneViewer(t, e.s, e.c.ID, "", "page.view", "session.start", "cart.add", "whep.start")
}

// oneViewer waits for the tracked events of each type and checks that
// one viewer id is on all of them (but the test's own, probe): the page's
// beacons and the server's record of the video it plays (the page passes
// ?viewer= on its video requests) count as one viewer.
func oneViewer(t *testing.T, s *Server, campaignID, probe string, types ...string) {
	t.Helper()
	waitTracked(t, s, campaignID, types...)
	ids := map[string][]string{}
	err := s.store.ScanTrackedEvents(t.Context(), store.TrackedQuery{CampaignID: campaignID}, func(e *store.TrackedEvent) error {
		if e.ViewerID != probe && !slices.Contains(ids[e.ViewerID], e.Type) {
			ids[e.ViewerID] = append(ids[e.ViewerID], e.Type)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 {
		t.Fatalf("tracked events under %d viewer ids, want one: %v", len(ids), ids)
	}
}

// waitTracked waits until the server has recorded a tracked event of each
// type for the campaign (the page sends its batches every few seconds),
// and returns the last of each type; a type may name a target too, as in
// widget.view:player.
func waitTracked(t *testing.T, s *Server, campaignID string, types ...string) map[string]store.TrackedEvent {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := map[string]store.TrackedEvent{}
		err := s.store.ScanTrackedEvents(t.Context(), store.TrackedQuery{CampaignID: campaignID}, func(e *store.TrackedEvent) error {
			got[e.Type] = *e
			if e.Target != "" {
				got[e.Type+":"+e.Target] = *e
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		missing := slices.DeleteFunc(slices.Clone(types), func(typ string) bool { _, ok := got[typ]; return ok })
		if len(missing) == 0 {
			return got
		}
		if time.Now().After(deadline) {
			seen := make([]string, 0, len(got))
			for typ := range got {
				seen = append(seen, typ)
			}
			t.Fatalf("tracked events recorded by the server: %v; missing %v", seen, missing)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestPlayerUpcoming: before the live the page counts down and offers the
// calendar file and the SMS reminder; going live switches it to the live.
func TestPlayerUpcoming(t *testing.T) {
	e := newPlayerEnv(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := e.page(ctx, "")
	if err := p.WaitFor(ctx, `__vitrine.phase === "upcoming" && /^00:5\d:\d\d$/.test(document.querySelector('.vt-countdown').textContent)`, 0); err != nil {
		t.Fatalf("countdown: %v", err)
	}
	var href string
	if err := p.Eval(ctx, `document.querySelector('.vt-upcoming a[download]').href`, &href); err != nil || !strings.HasSuffix(href, "/live/"+e.c.ID+"/calendar.ics") {
		t.Fatalf("calendar link %q %v", href, err)
	}
	if err := p.Eval(ctx, `(() => { const f = document.querySelector('.vt-sms');
	  f.querySelector('input[type=tel]').value = '+33 6 12 34 56 78'; f.querySelector('input[type=checkbox]').checked = true;
	  f.querySelector('button').click(); })()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(ctx, `document.querySelector('.vt-sms [role=status]').textContent.startsWith('We will text you') && __vitrine.tracked.some(e => e.type === "alert.subscribe" && e.channel === "sms" && e.sent)`, 50*time.Millisecond); err != nil {
		t.Fatalf("SMS reminder: %v", err)
	}
	if sub := waitTracked(t, e.s, e.c.ID, "page.view", "alert.subscribe")["alert.subscribe"]; !strings.Contains(sub.Data, "+33612345678") {
		t.Errorf("alert.subscribe recorded as %+v", sub)
	}
	e.admin.must(200, "POST", "/api/v1/campaigns/"+e.c.ID+"/live", nil, nil)
	if err := p.WaitFor(ctx, `__vitrine.phase === "live"`, 50*time.Millisecond); err != nil {
		t.Fatalf("going live did not switch the page: %v", err)
	}
}

// TestPlayerLLHLS: the page plays over LL-HLS (hls.js) and shows a pin when
// the frame with its PROGRAM-DATE-TIME is on screen, about 2 s after it was
// made.
func TestPlayerLLHLS(t *testing.T) {
	e := newPlayerEnv(t, true)
	e.push(60)
	waitPlaylist(t, e.s.hlsURL(e.c.ID)+"?viewer=test_probe", 15*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p := e.page(ctx, "?transport=hls")
	waitPlaying(t, ctx, p, "hls")
	time.Sleep(2 * time.Second)
	checkPinDelay(t, e.measurePin(ctx, p, e.products[1]))
	var name string
	if err := p.Eval(ctx, `document.querySelector('.vt-card[data-product="`+e.products[1]+`"] .vt-card-name').textContent`, &name); err != nil || name != "Silk <scarf> & co" {
		t.Fatalf("card name %q, %v", name, err)
	}
	oneViewer(t, e.s, e.c.ID, "test_probe", "page.view", "session.start", "hls.start")
}

// TestPlayerFallsBackToLLHLS: the page picks WebRTC by itself; when its
// WebRTC session dies mid-show (here: the server ends it), the picture
// freezes and the page switches to LL-HLS.
func TestPlayerFallsBackToLLHLS(t *testing.T) {
	e := newPlayerEnv(t, true)
	e.push(60)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p := e.page(ctx, "")
	waitPlaying(t, ctx, p, "whep")
	if err := p.Eval(ctx, `fetch(__vitrine.whepSession().location, {method: "DELETE"}).then(r => r.status)`, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := p.WaitFor(ctx, `__vitrine.transport === "hls" && __vitrine.mediaNow() !== null`, 100*time.Millisecond); err != nil {
		t.Fatalf("no fallback to LL-HLS: %v", err)
	}
	t.Logf("WebRTC session ended by the server: playing LL-HLS %v later", time.Since(start).Round(time.Millisecond))
}

// TestPlayerChatAndLikes: a chat message makes the round trip (page ->
// socket -> server -> every viewer -> page), escaped; likes count.
func TestPlayerChatAndLikes(t *testing.T) {
	e := newPlayerEnv(t, true)
	ws := watchEvents(t, e.s, e.c.ID)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := e.page(ctx, "")
	if err := p.WaitFor(ctx, `__vitrine.phase === "live" && !document.querySelector('.vt-chat-form').hidden`, 0); err != nil {
		t.Fatal(err)
	}
	const text = `<img src=x onerror="window.__xss=1">Is it waterproof?`
	b, _ := json.Marshal(text)
	if err := p.Eval(ctx, `(() => { const f = document.querySelector('.vt-chat-form');
	  f.querySelector('.vt-name-in').value = 'Ann';
	  f.querySelector('.vt-text-in').value = `+string(b)+`;
	  f.querySelector('.vt-send').click(); })()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(ctx, `[...document.querySelectorAll('.vt-chat .vt-text')].some(x => x.textContent === `+string(b)+`)`, 50*time.Millisecond); err != nil {
		t.Fatalf("own chat message not shown: %v", err)
	}
	ws.expect(t, "chat.message")
	var xss bool
	if err := p.Eval(ctx, `!!window.__xss || !!document.querySelector('.vt-chat img')`, &xss); err != nil || xss {
		t.Fatalf("chat text rendered as HTML (%v)", err)
	}

	// Likes: three taps, counted by the server and shown.
	if err := p.Eval(ctx, `(() => { const b = document.querySelector('.vt-like'); b.click(); b.click(); b.click(); })()`, nil); err != nil {
		t.Fatal(err)
	}
	ws.expect(t, "like.count")
	if err := p.WaitFor(ctx, `__vitrine.shown.some(e => e.type === "like.count") && document.querySelector('.vt-likes-n').textContent === "3"`, 50*time.Millisecond); err != nil {
		t.Fatalf("like count not shown: %v", err)
	}
	// The likes are tracked with their viewer (the socket's like.count has
	// none), for the live's engagement rate: by the page, in its session,
	// and by the server, which saw them on the socket (one for the three).
	deadline := time.Now().Add(20 * time.Second)
	for {
		var page, server []store.TrackedEvent
		err := e.s.store.ScanTrackedEvents(t.Context(), store.TrackedQuery{CampaignID: e.c.ID, Types: []string{"like"}},
			func(ev *store.TrackedEvent) error {
				if strings.HasPrefix(ev.EventID, "srv-") {
					server = append(server, *ev)
				} else {
					page = append(page, *ev)
				}
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 0 && len(server) > 0 {
			if page[0].ViewerID == "" || page[0].SessionID == "" || len(server) != 1 || server[0].ViewerID != page[0].ViewerID {
				t.Fatalf("tracked likes: by the page %+v, by the server %+v", page, server)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tracked likes: by the page %d, by the server %d", len(page), len(server))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestPlayerPollVote: a poll opened through the admin API shows; a vote
// is counted.
func TestPlayerPollVote(t *testing.T) {
	e := newPlayerEnv(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := e.page(ctx, "")
	if err := p.WaitFor(ctx, `__vitrine.phase === "live"`, 0); err != nil {
		t.Fatal(err)
	}
	var raw json.RawMessage
	status := e.admin.do("POST", "/api/v1/campaigns/"+e.c.ID+"/polls",
		map[string]any{"question": "Which colour?", "options": []string{"Tan", "Black"}}, &raw)
	if status/100 != 2 {
		t.Fatalf("open poll: %d %s", status, raw)
	}
	if err := p.WaitFor(ctx, `!!document.querySelector('.vt-poll:not([hidden]) .vt-option[data-option="1"]')`, 50*time.Millisecond); err != nil {
		t.Fatalf("poll not shown: %v", err)
	}
	if err := p.Eval(ctx, `document.querySelector('.vt-option[data-option="1"]').click()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(ctx, `__vitrine.overlay.state.poll && __vitrine.overlay.state.poll.total >= 1 && __vitrine.overlay.state.poll.votes[1] >= 1`, 100*time.Millisecond); err != nil {
		t.Fatalf("vote not counted: %v", err)
	}
}

// TestPlayerReplay: after the live, the page plays the recording and shows
// each pin when the replay reaches its recorded moment, with product
// chapters.
func TestPlayerReplay(t *testing.T) {
	e := newPlayerEnv(t, true)
	// More events before the pins than one page of the replay timeline
	// (5000): the page reads every page, or the pins never show.
	room, err := e.s.overlay.Room(t.Context(), e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 5050 {
		if _, err := room.Publish(t.Context(), "viewer.count", map[string]int{"count": i}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("5050 events before the live in %v", time.Since(start).Round(time.Millisecond))
	push := e.push(14)
	time.Sleep(3 * time.Second)
	e.pin(e.products[0])
	time.Sleep(3 * time.Second)
	e.admin.must(200, "DELETE", "/api/v1/campaigns/"+e.c.ID+"/pins/product/"+e.products[0], nil, nil)
	e.pin(e.products[1])
	_, _ = push.Wait(30 * time.Second)
	e.admin.must(200, "POST", "/api/v1/campaigns/"+e.c.ID+"/end", nil, nil)
	replay := e.base + "/replay/" + e.c.ID + "/index.m3u8"
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get(replay)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no replay at %s %v after the end", replay, 15*time.Second)
		}
		time.Sleep(300 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p := e.page(ctx, "")
	if err := p.WaitFor(ctx, `__vitrine.phase === "replay" && document.querySelectorAll('.vt-chapter').length === 2`, 100*time.Millisecond); err != nil {
		t.Fatalf("replay chapters: %v", err)
	}
	waitPlaying(t, ctx, p, "vod")
	for _, id := range e.products {
		if err := p.WaitFor(ctx, `__vitrine.pins.some(x => x.id === "`+id+`")`, 50*time.Millisecond); err != nil {
			t.Fatalf("replay: pin of %s not shown: %v", id, err)
		}
		var shown pinShown
		if err := p.Eval(ctx, `__vitrine.pins.find(x => x.id === "`+id+`")`, &shown); err != nil {
			t.Fatal(err)
		}
		at, _ := time.Parse(time.RFC3339Nano, shown.At)
		if shown.Media == nil {
			t.Fatalf("replay pin without a clock: %+v", shown)
		}
		d := time.Duration((*shown.Media - float64(at.UnixMilli())) * float64(time.Millisecond))
		t.Logf("replay: pin of %s painted %v after its recorded moment", id, d)
		checkPinDelay(t, d)
	}
}

// TestEmbedWidget: a seller's page on another origin loads /embed.js; the
// product widget shows the live featuring the product, opens the floating
// player, and the player's add to cart reaches the page's handler.
func TestEmbedWidget(t *testing.T) {
	e := newPlayerEnv(t, true)
	e.pin(e.products[0])
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>Shop</title></head><body>
<h1>Leather bag</h1>
<div id="widget" data-vitrine-product="%s"></div>
<script src="%s/embed.js"></script>
<script>window.__cart = []; window.__events = [];
Vitrine.on('add_to_cart', p => window.__cart.push(p)).on('*', (p, m) => { window.__events.push(m.type); window.__viewer = m.viewer_id; });</script>
</body></html>`, e.products[0], e.base)
	}))
	t.Cleanup(shop.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := browser.Launch(t, browser.WithArgs("--user-agent="+viewerUA))
	p, err := b.NewPage(ctx, shop.URL+"/bag?utm_source=newsletter")
	if err != nil {
		t.Fatal(err)
	}
	browser.ScreenshotOnFailure(t, p, browser.ArtifactsDir())
	t.Cleanup(func() { saveScreenshot(t, p) })
	w := `document.getElementById('widget').shadowRoot`
	if err := p.WaitFor(ctx, `!!`+w+` && `+w+`.querySelector('.title') && `+w+`.querySelector('.title').textContent === "Autumn <b>bags</b>" && `+w+`.querySelector('.badge').textContent === "LIVE"`, 50*time.Millisecond); err != nil {
		t.Fatalf("widget not rendered: %v", err)
	}
	if err := p.Eval(ctx, w+`.querySelector('.watch').click()`, nil); err != nil {
		t.Fatal(err)
	}
	fp := `document.querySelector('[data-vitrine-floating]')`
	if err := p.WaitFor(ctx, `!!`+fp+` && `+fp+`.shadowRoot.querySelector('iframe').src.includes('/watch/`+e.c.ID+`?embed=1')`, 50*time.Millisecond); err != nil {
		t.Fatalf("floating player not opened: %v", err)
	}
	var src string
	_ = p.Eval(ctx, fp+`.shadowRoot.querySelector('iframe').src`, &src)
	if !strings.Contains(src, "origin="+url.QueryEscape(shop.URL)) || !strings.Contains(src, "utm_source=newsletter") {
		t.Errorf("iframe src %s", src)
	}
	// In the player (an iframe of the other origin): the pinned product's
	// add to cart reaches the shop page's handler through postMessage.
	// Both servers are on 127.0.0.1, one site: the frame is in the page's
	// process, found once it has loaded.
	var clicked bool
	var frameErr error
	deadline := time.Now().Add(30 * time.Second)
	for !clicked && time.Now().Before(deadline) {
		frameErr = p.EvalInFrame(ctx, "/watch/"+e.c.ID, `(() => { const b = document.querySelector('.vt-card .vt-add'); if (!b) return false; b.click(); return true; })()`, &clicked)
		time.Sleep(200 * time.Millisecond)
	}
	if !clicked {
		t.Fatalf("no pinned product card with add to cart in the floating player (%v)", frameErr)
	}
	if err := p.WaitFor(ctx, `window.__cart.length === 1 && window.__cart[0].id === "`+e.products[0]+`" && window.__events.includes("add_to_cart") && /^v_|^[0-9a-f-]{36}$/.test(window.__viewer || '')`, 50*time.Millisecond); err != nil {
		t.Fatalf("add to cart not handed to the shop page: %v", err)
	}
	// The floating player follows the visitor to the next page.
	if err := p.Navigate(ctx, shop.URL+"/other"); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(ctx, `!!`+fp, 50*time.Millisecond); err != nil {
		t.Fatalf("the floating player did not follow to the next page: %v", err)
	}
	// The widgets' views and clicks reached the analytics, from the shop's
	// origin.
	got := waitTracked(t, e.s, e.c.ID, "widget.view:product", "widget.click:product", "widget.view:player", "page.view", "cart.add")
	if v := got["widget.view:product"]; v.Source != "newsletter" || v.SessionID != "" {
		t.Errorf("product widget view recorded as %+v", v)
	}
}
