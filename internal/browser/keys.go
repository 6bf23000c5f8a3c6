package browser

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

// namedKeys are the DOM key values Press knows besides single characters:
// their code and Windows virtual key code, as a US keyboard sends them.
var namedKeys = map[string]struct {
	code string
	vk   int
	text string
}{
	"Tab": {"Tab", 9, ""}, "Enter": {"Enter", 13, "\r"}, " ": {"Space", 32, " "}, "Escape": {"Escape", 27, ""},
	"Backspace": {"Backspace", 8, ""}, "PageUp": {"PageUp", 33, ""}, "PageDown": {"PageDown", 34, ""},
	"End": {"End", 35, ""}, "Home": {"Home", 36, ""}, "ArrowLeft": {"ArrowLeft", 37, ""},
	"ArrowUp": {"ArrowUp", 38, ""}, "ArrowRight": {"ArrowRight", 39, ""}, "ArrowDown": {"ArrowDown", 40, ""},
}

// Press presses and releases key on the page as a keyboard does: the
// focused element gets keydown, keypress (keys that type text), keyup, and
// the browser does what the key does by default (Tab moves the focus, Enter
// or Space activates the focused button, an arrow scrolls), unless the page
// prevents it. key is a DOM key value: a name of namedKeys ("Tab", "Enter",
// " ", "ArrowRight", "Home"...) or one printable character ("k"); shift
// holds Shift down meanwhile (Shift+Tab moves the focus back).
func (p *Page) Press(ctx context.Context, key string, shift bool) error {
	k, ok := namedKeys[key]
	if !ok {
		r, n := utf8.DecodeRuneInString(key)
		if n == 0 || n != len(key) || r < ' ' {
			return fmt.Errorf("press: unknown key %q", key)
		}
		up := strings.ToUpper(key)
		k.text, k.vk = key, int([]rune(up)[0])
		if len(up) == 1 && up[0] >= 'A' && up[0] <= 'Z' {
			k.code = "Key" + up
		} else if up[0] >= '0' && up[0] <= '9' {
			k.code = "Digit" + up
		}
	}
	mods := 0
	if shift {
		mods = 8
	}
	down := map[string]any{"type": "keyDown", "key": key, "code": k.code, "windowsVirtualKeyCode": k.vk,
		"nativeVirtualKeyCode": k.vk, "modifiers": mods}
	if k.text != "" {
		down["text"], down["unmodifiedText"] = k.text, k.text
	} else {
		down["type"] = "rawKeyDown"
	}
	if err := p.conn.call(ctx, p.session, "Input.dispatchKeyEvent", down, nil); err != nil {
		return fmt.Errorf("press %q: %w", key, err)
	}
	up := map[string]any{"type": "keyUp", "key": key, "code": k.code, "windowsVirtualKeyCode": k.vk,
		"nativeVirtualKeyCode": k.vk, "modifiers": mods}
	if err := p.conn.call(ctx, p.session, "Input.dispatchKeyEvent", up, nil); err != nil {
		return fmt.Errorf("press %q: %w", key, err)
	}
	return nil
}
