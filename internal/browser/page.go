package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// maxConsole bounds what a chatty page can make a test hold; the newest
// entries are kept since they are the ones that explain a failure.
const maxConsole = 2000

// Page is one browser tab, driven through its own CDP session.
type Page struct {
	conn     *conn
	targetID string
	session  string
	offs     []func()

	mu      sync.Mutex
	console []string
	dropped int

	closeOnce sync.Once
	closeErr  error
}

// remoteObject is CDP's Runtime.RemoteObject, the parts we read.
type remoteObject struct {
	Type                string          `json:"type"`
	Subtype             string          `json:"subtype"`
	Value               json.RawMessage `json:"value"`
	UnserializableValue string          `json:"unserializableValue"`
	Description         string          `json:"description"`
}

// describe renders a CDP remote object for humans: console arguments,
// unexpected Eval results.
func describe(o remoteObject) string {
	switch {
	case o.Type == "undefined":
		return "undefined"
	case o.UnserializableValue != "":
		return o.UnserializableValue
	case o.Type == "string" && len(o.Value) > 0:
		var s string
		if json.Unmarshal(o.Value, &s) == nil {
			return s
		}
	case len(o.Value) > 0 && o.Type != "object" && o.Type != "function":
		return string(o.Value)
	}
	if o.Description != "" {
		return o.Description
	}
	if len(o.Value) > 0 {
		return string(o.Value)
	}
	return o.Type
}

// exceptionDetails is CDP's Runtime.ExceptionDetails, the parts we read.
type exceptionDetails struct {
	Text         string        `json:"text"`
	LineNumber   int           `json:"lineNumber"`
	ColumnNumber int           `json:"columnNumber"`
	URL          string        `json:"url"`
	Exception    *remoteObject `json:"exception"`
}

// JSError is an exception thrown, or a promise rejected, by JavaScript that
// Eval ran.
type JSError struct {
	Text    string // CDP's summary, e.g. "Uncaught" or "Uncaught (in promise)"
	Message string // the exception: its stack for an Error, else its value
	Line    int    // 1-based, within the evaluated script (or URL)
	Column  int    // 1-based
	URL     string // the script's URL when the exception came from one
}

func (e *JSError) Error() string {
	where := fmt.Sprintf("line %d:%d", e.Line, e.Column)
	if e.URL != "" {
		where = e.URL + " " + where
	}
	return fmt.Sprintf("javascript: %s %s (at %s)", e.Text, e.Message, where)
}

func newJSError(d exceptionDetails) *JSError {
	e := &JSError{Text: d.Text, Line: d.LineNumber + 1, Column: d.ColumnNumber + 1, URL: d.URL}
	if d.Exception != nil {
		e.Message = describe(*d.Exception)
	}
	return e
}

// subscribe collects what a failure log needs: console calls, uncaught
// exceptions, browser log entries (failed loads, CSP, WebRTC warnings) and
// a crash of the renderer.
func (p *Page) subscribe() {
	on := func(method string, fn func(json.RawMessage)) {
		p.offs = append(p.offs, p.conn.on(p.session, method, fn))
	}
	on("Runtime.consoleAPICalled", func(raw json.RawMessage) {
		var ev struct {
			Type string         `json:"type"`
			Args []remoteObject `json:"args"`
		}
		if json.Unmarshal(raw, &ev) != nil {
			return
		}
		parts := make([]string, len(ev.Args))
		for i, a := range ev.Args {
			parts[i] = describe(a)
		}
		p.record(fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " ")))
	})
	on("Runtime.exceptionThrown", func(raw json.RawMessage) {
		var ev struct {
			Details exceptionDetails `json:"exceptionDetails"`
		}
		if json.Unmarshal(raw, &ev) != nil {
			return
		}
		p.record("exception: " + strings.TrimPrefix(newJSError(ev.Details).Error(), "javascript: "))
	})
	on("Log.entryAdded", func(raw json.RawMessage) {
		var ev struct {
			Entry struct {
				Source string `json:"source"`
				Level  string `json:"level"`
				Text   string `json:"text"`
				URL    string `json:"url"`
			} `json:"entry"`
		}
		if json.Unmarshal(raw, &ev) != nil {
			return
		}
		s := fmt.Sprintf("log.%s (%s): %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text)
		if ev.Entry.URL != "" {
			s += " [" + ev.Entry.URL + "]"
		}
		p.record(s)
	})
	on("Inspector.targetCrashed", func(json.RawMessage) { p.record("page crashed") })
}

