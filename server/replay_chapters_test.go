package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vitrine/internal/browser"
	"vitrine/internal/testenv"
)

// TestPlayerReplayChapters: events before the live (viewer counts, chat)
// do not shift the replay's chapters: each chapter's time is its pin's
// offset from the recording's first frame, the scrubber marks it there,
// and scrubbing to a chapter shows the pinned product's card with the frame
// of its pin. The replay's controls play, pause and seek with the
// keyboard. At 1280x800, then on a phone (replayOnPhone); screenshots saved.
func TestPlayerReplayChapters(t *testing.T) {
	e := newPlayerEnv(t, true)
	room, err := e.s.overlay.Room(t.Context(), e.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := room.Publish(t.Context(), "viewer.count", map[string]int{"count": i + 1}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(5 * time.Second) // the prelive: the first events are well before the video
	push := e.push(20)
	time.Sleep(3 * time.Second)
	e.pin(e.products[0])
	time.Sleep(5 * time.Second)
	e.admin.must(200, "DELETE", "/api/v1/campaigns/"+e.c.ID+"/pins/product/"+e.products[0], nil, nil)
	time.Sleep(3 * time.Second)
	e.pin(e.products[1])
	_, _ = push.Wait(40 * time.Second)
	e.admin.must(200, "POST", "/api/v1/campaigns/"+e.c.ID+"/end", nil, nil)

	// The timeline as the server tells it.
	var tl struct {
		Start    time.Time `json:"start"`
		Duration float64   `json:"duration"`
		Events   []struct {
			At     time.Time       `json:"at"`
			Type   string          `json:"type"`
			Offset float64         `json:"offset"`
			Data   json.RawMessage `json:"data"`
		} `json:"events"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(e.base + "/replay/" + e.c.ID + "/events?limit=5000")
		if err == nil {
			if res.StatusCode == http.StatusOK {
				err = json.NewDecoder(res.Body).Decode(&tl)
			}
			res.Body.Close()
			if err == nil && res.StatusCode == http.StatusOK && tl.Duration > 15 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no replay timeline: %v %+v", err, tl)
		}
		time.Sleep(300 * time.Millisecond)
	}
	first := tl.Events[0].At
	want := map[string]float64{}  // product -> its pin's offset from the first frame
	pinAt := map[string]float64{} // product -> its pin's at (ms)
	for _, ev := range tl.Events {
		if ev.Type != "product.pinned" {
			continue
		}
		var d struct {
			Product struct{ ID string } `json:"product"`
		}
		_ = json.Unmarshal(ev.Data, &d)
		off := ev.At.Sub(tl.Start).Seconds()
		want[d.Product.ID], pinAt[d.Product.ID] = off, float64(ev.At.UnixMilli())
		if math.Abs(ev.Offset-off) > 0.1 {
			t.Errorf("GET /replay/{id}/events: the pin of %s has offset %.3f, %.3f s after the first frame", d.Product.ID, ev.Offset, off)
		}
		if ev.At.Sub(first).Seconds()-off < 3 {
			t.Fatalf("the test needs events well before the video: first event %v, first frame %v", first, tl.Start)
		}
		t.Logf("pin of %s: %.2f s into the recording (%.2f s after the first event)", d.Product.ID, off, ev.At.Sub(first).Seconds())
	}
	if len(want) != 2 {
		t.Fatalf("pins in the timeline: %v", want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	p := e.page(ctx, "")
	if err := p.SetViewport(ctx, 1280, 800, false); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(ctx, `__vitrine.phase === "replay" && document.querySelectorAll('.vt-chapter').length === 2 && document.querySelectorAll('.vt-rc-mark').length === 2`, 100*time.Millisecond); err != nil {
		t.Fatalf("replay chapters and scrubber: %v", err)
	}
	waitPlaying(t, ctx, p, "vod")

	// The chapters' times, in the list and on the scrubber.
	var chs []struct {
		Product string  `json:"product"`
		Start   float64 `json:"start"`
		Label   string  `json:"label"`
		Mark    float64 `json:"mark"`
	}
	if err := p.Eval(ctx, `(() => { const bar = document.querySelector('.vt-rc-bar').getBoundingClientRect();
	  const d = __vitrine.video.duration;
	  return [...document.querySelectorAll('.vt-chapter')].map((b) => {
	    const m = document.querySelector('.vt-rc-mark[data-product="' + b.dataset.product + '"]').getBoundingClientRect();
	    return { product: b.dataset.product, start: Number(b.dataset.start), label: b.querySelector('.vt-chapter-t').textContent,
	      mark: ((m.left + m.width / 2 - bar.left) / bar.width) * d };
	  }); })()`, &chs); err != nil {
		t.Fatal(err)
	}
	for _, c := range chs {
		w := want[c.Product]
		label := fmt.Sprintf("%d:%02d", int(w)/60, int(w)%60)
		if math.Abs(c.Start-w) > 0.05 || c.Label != label {
			t.Errorf("chapter of %s at %.2f s (%q), want %.2f s (%q): the pin's offset from the recording's start", c.Product, c.Start, c.Label, w, label)
		}
		if math.Abs(c.Mark-w) > 0.5 {
			t.Errorf("the scrubber marks %s at %.2f s, want %.2f", c.Product, c.Mark, w)
		}
	}

	// The scrubber is a slider one reaches with the keyboard.
	var aria struct {
		Role, Tab, Text, Max string
	}
	if err := p.Eval(ctx, `(() => { const b = document.querySelector('.vt-rc-bar'); return { role: b.getAttribute('role'), tab: b.getAttribute('tabindex'), text: b.getAttribute('aria-valuetext'), max: b.getAttribute('aria-valuemax') }; })()`, &aria); err != nil {
		t.Fatal(err)
	}
	if aria.Role != "slider" || aria.Tab != "0" || aria.Text == "" || aria.Max == "0" {
		t.Errorf("scrubber: %+v", aria)
	}

	// showsOnly waits until the pinned cards are exactly want (a product id
	// or none), and reports the replay position and the frame's media time.
	cards := func(id, other string) string {
		return fmt.Sprintf(`!!document.querySelector('.vt-pins .vt-card[data-product="%s"]') && !document.querySelector('.vt-pins .vt-card[data-product="%s"]')`, id, other)
	}
	type pos struct {
		Time   float64  `json:"time"`
		Media  *float64 `json:"media"`
		Paused bool     `json:"paused"`
	}
	where := func() pos {
		var v pos
		if err := p.Eval(ctx, `({ time: __vitrine.video.currentTime, media: __vitrine.mediaNow(), paused: __vitrine.video.paused })`, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	key := func(k string) {
		if err := p.Eval(ctx, `(() => { const b = document.querySelector('.vt-rc-bar'); b.focus(); b.dispatchEvent(new KeyboardEvent('keydown', { key: `+"`"+k+"`"+`, bubbles: true, cancelable: true })); })()`, nil); err != nil {
			t.Fatal(err)
		}
	}
	p0, p1 := e.products[0], e.products[1]

	// Scrub to the second chapter with its mark: its card, at its pin.
	if err := p.Eval(ctx, `document.querySelector('.vt-rc-mark[data-product="`+p1+`"]').click()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(ctx, cards(p1, p0), 20*time.Millisecond); err != nil {
		t.Fatalf("scrubbed to the chapter of %s: its card is not shown alone: %v", p1, err)
	}
	v := where()
	if v.Media == nil || *v.Media-pinAt[p1] < -300 || *v.Media-pinAt[p1] > 1500 || math.Abs(v.Time-want[p1]) > 1.5 {
		t.Fatalf("the card of %s showed at replay %.2f s, frame %v ms from its pin; want about %.2f s", p1, v.Time, deref(v.Media)-pinAt[p1], want[p1])
	}
	t.Logf("chapter %s: card shown at %.2f s (pin at %.2f), frame %.0f ms after the pin", p1, v.Time, want[p1], *v.Media-pinAt[p1])
	shot(t, ctx, p, "chapter2")

	// Home: the start, before any pin: no card.
	key("Home")
	if err := p.WaitFor(ctx, `__vitrine.video.currentTime < 2.5 && !document.querySelector('.vt-pins .vt-card')`, 50*time.Millisecond); err != nil {
		t.Fatalf("Home: %+v: %v", where(), err)
	}
	// PageDown on the slider: the next chapter, the first product.
	key("PageDown")
	if err := p.WaitFor(ctx, cards(p0, p1), 20*time.Millisecond); err != nil {
		t.Fatalf("PageDown to the first chapter: %+v: %v", where(), err)
	}
	v = where()
	if math.Abs(v.Time-want[p0]) > 1.5 {
		t.Fatalf("PageDown: at %.2f s, want the chapter of %s at %.2f", v.Time, p0, want[p0])
	}
	// Space pauses, k plays, the arrows move 5 s.
	key(" ")
	if err := p.WaitFor(ctx, `__vitrine.video.paused && document.querySelector('.vt-rc').dataset.state === "paused"`, 50*time.Millisecond); err != nil {
		t.Fatalf("space does not pause: %v", err)
	}
	before := where().Time
	key("ArrowRight")
	if after := where().Time; math.Abs(after-before-5) > 0.3 {
		t.Errorf("ArrowRight: %.2f -> %.2f s, want 5 s on", before, after)
	}
	shot(t, ctx, p, "paused")
	key("k")
	if err := p.WaitFor(ctx, `!__vitrine.video.paused`, 50*time.Millisecond); err != nil {
		t.Fatalf("k does not play: %v", err)
	}

	replayOnPhone(t, ctx, p, want[p0])
}

// replayControlsJS measures the replay's control bar: its box and its
// controls', whether each control is what a finger at its centre touches,
// and the page's other controls, and the page's width.
const replayControlsJS = `(() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return {X: r.x, Y: r.y, W: r.width, H: r.height}; };
  const rc = document.querySelector('.vt-rc'), parts = {play: '.vt-rc-play', scrub: '.vt-rc-bar', time: '.vt-rc-time'};
  const out = {W: innerWidth, H: innerHeight, scrollW: document.documentElement.scrollWidth, scrollY, bar: box(rc), parts: {}, covered: []};
  for (const [name, sel] of Object.entries(parts)) {
    const el = rc.querySelector(sel), b = box(el);
    out.parts[name] = b;
    const at = document.elementFromPoint(b.X + b.W / 2, b.Y + b.H / 2);
    if (!at || !(el.contains(at) || (name === 'scrub' && at.closest('.vt-rc-marks')))) out.covered.push(name + ' by ' + (at ? at.className || at.tagName : 'nothing'));
  }
  // And the bar covers none of the page's other controls.
  for (const el of document.querySelectorAll('.vt-actions .vt-icon, .vt-chat-form input, .vt-send, .vt-leave')) {
    if (el.offsetParent === null) continue;
    const b = box(el), at = document.elementFromPoint(b.X + b.W / 2, b.Y + b.H / 2);
    if (!at || !el.contains(at)) out.covered.push(el.className + ' (' + (el.getAttribute('aria-label') || el.name || el.textContent) + ') by ' + (at ? at.className || at.tagName : 'nothing'));
  }
  const chapter = document.querySelector('.vt-chapter');
  out.chapter = chapter && chapter.offsetParent !== null ? box(chapter) : null;
  return out;
})()`

// replayOnPhone: the replay on a phone held upright (390×844) and on its
// side: the control bar fits the screen, nothing covers its controls, the
// scrubber is wide enough to aim at, axe finds nothing serious, and the
// keyboard reaches and works the controls (Tab to play/pause, Enter,
// Tab to the scrubber, the arrows), with a visible focus ring.
func replayOnPhone(t *testing.T, ctx context.Context, p *browser.Page, chapter float64) {
	t.Helper()
	type controlsGeometry struct {
		W, H    float64
		ScrollW float64         `json:"scrollW"`
		ScrollY float64         `json:"scrollY"`
		Bar     rect            `json:"bar"`
		Parts   map[string]rect `json:"parts"`
		Covered []string        `json:"covered"`
		Chapter *rect           `json:"chapter"`
	}
	for _, sc := range []screen{{"portrait", 390, 844, true, 0}, {"landscape", 844, 390, true, 0}} {
		if err := p.SetViewport(ctx, sc.w, sc.h, sc.mobile); err != nil {
			t.Fatal(err)
		}
		time.Sleep(400 * time.Millisecond)
		var g controlsGeometry
		if err := p.Eval(ctx, replayControlsJS, &g); err != nil {
			t.Fatal(err)
		}
		shot(t, ctx, p, "phone-"+sc.name)
		t.Logf("%s: viewport %.0f×%.0f, control bar %v, parts %v, first chapter %v", sc.name, g.W, g.H, g.Bar, g.Parts, g.Chapter)
		if !g.Bar.inside(g.W, g.H) || g.ScrollW > g.W+0.5 || g.ScrollY != 0 {
			t.Errorf("%s: the control bar %v overflows the %.0f×%.0f viewport (page %.0f px wide, scrolled %.0f)", sc.name, g.Bar, g.W, g.H, g.ScrollW, g.ScrollY)
		}
		for name, r := range g.Parts {
			if !r.inside(g.W, g.H) || r.X < g.Bar.X-1 || r.X+r.W > g.Bar.X+g.Bar.W+1 {
				t.Errorf("%s: the %s control %v is out of the bar %v or the viewport", sc.name, name, r, g.Bar)
			}
		}
		if len(g.Covered) > 0 {
			t.Errorf("%s: controls covered: %v", sc.name, g.Covered)
		}
		if s := g.Parts["scrub"]; s.W < 0.5*g.W {
			t.Errorf("%s: the scrubber is %.0f px wide of %.0f: too short to aim at", sc.name, s.W, g.W)
		}
		if pl := g.Parts["play"]; pl.W < 40 || pl.H < 40 {
			t.Errorf("%s: the play button is %.0f×%.0f px: too small for a finger", sc.name, pl.W, pl.H)
		}
		if g.Chapter != nil && !g.Chapter.inside(g.W, g.H) {
			t.Errorf("%s: the first chapter %v is out of the viewport", sc.name, *g.Chapter)
		}
		if sc.name == "portrait" {
			checkAxe(t, ctx, p, "replay-phone-portrait")
		}
	}
	if err := p.SetViewport(ctx, 390, 844, true); err != nil {
		t.Fatal(err)
	}

	// The keyboard, from the top of the page: Tab reaches play/pause.
	if err := p.Eval(ctx, `document.activeElement?.blur(); __vitrine.video.pause(); true`, nil); err != nil {
		t.Fatal(err)
	}
	press := func(k string) {
		t.Helper()
		if err := p.Press(ctx, k, false); err != nil {
			t.Fatal(err)
		}
	}
	focused := func() string {
		t.Helper()
		var c string
		if err := p.Eval(ctx, `(() => { const a = document.activeElement; return a ? (a.className || a.tagName) + '' : ''; })()`, &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	var order []string
	for range 40 {
		press("Tab")
		order = append(order, focused())
		if strings.Contains(order[len(order)-1], "vt-rc-play") {
			break
		}
	}
	if !strings.Contains(order[len(order)-1], "vt-rc-play") {
		t.Fatalf("Tab never reaches play/pause: %q", order)
	}
	t.Logf("Tab order to play/pause: %q", order)
	press("Enter")
	if err := p.WaitFor(ctx, `!__vitrine.video.paused && document.querySelector('.vt-rc').dataset.state === "playing"`, 50*time.Millisecond); err != nil {
		t.Fatalf("Enter on play/pause does not play: %v", err)
	}
	press(" ")
	if err := p.WaitFor(ctx, `__vitrine.video.paused && document.querySelector('.vt-rc').dataset.state === "paused" && document.querySelector('.vt-rc-play').getAttribute('aria-label') === 'Play'`, 50*time.Millisecond); err != nil {
		t.Fatalf("Space on play/pause does not pause: %v", err)
	}
	press("Tab")
	if f := focused(); !strings.Contains(f, "vt-rc-bar") {
		t.Fatalf("Tab after play/pause: focus on %q, want the scrubber", f)
	}
	var ring string
	if err := p.Eval(ctx, `getComputedStyle(document.activeElement).boxShadow`, &ring); err != nil {
		t.Fatal(err)
	}
	if ring == "" || ring == "none" {
		t.Errorf("the focused scrubber shows no focus ring")
	}
	press("Home")
	press("PageDown")
	var at float64
	if err := p.WaitFor(ctx, fmt.Sprintf(`Math.abs(__vitrine.video.currentTime - %f) < 1.5`, chapter), 50*time.Millisecond); err != nil {
		_ = p.Eval(ctx, `__vitrine.video.currentTime`, &at)
		t.Fatalf("Home, PageDown on the scrubber: at %.2f s, want the first chapter at %.2f", at, chapter)
	}
	press("ArrowRight")
	if err := p.WaitFor(ctx, fmt.Sprintf(`Math.abs(__vitrine.video.currentTime - %f) < 1.5`, chapter+5), 50*time.Millisecond); err != nil {
		_ = p.Eval(ctx, `__vitrine.video.currentTime`, &at)
		t.Fatalf("ArrowRight on the scrubber: at %.2f s, want %.2f", at, chapter+5)
	}
	shot(t, ctx, p, "phone-keyboard")
}

func deref(f *float64) float64 {
	if f == nil {
		return math.NaN()
	}
	return *f
}

// shot saves a screenshot of the page under <test>.<name>.png.
func shot(t *testing.T, ctx context.Context, p *browser.Page, name string) {
	t.Helper()
	path := filepath.Join(browser.ArtifactsDir(), fmt.Sprintf("%s.%s.png", t.Name(), name))
	if err := p.Screenshot(ctx, path); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot saved to %s", path)
}

// TestPlayerBFramesPrefersLLHLS: a push with B-frames (x264's default)
// plays over LL-HLS at its full frame rate, not over WebRTC at a third of
// it, unless the seller chose otherwise: the campaign's transport webrtc
// plays WebRTC (and keeps it past the page's second look at the stream),
// llhls plays LL-HLS even a stream WebRTC carries whole, and the page's
// ?transport= overrides both. The preflight and the stream view say, in
// plain words, what the choice does with the stream.
func TestPlayerBFramesPrefersLLHLS(t *testing.T) {
	e := newPlayerEnv(t, true)
	testenv.RequireFFmpeg(t)
	src := testenv.DefaultSource(60)
	src.BFrames = 2
	push := testenv.Push(t, src, e.c.Ingest.RTMP)
	waitOnline(t, e.s, e.c.ID, 15*time.Second)
	time.Sleep(time.Second)

	// setTransport sets the campaign's transport as an edit before the
	// live would have (a live campaign is not editable).
	setTransport := func(tr string) {
		t.Helper()
		c, err := e.s.store.GetCampaign(t.Context(), e.c.ID)
		if err != nil {
			t.Fatal(err)
		}
		c.Transport = tr
		if err := e.s.store.UpdateCampaign(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	// views checks the preflight's b_frames warning (want: words it says,
	// "" for none) and what the stream view says the player plays.
	views := func(name, want, player string, bframes bool) {
		t.Helper()
		var pre struct {
			Warnings []struct{ Code, Message string } `json:"warnings"`
		}
		e.admin.must(200, "GET", "/api/v1/campaigns/"+e.c.ID+"/preflight", nil, &pre)
		got := ""
		for _, w := range pre.Warnings {
			if w.Code == "b_frames" {
				got = w.Message
				t.Logf("%s: preflight: %s", name, w.Message)
			}
		}
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%s: the preflight's B-frames warning is %q, want one saying %q", name, got, want)
		}
		var c struct {
			Transport string `json:"transport"`
			Stream    struct {
				BFrames bool   `json:"b_frames"`
				Player  string `json:"player"`
				WebRTC  struct {
					Notes []string `json:"notes"`
				} `json:"webrtc"`
			} `json:"stream"`
		}
		e.admin.must(200, "GET", "/api/v1/campaigns/"+e.c.ID, nil, &c)
		if c.Stream.BFrames != bframes || (bframes && len(c.Stream.WebRTC.Notes) == 0) || c.Stream.Player != player {
			t.Errorf("%s: the stream view says %+v, want B-frames %v and the player on %s", name, c.Stream, bframes, player)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	fps := func(p *browser.Page) float64 {
		var fps float64
		if err := p.Eval(ctx, `new Promise((ok) => { const v = __vitrine.video, a = v.getVideoPlaybackQuality().totalVideoFrames;
		  setTimeout(() => ok((v.getVideoPlaybackQuality().totalVideoFrames - a) / 2), 2000); })`, &fps); err != nil {
			t.Fatal(err)
		}
		return fps
	}

	// One browser, the page opened again for each case.
	p := e.page(ctx, "?transport=hls")
	open := func(query string) {
		t.Helper()
		if err := p.Navigate(ctx, e.base+"/watch/"+e.c.ID+query); err != nil {
			t.Fatal(err)
		}
	}

	// auto (the default): LL-HLS at the full frame rate.
	views("auto", "uses LL-HLS instead", "llhls", true)
	open("")
	waitPlaying(t, ctx, p, "hls")
	f := fps(p)
	t.Logf("auto: B-frame stream over LL-HLS: %.1f frames/s decoded", f)
	if f < 20 {
		t.Errorf("LL-HLS plays %.1f frames/s of a 30 fps stream", f)
	}

	// ?transport=whep on the page: WebRTC.
	open("?transport=whep")
	if err := p.WaitFor(ctx, `window.__vitrine && __vitrine.transport === "whep" && __vitrine.video.getVideoPlaybackQuality().totalVideoFrames > 5`, 100*time.Millisecond); err != nil {
		t.Fatalf("?transport=whep does not play WebRTC: %v", err)
	}

	// The seller chose WebRTC: WebRTC, B-frames or not, still after the
	// page's second look at the stream (3 s in); the preflight says what
	// it costs.
	setTransport("webrtc")
	views("webrtc", "a third of the frames", "webrtc", true)
	open("")
	if err := p.WaitFor(ctx, `window.__vitrine && __vitrine.transport === "whep" && __vitrine.video.getVideoPlaybackQuality().totalVideoFrames > 5`, 100*time.Millisecond); err != nil {
		t.Fatalf("transport webrtc does not play WebRTC: %v", err)
	}
	time.Sleep(4500 * time.Millisecond)
	var tr string
	if err := p.Eval(ctx, `__vitrine.transport`, &tr); err != nil {
		t.Fatal(err)
	}
	if tr != "whep" {
		t.Errorf("transport webrtc: the page went to %q after its second look", tr)
	}
	t.Logf("webrtc: B-frame stream over WebRTC: %.1f frames/s decoded", fps(p))

	// The seller chose LL-HLS; ?transport=whep still overrides it.
	setTransport("llhls")
	views("llhls", "", "llhls", true)
	open("?transport=whep")
	if err := p.WaitFor(ctx, `window.__vitrine && __vitrine.transport === "whep" && __vitrine.video.getVideoPlaybackQuality().totalVideoFrames > 5`, 100*time.Millisecond); err != nil {
		t.Fatalf("?transport=whep does not override transport llhls: %v", err)
	}

	// A stream without B-frames, which WebRTC carries whole: llhls still
	// plays LL-HLS.
	push.Stop()
	src.BFrames = 0
	testenv.Push(t, src, e.c.Ingest.RTMP)
	if err := waitUntil(30*time.Second, func() bool {
		var c struct {
			Stream *struct {
				Online  bool       `json:"online"`
				BFrames bool       `json:"b_frames"`
				Tracks  []struct{} `json:"tracks"`
			} `json:"stream"`
		}
		e.admin.must(200, "GET", "/api/v1/campaigns/"+e.c.ID, nil, &c)
		return c.Stream != nil && c.Stream.Online && !c.Stream.BFrames && len(c.Stream.Tracks) > 0
	}); err != nil {
		t.Fatalf("the push without B-frames: %v", err)
	}
	time.Sleep(time.Second)
	views("llhls, no B-frames", "", "llhls", false)
	open("")
	waitPlaying(t, ctx, p, "hls")
}

// waitUntil polls ok every 200 ms until it holds or d has passed.
func waitUntil(d time.Duration, ok func() bool) error {
	for end := time.Now().Add(d); ; time.Sleep(200 * time.Millisecond) {
		if ok() {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("not within %s", d)
		}
	}
}
