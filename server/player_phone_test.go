package server

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vitrine/internal/browser"
	"vitrine/internal/testenv"
)

// The player page as a shopper holds it: a phone upright (390×844) and on
// its side (844×390), and a desktop (1280×800), with a horizontal (16:9)
// and a vertical (9:16) stream. In each state a shopper goes through
// (watching with a pinned product, typing in the chat with the keyboard
// open, after a vote, with the catalog open) the picture stays in the
// viewport and nothing overflows it; a screenshot of each state is saved
// in the artifacts directory (phone-<stream>-<screen>-<state>.png).

// phoneGeometry is what the page measures of itself.
type phoneGeometry struct {
	W, H      float64 // innerWidth, innerHeight
	ScrollW   float64 `json:"scrollW"`
	ScrollY   float64 `json:"scrollY"`
	Video     rect    `json:"video"`
	Picture   rect    `json:"picture"` // where the frame is drawn (object-fit, object-position)
	Fit       string  `json:"fit"`
	Input     *rect   `json:"input"`
	Focused   bool    `json:"focused"`
	Overlays  []named `json:"overlays"`
	VideoSize [2]int  `json:"videoSize"`
}

type rect struct{ X, Y, W, H float64 }

type named struct {
	Name string `json:"name"`
	rect
}

func (r rect) String() string { return fmt.Sprintf("%.0f,%.0f %.0f×%.0f", r.X, r.Y, r.W, r.H) }

func (r rect) inside(w, h float64) bool {
	const eps = 1.5
	return r.W > 0 && r.H > 0 && r.X >= -eps && r.Y >= -eps && r.X+r.W <= w+eps && r.Y+r.H <= h+eps
}

const geometryJS = `(() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return {X: r.x, Y: r.y, W: r.width, H: r.height}; };
  const v = __vitrine.video, vb = box(v), cs = getComputedStyle(v);
  const vw = v.videoWidth || 1, vh = v.videoHeight || 1;
  const s = cs.objectFit === 'cover' ? Math.max(vb.W / vw, vb.H / vh) : Math.min(vb.W / vw, vb.H / vh);
  const [px, py] = cs.objectPosition.split(' ').map((p) => parseFloat(p) / 100);
  const pw = vw * s, ph = vh * s;
  const input = document.querySelector('.vt-text-in');
  const overlays = [];
  for (const sel of ['.vt-top', '.vt-actions', '.vt-side', '.vt-pins', '.vt-poll', '.vt-catalog', '.vt-mute', '.vt-like', '.vt-catalog-btn']) {
    const el = document.querySelector(sel);
    if (el && el.offsetParent !== null && getComputedStyle(el).display !== 'none') overlays.push({name: sel, ...box(el)});
  }
  return {W: innerWidth, H: innerHeight, scrollW: document.documentElement.scrollWidth, scrollY: scrollY,
    video: vb, picture: {X: vb.X + (vb.W - pw) * px, Y: vb.Y + (vb.H - ph) * py, W: pw, H: ph}, fit: cs.objectFit,
    input: input && input.offsetParent !== null ? box(input) : null, focused: document.activeElement === input,
    overlays, videoSize: [v.videoWidth, v.videoHeight]};
})()`

type screen struct {
	name   string
	w, h   int
	mobile bool
	kb     int // the keyboard's height, 0 on a desktop
}

var phoneScreens = []screen{
	{"portrait", 390, 844, true, 336},
	{"landscape", 844, 390, true, 190},
	{"desktop", 1280, 800, false, 0},
}

