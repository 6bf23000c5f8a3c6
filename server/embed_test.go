package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"vitrine/internal/browser"
)

// TestEmbedCrossOrigin: a seller's product page, on another origin than
// Vitrine's, with the product widget, a campaign's widget and the floating
// player in use (a chat message, an add to cart, a purchase reported by
// the page): the console stays clean — no CORS refusal, no failed load, no
// error — the widgets' beacons reach the analytics, and the floating
// player shows one close button and its chat input whole.
func TestEmbedCrossOrigin(t *testing.T) {
	e := newPlayerEnv(t, true)
	e.pin(e.products[0])
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			w.Header().Set("Content-Type", "image/x-icon")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>Shop</title><link rel="icon" href="data:,"></head><body>
<h1>Leather bag</h1>
<div id="widget" data-vitrine-product="%s"></div>
<div id="gallery" data-vitrine-campaign="%s"></div>
<script>window.Vitrine = window.Vitrine || {q: []}; window.__cart = [];
Vitrine.q.push(['on', 'add_to_cart', p => window.__cart.push(p)]);</script>
<script src="%s/embed.js" async></script>
</body></html>`, e.products[0], e.c.ID, e.base)
	}))
	t.Cleanup(shop.Close)
	if strings.SplitN(shop.URL, "/", 4)[2] == strings.SplitN(e.base, "/", 4)[2] {
		t.Fatal("the shop and Vitrine share an origin")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b := browser.Launch(t, browser.WithArgs("--user-agent="+viewerUA))
	p, err := b.NewPage(ctx, "about:blank")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetViewport(ctx, 1280, 800, false); err != nil {
		t.Fatal(err)
	}
	if err := p.Navigate(ctx, shop.URL+"/bag"); err != nil {
		t.Fatal(err)
	}
	browser.ScreenshotOnFailure(t, p, browser.ArtifactsDir())
	t.Cleanup(func() { saveScreenshot(t, p) })
	t.Cleanup(func() {
		if t.Failed() {
			for _, l := range p.Console() {
				t.Log(l)
			}
		}
	})

	// Both widgets render (GET /embed/products/{id} and /live/{id}/info
	// from the shop's origin).
	for _, el := range []string{"widget", "gallery"} {
		w := `document.getElementById('` + el + `').shadowRoot`
		if err := p.WaitFor(ctx, `!!`+w+` && !!`+w+`.querySelector('.watch')`, 50*time.Millisecond); err != nil {
			t.Fatalf("%s not rendered: %v", el, err)
		}
	}
	if err := p.Eval(ctx, `document.getElementById('widget').shadowRoot.querySelector('.watch').click()`, nil); err != nil {
		t.Fatal(err)
	}
	fp := `document.querySelector('[data-vitrine-floating]').shadowRoot`
	if err := p.WaitFor(ctx, `!!document.querySelector('[data-vitrine-floating]')`, 50*time.Millisecond); err != nil {
		t.Fatalf("floating player not opened: %v", err)
	}

	// In the player: the pinned card is there, a chat message goes out
	// and the add to cart reaches the page.
	frame := "/watch/" + e.c.ID
	var ready bool
	deadline := time.Now().Add(30 * time.Second)
	for !ready && time.Now().Before(deadline) {
		_ = p.EvalInFrame(ctx, frame, `!!document.querySelector('.vt-card .vt-add') && !!document.querySelector('.vt-text-in')`, &ready)
		if !ready {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if !ready {
		t.Fatal("the floating player has no pinned card or chat input")
	}

	// One close button: the player's own (Leave); the frame's ✕ only
	// while minimised.
	var closes int
	if err := p.Eval(ctx, `[...`+fp+`.querySelectorAll('button')].filter(b => /close/i.test(b.getAttribute('aria-label')) && b.offsetParent !== null).length`, &closes); err != nil {
		t.Fatal(err)
	}
	var leaves int
	if err := p.EvalInFrame(ctx, frame, `[...document.querySelectorAll('.vt-top button')].filter(b => /leave|close/i.test(b.getAttribute('aria-label')) && b.offsetParent !== null).length`, &leaves); err != nil {
		t.Fatal(err)
	}
	if closes+leaves != 1 {
		t.Errorf("the open floating player shows %d close buttons of its own and %d in the player, want one in all", closes, leaves)
	}

	// The chat input is whole inside the frame, and not covered.
	var whole string
	if err := p.EvalInFrame(ctx, frame, `(() => {
		const bad = [];
		for (const sel of ['.vt-text-in', '.vt-send']) {
			const el = document.querySelector(sel), r = el.getBoundingClientRect();
			if (r.top < 0 || r.left < 0 || r.bottom > innerHeight + 0.5 || r.right > innerWidth + 0.5 || r.height < 30)
				bad.push(sel + ' at ' + JSON.stringify([r.left, r.top, r.right, r.bottom]) + ' in ' + innerWidth + 'x' + innerHeight);
			else if (!el.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)))
				bad.push(sel + ' covered by ' + document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)?.className);
		}
		return bad.join('; ');
	})()`, &whole); err != nil {
		t.Fatal(err)
	}
	if whole != "" {
		t.Errorf("chat input cut off: %s", whole)
	}

	shot := browser.ArtifactsDir() + "/TestEmbedCrossOrigin.open.png"
	if err := p.Screenshot(ctx, shot); err == nil {
		t.Logf("the open floating player: %s", shot)
	}

	var sent bool
	if err := p.EvalInFrame(ctx, frame, `(() => { const f = document.querySelector('.vt-chat-form');
		f.querySelector('.vt-name-in').value = 'Ann'; f.querySelector('.vt-text-in').value = 'Hello from the shop';
		f.requestSubmit(); document.querySelector('.vt-card .vt-add').click(); return true; })()`, &sent); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(ctx, `window.__cart.length === 1`, 50*time.Millisecond); err != nil {
		t.Fatalf("add to cart not handed to the shop page: %v", err)
	}
	var chatted bool
	deadline = time.Now().Add(15 * time.Second)
	for !chatted && time.Now().Before(deadline) {
		_ = p.EvalInFrame(ctx, frame, `[...document.querySelectorAll('.vt-chat li')].some(l => l.textContent.includes('Hello from the shop'))`, &chatted)
		if !chatted {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if !chatted {
		t.Error("the chat message did not come back in the floating player")
	}

	// The page reports a purchase; minimised, the player shows the ✕.
	if err := p.Eval(ctx, `Vitrine.purchase({amount: '129.00', currency: 'EUR', product_ids: ['`+e.products[0]+`']}), true`, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Eval(ctx, fp+`.querySelector('[aria-label=Minimise]').click()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(ctx, fp+`.querySelector('.x').offsetParent !== null`, 50*time.Millisecond); err != nil {
		t.Errorf("minimised, the floating player has no close button: %v", err)
	}

	// A second page of the shop: the widget (its beacons sent from the
	// shop's origin with a preflight) and the player that followed.
	if err := p.Navigate(ctx, shop.URL+"/other"); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(ctx, `!!document.querySelector('[data-vitrine-floating]') && !!document.getElementById('widget').shadowRoot`, 50*time.Millisecond); err != nil {
		t.Fatalf("the second page: %v", err)
	}
	waitTracked(t, e.s, e.c.ID, "widget.view:product", "widget.click:product", "widget.view:gallery", "widget.view:player", "cart.add")
	time.Sleep(5 * time.Second) // a beacon's batch (every 4 s) and its answer

	var bad []string
	for _, l := range p.Console() {
		low := strings.ToLower(l)
		if strings.Contains(low, "cors") || strings.Contains(low, "access-control") || strings.HasPrefix(low, "exception") ||
			strings.HasPrefix(low, "console.error") || strings.HasPrefix(low, "log.error") || strings.Contains(low, "failed to load") {
			bad = append(bad, l)
		}
	}
	if len(bad) > 0 {
		t.Errorf("console errors on the shop's page:\n%s", strings.Join(bad, "\n"))
	}
}
