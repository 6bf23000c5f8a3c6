package webrtc

import (
	"context"
	"net/http"
	"testing"
	"time"

	pion "github.com/pion/webrtc/v4"
)

// A WHEP viewer that creates a data channel before its offer, as a
// browser does, gets it served by Config.OnDataChannel: the viewer
// receives what the hook sends and the hook what the viewer sends; the
// hook's context ends with the session.
func TestWHEPDataChannel(t *testing.T) {
	t.Parallel()
	type opened struct {
		streamID, label string
	}
	openCh := make(chan opened, 1)
	fromViewer := make(chan string, 4)
	hookDone := make(chan error, 1)
	ts := newTestServer(t, func(c *Config) {
		c.OnDataChannel = func(ctx context.Context, streamID string, ch DataChannel) {
			openCh <- opened{streamID, ch.Label()}
			for _, m := range []string{`{"seq":1}`, `{"seq":2}`} {
				if err := ch.Send(ctx, []byte(m)); err != nil {
					hookDone <- err
					return
				}
			}
			for {
				b, err := ch.Receive(ctx)
				if err != nil {
					hookDone <- err
					return
				}
				fromViewer <- string(b)
				if err := ch.Send(ctx, append([]byte("echo:"), b...)); err != nil {
					hookDone <- err
					return
				}
			}
		}
	})
	startPublisher(t, ts, testStream, loadMedia(t), false)
	waitFor(t, 8*time.Second, "WHIP stream online", func() bool {
		s, ok := ts.hub.Get(testStream)
		return ok && s.Online()
	})

	pc, err := clientAPI(t, false).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(pion.RTPCodecTypeVideo, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	dc, err := pc.CreateDataChannel("events", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan pion.DataChannelMessage, 8)
	dc.OnMessage(func(m pion.DataChannelMessage) { got <- m })
	dc.OnOpen(func() { _ = dc.SendText(`{"type":"like"}`) })

	resp, answer := post(t, ts.base+"/live/"+testStream+"/whep", "", "application/sdp", offerOf(t, pc))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHEP POST: %d %s", resp.StatusCode, answer)
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}

	timeout := time.After(10 * time.Second)
	select {
	case o := <-openCh:
		if o.streamID != testStream || o.label != "events" {
			t.Errorf("hook got stream %q, label %q; want %q, events", o.streamID, o.label, testStream)
		}
	case <-timeout:
		t.Fatal("the hook was not called")
	}
	for _, want := range []string{`{"seq":1}`, `{"seq":2}`, `echo:{"type":"like"}`} {
		select {
		case m := <-got:
			if !m.IsString || string(m.Data) != want {
				t.Fatalf("viewer got %q (string %v), want text %q", m.Data, m.IsString, want)
			}
		case <-timeout:
			t.Fatalf("viewer did not get %q", want)
		}
	}
	select {
	case m := <-fromViewer:
		if m != `{"type":"like"}` {
			t.Fatalf("hook got %q", m)
		}
	case <-timeout:
		t.Fatal("hook got nothing")
	}

	// DELETE ends the session: the hook's context ends and teardown waits for it.
	req, err := http.NewRequest(http.MethodDelete, ts.base+resp.Header.Get("Location"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := do(t, req); resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, body)
	}
	select {
	case err := <-hookDone:
		if err == nil {
			t.Error("the hook returned without an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the hook did not return after DELETE")
	}
	waitFor(t, 5*time.Second, "session gone", func() bool { return ts.sessionCount() == 1 })
}