func (p *Page) record(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.console) >= maxConsole {
		p.console = append(p.console[:0], p.console[1:]...)
		p.dropped++
	}
	p.console = append(p.console, s)
}

// Console returns the console messages, uncaught exceptions and browser log
// entries of the page so far, oldest first, for failure logs. It still
// works after Close.
func (p *Page) Console() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.console)+1)
	if p.dropped > 0 {
		out = append(out, fmt.Sprintf("(%d older entries dropped)", p.dropped))
	}
	return append(out, p.console...)
}

// Navigate loads url in the page and waits for its load event. A network
// error is returned as an error; an HTTP error status is not (the page
// still gets the origin, which is all WHIP helpers need).
func (p *Page) Navigate(ctx context.Context, url string) error {
	// Matched by loader id rather than "the next load event", which could be
	// a late one from the previous document.
	q := p.conn.listen(p.session, "Page.lifecycleEvent")
	defer q.close()
	var nav struct {
		FrameID   string `json:"frameId"`
		LoaderID  string `json:"loaderId"`
		ErrorText string `json:"errorText"`
	}
	if err := p.conn.call(ctx, p.session, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return fmt.Errorf("navigate to %s: %w", url, err)
	}
	if nav.ErrorText != "" {
		return fmt.Errorf("navigate to %s: %s", url, nav.ErrorText)
	}
	if nav.LoaderID == "" {
		return nil // same-document navigation (fragment): there is no load
	}
	for {
		raw, err := q.next(ctx)
		if err != nil {
			return fmt.Errorf("navigate to %s: waiting for load: %w", url, err)
		}
		var ev struct {
			FrameID  string `json:"frameId"`
			LoaderID string `json:"loaderId"`
			Name     string `json:"name"`
		}
		if json.Unmarshal(raw, &ev) == nil && ev.Name == "load" &&
			ev.FrameID == nav.FrameID && ev.LoaderID == nav.LoaderID {
			return nil
		}
	}
}

// eval runs js and returns its value; a JavaScript exception is a *JSError.
func (p *Page) eval(ctx context.Context, js string) (remoteObject, error) {
	var res struct {
		Result    remoteObject      `json:"result"`
		Exception *exceptionDetails `json:"exceptionDetails"`
	}
	err := p.conn.call(ctx, p.session, "Runtime.evaluate", map[string]any{
		"expression":    js,
		"awaitPromise":  true,
		"returnByValue": true,
		// As if clicked: lets play(), fullscreen and the like through.
		"userGesture": true,
	}, &res)
	if err != nil {
		return remoteObject{}, err
	}
	if res.Exception != nil {
		return remoteObject{}, newJSError(*res.Exception)
	}
	return res.Result, nil
}

// Eval runs js as a script in the page, awaits its value if it is a
// promise, and decodes the value as JSON into out (unless out is nil).
// A thrown exception or rejected promise is returned as a *JSError with the
// exception text and line. For top-level await, wrap the code in an async
// arrow: (async () => { ... })().
func (p *Page) Eval(ctx context.Context, js string, out any) error {
	v, err := p.eval(ctx, js)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	if out == nil {
		return nil
	}
	if v.UnserializableValue != "" || len(v.Value) == 0 {
		return fmt.Errorf("eval: result %s has no JSON value", describe(v))
	}
	if err := json.Unmarshal(v.Value, out); err != nil {
		return fmt.Errorf("eval: decode result: %w", err)
	}
	return nil
}

