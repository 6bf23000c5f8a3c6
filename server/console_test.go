package server

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"vitrine/internal/browser"
	"vitrine/web"
)

// consoleUI drives the console in a headless Chromium as a seller would:
// clicks, typing, keyboard; screenshots and axe-core on every screen.
type consoleUI struct {
	t    *testing.T
	p    *browser.Page
	base string
	ctx  context.Context
}

// axeScript is axe-core's build in the web module's packages (npm ci).
func axeScript() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "web", "node_modules", "axe-core", "axe.min.js")
}

func (u *consoleUI) eval(js string, out any) {
	u.t.Helper()
	if err := u.p.Eval(u.ctx, js, out); err != nil {
		u.t.Fatalf("%v\nconsole:\n%s", err, strings.Join(u.p.Console(), "\n"))
	}
}

func (u *consoleUI) waitFor(what, js string) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 20*time.Second)
	defer cancel()
	if err := u.p.WaitFor(ctx, "!!("+js+")", 50*time.Millisecond); err != nil {
		u.t.Fatalf("waiting for %s: %v\nconsole:\n%s", what, err, strings.Join(u.p.Console(), "\n"))
	}
}

func q(s string) string { b, _ := json.Marshal(s); return string(b) }

// waitText waits for text in the page's visible text.
func (u *consoleUI) waitText(text string) {
	u.t.Helper()
	u.waitFor(fmt.Sprintf("%q on the page", text), fmt.Sprintf(`document.body.innerText.includes(%s)`, q(text)))
}

// byText finds a button or link whose text (or aria-label) is label.
func byText(label string) string {
	return fmt.Sprintf(`([...document.querySelectorAll('button, a, summary, [role=tab]')].find((e) => e.offsetParent !== null && (e.textContent.trim() === %[1]s || e.getAttribute('aria-label') === %[1]s || e.textContent.trim().startsWith(%[1]s + ' '))))`, q(label))
}

// tab selects the tab labelled label.
func (u *consoleUI) tab(label string) {
	u.t.Helper()
	find := fmt.Sprintf(`[...document.querySelectorAll('[role=tab]')].find((e) => e.offsetParent !== null && e.textContent.trim().startsWith(%s))`, q(label))
	u.waitFor("the tab "+q(label), find)
	u.eval(find+`.click(); true`, nil)
	u.waitFor("the tab "+q(label)+" selected", find+`.getAttribute('aria-selected') === 'true'`)
}

// click clicks the visible, enabled button or link labelled label.
func (u *consoleUI) click(label string) {
	u.t.Helper()
	u.waitFor("a control "+q(label), byText(label)+` && !`+byText(label)+`.disabled`)
	u.eval(byText(label)+`.click(); true`, nil)
}

// disabled says whether the control labelled label is disabled.
func (u *consoleUI) disabled(label string) bool {
	u.t.Helper()
	var d bool
	u.waitFor("a control "+q(label), byText(label))
	u.eval(byText(label)+`.disabled === true`, &d)
	return d
}

// fill types value into the field labelled label (its <label> text), as
// input events.
func (u *consoleUI) fill(label, value string) {
	u.t.Helper()
	find := fmt.Sprintf(`(() => { const l = [...document.querySelectorAll('label')].find((l) => l.offsetParent !== null && l.textContent.trim().startsWith(%s)); return l && (l.control || l.querySelector('input,select,textarea')); })()`, q(label))
	u.waitFor("the field "+q(label), find)
	u.eval(fmt.Sprintf(`(() => { const el = %s; el.focus(); el.value = %s; el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); return true })()`, find, q(value)), nil)
}

// check ticks the checkbox or radio whose label holds text.
func (u *consoleUI) check(text string) {
	u.t.Helper()
	find := fmt.Sprintf(`[...document.querySelectorAll('label.check')].find((l) => l.offsetParent !== null && l.textContent.includes(%s))`, q(text))
	u.waitFor("the choice "+q(text), find)
	u.eval(fmt.Sprintf(`(() => { const i = %s.querySelector('input'); if (!i.checked) i.click(); return true })()`, find), nil)
}

// screen saves the screen at a tablet's and a desktop's size (and a
// phone's, for the pages a seller may open on one), then checks it with
// axe-core: no serious or critical violation.
func (u *consoleUI) screen(name string, phone bool) {
	u.t.Helper()
	sizes := []struct {
		name   string
		w, h   int
		mobile bool
	}{{"tablet", 1024, 768, false}, {"desktop", 1440, 900, false}}
	if phone {
		sizes = append(sizes, struct {
			name   string
			w, h   int
			mobile bool
		}{"phone", 390, 844, true})
	}
	for _, s := range sizes {
		if err := u.p.SetViewport(u.ctx, s.w, s.h, s.mobile); err != nil {
			u.t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond) // a frame at the new size
		path := filepath.Join(browser.ArtifactsDir(), "console", fmt.Sprintf("%s.%s.png", name, s.name))
		if err := u.p.Screenshot(u.ctx, path); err != nil {
			u.t.Fatal(err)
		}
	}
	_ = u.p.SetViewport(u.ctx, 1280, 900, false)
	violations, err := u.p.Axe(u.ctx, axeScript())
	if err != nil {
		u.t.Fatal(err)
	}
	for _, v := range violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			u.t.Errorf("%s: axe %s (%s): %s %+v", name, v.ID, v.Impact, v.Help, v.Nodes)
		}
	}
}

