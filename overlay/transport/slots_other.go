//go:build !unix

package transport

import (
	"vitrine/events"
	"vitrine/overlay"
)

// defaultMaxSockets: no bound where the open-file limit is not known.
func defaultMaxSockets() int { return 0 }
