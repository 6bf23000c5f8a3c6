//go:build !unix

package overlay

import "vitrine/events"

// defaultMaxSockets: no bound where the open-file limit is not known.
func defaultMaxSockets() int { return 0 }