// checkGeometry measures the page, checks that the video is in view and
// nothing overflows, and saves a screenshot named after the state.
func checkGeometry(t *testing.T, ctx context.Context, p *browser.Page, name string) phoneGeometry {
	t.Helper()
	time.Sleep(400 * time.Millisecond) // layout and paint settle (animations are .25 s)
	var g phoneGeometry
	if err := p.Eval(ctx, geometryJS, &g); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(browser.ArtifactsDir(), name+".png")
	if err := p.Screenshot(ctx, path); err != nil {
		t.Errorf("screenshot: %v", err)
	}
	t.Logf("%s: viewport %.0f×%.0f, video %v (%s, picture %v of a %dx%d frame), input %v focused %v; screenshot %s",
		name, g.W, g.H, g.Video, g.Fit, g.Picture, g.VideoSize[0], g.VideoSize[1], g.Input, g.Focused, path)
	if !g.Video.inside(g.W, g.H) {
		t.Errorf("%s: the video %v is not within the %.0f×%.0f viewport", name, g.Video, g.W, g.H)
	}
	if g.VideoSize[0] == 0 {
		// no picture (before the live)
	} else if g.Fit == "contain" && !g.Picture.inside(g.W, g.H) {
		t.Errorf("%s: the picture %v is not fully in the %.0f×%.0f viewport", name, g.Picture, g.W, g.H)
	}
	if g.VideoSize[0] > 0 && g.Picture.W < g.W*0.4 && g.Picture.H < g.H*0.6 {
		t.Errorf("%s: the picture %v is small in a %.0f×%.0f viewport", name, g.Picture, g.W, g.H)
	}
	if g.ScrollW > g.W+0.5 {
		t.Errorf("%s: the page is %.0f px wide in a %.0f px viewport", name, g.ScrollW, g.W)
	}
	if g.ScrollY != 0 {
		t.Errorf("%s: the page scrolled by %.0f px", name, g.ScrollY)
	}
	for _, o := range g.Overlays {
		if !o.inside(g.W, g.H) {
			t.Errorf("%s: %s at %v is out of the %.0f×%.0f viewport", name, o.Name, o.rect, g.W, g.H)
		}
	}
	return g
}

// checkAxe runs axe-core on the page as it is: no serious or critical
// violation of WCAG 2 A and AA; the others are logged.
func checkAxe(t *testing.T, ctx context.Context, p *browser.Page, name string) {
	t.Helper()
	violations, err := p.Axe(ctx, axeScript())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Errorf("%s: axe %s (%s): %s %+v", name, v.ID, v.Impact, v.Help, v.Nodes)
		} else {
			t.Logf("%s: axe %s (%s): %s %+v", name, v.ID, v.Impact, v.Help, v.Nodes)
		}
	}
}

