package server

import (
	"maps"
	"slices"
	"testing"

	"vitrine/overlay"
	"vitrine/recorder"
)

// TestHostOnlyTypesAgree: the replay timeline hides exactly what the live
// channel keeps from viewers (the recorder reads the log as strings and
// does not import the overlay).
func TestHostOnlyTypesAgree(t *testing.T) {
	live := slices.Sorted(maps.Keys(overlay.HostOnly))
	replay := slices.Sorted(maps.Keys(recorder.HostOnly))
	if !slices.Equal(live, replay) {
		t.Fatalf("host-only types differ:\n live   %v\n replay %v", live, replay)
	}
}
