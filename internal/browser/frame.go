package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

type frameTree struct {
	Frame struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	} `json:"frame"`
	Children []frameTree `json:"childFrames"`
}

func (f *frameTree) find(contains string) string {
	if f.Frame.URL != "" && strings.Contains(f.Frame.URL, contains) {
		return f.Frame.ID
	}
	for i := range f.Children {
		if id := f.Children[i].find(contains); id != "" {
			return id
		}
	}
	return ""
}

// EvalInFrame runs js, like Eval, in an isolated world of the page's
// first frame whose URL contains urlPart: an iframe of the page (rendered
// in the page's process, as same-site frames are). The isolated world
// shares the frame's DOM but not its JavaScript globals: enough to read
// what it shows and to click its buttons.
func (p *Page) EvalInFrame(ctx context.Context, urlPart, js string, out any) error {
	var tree struct {
		FrameTree frameTree `json:"frameTree"`
	}
	if err := p.conn.call(ctx, p.session, "Page.getFrameTree", nil, &tree); err != nil {
		return fmt.Errorf("eval in frame: %w", err)
	}
	fid := ""
	for i := range tree.FrameTree.Children {
		if fid = tree.FrameTree.Children[i].find(urlPart); fid != "" {
			break
		}
	}
	if fid == "" {
		return fmt.Errorf("eval in frame: no frame of %q in the page (an out-of-process frame?)", urlPart)
	}
	var world struct {
		ContextID int `json:"executionContextId"`
	}
	if err := p.conn.call(ctx, p.session, "Page.createIsolatedWorld",
		map[string]any{"frameId": fid, "worldName": "vitrine-test"}, &world); err != nil {
		return fmt.Errorf("eval in frame: %w", err)
	}
	var res struct {
		Result    remoteObject      `json:"result"`
		Exception *exceptionDetails `json:"exceptionDetails"`
	}
	err := p.conn.call(ctx, p.session, "Runtime.evaluate", map[string]any{
		"expression": js, "contextId": world.ContextID,
		"awaitPromise": true, "returnByValue": true, "userGesture": true,
	}, &res)
	if err != nil {
		return fmt.Errorf("eval in frame: %w", err)
	}
	if res.Exception != nil {
		return fmt.Errorf("eval in frame: %w", newJSError(*res.Exception))
	}
	if out == nil {
		return nil
	}
	if len(res.Result.Value) == 0 {
		return fmt.Errorf("eval in frame: result %s has no JSON value", describe(res.Result))
	}
	if err := json.Unmarshal(res.Result.Value, out); err != nil {
		return fmt.Errorf("eval in frame: decode result: %w", err)
	}
	return nil
}
