package server

import (
	"context"
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	"vitrine/configs"
	"vitrine/internal/browser"
	"vitrine/internal/testenv"
)

// TestPlayerPinOnFrame: over RTSP (TCP and UDP) and WHIP too
// (TestPlayerWHEP and TestPlayerLLHLS push RTMP), a pin shows on the
// player page with the frame it belongs to, within 100 ms, over WebRTC
// and LL-HLS: the one clock holds from the ingest to the screen.
func TestPlayerPinOnFrame(t *testing.T) {
	for _, c := range []struct {
		name, ingest, transport string
		opus                    bool
	}{
		{"rtsp_aac_whep", "tcp", "whep", false},
		{"rtsp_opus_llhls", "tcp", "hls", true},
		{"rtsp_udp_aac_whep", "udp", "whep", false},
		{"whip_whep", "whip", "whep", false},
		{"whip_llhls", "whip", "hls", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newPlayerEnvWith(t, true, func(cfg *configs.Config) {
				if c.ingest == "udp" {
					rtp := freeUDPPair(t)
					cfg.RTSP.UDPRTP, cfg.RTSP.UDPRTCP = fmt.Sprintf("127.0.0.1:%d", rtp), fmt.Sprintf("127.0.0.1:%d", rtp+1)
				}
			})
			if c.ingest == "whip" {
				e.publishWHIP()
			} else {
				testenv.RequireFFmpeg(t)
				src := testenv.DefaultSource(60)
				src.BFrames, src.Opus = 0, c.opus
				url := fmt.Sprintf("rtsp://%s/live/%s", e.s.RTSPAddr(), path.Base(e.c.Ingest.RTMP))
				testenv.Start(t, append(src.Args(), "-muxdelay", "0.05", "-f", "rtsp", "-rtsp_transport", c.ingest, url)...)
			}
			waitOnline(t, e.s, e.c.ID, 15*time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			p := e.page(ctx, "?transport="+c.transport)
			waitPlaying(t, ctx, p, c.transport)
			time.Sleep(2 * time.Second)
			checkPinDelay(t, e.measurePin(ctx, p, e.products[0]))
		})
	}
}

// publishWHIP goes live from a headless Chromium's fake camera and
// microphone with the campaign's stream key, as the console's browser
// studio does; the publisher stops with the test.
func (e *playerEnv) publishWHIP() {
	e.t.Helper()
	b := browser.Launch(e.t, browser.WithFakeMedia())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := b.NewPage(ctx, e.base+"/healthz")
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = p.Close() })
	var res browser.WHIPResult
	if err := p.Eval(ctx, browser.WHIPPublishJS(e.c.Ingest.WHIP, e.c.StreamKey), &res); err != nil || res.Status != 201 {
		e.t.Fatalf("WHIP publish to %s: %v %+v\n%s", e.c.Ingest.WHIP, err, res, strings.Join(p.Console(), "\n"))
	}
}
