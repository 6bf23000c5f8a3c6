//go:build linux

// Package netpoll tells which of many idle sockets became readable, with
// one goroutine for all of them (epoll), so that a server can keep tens of
// thousands of connections without a goroutine and buffers per idle one.
// Each registration is one-shot: after its callback, a socket is silent
// until Rearm, so one socket is never handled by two goroutines at once.
//
// It imports no package of the project.
package netpoll

import (
	"errors"
	"fmt"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Supported says whether this platform has a Poller.
const Supported = true

// Poller watches sockets for readability.
type Poller struct {
	epfd int
	wake int // an eventfd that stops Run

	mu    sync.Mutex
	fds   map[int32]func() // callbacks by descriptor
	close bool
	done  chan struct{}
}

// New creates a poller; Run starts it.
func New() (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("netpoll: epoll_create: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("netpoll: eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, fmt.Errorf("netpoll: watch the eventfd: %w", err)
	}
	return &Poller{epfd: epfd, wake: wake, fds: map[int32]func(){}, done: make(chan struct{})}, nil
}

// ErrClosed: the poller was closed.
var ErrClosed = errors.New("netpoll: closed")

// fdOf is the descriptor of conn.
func fdOf(conn syscall.Conn) (int32, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	var fd int32
	if err := rc.Control(func(f uintptr) { fd = int32(f) }); err != nil {
		return 0, err
	}
	return fd, nil
}

const events = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// Add watches conn: onReadable runs on a new goroutine when it has data
// (or was closed by the peer), once; Rearm watches it again. Remove it
// before closing conn.
func (p *Poller) Add(conn syscall.Conn, onReadable func()) error {
	fd, err := fdOf(conn)
	if err != nil {
		return fmt.Errorf("netpoll: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.close {
		return ErrClosed
	}
	p.fds[fd] = onReadable
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &unix.EpollEvent{Events: events, Fd: fd}); err != nil {
		delete(p.fds, fd)
		return fmt.Errorf("netpoll: epoll_ctl add: %w", err)
	}
	return nil
}

// Rearm watches conn again after its callback ran.
func (p *Poller) Rearm(conn syscall.Conn) error {
	fd, err := fdOf(conn)
	if err != nil {
		return fmt.Errorf("netpoll: %w", err)
	}
	// Under mu, so that Close cannot close the epoll descriptor (whose
	// number may then be reused) in between.
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.close {
		return ErrClosed
	}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, int(fd), &unix.EpollEvent{Events: events, Fd: fd}); err != nil {
		return fmt.Errorf("netpoll: epoll_ctl mod: %w", err)
	}
	return nil
}

// Remove stops watching conn (before it is closed: its descriptor may be
// reused).
func (p *Poller) Remove(conn syscall.Conn) {
	fd, err := fdOf(conn)
	if err != nil {
		return // already closed, and so out of the epoll set
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.fds, fd)
	if !p.close {
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	}
}

// Len is the number of sockets watched.
func (p *Poller) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.fds)
}

// Run dispatches readiness until Close.
func (p *Poller) Run() {
	defer close(p.done)
	evs := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(p.epfd, evs, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range evs[:n] {
			if int(ev.Fd) == p.wake {
				return
			}
			p.mu.Lock()
			fn := p.fds[ev.Fd]
			p.mu.Unlock()
			if fn != nil {
				go fn()
			}
		}
	}
}

// Close stops Run and releases the poller; sockets still watched are not
// closed.
func (p *Poller) Close() {
	p.mu.Lock()
	if p.close {
		p.mu.Unlock()
		return
	}
	p.close = true
	p.mu.Unlock()
	var one [8]byte
	one[7] = 1
	if _, err := unix.Write(p.wake, one[:]); err == nil {
		<-p.done
	}
	unix.Close(p.epfd)
	unix.Close(p.wake)
}
