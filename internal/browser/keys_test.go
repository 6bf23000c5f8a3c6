package browser

import (
	"testing"
	"time"
)

// TestPress: keys pressed as a keyboard does, with the browser's default
// actions: Tab and Shift+Tab move the focus, Enter and Space click the
// focused button, a character types into the focused input.
func TestPress(t *testing.T) {
	srv := servePage(t, `<!doctype html><html><body>
<button id="a" onclick="window.clicks = (window.clicks || '') + 'a'">A</button>
<button id="b" onclick="window.clicks = (window.clicks || '') + 'b'">B</button>
<input id="i">
<script>window.keys = []; addEventListener('keydown', (e) => keys.push(e.key + (e.shiftKey ? '+shift' : '')));</script>
</body></html>`)
	b := Launch(t)
	ctx := timeout(t, 20*time.Second)
	p, err := b.NewPage(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	press := func(key string, shift bool) {
		t.Helper()
		if err := p.Press(ctx, key, shift); err != nil {
			t.Fatal(err)
		}
	}
	focused := func() string {
		t.Helper()
		var id string
		if err := p.Eval(ctx, `document.activeElement.id`, &id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	press("Tab", false)
	if f := focused(); f != "a" {
		t.Fatalf("Tab: focus on %q, want a", f)
	}
	press("Enter", false)
	press("Tab", false)
	press(" ", false)
	if f := focused(); f != "b" {
		t.Fatalf("Tab: focus on %q, want b", f)
	}
	press("Tab", true)
	if f := focused(); f != "a" {
		t.Fatalf("Shift+Tab: focus on %q, want a", f)
	}
	press("Tab", false)
	press("Tab", false)
	press("k", false)
	press("7", false)
	var got struct {
		Clicks string   `json:"clicks"`
		Value  string   `json:"value"`
		Keys   []string `json:"keys"`
	}
	if err := p.Eval(ctx, `({clicks: window.clicks, value: document.getElementById('i').value, keys})`, &got); err != nil {
		t.Fatal(err)
	}
	if got.Clicks != "ab" || got.Value != "k7" || len(got.Keys) != 9 || got.Keys[4] != "Tab+shift" {
		t.Fatalf("clicks %q, typed %q, keys %q", got.Clicks, got.Value, got.Keys)
	}
	if err := p.Press(ctx, "NoSuchKey", false); err == nil {
		t.Fatal("an unknown key was pressed")
	}
}
