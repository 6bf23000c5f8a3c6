//go:build !linux

package webrtc

const gsoAvailable = false

func gsoControl(int) []byte { return nil }

func gsoRefused(error) bool { return true }
