package server

import (
	"context"
	"fmt"
	"path"
	"testing"
	"time"

	"vitrine/internal/testenv"
)

// TestPlayerPinOnFrame: over RTSP too (TestPlayerWHEP and TestPlayerLLHLS
// push RTMP), a pin shows on the player page with the frame it belongs
// to, within 100 ms, over WebRTC and LL-HLS: the one clock holds from the
// ingest to the screen.
func TestPlayerPinOnFrame(t *testing.T) {
	for _, c := range []struct {
		name, transport string
		opus            bool
	}{
		{"rtsp_aac_whep", "whep", false},
		{"rtsp_opus_llhls", "hls", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newPlayerEnv(t, true)
			testenv.RequireFFmpeg(t)
			src := testenv.DefaultSource(60)
			src.BFrames, src.Opus = 0, c.opus
			url := fmt.Sprintf("rtsp://%s/live/%s", e.s.RTSPAddr(), path.Base(e.c.Ingest.RTMP))
			testenv.Start(t, append(src.Args(), "-muxdelay", "0.05", "-f", "rtsp", "-rtsp_transport", "tcp", url)...)
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
