package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"vitrine/configs"
	"vitrine/internal/testenv"
	"vitrine/notify"
)

// adminClient calls the admin API of a test server.
type adminClient struct {
	t     *testing.T
	base  string
	token string
}

func newAdmin(t *testing.T, s *Server) *adminClient {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.cfg.Data.Dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	return &adminClient{t: t, base: "http://" + s.HTTPAddr().String(), token: strings.TrimSpace(string(b))}
}

// do sends body as JSON and decodes the answer into out (when not nil);
// it returns the status code.
func (c *adminClient) do(method, path string, body any, out any) int {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 500 {
		c.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return res.StatusCode
}

func (c *adminClient) must(want int, method, path string, body any, out any) {
	c.t.Helper()
	var raw json.RawMessage
	if got := c.do(method, path, body, &raw); got != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatal(err)
		}
	}
}

type campaignView struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Title     string `json:"title"`
	Published bool   `json:"published"`
	StreamKey string `json:"stream_key"`
	Ingest    struct {
		RTMP string `json:"rtmp"`
		WHIP string `json:"whip"`
	} `json:"ingest"`
	Playback struct {
		HLS string `json:"hls"`
	} `json:"playback"`
}

// webhookReceiver records the notifications it receives after verifying
// their Standard Webhooks signature.
type webhookReceiver struct {
	mu     sync.Mutex
	secret string
	types  []string
	bad    int
}

func (wr *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	wr.mu.Lock()
	defer wr.mu.Unlock()
	if err := notify.Verify(wr.secret, r.Header, body, time.Minute); err != nil {
		wr.bad++
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var ev struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &ev)
	wr.types = append(wr.types, ev.Type)
	w.WriteHeader(http.StatusNoContent)
}

func (wr *webhookReceiver) received() []string {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return append([]string(nil), wr.types...)
}

