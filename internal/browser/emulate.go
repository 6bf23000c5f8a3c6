package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
)

// SetViewport makes the page lay out and render as a screen of width x
// height CSS pixels (a tablet, a phone, a desktop), until the next call.
func (p *Page) SetViewport(ctx context.Context, width, height int, mobile bool) error {
	scale := 1.0
	if mobile {
		scale = 3
	}
	err := p.conn.call(ctx, p.session, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile,
	}, nil)
	if err != nil {
		return fmt.Errorf("viewport: %w", err)
	}
	return nil
}

// AxeViolation is one rule axe-core found broken on a page.
type AxeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []string `json:"target"`
		HTML   string   `json:"html"`
	} `json:"nodes"`
}

// Axe runs axe-core (its axe.min.js at script, e.g. web/node_modules/
// axe-core/axe.min.js) on the page as it is now, and returns the
// violations of the WCAG 2 A and AA rules and best practices.
func (p *Page) Axe(ctx context.Context, script string) ([]AxeViolation, error) {
	src, err := os.ReadFile(script)
	if err != nil {
		return nil, fmt.Errorf("axe: %w (npm ci in web/ installs it)", err)
	}
	// Injected as a script's text so that the page's CSP (script-src
	// 'self') does not apply: DevTools evaluation is not a page script.
	if _, err := p.eval(ctx, string(src)); err != nil {
		return nil, fmt.Errorf("axe: load: %w", err)
	}
	var raw json.RawMessage
	err = p.Eval(ctx, `(async () => {
		const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
		return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target.map(String), html: n.html.slice(0, 200) })) }));
	})()`, &raw)
	if err != nil {
		return nil, fmt.Errorf("axe: run: %w", err)
	}
	var out []AxeViolation
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("axe: %w", err)
	}
	return out, nil
}

// AllowDownloads saves the files the page downloads into dir (a link's
// download, a saved blob), as a user's browser would into theirs.
func (p *Page) AllowDownloads(ctx context.Context, dir string) error {
	err := p.conn.call(ctx, "", "Browser.setDownloadBehavior", map[string]any{
		"behavior": "allow", "downloadPath": dir, "eventsEnabled": false,
	}, nil)
	if err != nil {
		return fmt.Errorf("downloads: %w", err)
	}
	return nil
}
