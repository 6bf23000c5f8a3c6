package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"vitrine/internal/browser"
	"vitrine/internal/testenv"
)

// flashBeepArgs is an encoder whose picture flashes white and whose sound
// beeps (1 kHz) at the same instants, 200 ms every second: the offset
// between the flash on screen and the beep heard is the A/V sync.
func flashBeepArgs(seconds int) []string {
	return []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", `color=c=black:s=320x240:r=30,drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable=lt(mod(t\,1)\,0.2)`,
		"-re", "-f", "lavfi", "-i", `aevalsrc=exprs=0.6*sin(2*PI*1000*t)*lt(mod(t\,1)\,0.2):s=48000:c=stereo`,
		"-t", fmt.Sprint(seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-g", "30",
		"-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"}
}

// avSyncJS watches the WHEP page's <video> for a few seconds: the times the
// picture turns white (requestVideoFrameCallback: when the frame is shown)
// and the times the beep starts (an AudioWorklet on the same stream, in
// the audio context's clock mapped to the page's), plus getStats' audio
// level and samples. It resolves to {flashes, beeps, level, samples}.
const avSyncJS = `(async (ms) => {
  const s = window.__whep;
  const v = s.video;
  v.muted = false;
  const ctx = new AudioContext();
  await ctx.resume();
  const worklet = "registerProcessor('onset', class extends AudioWorkletProcessor {" +
    "constructor(){super(); this.quiet = 0;}" +
    "process(inputs){ const ch = inputs[0] && inputs[0][0]; if (!ch) return true;" +
    " for (let i = 0; i < ch.length; i++) { const a = Math.abs(ch[i]);" +
    "  if (a > 0.2) { if (this.quiet > 4800) this.port.postMessage(currentTime + i / sampleRate); this.quiet = 0; }" +
    "  else this.quiet++; }" +
    " return true; }});";
  await ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([worklet], {type: 'application/javascript'})));
  const node = new AudioWorkletNode(ctx, 'onset');
  ctx.createMediaStreamSource(s.stream).connect(node);
  node.connect(ctx.destination);
  const beeps = [], flashes = [];
  node.port.onmessage = (e) => {
    // getOutputTimestamp pairs the context time being heard with the
    // page's clock: the beep is heard at that pairing plus its distance.
    const ts = ctx.getOutputTimestamp();
    beeps.push(ts.performanceTime + (e.data - ts.contextTime) * 1000);
  };
  const c = document.createElement('canvas');
  c.width = c.height = 8;
  const g = c.getContext('2d', {willReadFrequently: true});
  let bright = false;
  const onFrame = (now, meta) => {
    g.drawImage(v, 0, 0, 8, 8);
    const d = g.getImageData(0, 0, 8, 8).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum += d[i];
    const b = sum / (d.length / 4) > 128;
    if (b && !bright) flashes.push(meta.expectedDisplayTime);
    bright = b;
    v.requestVideoFrameCallback(onFrame);
  };
  v.requestVideoFrameCallback(onFrame);
  await new Promise((r) => setTimeout(r, ms));
  let level = 0, samples = 0, packets = 0;
  (await s.pc.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'audio') {
      level = r.audioLevel || 0; samples = r.totalSamplesReceived || 0; packets = r.packetsReceived || 0;
    }
  });
  await ctx.close();
  return {flashes, beeps, level, samples, packets};
})`

type avSync struct {
	Flashes []float64 `json:"flashes"`
	Beeps   []float64 `json:"beeps"`
	Level   float64   `json:"level"`
	Samples int64     `json:"samples"`
	Packets int64     `json:"packets"`
}

