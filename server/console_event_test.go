package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vitrine/internal/browser"
	"vitrine/web"
)

// lookup walks a decoded JSON value down a dotted path ("business.purchases").
func lookup(v any, path string) (any, bool) {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// checkEventPage opens the console's event page of campaign id, whose
// event a test just made through the real flows, as its seller would: every
// figure of each phase equals the API's, every chart drew its data, the
// date picker changes the prelive and replay figures as the API does, the
// export downloads a spreadsheet LibreOffice opens, the chat filters five
// ways, a product sequence plays, the replay and the products download, and
// Reset event empties it. Screenshots and axe-core on every tab.
func checkEventPage(t *testing.T, s *Server, admin *adminClient, id string) {
	t.Helper()
	if !web.Built() {
		t.Log("the console is not built (make web): event page not checked")
		return
	}
	base := "http://" + s.HTTPAddr().String()
	b := browser.Launch(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, err := b.NewPage(ctx, base+"/console/campaigns/"+id+"/event?tab=analytics")
	if err != nil {
		t.Fatal(err)
	}
	browser.ScreenshotOnFailure(t, p, browser.ArtifactsDir())
	downloads := t.TempDir()
	if err := p.AllowDownloads(ctx, downloads); err != nil {
		t.Fatal(err)
	}
	u := &consoleUI{t: t, p: p, base: base, ctx: ctx}
	u.fill("Admin token", admin.token)
	u.click("Sign in")

	// Analytics: each phase's figures are the API's, its charts drawn.
	figures := func(phase, query string) {
		t.Helper()
		var rep map[string]any
		admin.must(200, "GET", "/api/v1/campaigns/"+id+"/analytics"+query, nil, &rep)
		u.tab(map[string]string{"prelive": "Prelive", "live": "Live", "replay": "Replay"}[phase])
		u.waitFor("the "+phase+" figures", `document.querySelectorAll('#phase-panel .metric').length > 5`)
		var shown []struct{ Path, Value, Text string }
		u.eval(`[...document.querySelectorAll('#phase-panel .metric')].map((m) => ({path: m.dataset.metric, value: m.dataset.value, text: m.querySelector('.value').textContent}))`, &shown)
		n := 0
		for _, m := range shown {
			if phase == "replay" && strings.HasSuffix(m.Path, "average_viewers") {
				continue // the replay runs to now: its average moves between the API's answer and the page's
			}
			want, ok := lookup(rep[phase], m.Path)
			if !ok {
				t.Errorf("%s: the page shows %s, which the API does not have", phase, m.Path)
				continue
			}
			var got any
			_ = json.Unmarshal([]byte(m.Value), &got)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s %s: shown %v (%q), API %v", phase, m.Path, got, m.Text, want)
			}
			n++
		}
		if n < 10 {
			t.Errorf("%s: %d figures shown", phase, n)
		}
		// Charts: each has points, and its canvas has drawn pixels.
		var charts []struct {
			Points int
			Inked  int
		}
		u.eval(`[...document.querySelectorAll('#phase-panel figure.chart')].map((f) => {
			const c = f.querySelector('canvas'); let inked = 0;
			if (c) { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; for (let i = 3; i < d.length; i += 16) if (d[i] > 0) inked++; }
			return {points: Number(f.dataset.points), inked};
		})`, &charts)
		if len(charts) < 3 {
			t.Errorf("%s: %d charts", phase, len(charts))
		}
		for i, c := range charts {
			if c.Points == 0 || c.Inked == 0 {
				t.Errorf("%s chart %d: %d points, %d pixels drawn", phase, i, c.Points, c.Inked)
			}
		}
	}
	u.waitText("Analytics")
	for _, ph := range []string{"prelive", "live", "replay"} {
		figures(ph, "")
		u.screen("event-analytics-"+ph, false)
	}
	// A definition at hand.
	u.eval(`document.querySelector('#phase-panel .metric .info').click(); true`, nil)
	u.waitFor("a definition shown", `[...document.querySelectorAll('#phase-panel .definition')].some((d) => !d.hidden && d.textContent.length > 10)`)

	// The date picker: a range after the live leaves the prelive empty,
	// and the replay as the API computes it for that range.
	from := time.Now().Add(-2 * time.Minute)
	to := time.Now().Add(time.Minute)
	u.fill("From", from.Local().Format("2006-01-02T15:04"))
	u.fill("To", to.Local().Format("2006-01-02T15:04"))
	u.click("Apply")
	q := "?from=" + from.UTC().Truncate(time.Minute).Format(time.RFC3339) + "&to=" + to.UTC().Truncate(time.Minute).Format(time.RFC3339)
	time.Sleep(500 * time.Millisecond)
	figures("prelive", q)
	figures("replay", q)

	// Export through the pop-up; LibreOffice opens the file.
	u.click("Export")
	u.waitFor("the export dialog", `document.querySelector('dialog[open]') !== null`)
	u.screen("event-export", false)
	u.eval(`[...document.querySelectorAll('dialog[open] button')].find((b) => b.textContent === 'Export').click(); true`, nil)
	u.waitText("The spreadsheet is downloaded.")
	xlsx := waitFile(t, downloads, ".xlsx")
	if soffice, err := exec.LookPath("soffice"); err == nil {
		out, err := exec.CommandContext(ctx, soffice, "-env:UserInstallation=file://"+filepath.Join(downloads, "profile"), "--headless",
			"--convert-to", "csv", "--outdir", downloads, xlsx).CombinedOutput()
		if err != nil {
			t.Fatalf("LibreOffice cannot open the export: %v\n%s", err, out)
		}
	}
	u.eval(`document.querySelector('dialog[open] button.secondary').click(); true`, nil)

	// Chat: the five filters, each as the API lists.
	u.tab("Chat")
	for _, f := range []string{"all", "deleted", "displayed", "banned", "questions"} {
		var page struct{ Items []struct{ Text string } }
		admin.must(200, "GET", "/api/v1/campaigns/"+id+"/messages?filter="+f+"&limit=50", nil, &page)
		u.check(map[string]string{"all": "All", "deleted": "Deleted", "displayed": "Displayed", "banned": "Banned", "questions": "Questions"}[f])
		want := len(page.Items)
		u.waitFor(fmt.Sprintf("%d lines under %s", want, f), fmt.Sprintf(`document.querySelectorAll('.chat-table tbody tr').length === %d || (%d === 0 && document.body.innerText.includes('No messages here.'))`, want, want))
	}
	u.check("All")
	u.screen("event-chat", false)

	// Interactions, Content.
	u.tab("Interactions")
	u.waitText("Polls")
	u.screen("event-interactions", false)
	u.tab("Content")
	u.waitText("Chapters")
	u.waitFor("the replay playing its metadata", `document.querySelector('.replay-player video')?.readyState >= 1`)
	u.screen("event-content", false)

	// Products: a sequence plays in place.
	u.tab("Products")
	u.waitFor("a product's intervals", `document.querySelector('.timeline .intervals button') !== null`)
	u.eval(`document.querySelector('.timeline .intervals button').click(); true`, nil)
	u.waitFor("the sequence playing", `document.querySelector('.timeline .replay-player video')?.readyState >= 1`)
	u.screen("event-products", false)

	// Downloads: the replay and the products.
	u.click("Event actions")
	u.click("Download video")
	u.waitFor("the download choices", `document.querySelector('dialog[open] .downloads') !== null`)
	u.screen("event-downloads", false)
	u.eval(`[...document.querySelectorAll('dialog[open] button')].find((b) => b.textContent === 'Replay').click(); true`, nil)
	waitFile(t, downloads, ".mp4")
	u.waitFor("the replay's download done", `![...document.querySelectorAll('dialog[open] button')].find((b) => b.textContent === 'Products').disabled`)
	u.eval(`[...document.querySelectorAll('dialog[open] button')].find((b) => b.textContent === 'Products').click(); true`, nil)
	waitFile(t, downloads, ".zip")
	u.eval(`[...document.querySelectorAll('dialog[open] button')].find((b) => b.textContent === 'Close').click(); true`, nil)

	// Reset, through its pop-up: nothing of the event is left.
	u.click("Event actions")
	u.click("Reset event")
	u.waitFor("the reset's confirmation", `document.querySelector('dialog[open]')?.innerText.includes('cannot be undone')`)
	u.screen("event-reset", false)
	u.eval(`document.querySelector('dialog[open] button.danger').click(); true`, nil)
	u.waitText("The event was reset.")
	admin.must(404, "GET", "/api/v1/campaigns/"+id+"/recording", nil, nil)
}

// waitFile waits for a downloaded file ending in ext in dir (Chromium
// writes a .crdownload first) and returns its path.
func waitFile(t *testing.T, dir, ext string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ext) {
				if info, err := e.Info(); err == nil && info.Size() > 0 {
					return filepath.Join(dir, e.Name())
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no %s file downloaded into %s", ext, dir)
	return ""
}
