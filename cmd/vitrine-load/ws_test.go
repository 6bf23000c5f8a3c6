package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"vitrine/configs"
	"vitrine/server"
)

// liveCampaign starts a real Vitrine on free ports with a live campaign
// and one product, and returns its base URL, the admin token and the
// campaign's id.
func liveCampaign(t *testing.T) (base, token, campaign string) {
	t.Helper()
	cfg, err := configs.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data.Dir = t.TempDir()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.RTMP.Listen = "127.0.0.1:0"
	cfg.RTSP.Listen = "127.0.0.1:0"
	cfg.RTSP.UDPRTP, cfg.RTSP.UDPRTCP = "", ""
	cfg.WebRTC.ICEListen = "127.0.0.1:0"
	cfg.Admin.Token = "load-test-token-0123456789abcdef"
	s, err := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	base = "http://" + s.HTTPAddr().String()
	token = cfg.Admin.Token
	call := func(method, path, body string, want int) map[string]any {
		req, _ := http.NewRequest(method, base+"/api/v1"+path, bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
		var v map[string]any
		_ = json.Unmarshal(b, &v)
		return v
	}
	p := call("POST", "/products", `{"sku":"BAG-1","name":"Leather bag","price":"129.00","currency":"EUR","url":"https://shop.example.com/bag-1"}`, 201)
	now := time.Now().UTC()
	c := call("POST", "/campaigns", fmt.Sprintf(`{"title":"Load","starts_at":%q,"ends_at":%q,"product_ids":[%q],"published":true}`,
		now.Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339), p["id"]), 201)
	campaign = c["id"].(string)
	call("POST", "/campaigns/"+campaign+"/live", "", 200)
	return base, token, campaign
}

// The tool's viewers, read by the epoll loops or by a goroutine each, see
// every pin the tool makes and every chat message, once; the timed ones
// report a latency for each (with the loops, every other viewer is read
// by the idle loop, untimed).
func TestWSViewersSeeEveryPinAndChat(t *testing.T) {
	base, token, campaign := liveCampaign(t)
	for _, loops := range []int{0, 2} {
		t.Run(fmt.Sprintf("readers=%d", loops), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			st := newWSStats()
			var readers *wsReaders
			if loops > 0 {
				r, err := newWSReaders(ctx, loops, st)
				if err != nil {
					t.Fatal(err)
				}
				readers = r // nil where the platform has none: the goroutine path
			}
			const viewers = 40
			u := wsEventsURL(base, campaign)
			var wg sync.WaitGroup
			measured := viewers
			if readers != nil {
				measured = viewers / 2
			}
			for i := range viewers {
				wg.Go(func() { runWSViewer(ctx, u, st, readers, i < measured) })
			}
			waitUntil(t, "viewers joined and got their snapshot", func() bool {
				st.mu.Lock()
				defer st.mu.Unlock()
				return st.viewers == viewers && st.snapshots.Load() == viewers
			})
			st.take()
			p, err := newPinner(ctx, http.DefaultClient, base, campaign, token, "", st)
			if err != nil {
				t.Fatal(err)
			}
			const pins = 4
			for range pins {
				p.toggle(ctx)
			}
			chatCtx, stopChat := context.WithCancel(ctx)
			chatDone := make(chan struct{})
			go func() { runChatter(chatCtx, u, 100*time.Millisecond, 0.5, st); close(chatDone) }()
			var got wsReport
			waitUntil(t, "every pin and chat message at every viewer", func() bool {
				r := st.take()
				got.merge(r)
				if got.chats >= 3 {
					stopChat()
				}
				return len(got.latency) >= measured*pins && got.chats >= 3 && len(got.chatLatency) >= measured*got.chats &&
					got.events >= int64(viewers*(pins+got.chats))
			})
			stopChat()
			<-chatDone
			time.Sleep(200 * time.Millisecond)
			got.merge(st.take())
			if got.pins != pins || len(got.pinRequest) != pins || got.pinErrors > 0 || got.errors > 0 || got.drops > 0 || got.chatErrors > 0 {
				t.Fatalf("report: %+v", got)
			}
			// (Viewer counts come too, as viewers join.)
			if len(got.latency) != measured*pins || len(got.chatLatency) != measured*got.chats || got.events < int64(viewers*(pins+got.chats)) {
				t.Fatalf("%d pin receptions timed, want %d; %d chat receptions timed, want %d; %d events, want at least %d",
					len(got.latency), measured*pins, len(got.chatLatency), measured*got.chats, got.events, viewers*(pins+got.chats))
			}
			for _, l := range append(append(got.latency, got.chatLatency...), got.pinRequest...) {
				if l <= 0 || l > 10*time.Second {
					t.Fatalf("latency %v", l)
				}
			}
			cancel()
			wg.Wait()
			if st.viewers != 0 {
				t.Fatalf("%d viewers still counted after the end", st.viewers)
			}
		})
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
