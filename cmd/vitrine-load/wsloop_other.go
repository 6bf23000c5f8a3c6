//go:build !linux

package main

import (
	"context"
	"errors"
)

// wsReaders (epoll loops) exist on Linux only; elsewhere every viewer
// reads its socket from its own goroutine.
type wsReaders struct{}

func newWSReaders(context.Context, int, *wsStats) (*wsReaders, error) { return nil, nil }

func (*wsReaders) follow(*wsViewerConn, *int64, bool) error { return errors.ErrUnsupported }
