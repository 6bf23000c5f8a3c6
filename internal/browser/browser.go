// Package browser drives a headless Chromium through the Chrome DevTools
// Protocol for end-to-end tests: a WHIP publisher with a fake camera, a WHEP
// or HLS viewer, screenshots and console logs when a test fails.
//
// It speaks CDP directly over one websocket (github.com/coder/websocket),
// with page sessions flattened onto it, instead of pulling in a CDP client
// library: tests need a dozen methods, not the whole protocol.
//
// Typical use:
//
//	b := browser.Launch(t, browser.WithFakeMedia())
//	p, err := b.NewPage(ctx, srv.URL+"/")
//	...
//	browser.ScreenshotOnFailure(t, p, "")
//	var n int
//	err = p.Eval(ctx, `document.querySelectorAll("video").length`, &n)
//
// Pages need not be closed: the browser's cleanup ends everything.
//
// It imports no package of the project.
package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	startTimeout = 20 * time.Second
	// How long a browser gets to exit on its own after Browser.close before
	// its process group is killed.
	gracefulExit = 3 * time.Second
	// How long the group's processes get to disappear after SIGKILL.
	killTimeout = 5 * time.Second
)

// baseArgs are the flags every browser gets. The first group is required on
// the CI machines (no GPU, no sandbox in containers, no network chatter);
// the second keeps several pages of one test (publisher, viewers) running
// at full speed although only one can have focus, and lets a muted <video>
// play without a user gesture.
var baseArgs = []string{
	"--headless=new",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--no-first-run",
	"--disable-quic",
	"--no-default-browser-check",
	"--mute-audio",
	"--remote-debugging-port=0",

	"--autoplay-policy=no-user-gesture-required",
	"--disable-background-timer-throttling",
	"--disable-renderer-backgrounding",
	"--disable-backgrounding-occluded-windows",
	// Host ICE candidates as real addresses instead of random .local mDNS
	// names, which a server on loopback could not resolve.
	"--disable-features=WebRtcHideLocalIpsWithMdns",
}

// Option configures Launch.
type Option func(*config)

type config struct {
	fakeMedia bool
	args      []string
}

// WithFakeMedia gives the browser a fake camera (a moving test pattern) and
// microphone (a beep), and grants getUserMedia without a prompt.
func WithFakeMedia() Option {
	return func(c *config) { c.fakeMedia = true }
}

// WithArgs appends command-line flags, for example
// --unsafely-treat-insecure-origin-as-secure=http://10.0.0.5:8080 so that
// getUserMedia works on a non-loopback plain-HTTP origin.
func WithArgs(args ...string) Option {
	return func(c *config) { c.args = append(c.args, args...) }
}

// Browser is a running Chromium.
type Browser struct {
	cmd     *exec.Cmd
	conn    *conn
	profile string
	stderr  *stderrLog
	version string
	startup time.Duration

	exited  chan struct{} // closed once cmd.Wait has returned
	waitErr error         // cmd.Wait's result, set before exited is closed

	closeOnce sync.Once
	closeErr  error
}

// Launch starts a fresh headless Chromium with its own temporary profile and
// closes it when the test ends. It skips the test if Chromium is not
// installed ($VITRINE_CHROMIUM, else chromium on $PATH).
func Launch(t testing.TB, opts ...Option) *Browser {
	t.Helper()
	bin, err := findChromium()
	if err != nil {
		t.Skipf("%v: install it with apt-get install -y chromium", err)
	}
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	b, err := start(ctx, bin, cfg)
	if err != nil {
		t.Fatalf("launch chromium: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close chromium: %v", err)
		}
	})
	t.Logf("%s ready in %v (pid %d)", b.version, b.startup.Round(time.Millisecond), b.PID())
	return b
}

func findChromium() (string, error) {
	if p := os.Getenv("VITRINE_CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		return "", errors.New("chromium not installed")
	}
	return p, nil
}

