//go:build !unix

package overlay

// defaultMaxSockets: no bound where the open-file limit is not known.
func defaultMaxSockets() int { return 0 }