// TestConsoleCatalogAndCampaigns: a seller signs in, creates a product and
// a voucher, creates a campaign with them, finds it in the list, edits and
// clones it, and deletes one; the console shows the status rules' refusals
// and the API holds what the forms said.
func TestConsoleCatalogAndCampaigns(t *testing.T) {
	if !web.Built() {
		t.Skip("the console is not built: make web")
	}
	s := startServer(t, nil)
	admin := newAdmin(t, s)
	base := "http://" + s.HTTPAddr().String()
	b := browser.Launch(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, err := b.NewPage(ctx, base+"/console/")
	if err != nil {
		t.Fatal(err)
	}
	browser.ScreenshotOnFailure(t, p, browser.ArtifactsDir())
	u := &consoleUI{t: t, p: p, base: base, ctx: ctx}

	// Sign in: a wrong token is refused in words, the right one opens.
	u.waitFor("the sign-in form", `document.querySelector('input[name=token]') !== null`)
	u.screen("signin", true)
	u.fill("Admin token", "not-the-token")
	u.click("Sign in")
	u.waitText("not the admin token")
	u.fill("Admin token", admin.token)
	u.click("Sign in")
	u.waitText("Livestream campaigns")
	var stored bool
	u.eval(`JSON.stringify(localStorage).includes(`+q(admin.token)+`) || document.cookie.includes('vitrine_session')`, &stored)
	if stored {
		t.Fatal("the token or the session cookie is readable by the page (localStorage or a non-HttpOnly cookie)")
	}

	// Catalog.
	u.click("Products")
	u.waitText("No products yet")
	u.click("Create product")
	u.fill("Name", "Leather bag")
	u.fill("SKU", "BAG-1")
	u.fill("Category", "bags")
	u.fill("Price", "129")
	u.fill("Currency", "EUR")
	u.fill("Stock", "12")
	u.screen("product-form", false)
	u.click("Save")
	u.waitText("Product created")
	u.waitText("Leather bag")
	u.screen("products", true)
	var products struct {
		Items []struct{ ID, Name, Price string }
	}
	admin.must(200, "GET", "/api/v1/products", nil, &products)
	if len(products.Items) != 1 || products.Items[0].Name != "Leather bag" || products.Items[0].Price != "129.00" {
		t.Fatalf("products after the form: %+v", products)
	}

	u.click("Vouchers")
	u.click("Create voucher")
	u.fill("Name", "Autumn 10")
	u.fill("Code", "AUTUMN10")
	u.fill("Percent", "10")
	u.click("Save")
	u.waitText("Voucher created")
	u.screen("vouchers", false)

	// A campaign with both, published; a bad window first.
	u.click("Campaigns")
	u.click("Create campaign")
	u.fill("Livestream title", "Autumn bags")
	u.fill("Description", "New leather bags, live.")
	u.fill("End", "2020-01-01T10:00")
	u.check("Leather bag")
	u.check("Autumn 10")
	u.check("Publish this campaign")
	u.click("Save")
	u.waitFor("the window's error next to its field", `[...document.querySelectorAll('.field-error label')].some((l) => l.textContent === 'End')`)
	u.screen("campaign-form-errors", false)
	end := time.Now().Add(3 * time.Hour).Local().Format("2006-01-02T15:04")
	u.fill("End", end)
	u.click("Save")
	u.waitText("Saved.")
	u.screen("campaign-details", false)
	var list struct{ Items []campaignView }
	admin.must(200, "GET", "/api/v1/campaigns", nil, &list)
	if len(list.Items) != 1 {
		t.Fatalf("campaigns: %+v", list)
	}
	c := list.Items[0]
	if c.Title != "Autumn bags" || !c.Published || c.Status != "upcoming" {
		t.Fatalf("the campaign saved: %+v", c)
	}

	// The list: Upcoming holds it, with its count.
	u.click("Campaigns")
	u.click("Upcoming")
	u.waitFor("the upcoming count", `document.querySelector('#tab-upcoming .count')?.textContent === '1'`)
	u.waitText("Autumn bags")
	u.screen("campaigns-upcoming", true)
	// Keyboard: the tabs move with the arrow keys.
	u.eval(`document.getElementById('tab-upcoming').focus(); document.getElementById('tab-upcoming').dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', bubbles: true})); true`, nil)
	u.waitFor("the Ended tab focused and selected", `document.activeElement.id === 'tab-ended' && document.activeElement.getAttribute('aria-selected') === 'true'`)

	// Edit it, then clone it.
	u.click("Upcoming")
	u.click("Edit")
	u.fill("Livestream title", "Autumn bags, live")
	// The playback choices: the transport, and the shoppers' country
	// (refused in plain words when it is not one).
	u.check("Always real time (WebRTC)")
	u.fill("Shoppers' country", "zz")
	u.click("Save")
	u.waitFor("the country's error next to its field", `[...document.querySelectorAll('.field-error label')].some((l) => l.textContent.startsWith("Shoppers' country"))`)
	u.fill("Shoppers' country", "gb")
	u.waitText("GB: United Kingdom")
	u.eval(`document.querySelector("input[name=country]").scrollIntoView({block: "center"}); true`, nil)
	u.screen("campaign-form-playback", true)
	u.click("Save")
	u.waitText("Saved.")
	u.waitText("Always real time (WebRTC); shoppers' country GB")
	var pb struct{ Transport, Country string }
	admin.must(200, "GET", "/api/v1/campaigns/"+c.ID, nil, &pb)
	if pb.Transport != "webrtc" || pb.Country != "GB" {
		t.Fatalf("the playback choices saved: %+v", pb)
	}
	admin.must(200, "GET", "/api/v1/campaigns/"+c.ID, nil, &c)
	if c.Title != "Autumn bags, live" {
		t.Fatalf("after the edit: %q", c.Title)
	}
	u.click("Clone")
	u.waitFor("the clone's form filled in", `document.querySelector('input[name=title]')?.value === 'Autumn bags, live (copy)'`)
	u.click("Save")
	u.waitText("Saved.")
	admin.must(200, "GET", "/api/v1/campaigns", nil, &list)
	if len(list.Items) != 2 {
		t.Fatalf("after the clone: %d campaigns", len(list.Items))
	}

	// A live campaign cannot be edited nor deleted: the buttons say so.
	admin.must(200, "POST", "/api/v1/campaigns/"+c.ID+"/live", nil, nil)
	u.eval(`location.href = '/console/campaigns/`+c.ID+`'; true`, nil)
	u.waitText("Not while live")
	if !u.disabled("Delete") || !u.disabled("Edit") {
		t.Fatal("Edit and Delete are enabled on a live campaign")
	}
	u.screen("campaign-live-details", false)
	admin.must(200, "POST", "/api/v1/campaigns/"+c.ID+"/end", nil, nil)

	// Delete the clone from the list, confirming in the dialog.
	u.eval(`location.href = '/console/?tab=upcoming'; true`, nil)
	u.click("Upcoming")
	u.waitText("(copy)")
	u.eval(`[...document.querySelectorAll('tr')].find((r) => r.textContent.includes('(copy)')).querySelector('.danger-outline').click(); true`, nil)
	u.waitFor("the confirmation dialog", `document.querySelector('dialog[open]') !== null`)
	u.screen("delete-confirm", false)
	u.eval(`document.querySelector('dialog[open] button.danger').click(); true`, nil)
	u.waitText("was deleted")
	admin.must(200, "GET", "/api/v1/campaigns", nil, &list)
	if len(list.Items) != 1 || list.Items[0].ID != c.ID {
		t.Fatalf("after the delete: %+v", list.Items)
	}

	// Settings: a webhook, its secret shown once, then deleted.
	u.click("Settings")
	u.waitText("No webhooks.")
	u.click("Add webhook")
	u.fill("Address", "https://hooks.example.com/vitrine")
	u.eval(`[...document.querySelectorAll('dialog[open] button')].find((b) => b.textContent === 'Add').click(); true`, nil)
	u.waitFor("the secret shown once", `document.querySelector('dialog[open]')?.innerText.includes('whsec_')`)
	u.screen("webhook-secret", false)
	u.click("Done")
	u.waitText("hooks.example.com")
	u.screen("settings", false)
	var hooks struct{ Items []struct{ URL string } }
	admin.must(200, "GET", "/api/v1/webhooks", nil, &hooks)
	if len(hooks.Items) != 1 || hooks.Items[0].URL != "https://hooks.example.com/vitrine" {
		t.Fatalf("webhooks: %+v", hooks)
	}
	u.click("Delete the webhook https://hooks.example.com/vitrine")
	u.waitFor("the confirmation dialog", `document.querySelector('dialog[open] button.danger') !== null`)
	u.eval(`document.querySelector('dialog[open] button.danger').click(); true`, nil)
	u.waitText("No webhooks.")

	// Sign out ends the session: the API refuses the old cookie.
	u.click("Sign out")
	u.waitFor("the sign-in form", `document.querySelector('input[name=token]') !== null`)
	var status int
	u.eval(`fetch('/api/v1/campaigns').then((r) => r.status)`, &status)
	if status != 401 {
		t.Fatalf("the API after sign-out: %d", status)
	}
}
