//go:build !unix

package main

// raiseFileLimit has nothing to raise on this system (0: unknown limit).
func raiseFileLimit() (uint64, error) { return 0, nil }