// TestCampaignLifecycle walks a seller's show end to end with a real
// encoder: catalog, campaign, go live, publish with the returned key, watch,
// end, edit, clone, delete, and the notifications on the way.
func TestCampaignLifecycle(t *testing.T) {
	testenv.RequireFFmpeg(t)
	s := startServer(t, func(c *configs.Config) {
		c.Webhooks.AllowPrivate = true
		c.Stream.ReconnectWindow = configs.Duration(time.Minute)
	})
	admin := newAdmin(t, s)

	// Unauthenticated calls are refused.
	res, err := http.Get(admin.base + "/api/v1/campaigns")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", res.StatusCode)
	}

	receiver := &webhookReceiver{}
	hookSrv := httptestServer(t, receiver)
	var hook struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	admin.must(201, "POST", "/api/v1/webhooks", map[string]any{"url": hookSrv, "events": []string{"*"}}, &hook)
	receiver.mu.Lock()
	receiver.secret = hook.Secret
	receiver.mu.Unlock()

	var product, voucher struct{ ID string }
	admin.must(201, "POST", "/api/v1/products", map[string]any{
		"sku": "BAG-1", "name": "Leather bag", "category": "bags", "price": "129.00", "currency": "EUR",
		"stock": 10, "url": "https://shop.example.com/bag-1"}, &product)
	admin.must(201, "POST", "/api/v1/vouchers", map[string]any{
		"code": "LIVE10", "name": "10% off", "discount_type": "percent", "discount_value": "10",
		"min_spend": "50.00", "currency": "EUR", "quantity": 100,
		"starts_at": time.Now().Add(-time.Hour).Format(time.RFC3339), "ends_at": time.Now().Add(24 * time.Hour).Format(time.RFC3339)}, &voucher)

	window := map[string]any{
		"title": "Autumn bags", "description": "New leather collection", "visibility": "suggested",
		"starts_at": time.Now().Add(time.Hour).Format(time.RFC3339), "ends_at": time.Now().Add(3 * time.Hour).Format(time.RFC3339),
		"product_ids": []string{product.ID}, "voucher_ids": []string{voucher.ID}, "published": true,
	}
	var c campaignView
	admin.must(201, "POST", "/api/v1/campaigns", window, &c)
	if c.Status != "upcoming" || c.StreamKey == "" || !strings.HasSuffix(c.Ingest.RTMP, "/live/"+c.StreamKey) {
		t.Fatalf("created campaign: %+v", c)
	}

	// Not live yet: the encoder is refused.
	early := testenv.Push(t, testenv.DefaultSource(2), c.Ingest.RTMP)
	if err, _ := early.Wait(15 * time.Second); err == nil {
		t.Fatal("publishing before go-live was accepted")
	}

	// A viewer on the data channel from before the live.
	events := watchEvents(t, s, c.ID)

	admin.must(200, "POST", "/api/v1/campaigns/"+c.ID+"/live", nil, &c)
	if c.Status != "ongoing" {
		t.Fatalf("after go live: %s", c.Status)
	}
	admin.must(409, "PATCH", "/api/v1/campaigns/"+c.ID, map[string]any{"title": "x"}, nil)
	admin.must(409, "DELETE", "/api/v1/campaigns/"+c.ID, nil, nil)

	push := testenv.Push(t, testenv.DefaultSource(60), c.Ingest.RTMP)
	waitPlaylist(t, c.Playback.HLS, 10*time.Second)
	m := media(t, c.Playback.HLS, -1, 0)
	if len(m.Segments) == 0 {
		t.Fatal("live campaign has no segments")
	}
	var pre struct {
		PublisherConnected bool `json:"publisher_connected"`
		Tracks             []struct {
			Codec string `json:"codec"`
			Width int    `json:"width"`
		} `json:"tracks"`
		Products []struct{ ID string } `json:"products"`
	}
	admin.must(200, "GET", "/api/v1/campaigns/"+c.ID+"/preflight", nil, &pre)
	if !pre.PublisherConnected || len(pre.Tracks) != 2 || pre.Tracks[0].Width != 640 || len(pre.Products) != 1 {
		t.Fatalf("preflight: %+v", pre)
	}
	// The campaign view says what WebRTC viewers get of an RTMP source.
	var live struct {
		Stream struct {
			Online bool `json:"online"`
			WebRTC struct {
				Video string `json:"video"`
				Audio string `json:"audio"`
			} `json:"webrtc"`
		} `json:"stream"`
	}
	admin.must(200, "GET", "/api/v1/campaigns/"+c.ID, nil, &live)
	if !live.Stream.Online || live.Stream.WebRTC.Video != "H264" || !strings.Contains(live.Stream.WebRTC.Audio, "AAC") {
		t.Fatalf("stream view: %+v", live.Stream)
	}

	// An order reported by the shop, twice with one idempotency key.
	order := map[string]any{"code": "A-1001", "items": []map[string]any{{"product_id": product.ID, "quantity": 2}},
		"customer_name": "Ana", "total": "258.00", "currency": "EUR"}
	orderReq := func() int {
		b, _ := json.Marshal(order)
		req, _ := http.NewRequest("POST", admin.base+"/api/v1/campaigns/"+c.ID+"/orders", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+admin.token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "order-A-1001")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if a, b := orderReq(), orderReq(); a != 201 || b != 200 {
		t.Fatalf("order then repeat: %d, %d; want 201, 200", a, b)
	}
	var orders struct {
		Items []struct {
			Code         string `json:"code"`
			ProductCount int    `json:"product_count"`
		} `json:"items"`
	}
	admin.must(200, "GET", "/api/v1/campaigns/"+c.ID+"/orders", nil, &orders)
	if len(orders.Items) != 1 || orders.Items[0].ProductCount != 2 {
		t.Fatalf("orders: %+v", orders)
	}

	// The host pins the product: viewers get it on the data channel.
	admin.must(201, "POST", "/api/v1/campaigns/"+c.ID+"/pins", map[string]any{"kind": "product", "id": product.ID}, nil)

	// End: the encoder is cut and the status is ended.
	admin.must(200, "POST", "/api/v1/campaigns/"+c.ID+"/end", nil, &c)
	if c.Status != "ended" {
		t.Fatalf("after end: %s", c.Status)
	}
	if err, _ := push.Wait(15 * time.Second); err != nil && strings.Contains(err.Error(), "still running") {
		t.Fatal("the publisher was not disconnected by end")
	}
	admin.must(409, "POST", "/api/v1/campaigns/"+c.ID+"/end", nil, nil)
	events.expect(t, "stream.live", "product.pinned", "stream.ended")

	// Ended campaigns can be edited, cloned and deleted.
	admin.must(200, "PATCH", "/api/v1/campaigns/"+c.ID, map[string]any{"title": "Autumn bags (replay)"}, &c)
	if c.Title != "Autumn bags (replay)" {
		t.Fatalf("edit: %+v", c)
	}
	var clone campaignView
	admin.must(201, "POST", "/api/v1/campaigns/"+c.ID+"/clone", nil, &clone)
	if clone.ID == c.ID || clone.StreamKey == c.StreamKey || clone.Status != "upcoming" {
		t.Fatalf("clone: %+v of %+v", clone, c)
	}
	admin.must(204, "DELETE", "/api/v1/campaigns/"+c.ID, nil, nil)
	admin.must(404, "GET", "/api/v1/campaigns/"+c.ID, nil, nil)

	// A completed campaign (its window is over) refuses publishing.
	var past campaignView
	admin.must(201, "POST", "/api/v1/campaigns", map[string]any{
		"title": "Short show", "visibility": "followers",
		"starts_at": time.Now().Add(-time.Hour).Format(time.RFC3339), "ends_at": time.Now().Add(2 * time.Second).Format(time.RFC3339),
	}, &past)
	admin.must(200, "POST", "/api/v1/campaigns/"+past.ID+"/live", nil, nil)
	admin.must(200, "POST", "/api/v1/campaigns/"+past.ID+"/end", nil, nil)
	time.Sleep(3 * time.Second)
	admin.must(200, "GET", "/api/v1/campaigns/"+past.ID, nil, &past)
	if past.Status != "completed" {
		t.Fatalf("status after the window: %s", past.Status)
	}
	admin.must(409, "POST", "/api/v1/campaigns/"+past.ID+"/live", nil, nil)
	late := testenv.Push(t, testenv.DefaultSource(2), past.Ingest.RTMP)
	if err, _ := late.Wait(15 * time.Second); err == nil {
		t.Fatal("a completed campaign accepted a publisher")
	}

	// Notifications arrived, signed.
	deadline := time.Now().Add(10 * time.Second)
	want := []string{"campaign.created", "campaign.live", "order.created", "campaign.ended"}
	for {
		got := strings.Join(receiver.received(), ",")
		missing := ""
		for _, w := range want {
			if !strings.Contains(got, w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook %s not received; got %s", missing, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if receiver.bad != 0 {
		t.Fatalf("%d notifications failed signature verification", receiver.bad)
	}
}

// eventWatcher is a viewer of a campaign's data channel over WebSocket.
type eventWatcher struct {
	mu   sync.Mutex
	msgs []struct {
		Seq  int64  `json:"seq"`
		Type string `json:"type"`
	}
}

func watchEvents(t *testing.T, s *Server, id string) *eventWatcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, _, err := websocket.Dial(ctx, "ws://"+s.HTTPAddr().String()+"/live/"+id+"/events", nil)
	if err != nil {
		cancel()
		t.Fatalf("events socket: %v", err)
	}
	w := &eventWatcher{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			var m struct {
				Seq  int64  `json:"seq"`
				Type string `json:"type"`
			}
			if err := wsjson.Read(ctx, conn, &m); err != nil {
				return
			}
			w.mu.Lock()
			w.msgs = append(w.msgs, m)
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = conn.CloseNow()
		<-done
	})
	return w
}

// expect waits for the event types in order, with increasing sequence
// numbers (other events may come between).
func (w *eventWatcher) expect(t *testing.T, types ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.mu.Lock()
		i, last := 0, int64(0)
		ordered := true
		for _, m := range w.msgs {
			if m.Seq != 0 && m.Seq <= last {
				ordered = false
			}
			if m.Seq != 0 {
				last = m.Seq
			}
			if i < len(types) && m.Type == types[i] {
				i++
			}
		}
		got := fmt.Sprint(w.msgs)
		w.mu.Unlock()
		if !ordered {
			t.Fatalf("events out of order: %s", got)
		}
		if i == len(types) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events %v not received in order; got %s", types, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func httptestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/hook"
}
