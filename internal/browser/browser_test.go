package browser

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

const testPage = `<!doctype html>
<html><head><title>vitrine test</title></head>
<body style="background:#0a7">
<h1>Vitrine</h1>
<script>
console.log('hello', 42);
console.error('oops');
setTimeout(() => { window.ready = true; }, 300);
setTimeout(() => { throw new Error('late failure'); }, 10);
</script>
</body></html>`

func servePage(t *testing.T, html string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(html))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func timeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestPage(t *testing.T) {
	srv := servePage(t, testPage)
	b := Launch(t)
	ctx := timeout(t, 20*time.Second)
	began := time.Now()
	p, err := b.NewPage(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("page loaded in %v", time.Since(began).Round(time.Millisecond))
	ScreenshotOnFailure(t, p, "")

	t.Run("Eval", func(t *testing.T) {
		var n int
		if err := p.Eval(ctx, "6 * 7", &n); err != nil || n != 42 {
			t.Fatalf("6 * 7 = %d, %v", n, err)
		}
		var v struct{ A string }
		if err := p.Eval(ctx, `new Promise(r => setTimeout(() => r({a: 'b'}), 20))`, &v); err != nil || v.A != "b" {
			t.Fatalf("promise = %+v, %v", v, err)
		}
		var title string
		if err := p.Eval(ctx, "document.title", &title); err != nil || title != "vitrine test" {
			t.Fatalf("title = %q, %v", title, err)
		}
		if err := p.Eval(ctx, "undefined", &v); err == nil {
			t.Fatal("undefined decoded without error")
		}
		if err := p.Eval(ctx, "undefined", nil); err != nil {
			t.Fatalf("undefined with nil out: %v", err)
		}
	})

	t.Run("Exception", func(t *testing.T) {
		err := p.Eval(ctx, "const x = 1;\nconst y = 2;\nthrow new Error('boom ' + (x + y));", nil)
		var jsErr *JSError
		if !errors.As(err, &jsErr) {
			t.Fatalf("err = %v, want a *JSError", err)
		}
		if !strings.Contains(jsErr.Message, "boom 3") || jsErr.Line != 3 || !strings.Contains(err.Error(), "line 3") {
			t.Fatalf("err = %v (line %d), want boom 3 at line 3", err, jsErr.Line)
		}
		err = p.Eval(ctx, "Promise.reject(new TypeError('rejected'))", nil)
		if !errors.As(err, &jsErr) || !strings.Contains(err.Error(), "TypeError: rejected") {
			t.Fatalf("rejection: %v", err)
		}
	})

	t.Run("WaitFor", func(t *testing.T) {
		if err := p.WaitFor(ctx, "window.ready === true", 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		// Exceptions do not end the wait: later is defined 100 ms from now.
		if err := p.Eval(ctx, "setTimeout(() => { window.later = 1; }, 100)", nil); err != nil {
			t.Fatal(err)
		}
		if err := p.WaitFor(ctx, "later === 1", 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		err := p.WaitFor(short, "document.title.length", 0)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "last value: 12") {
			t.Fatalf("err = %v, want deadline exceeded with the last value", err)
		}
	})

	t.Run("Console", func(t *testing.T) {
		if err := p.Eval(ctx, "console.warn('from eval', {a: 1}, [1, 2], null)", nil); err != nil {
			t.Fatal(err)
		}
		want := []string{"console.log: hello 42", "console.error: oops", "late failure", "console.warning: from eval Object Array(2) null"}
		var got []string
		for range 50 { // console events arrive asynchronously to the Eval reply
			got = p.Console()
			if containsAll(got, want) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("console = %q, want entries containing %q", got, want)
	})

	t.Run("Screenshot", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "sub", "shot.png")
		if err := p.Screenshot(ctx, path); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("not a PNG: % x", data[:min(8, len(data))])
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if r := img.Bounds(); r.Dx() == 0 || r.Dy() == 0 {
			t.Fatalf("empty screenshot %v", r)
		}
	})

	t.Run("Navigate", func(t *testing.T) {
		q, err := b.NewPage(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Navigate(ctx, srv.URL+"/again"); err != nil {
			t.Fatal(err)
		}
		var href string
		if err := q.Eval(ctx, "location.href", &href); err != nil || href != srv.URL+"/again" {
			t.Fatalf("href = %q, %v", href, err)
		}
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		if err := q.Navigate(ctx, dead.URL); err == nil || !strings.Contains(err.Error(), "ERR_CONNECTION_REFUSED") {
			t.Fatalf("navigate to a closed port: %v", err)
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		if err := q.Eval(ctx, "1", nil); err == nil {
			t.Fatal("eval on a closed page succeeded")
		}
		if err := q.Close(); err != nil {
			t.Fatalf("second close: %v", err)
		}
	})
}

func containsAll(got, want []string) bool {
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.Contains(g, w)
		}
		if !found {
			return false
		}
	}
	return true
}

// TestFakeMedia proves that WHIP tests get a camera and a microphone.
func TestFakeMedia(t *testing.T) {
	srv := servePage(t, "<!doctype html><title>media</title>")
	b := Launch(t, WithFakeMedia())
	ctx := timeout(t, 20*time.Second)
	p, err := b.NewPage(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ScreenshotOnFailure(t, p, "")
	var tracks struct{ Video, Audio int }
	err = p.Eval(ctx, `(async () => {
		const s = await navigator.mediaDevices.getUserMedia({video: true, audio: true});
		const n = {video: s.getVideoTracks().length, audio: s.getAudioTracks().length};
		s.getTracks().forEach((t) => t.stop());
		return n;
	})()`, &tracks)
	if err != nil {
		t.Fatal(err)
	}
	if tracks.Video != 1 || tracks.Audio != 1 {
		t.Fatalf("tracks = %+v, want 1 video and 1 audio", tracks)
	}
}

// loopbackJS connects two peer connections of one page, the first sending
// the fake camera, optionally as H.264 only.
const loopbackJS = `(async (h264) => {
	const stream = await navigator.mediaDevices.getUserMedia({video: true});
	const t0 = performance.now();
	const a = new RTCPeerConnection(), b = new RTCPeerConnection();
	a.onicecandidate = (e) => { if (e.candidate) b.addIceCandidate(e.candidate); };
	b.onicecandidate = (e) => { if (e.candidate) a.addIceCandidate(e.candidate); };
	const tr = a.addTransceiver(stream.getVideoTracks()[0], {direction: 'sendonly'});
	if (h264) tr.setCodecPreferences(RTCRtpSender.getCapabilities('video').codecs.filter((c) => c.mimeType === 'video/H264'));
	await a.setLocalDescription();
	await b.setRemoteDescription(a.localDescription);
	await b.setLocalDescription();
	await a.setRemoteDescription(b.localDescription);
	window.__loop = {a, b, t0, firstFrameMs: null, codec: ''};
})`

const loopbackDecodedJS = `(async () => {
	const l = window.__loop, stats = await l.b.getStats();
	let n = 0;
	stats.forEach((r) => {
		if (r.type === 'inbound-rtp' && r.kind === 'video') {
			n = r.framesDecoded || 0;
			const c = r.codecId && stats.get(r.codecId);
			if (c) l.codec = c.mimeType;
		}
	});
	if (n > 0 && l.firstFrameMs === null) l.firstFrameMs = performance.now() - l.t0;
	return n > 0;
})()`

// TestWebRTCLoopback proves that this machine's headless Chromium encodes
// and decodes WebRTC video, so WHEP failures point at the server.
func TestWebRTCLoopback(t *testing.T) {
	srv := servePage(t, "<!doctype html><title>loopback</title>")
	b := Launch(t, WithFakeMedia())
	ctx := timeout(t, 30*time.Second)
	for _, tc := range []struct {
		name string
		h264 bool
	}{{"default", false}, {"H264", true}} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := b.NewPage(ctx, srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			ScreenshotOnFailure(t, p, "")
			if tc.h264 {
				var has bool
				if err := p.Eval(ctx, `RTCRtpSender.getCapabilities('video').codecs.some((c) => c.mimeType === 'video/H264')`, &has); err != nil {
					t.Fatal(err)
				}
				if !has {
					t.Skip("this Chromium cannot encode H.264 for WebRTC")
				}
			}
			flag := "false"
			if tc.h264 {
				flag = "true"
			}
			if err := p.Eval(ctx, loopbackJS+"("+flag+")", nil); err != nil {
				t.Fatal(err)
			}
			wait, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := p.WaitFor(wait, loopbackDecodedJS, 20*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			var res struct {
				FirstFrameMs float64
				Codec        string
			}
			if err := p.Eval(ctx, "({firstFrameMs: window.__loop.firstFrameMs, codec: window.__loop.codec})", &res); err != nil {
				t.Fatal(err)
			}
			if tc.h264 && res.Codec != "video/H264" {
				t.Fatalf("codec = %q, want video/H264", res.Codec)
			}
			t.Logf("first decoded %s frame %.0f ms after the peer connections were created", res.Codec, res.FirstFrameMs)
		})
	}
}

// TestClose checks that closing leaves no process, profile or reader
// behind, and that calls afterwards fail cleanly.
func TestClose(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("process groups are tracked on Linux only")
	}
	b := Launch(t)
	ctx := timeout(t, 20*time.Second)
	p, err := b.NewPage(ctx, "about:blank")
	if err != nil {
		t.Fatal(err)
	}
	pid, profile := b.PID(), b.profile
	if len(groupAlive(pid)) < 2 {
		t.Fatalf("chromium group %d: %v, want the browser and its helpers", pid, groupAlive(pid))
	}
	began := time.Now()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("closed in %v", time.Since(began).Round(time.Millisecond))
	if alive := groupAlive(pid); len(alive) > 0 {
		t.Fatalf("still running after Close: %v", alive)
	}
	if proc, err := os.FindProcess(pid); err == nil {
		if err := proc.Signal(syscall.Signal(0)); !errors.Is(err, os.ErrProcessDone) {
			t.Fatalf("signal 0 to %d: %v, want os.ErrProcessDone", pid, err)
		}
	}
	if _, err := os.Stat(profile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("profile %s: %v, want removed", profile, err)
	}
	select {
	case <-b.conn.done:
	default:
		t.Fatal("devtools reader still running")
	}
	if err := p.Eval(ctx, "1", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("eval after close: %v, want ErrClosed", err)
	}
	if _, err := b.NewPage(ctx, ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("new page after close: %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("page close after browser close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

// TestStartFailures uses stand-ins for chromium that die or hang.
func TestStartFailures(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("shell stand-ins")
	}
	dir := t.TempDir()
	script := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}

	t.Run("exits", func(t *testing.T) {
		bin := script("exits", "echo 'cannot open display' >&2\nexit 3\n")
		_, err := start(timeout(t, 10*time.Second), bin, config{})
		if err == nil || !strings.Contains(err.Error(), "exited before DevTools") || !strings.Contains(err.Error(), "cannot open display") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("hangs", func(t *testing.T) {
		pidFile := filepath.Join(dir, "pid")
		bin := script("hangs", "echo $$ > "+pidFile+"\necho 'still starting' >&2\nexec sleep 60\n")
		began := time.Now()
		_, err := start(timeout(t, 500*time.Millisecond), bin, config{})
		if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "still starting") {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(began); d > 5*time.Second {
			t.Fatalf("gave up after %v", d)
		}
		data, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		var pid int
		for _, c := range strings.TrimSpace(string(data)) {
			pid = pid*10 + int(c-'0')
		}
		if alive := groupAlive(pid); len(alive) > 0 {
			t.Fatalf("stand-in still running: %v", alive)
		}
	})
}

// failedTB is a failed test for ScreenshotOnFailure's cleanup.
type failedTB struct {
	testing.TB
	cleanups []func()
	logs     []string
}

func (f *failedTB) Failed() bool            { return true }
func (f *failedTB) Name() string            { return "TestShow/viewer #1" }
func (f *failedTB) Cleanup(fn func())       { f.cleanups = append(f.cleanups, fn) }
func (f *failedTB) Logf(s string, a ...any) { f.logs = append(f.logs, s) }

func TestScreenshotOnFailure(t *testing.T) {
	srv := servePage(t, testPage)
	b := Launch(t)
	ctx := timeout(t, 20*time.Second)
	p, err := b.NewPage(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ft := &failedTB{TB: t}
	ScreenshotOnFailure(ft, p, dir)
	ScreenshotOnFailure(ft, p, dir) // a second page of the same test
	for _, fn := range ft.cleanups {
		fn()
	}
	for _, name := range []string{"TestShow_viewer_1.png", "TestShow_viewer_1.console.txt", "TestShow_viewer_1-2.png"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%v (logs %q)", err, ft.logs)
		}
	}
	console, _ := os.ReadFile(filepath.Join(dir, "TestShow_viewer_1.console.txt"))
	if !strings.Contains(string(console), "hello 42") {
		t.Errorf("console file = %q", console)
	}
}
