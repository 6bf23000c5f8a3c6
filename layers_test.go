package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"path"
	"strings"
	"testing"
)

// layers is the house of the README's Architecture section: for each
// package of the project (a pattern: "x/..." is x and everything under
// it, "x/*" one level under it), the project packages it may import. The
// order points down: main -> server -> {api, overlay/transport, notify,
// web} -> {protocols/*, recorder, overlay} -> analytics -> {stream,
// events, store, configs, internal/*}. The first pattern that matches
// applies; a package no pattern matches fails the test, so a new one is
// given its place here and in the README.
var layers = []struct {
	pkg string
	may []string
}{
	// Leaves: they import nothing of the project.
	{"vitrine/stream", nil},
	{"vitrine/events", nil},
	{"vitrine/configs", nil},
	{"vitrine/store", nil},
	{"vitrine/internal/...", []string{"vitrine/internal/..."}},
	{"vitrine/stream/streamtest", []string{"vitrine/stream"}},
	{"vitrine/store/...", []string{"vitrine/store/..."}},
	{"vitrine/analytics", []string{"vitrine/events", "vitrine/store", "vitrine/internal/..."}},
	// Media: protocols know nothing of campaigns, the data channel or one
	// another.
	{"vitrine/protocols/*", []string{"vitrine/stream", "vitrine/internal/..."}},
	{"vitrine/recorder", []string{"vitrine/stream", "vitrine/events", "vitrine/store", "vitrine/internal/..."}},
	// The data channel: the room knows no socket, its transports no media.
	{"vitrine/overlay", []string{"vitrine/events", "vitrine/store", "vitrine/internal/..."}},
	{"vitrine/overlay/transport", []string{"vitrine/overlay", "vitrine/events", "vitrine/store", "vitrine/internal/..."}},
	{"vitrine/notify/payload", []string{"vitrine/store"}},
	{"vitrine/notify", []string{"vitrine/notify/payload", "vitrine/store", "vitrine/internal/..."}},
	// The API never touches a media protocol's socket nor a transport.
	{"vitrine/api", []string{"vitrine/analytics", "vitrine/overlay", "vitrine/events", "vitrine/stream", "vitrine/store",
		"vitrine/notify/payload", "vitrine/internal/..."}},
	{"vitrine/web", []string{"vitrine/internal/..."}},
	// Wiring: everything below; nothing imports it but main.
	{"vitrine/server", []string{"vitrine/analytics", "vitrine/api", "vitrine/configs", "vitrine/events", "vitrine/notify/...",
		"vitrine/overlay/...", "vitrine/protocols/*", "vitrine/recorder", "vitrine/store/...", "vitrine/stream", "vitrine/web",
		"vitrine/internal/..."}},
	{"vitrine", []string{"vitrine/configs", "vitrine/server"}},
	{"vitrine/cmd/*", []string{"vitrine/events", "vitrine/internal/..."}},
}

// matches says whether pkg is named by pattern.
func matches(pattern, pkg string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	ok, _ := path.Match(pattern, pkg)
	return ok
}

// TestImportsPointDown lists the project's packages with their imports
// (go list) and checks each against layers.
func TestImportsPointDown(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
		i := -1
		for j, l := range layers {
			if matches(l.pkg, p.ImportPath) {
				i = j
				break
			}
		}
		if i < 0 {
			t.Errorf("%s has no place in the house: give it a layer (layers_test.go and the README)", p.ImportPath)
			continue
		}
		for _, imp := range p.Imports {
			if imp != "vitrine" && !strings.HasPrefix(imp, "vitrine/") {
				continue
			}
			ok := false
			for _, m := range layers[i].may {
				ok = ok || matches(m, imp)
			}
			if !ok {
				t.Errorf("%s imports %s: it climbs or crosses the layers (%s may import %v)", p.ImportPath, imp, layers[i].pkg, layers[i].may)
			}
		}
	}
	if n < 20 {
		t.Fatalf("go list gave %d packages", n)
	}
}

// TestLayerRules checks the rule table itself against imports that must
// never pass.
func TestLayerRules(t *testing.T) {
	for _, bad := range [][2]string{
		{"vitrine/stream", "vitrine/server"},
		{"vitrine/events", "vitrine/store"},
		{"vitrine/protocols/rtmp", "vitrine/server"},
		{"vitrine/protocols/hls", "vitrine/protocols/rtmp"},
		{"vitrine/analytics", "vitrine/overlay"},
		{"vitrine/recorder", "vitrine/overlay"},
		{"vitrine/overlay", "vitrine/overlay/transport"},
		{"vitrine/api", "vitrine/protocols/webrtc"},
		{"vitrine/api", "vitrine/server"},
	} {
		for _, l := range layers {
			if !matches(l.pkg, bad[0]) {
				continue
			}
			for _, m := range l.may {
				if matches(m, bad[1]) {
					t.Errorf("the rules let %s import %s", bad[0], bad[1])
				}
			}
			break
		}
	}
}