// offsets pairs each flash with the beep nearest to it: beep minus flash,
// in ms (positive: the sound comes late).
func (a avSync) offsets() []float64 {
	var out []float64
	for _, f := range a.Flashes {
		best := 1e9
		for _, b := range a.Beeps {
			if d := b - f; abs(d) < abs(best) {
				best = d
			}
		}
		if abs(best) < 500 {
			out = append(out, best)
		}
	}
	return out
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// TestWHEPHearsAAC: an encoder sending H.264 and AAC over RTMP or RTSP is
// heard by WebRTC viewers (the audio transcoded to Opus once for the
// stream), in sync with the picture.
func TestWHEPHearsAAC(t *testing.T) {
	testenv.RequireFFmpeg(t)
	s := startServer(t, nil)
	b := browser.Launch(t)
	for _, ingest := range []string{"rtmp", "rtsp"} {
		t.Run(ingest, func(t *testing.T) {
			args := flashBeepArgs(40)
			switch ingest {
			case "rtmp":
				args = append(args, "-f", "flv", s.rtmpURL(testKey))
			case "rtsp":
				// ffmpeg's RTP packetizer otherwise gathers AAC frames for up
				// to 0.7 s (-muxdelay): quiet frames are small, so the sound
				// of a silence then a beep arrives that late (README).
				args = append(args, "-muxdelay", "0.05", "-f", "rtsp", "-rtsp_transport", "tcp", fmt.Sprintf("rtsp://%s/live/%s", s.RTSPAddr(), testKey))
			}
			push := testenv.Start(t, args...)
			defer push.Stop()
			waitOnline(t, s, "demo", 15*time.Second)

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			p, err := b.NewPage(ctx, "http://"+s.HTTPAddr().String()+"/healthz")
			if err != nil {
				t.Fatal(err)
			}
			browser.ScreenshotOnFailure(t, p, browser.ArtifactsDir())
			defer p.Close()
			var res browser.WHEPResult
			if err := p.Eval(ctx, browser.WHEPPlayJS("http://"+s.HTTPAddr().String()+"/live/demo/whep"), &res); err != nil {
				t.Fatalf("WHEP play: %v\n%s", err, strings.Join(p.Console(), "\n"))
			}
			if err := p.WaitFor(ctx, "("+browser.WHEPStatsJS+").then(s => s.framesDecoded > 0 && s.audioPacketsReceived > 0)", 100*time.Millisecond); err != nil {
				t.Fatalf("no picture or no sound: %v", err)
			}
			var st browser.WHEPStats
			if err := p.Eval(ctx, browser.WHEPStatsJS, &st); err != nil {
				t.Fatal(err)
			}
			if !strings.EqualFold(st.AudioCodec, "audio/opus") {
				t.Errorf("audio codec %q, want Opus", st.AudioCodec)
			}
			// Chrome's lip sync moves the streams' delays by at most 80 ms a
			// second: let it settle from the start (a replayed keyframe
			// interval, a jitter buffer filling) before measuring.
			time.Sleep(6 * time.Second)
			var sync avSync
			measure := func() {
				t.Helper()
				if err := p.Eval(ctx, avSyncJS+"(8500)", &sync); err != nil {
					t.Fatalf("A/V sync: %v\n%s", err, strings.Join(p.Console(), "\n"))
				}
			}
			measure()
			if sync.Packets < st.AudioPacketsReceived+250 || sync.Samples < 48000*5 {
				t.Errorf("audio stalled: %d packets and %d samples after %d packets", sync.Packets, sync.Samples, st.AudioPacketsReceived)
			}
			// The sine beeps at 0.6 for a fifth of the time; silence is 0.
			if sync.Level <= 0 && len(sync.Beeps) == 0 {
				t.Errorf("no sound: audio level %v, no beep heard", sync.Level)
			}
			off := sync.offsets()
			t.Logf("%s to WHEP: %d flashes, %d beeps; beep minus flash (ms): %.0f", ingest, len(sync.Flashes), len(sync.Beeps), off)
			if len(off) < 3 {
				t.Fatalf("flashes %v and beeps %v do not pair", sync.Flashes, sync.Beeps)
			}
			slices.Sort(off)
			for window := 2; window <= 3; window++ {
				med := off[len(off)/2]
				if med >= -80 && med <= 80 {
					break
				}
				// On a loaded machine (CI runs the suite on 2 cores) Chrome's
				// jitter buffers grow and its lip sync is still converging
				// after the settling time, about 17 ms a step (e.g. 150 to 84
				// ms over one window, 85 to 70 over the next): the bound is
				// on the settled sync, so up to two more windows decide.
				t.Logf("%s: median %.0f ms in window %d, measuring another", ingest, med, window-1)
				measure()
				off = sync.offsets()
				t.Logf("%s to WHEP, window %d: beep minus flash (ms): %.0f", ingest, window, off)
				if len(off) < 3 {
					t.Fatalf("flashes %v and beeps %v do not pair", sync.Flashes, sync.Beeps)
				}
				slices.Sort(off)
			}
			if med := off[len(off)/2]; med < -80 || med > 80 {
				t.Errorf("A/V sync: the beep is heard %.0f ms from the flash (median), want within ±80 ms", med)
			}
			info := s.webrtc.StreamInfo("demo")
			t.Logf("stream view: WebRTC video %q, audio %q", info.WHEPVideo, info.WHEPAudio)
			if info.WHEPAudio != "Opus (transcoded from AAC)" {
				t.Errorf("WebRTC audio %q", info.WHEPAudio)
			}
			push.Stop()
			s.Hub().End("demo")
		})
	}
}

// TestPlayerUnmuteKeepsWebRTC: on the player page, a shopper who unmutes
// an AAC live stays on WebRTC (sub-second) and hears it; before the
// transcoder, unmuting switched to LL-HLS, seconds behind.
func TestPlayerUnmuteKeepsWebRTC(t *testing.T) {
	e := newPlayerEnv(t, true)
	e.push(40)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := e.page(ctx, "")
	waitPlaying(t, ctx, p, "whep")
	if err := p.Eval(ctx, `document.querySelector('.vt-mute').click()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(ctx, `!__vitrine.video.muted && document.querySelector('.vt-mute').getAttribute('aria-pressed') === 'true'`, 50*time.Millisecond); err != nil {
		t.Fatalf("the mute button did not unmute: %v", err)
	}
	// The sound comes over WebRTC: the audio track carries media (a
	// track is muted until its packets flow), and the page stays there.
	time.Sleep(2 * time.Second)
	var st struct {
		Transport  string `json:"transport"`
		AudioLive  bool   `json:"audioLive"`
		AudioCount int    `json:"audioCount"`
	}
	if err := p.Eval(ctx, `(() => { const s = __vitrine.video.srcObject, a = s ? s.getAudioTracks() : [];
	  return {transport: __vitrine.transport, audioCount: a.length, audioLive: a.length > 0 && !a[0].muted && a[0].readyState === 'live'} })()`, &st); err != nil {
		t.Fatal(err)
	}
	if st.Transport != "whep" || !st.AudioLive {
		t.Fatalf("after unmuting: %+v, want WebRTC with a live audio track", st)
	}
}