// start runs bin and connects to its DevTools endpoint. On error nothing is
// left behind.
func start(ctx context.Context, bin string, cfg config) (*Browser, error) {
	began := time.Now()
	profile, err := os.MkdirTemp("", "vitrine-chromium-")
	if err != nil {
		return nil, fmt.Errorf("profile dir: %w", err)
	}
	args := append([]string(nil), baseArgs...)
	if cfg.fakeMedia {
		args = append(args, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
	}
	args = append(args, cfg.args...)
	args = append(args, "--user-data-dir="+profile, "about:blank")

	b := &Browser{
		profile: profile,
		stderr:  newStderrLog(),
		exited:  make(chan struct{}),
	}
	b.cmd = exec.Command(bin, args...)
	b.cmd.Stderr = b.stderr
	b.cmd.SysProcAttr = sysProcAttr()
	// A helper that escaped the process group could hold stderr open
	// forever; Wait must not hang on it.
	b.cmd.WaitDelay = 2 * time.Second
	if err := b.cmd.Start(); err != nil {
		_ = os.RemoveAll(profile)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	// Owned by b: Close waits for it through b.exited.
	go func() {
		b.waitErr = b.cmd.Wait()
		close(b.exited)
	}()

	fail := func(err error) (*Browser, error) {
		if cerr := b.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, fmt.Errorf("%w\nchromium stderr (tail):\n%s", err, b.stderr)
	}
	var wsURL string
	select {
	case wsURL = <-b.stderr.url:
	case <-b.exited:
		return fail(fmt.Errorf("chromium exited before DevTools came up: %v", b.waitErr))
	case <-ctx.Done():
		return fail(fmt.Errorf("no DevTools URL on chromium's stderr: %w", ctx.Err()))
	}
	if b.conn, err = dial(ctx, wsURL); err != nil {
		return fail(err)
	}
	var v struct {
		Product string `json:"product"`
	}
	if err := b.conn.call(ctx, "", "Browser.getVersion", nil, &v); err != nil {
		return fail(err)
	}
	b.version = v.Product
	b.startup = time.Since(began)
	return b, nil
}

// PID is the browser's process id, also its process group id.
func (b *Browser) PID() int { return b.cmd.Process.Pid }

// Version is the browser's product string, e.g. "HeadlessChrome/156.0.8078.79".
func (b *Browser) Version() string { return b.version }

// Close ends the browser: politely first, then by killing its whole process
// group; it waits until no process of the group runs and removes the
// profile directory. It is safe to call more than once.
func (b *Browser) Close() error {
	b.closeOnce.Do(func() { b.closeErr = b.close() })
	return b.closeErr
}

func (b *Browser) close() error {
	var errs []error
	if b.conn != nil {
		// Asked to quit, chromium reaps its own helpers instead of leaving
		// them to init. It may drop the socket before replying: no error.
		b.conn.quit()
		ctx, cancel := context.WithTimeout(context.Background(), gracefulExit)
		_ = b.conn.call(ctx, "", "Browser.close", nil, nil)
		cancel()
		select {
		case <-b.exited:
		case <-time.After(gracefulExit):
		}
	}
	pgid := b.PID()
	if err := killGroup(pgid); err != nil {
		errs = append(errs, err)
	}
	<-b.exited // bounded: the main process is killed and Wait has a WaitDelay
	if b.conn != nil {
		b.conn.close()
	}
	if err := waitGroupGone(pgid, killTimeout); err != nil {
		errs = append(errs, err)
	}
	if err := removeProfile(b.profile); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// removeProfile retries briefly: a killed helper can still be finishing a
// write in the profile when RemoveAll walks it.
func removeProfile(dir string) error {
	var err error
	for range 5 {
		if err = os.RemoveAll(dir); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("remove profile: %w", err)
}

// NewPage opens a new tab in its own window (so that every page renders and
// runs timers as if visible), attaches to it, enables the Page, Runtime and
// Log domains and, if url is not empty, navigates to url and waits for its
// load event.
func (b *Browser) NewPage(ctx context.Context, url string) (*Page, error) {
	var target struct {
		TargetID string `json:"targetId"`
	}
	err := b.conn.call(ctx, "", "Target.createTarget",
		map[string]any{"url": "about:blank", "newWindow": true}, &target)
	if err != nil {
		return nil, fmt.Errorf("new page: %w", err)
	}
	p := &Page{conn: b.conn, targetID: target.TargetID}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	err = b.conn.call(ctx, "", "Target.attachToTarget",
		map[string]any{"targetId": target.TargetID, "flatten": true}, &att)
	if err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("new page: %w", err)
	}
	p.session = att.SessionID
	// Listen before enabling Runtime: enabling replays the console
	// messages logged so far.
	p.subscribe()
	for _, m := range []struct {
		method string
		params any
	}{
		{"Page.enable", nil},
		{"Page.setLifecycleEventsEnabled", map[string]any{"enabled": true}},
		{"Runtime.enable", nil},
		{"Log.enable", nil},
	} {
		if err := b.conn.call(ctx, p.session, m.method, m.params, nil); err != nil {
			_ = p.Close()
			return nil, fmt.Errorf("new page: %w", err)
		}
	}
	if url != "" {
		if err := p.Navigate(ctx, url); err != nil {
			_ = p.Close()
			return nil, err
		}
	}
	return p, nil
}

// stderrLog is chromium's stderr: it keeps the tail for error messages and
// hands over the DevTools URL once it appears. exec's copying goroutine is
// its only writer.
type stderrLog struct {
	url chan string // 1-buffered, receives the DevTools URL once

	mu    sync.Mutex
	tail  []byte
	line  []byte // the current, unfinished line
	found bool
}

const stderrKeep = 16 << 10

func newStderrLog() *stderrLog { return &stderrLog{url: make(chan string, 1)} }

func (s *stderrLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tail = append(s.tail, p...)
	if len(s.tail) > stderrKeep {
		s.tail = append(s.tail[:0], s.tail[len(s.tail)-stderrKeep:]...)
	}
	if s.found {
		return len(p), nil
	}
	s.line = append(s.line, p...)
	for {
		i := bytes.IndexByte(s.line, '\n')
		if i < 0 {
			break
		}
		l := strings.TrimSpace(string(s.line[:i]))
		s.line = s.line[i+1:]
		if u, ok := strings.CutPrefix(l, "DevTools listening on "); ok {
			s.found = true
			s.line = nil
			s.url <- u
			break
		}
	}
	if len(s.line) > stderrKeep {
		s.line = s.line[len(s.line)-stderrKeep:] // no newline for ages: not our line
	}
	return len(p), nil
}

func (s *stderrLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.tail)
}
