package hls

import "testing"

func TestViewerRequest(t *testing.T) {
	for _, tc := range []struct {
		path string
		id   string
		ok   bool
	}{
		{"/live/c1/index.m3u8", "c1", true},
		{"/live/c1/video.m3u8", "c1", true},
		{"/live/c1/part12.mp4", "", false},
		{"/live//index.m3u8", "", false},
		{"/replay/c1/index.m3u8", "", false},
	} {
		if id, ok := ViewerRequest(tc.path); id != tc.id || ok != tc.ok {
			t.Errorf("%s: %q %v, want %q %v", tc.path, id, ok, tc.id, tc.ok)
		}
	}
}
