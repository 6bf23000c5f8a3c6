package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"vitrine/internal/browser"
	"vitrine/internal/testenv"
	"vitrine/web"
)

// TestConsoleGoLive: a seller goes live from the console, from the
// browser's fake camera and microphone ("browser") or from an encoder
// (ffmpeg over RTMP, "encoder"): the preparation shows the picture and the
// speed while viewers still get nothing; Start livestream opens it; the
// live screen shows a product on a viewer's page, answers and deletes a
// viewer's message, lists an order posted by the shop, turns the camera off
// and on, and ends the live.
func TestConsoleGoLive(t *testing.T) {
	if !web.Built() {
		t.Skip("the console is not built: make web")
	}
	for _, source := range []string{"browser", "encoder"} {
		t.Run(source, func(t *testing.T) { testConsoleGoLive(t, source) })
	}
}

func testConsoleGoLive(t *testing.T, source string) {
	if source == "encoder" {
		testenv.RequireFFmpeg(t)
	}
	s := startServer(t, nil)
	admin := newAdmin(t, s)
	base := "http://" + s.HTTPAddr().String()
	var product, voucher struct{ ID string }
	admin.must(201, "POST", "/api/v1/products", map[string]any{"sku": "BAG-1", "name": "Leather bag", "category": "bags",
		"price": "129.00", "currency": "EUR", "stock": 10, "url": "https://shop.example.com/bag-1"}, &product)
	admin.must(201, "POST", "/api/v1/vouchers", map[string]any{"code": "AUTUMN10", "name": "Autumn 10", "discount_type": "percent",
		"discount_value": "10", "starts_at": time.Now().Add(-time.Hour).Format(time.RFC3339), "ends_at": time.Now().Add(48 * time.Hour).Format(time.RFC3339)}, &voucher)
	var c campaignView
	admin.must(201, "POST", "/api/v1/campaigns", map[string]any{"title": "Autumn bags", "visibility": "suggested", "published": true,
		"starts_at": time.Now().Add(-time.Minute).Format(time.RFC3339), "ends_at": time.Now().Add(2 * time.Hour).Format(time.RFC3339),
		"product_ids": []string{product.ID}, "voucher_ids": []string{voucher.ID}}, &c)

	b := browser.Launch(t, browser.WithFakeMedia())
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	p, err := b.NewPage(ctx, base+"/console/campaigns/"+c.ID)
	if err != nil {
		t.Fatal(err)
	}
	browser.ScreenshotOnFailure(t, p, browser.ArtifactsDir())
	u := &consoleUI{t: t, p: p, base: base, ctx: ctx}
	u.fill("Admin token", admin.token)
	u.click("Sign in")
	u.waitText("Autumn bags")

	// The preparation: viewers get no picture yet.
	u.click("Go live")
	u.waitText("Prepare “Autumn bags”")
	if source == "browser" {
		u.click("Start camera and microphone")
		u.waitFor("the camera's preview playing", `document.querySelector('video.preview')?.readyState >= 2`)
		u.click("Send to the server")
		u.waitText("Sending to the server.")
	} else {
		u.check("OBS or an encoder")
		u.waitText("Stream key")
		u.click("Reveal")
		u.waitText(c.StreamKey)
		src := testenv.DefaultSource(120)
		src.BFrames = 0
		testenv.Push(t, src, s.rtmpURL(c.StreamKey))
	}
	u.waitFor("the encoder seen by the server", `!`+byText("Start livestream")+`.disabled`)
	u.waitText("Received by the server")
	u.waitFor("a speed verdict", `/Good|Low|Too low/.test(document.querySelector('.verdict')?.textContent || '')`)
	u.screen("prepare-"+source, false)
	if status, _, _ := get(t, base+"/live/"+c.ID+"/index.m3u8"); status != 404 {
		t.Fatalf("a viewer's playlist during the preparation: %d, want 404", status)
	}

	// Live: a viewer's page, the seller's screen.
	u.click("Start livestream")
	u.waitText("Viewers now")
	u.waitFor("the live preview playing", `document.querySelector('.viewer-preview video')?.readyState >= 2`)
	viewer, err := b.NewPage(ctx, base+"/watch/"+c.ID)
	if err != nil {
		t.Fatal(err)
	}
	vctx, vcancel := context.WithTimeout(ctx, 30*time.Second)
	defer vcancel()
	u.eval(`[...document.querySelectorAll('.pins li')].find((li) => li.textContent.includes('Leather bag')).querySelector('button').click(); true`, nil)
	u.waitFor("the product shown", `[...document.querySelectorAll('.pins li')].find((li) => li.textContent.includes('Leather bag')).querySelector('button').getAttribute('aria-pressed') === 'true'`)
	if err := viewer.WaitFor(vctx, `document.body.innerText.includes('Leather bag')`, 100*time.Millisecond); err != nil {
		t.Fatalf("the viewer's page does not show the product: %v", err)
	}

	// A viewer's message: answered, then deleted.
	var hello struct{ Token string }
	postJSON := func(path, body, token string) int {
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
		data, _ := io.ReadAll(res.Body)
		if strings.HasSuffix(path, "/viewer") {
			_ = json.Unmarshal(data, &hello)
		}
		return res.StatusCode
	}
	if code := postJSON("/live/"+c.ID+"/viewer", "", ""); code != 201 {
		t.Fatalf("viewer id: %d", code)
	}
	if code := postJSON("/live/"+c.ID+"/actions", `{"type":"chat.send","data":{"text":"Is it waterproof?","name":"Ann","question":true}}`, hello.Token); code != 202 {
		t.Fatalf("a viewer's question: %d", code)
	}
	u.waitText("Is it waterproof?")
	u.click("Answer Ann")
	u.fill("Your answer", "Yes, to 50 m")
	u.click("Send")
	u.waitText("Yes, to 50 m")
	if err := viewer.WaitFor(vctx, `document.body.innerText.includes('Yes, to 50 m')`, 100*time.Millisecond); err != nil {
		t.Fatalf("the viewer does not see the answer: %v", err)
	}
	u.click("Delete Ann's message")
	u.waitFor("the question gone", `document.querySelector('.chat-lines .line-question') === null`)

	// An order posted by the shop appears in the feed, with its total.
	order, _ := json.Marshal(map[string]any{"code": "A-1001", "items": []map[string]any{{"product_id": product.ID, "quantity": 2}},
		"customer_name": "Ana", "total": "258.00", "currency": "EUR"})
	req, _ := http.NewRequest("POST", base+"/api/v1/campaigns/"+c.ID+"/orders", bytes.NewReader(order))
	req.Header.Set("Authorization", "Bearer "+admin.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "order-A-1001")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 201 {
		t.Fatalf("order: %v %v", res, err)
	}
	u.waitText("A-1001")
	u.waitFor("the order's row", `[...document.querySelectorAll('tr')].some((r) => r.innerText.includes('A-1001') && r.innerText.includes('Ana') && r.innerText.includes('258'))`)

	if source == "browser" {
		u.click("Turn camera off")
		u.waitFor("the camera track muted", `document.querySelector('button[aria-pressed=true]')?.textContent === 'Turn camera on'`)
		u.click("Turn camera on")
		u.waitFor("the camera back", `document.querySelector('button[aria-pressed=false]')?.textContent === 'Turn camera off'`)
	}
	u.screen("live-"+source, false)

	// End, confirmed.
	u.click("End livestream")
	u.waitFor("the confirmation", `document.querySelector('dialog[open]') !== null`)
	u.eval(`document.querySelector('dialog[open] button.danger').click(); true`, nil)
	u.waitText("Last live")
	admin.must(200, "GET", "/api/v1/campaigns/"+c.ID, nil, &c)
	if c.Status != "ended" {
		t.Fatalf("after End livestream: %+v", c)
	}
}