// WaitFor evaluates the boolean expression js every poll (100 ms if poll is
// not positive) until it is true, or ctx is done. JavaScript exceptions do
// not stop the wait (the page may still be setting up); the error on
// timeout reports the last value or exception.
func (p *Page) WaitFor(ctx context.Context, js string, poll time.Duration) error {
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	last := "not evaluated"
	for {
		v, err := p.eval(ctx, js)
		var jsErr *JSError
		switch {
		case err == nil && v.Type == "boolean" && string(v.Value) == "true":
			return nil
		case err == nil:
			last = describe(v)
		case errors.As(err, &jsErr):
			last = jsErr.Error()
		case ctx.Err() == nil:
			return fmt.Errorf("wait for %s: %w", abbrev(js), err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w (last value: %s)", abbrev(js), ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// abbrev shortens js for error messages: conditions built on the helper
// snippets embed kilobytes of code, and their end says what was awaited.
func abbrev(js string) string {
	js = strings.Join(strings.Fields(js), " ")
	if len(js) <= 160 {
		return js
	}
	return js[:40] + " … " + js[len(js)-100:]
}

// Screenshot saves a PNG of the page's viewport to path, creating its
// directory.
func (p *Page) Screenshot(ctx context.Context, path string) error {
	var shot struct {
		Data []byte `json:"data"` // base64 in JSON, which encoding/json decodes into []byte
	}
	if err := p.conn.call(ctx, p.session, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	if err := os.WriteFile(path, shot.Data, 0o644); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	return nil
}

// Close closes the tab. It is safe to call more than once, and after the
// browser is closed.
func (p *Page) Close() error {
	p.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := p.conn.call(ctx, "", "Target.closeTarget", map[string]any{"targetId": p.targetID}, nil)
		for _, off := range p.offs {
			off()
		}
		var cdpErr *Error
		if errors.Is(err, ErrClosed) || errors.As(err, &cdpErr) {
			err = nil // the browser, or the tab, is already gone
		}
		if err != nil {
			p.closeErr = fmt.Errorf("close page: %w", err)
		}
	})
	return p.closeErr
}

// ArtifactsDir is where ScreenshotOnFailure saves by default:
// $VITRINE_ARTIFACTS, else vitrine-artifacts in the temporary directory. CI
// sets VITRINE_ARTIFACTS to a directory it keeps.
func ArtifactsDir() string {
	if d := os.Getenv("VITRINE_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "vitrine-artifacts")
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// ScreenshotOnFailure registers a cleanup that, if the test failed, saves a
// screenshot of p to dir (ArtifactsDir() if empty) as <test name>.png, and
// writes the page's console to <test name>.console.txt and to the test log.
// Cleanups run last-registered first, so call it after Launch and leave the
// page open (the browser cleanup closes it) for the screenshot to be taken
// before the browser goes.
func ScreenshotOnFailure(t testing.TB, p *Page, dir string) {
	t.Helper()
	if dir == "" {
		dir = ArtifactsDir()
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		base := freePath(filepath.Join(dir, unsafeName.ReplaceAllString(t.Name(), "_")))
		console := p.Console()
		t.Logf("browser console (%d entries):\n%s", len(console), strings.Join(console, "\n"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Logf("artifacts: %v", err)
			return
		}
		if err := os.WriteFile(base+".console.txt", []byte(strings.Join(console, "\n")+"\n"), 0o644); err != nil {
			t.Logf("artifacts: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Screenshot(ctx, base+".png"); err != nil {
			t.Logf("artifacts: %v", err)
			return
		}
		t.Logf("screenshot saved to %s.png", base)
	})
}

// usedNames are the artifact names taken in this run, so that a test with
// several pages gets base, base-2... while a rerun overwrites stale files.
var usedNames = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

func freePath(base string) string {
	usedNames.Lock()
	defer usedNames.Unlock()
	p := base
	for i := 2; usedNames.m[p]; i++ {
		p = fmt.Sprintf("%s-%d", base, i)
	}
	usedNames.m[p] = true
	return p
}
