//go:build !linux

package netpoll

import (
	"errors"
	"syscall"
)

// Supported says whether this platform has a Poller.
const Supported = false

// ErrClosed: the poller was closed.
var ErrClosed = errors.New("netpoll: closed")

// Poller is not available on this platform: callers keep a goroutine per
// connection instead.
type Poller struct{}

// New fails on this platform.
func New() (*Poller, error) { return nil, errors.New("netpoll: not supported on this platform") }

func (p *Poller) Add(syscall.Conn, func()) error { return errors.ErrUnsupported }
func (p *Poller) Rearm(syscall.Conn) error       { return errors.ErrUnsupported }
func (p *Poller) Remove(syscall.Conn)            {}
func (p *Poller) Len() int                       { return 0 }
func (p *Poller) Run()                           {}
func (p *Poller) Close()                         {}