func TestPlayerPhone(t *testing.T) {
	for _, tc := range []struct {
		name string
		w, h int
		fit  string // on an upright phone
	}{
		{"16x9", 640, 360, "contain"},
		{"9x16", 1080, 1920, "cover"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPlayerEnv(t, true)
			testenv.RequireFFmpeg(t)
			src := testenv.DefaultSource(150)
			src.Width, src.Height, src.BFrames = tc.w, tc.h, 0
			testenv.Push(t, src, e.c.Ingest.RTMP)
			waitOnline(t, e.s, e.c.ID, 15*time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
			defer cancel()
			p := e.page(ctx, "")
			if err := p.SetViewport(ctx, 390, 844, true); err != nil {
				t.Fatal(err)
			}
			if err := p.WaitFor(ctx, `__vitrine.transport !== "" && __vitrine.video.videoWidth > 0 && __vitrine.video.getVideoPlaybackQuality().totalVideoFrames > 10`, 100*time.Millisecond); err != nil {
				t.Fatalf("the page does not play: %v", err)
			}
			e.pin(e.products[0])
			e.pin(e.products[1])
			if err := p.WaitFor(ctx, `document.querySelectorAll('.vt-pins .vt-card').length === 2`, 50*time.Millisecond); err != nil {
				t.Fatalf("pins not shown: %v", err)
			}
			for _, sc := range phoneScreens {
				prefix := "phone-" + tc.name + "-" + sc.name + "-"
				if err := p.SetViewport(ctx, sc.w, sc.h, sc.mobile); err != nil {
					t.Fatal(err)
				}
				g := checkGeometry(t, ctx, p, prefix+"live")
				if sc.name == "portrait" && g.Fit != tc.fit {
					t.Errorf("%s: object-fit %s, want %s", sc.name, g.Fit, tc.fit)
				}
				portrait := sc.name == "portrait"
				if portrait {
					checkAxe(t, ctx, p, prefix+"live")
				}

				// The chat, keyboard open: the viewport shrinks by the
				// keyboard's height, as the visual viewport does.
				if err := p.Eval(ctx, `document.querySelector('.vt-text-in').focus(); document.querySelector('.vt-text-in').value = 'Is it real leather?'`, nil); err != nil {
					t.Fatal(err)
				}
				if sc.kb > 0 {
					if err := p.SetViewport(ctx, sc.w, sc.h-sc.kb, sc.mobile); err != nil {
						t.Fatal(err)
					}
				}
				g = checkGeometry(t, ctx, p, prefix+"keyboard")
				if g.Input == nil || !g.Input.inside(g.W, g.H) || !g.Focused {
					t.Errorf("keyboard open: the chat input %v (focused %v) is not in the %.0f×%.0f viewport", g.Input, g.Focused, g.W, g.H)
				}
				if err := p.Eval(ctx, `document.querySelector('.vt-send').click(); document.activeElement.blur()`, nil); err != nil {
					t.Fatal(err)
				}
				if err := p.WaitFor(ctx, `[...document.querySelectorAll('.vt-chat .vt-text')].some(x => x.textContent === 'Is it real leather?')`, 50*time.Millisecond); err != nil {
					t.Fatalf("the message is not in the chat: %v", err)
				}
				if err := p.SetViewport(ctx, sc.w, sc.h, sc.mobile); err != nil {
					t.Fatal(err)
				}
				checkGeometry(t, ctx, p, prefix+"chatted")

				// A vote.
				var raw json.RawMessage
				q := "Which colour? (" + sc.name + ")"
				if st := e.admin.do("POST", "/api/v1/campaigns/"+e.c.ID+"/polls", map[string]any{"question": q, "options": []string{"Tan", "Black", "Olive"}}, &raw); st/100 != 2 {
					t.Fatalf("open poll: %d %s", st, raw)
				}
				if err := p.WaitFor(ctx, `document.querySelector('.vt-poll:not([hidden]) .vt-poll-q')?.textContent === `+jsString(q), 50*time.Millisecond); err != nil {
					t.Fatalf("poll not shown: %v", err)
				}
				if err := p.Eval(ctx, `document.querySelector('.vt-option[data-option="1"]').click()`, nil); err != nil {
					t.Fatal(err)
				}
				if err := p.WaitFor(ctx, `__vitrine.overlay.state.poll.total >= 1`, 50*time.Millisecond); err != nil {
					t.Fatalf("vote not counted: %v", err)
				}
				checkGeometry(t, ctx, p, prefix+"voted")
				if portrait {
					checkAxe(t, ctx, p, prefix+"voted")
				}

				// The catalog.
				if err := p.Eval(ctx, `document.querySelector('.vt-catalog-btn').click()`, nil); err != nil {
					t.Fatal(err)
				}
				if err := p.WaitFor(ctx, `!document.querySelector('.vt-catalog').hidden && document.querySelectorAll('.vt-catalog .vt-card').length === 2`, 50*time.Millisecond); err != nil {
					t.Fatalf("catalog not open: %v", err)
				}
				checkGeometry(t, ctx, p, prefix+"catalog")
				if portrait {
					checkAxe(t, ctx, p, prefix+"catalog")
				}
				if err := p.Eval(ctx, `document.querySelector('.vt-catalog .vt-close').click()`, nil); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestPlayerPhonePrelive: before the live on a phone, the page's top is
// reachable, no empty status floats over it, and the SMS form takes its
// own placeholder's format and says what is wrong in plain words.
func TestPlayerPhonePrelive(t *testing.T) {
	e := newPlayerEnv(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := e.page(ctx, "")
	if err := p.SetViewport(ctx, 390, 844, true); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(ctx, `__vitrine.phase === "upcoming" && !!document.querySelector('.vt-countdown')`, 0); err != nil {
		t.Fatalf("upcoming: %v", err)
	}
	var st struct {
		FirstTop, BoxTop float64
		Msg              bool
		CalendarOnTop    bool
		Placeholder      string
		Label            string
	}
	const stateJS = `(() => { const u = document.querySelector('.vt-upcoming'), a = u.querySelector('a[download]').getBoundingClientRect();
	  const at = document.elementFromPoint(a.x + a.width / 2, a.y + a.height / 2);
	  const m = document.querySelector('.vt-msg'), tel = document.querySelector('.vt-sms input[type=tel]');
	  return {FirstTop: u.firstElementChild.getBoundingClientRect().top, BoxTop: u.getBoundingClientRect().top,
	    Msg: m.offsetParent !== null && getComputedStyle(m).display !== 'none', CalendarOnTop: !!at && !!at.closest('a[download]'),
	    Placeholder: tel.placeholder, Label: (tel.getAttribute('aria-label') || '') + ' ' + document.querySelector('.vt-sms').textContent}; })()`
	if err := p.Eval(ctx, stateJS, &st); err != nil {
		t.Fatal(err)
	}
	if st.FirstTop < st.BoxTop-1 {
		t.Errorf("the prelive page's top is clipped: its first item at %.0f, its box at %.0f", st.FirstTop, st.BoxTop)
	}
	if st.Msg {
		t.Error("an empty status shows over the prelive page")
	}
	if !st.CalendarOnTop {
		t.Error(`something covers "Add to calendar"`)
	}
	if strings.Contains(st.Label, "E.164") {
		t.Errorf("the SMS form says E.164 to shoppers: %q", st.Label)
	}
	checkGeometry(t, ctx, p, "phone-prelive-portrait")
	checkAxe(t, ctx, p, "phone-prelive-portrait")
	submit := func(phone string) string {
		t.Helper()
		if err := p.Eval(ctx, `(() => { const f = document.querySelector('.vt-sms'); f.querySelector('[role=status]').textContent = '';
		  f.querySelector('input[type=tel]').value = `+jsString(phone)+`; f.querySelector('button').click(); })()`, nil); err != nil {
			t.Fatal(err)
		}
		var out string
		if err := p.WaitFor(ctx, `!['', 'Sending…'].includes(document.querySelector('.vt-sms [role=status]').textContent)`, 50*time.Millisecond); err != nil {
			t.Fatalf("SMS %q: no answer: %v", phone, err)
		}
		if err := p.Eval(ctx, `document.querySelector('.vt-sms [role=status]').textContent`, &out); err != nil {
			t.Fatal(err)
		}
		t.Logf("SMS %q: %q", phone, out)
		return out
	}
	for _, bad := range []string{"06 12", "call me"} {
		if out := submit(bad); strings.Contains(out, "E.164") || !strings.Contains(out, "e.g. +33 6 12 34 56 78") {
			t.Errorf("SMS %q: %q, want a plain explanation", bad, out)
		}
	}
	checkGeometry(t, ctx, p, "phone-prelive-sms-error")
	checkAxe(t, ctx, p, "phone-prelive-sms-error")
	if out := submit(st.Placeholder); !strings.HasPrefix(out, "We will text you") {
		t.Errorf("SMS with the placeholder's format %q: %q", st.Placeholder, out)
	}
	if sub := waitTracked(t, e.s, e.c.ID, "alert.subscribe")["alert.subscribe"]; !strings.Contains(sub.Data, "+33612345678") {
		t.Errorf("alert.subscribe recorded as %+v", sub)
	}
	// Landscape: the same page, reachable.
	if err := p.SetViewport(ctx, 844, 390, true); err != nil {
		t.Fatal(err)
	}
	checkGeometry(t, ctx, p, "phone-prelive-landscape")
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}
