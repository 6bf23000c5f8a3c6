package recorder

import "testing"

func TestViewerRequest(t *testing.T) {
	for _, tc := range []struct {
		path    string
		id      string
		segment bool
		ok      bool
	}{
		{"/replay/c1/index.m3u8", "c1", false, true},
		{"/replay/c1/sequences/3/index.m3u8", "c1", false, true},
		{"/replay/c1/s0/12.m4s", "c1", true, true},
		{"/replay/c1/sequences/3/last.m4s", "c1", true, true},
		{"/replay/c1/s0/init.mp4", "", false, false},
		{"/replay/c1/events", "", false, false},
		{"/replay//index.m3u8", "", false, false},
		{"/live/c1/index.m3u8", "", false, false},
	} {
		id, segment, ok := ViewerRequest(tc.path)
		if id != tc.id || segment != tc.segment || ok != tc.ok {
			t.Errorf("%s: %q %v %v, want %q %v %v", tc.path, id, segment, ok, tc.id, tc.segment, tc.ok)
		}
	}
}
