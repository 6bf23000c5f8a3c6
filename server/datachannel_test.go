package server

import (
	"context"
	"testing"
	"time"

	"vitrine/internal/browser"
	"vitrine/internal/testenv"
)

// whepDataChannelJS plays a WHEP stream with a data channel opened before
// the offer (as a browser player does) and collects what arrives on it in
// window.__events.
const whepDataChannelJS = `(async (url) => {
  window.__events = [];
  const pc = new RTCPeerConnection();
  pc.addTransceiver("video", {direction: "recvonly"});
  const dc = pc.createDataChannel("events");
  dc.onopen = () => dc.send(JSON.stringify({type: "resume"}));
  dc.onmessage = (e) => window.__events.push(JSON.parse(e.data));
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(r => {
    if (pc.iceGatheringState === "complete") return r();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r();
    setTimeout(r, 2000);
  });
  const res = await fetch(url, {method: "POST", body: pc.localDescription.sdp,
    headers: {"Content-Type": "application/sdp"}});
  if (res.status !== 201) throw new Error(res.status + " " + await res.text());
  await pc.setRemoteDescription({type: "answer", sdp: await res.text()});
  await new Promise((ok, fail) => {
    if (dc.readyState === "open") return ok();
    dc.addEventListener("open", ok);
    setTimeout(() => fail(new Error("data channel not open")), 10000);
  });
  window.__pc = pc;
})`

// TestDataChannelOnWHEPAndWebSocket: a pin reaches a WebRTC viewer on its
// WHEP session's data channel and a WebSocket viewer with the same
// envelope and sequence number.
func TestDataChannelOnWHEPAndWebSocket(t *testing.T) {
	testenv.RequireFFmpeg(t)
	s := startServer(t, nil)
	admin := newAdmin(t, s)
	var product struct{ ID string }
	admin.must(201, "POST", "/api/v1/products", map[string]any{
		"sku": "DC-1", "name": "Scarf", "category": "scarves", "price": "39.00", "currency": "EUR",
		"stock": 5, "url": "https://shop.example.com/dc-1"}, &product)
	var c campaignView
	admin.must(201, "POST", "/api/v1/campaigns", map[string]any{
		"title": "Scarves", "visibility": "suggested", "published": true, "go_live": true,
		"starts_at": time.Now().Format(time.RFC3339), "ends_at": time.Now().Add(time.Hour).Format(time.RFC3339),
		"product_ids": []string{product.ID}}, &c)
	testenv.Push(t, testenv.DefaultSource(60), c.Ingest.RTMP)
	waitOnline(t, s, c.ID, 15*time.Second)

	ws := watchEvents(t, s, c.ID)
	b := browser.Launch(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := b.NewPage(ctx, "http://"+s.HTTPAddr().String()+"/healthz")
	if err != nil {
		t.Fatal(err)
	}
	browser.ScreenshotOnFailure(t, p, browser.ArtifactsDir())
	whep := "http://" + s.HTTPAddr().String() + "/live/" + c.ID + "/whep"
	if err := p.Eval(ctx, whepDataChannelJS+`("`+whep+`")`, nil); err != nil {
		t.Fatalf("WHEP with a data channel: %v", err)
	}
	if err := p.WaitFor(ctx, `window.__events.some(e => e.type === "snapshot")`, 50*time.Millisecond); err != nil {
		t.Fatalf("no snapshot on the data channel: %v", err)
	}

	admin.must(201, "POST", "/api/v1/campaigns/"+c.ID+"/pins", map[string]any{"kind": "product", "id": product.ID}, nil)
	if err := p.WaitFor(ctx, `window.__events.some(e => e.type === "product.pinned")`, 50*time.Millisecond); err != nil {
		t.Fatalf("pin not received on the data channel: %v", err)
	}
	var dc struct {
		Seq int64  `json:"seq"`
		V   int    `json:"v"`
		At  string `json:"at"`
	}
	if err := p.Eval(ctx, `window.__events.find(e => e.type === "product.pinned")`, &dc); err != nil {
		t.Fatal(err)
	}
	ws.expect(t, "product.pinned")
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for _, m := range ws.msgs {
		if m.Type == "product.pinned" {
			if m.Seq != dc.Seq || dc.Seq == 0 || dc.V != 1 || dc.At == "" {
				t.Fatalf("WebSocket seq %d, data channel %+v", m.Seq, dc)
			}
			return
		}
	}
}
