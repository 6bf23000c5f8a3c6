package transport

import (
	"errors"
	"sync"
)

// socketSlots bounds the events sockets open at once: in all, so that
// viewers cannot take the file descriptors the rest of the server needs
// (its other listeners, the store, the recorder), and per client address,
// so that one client cannot take them all.
type socketSlots struct {
	max, perAddr int // 0: no bound

	mu     sync.Mutex
	total  int
	byAddr map[string]int
}

var (
	errTooManySockets     = errors.New("too many events sockets on this server")
	errTooManyFromAddress = errors.New("too many events sockets from this address")
)

// take reserves a slot for a socket of addr (exempt: counted in all only)
// and returns its release, to call once when the socket is closed.
func (s *socketSlots) take(addr string, exempt bool) (func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max > 0 && s.total >= s.max {
		return nil, errTooManySockets
	}
	counted := !exempt && s.perAddr > 0
	if counted && s.byAddr[addr] >= s.perAddr {
		return nil, errTooManyFromAddress
	}
	s.total++
	if counted {
		if s.byAddr == nil {
			s.byAddr = map[string]int{}
		}
		s.byAddr[addr]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.total--
			if counted {
				if s.byAddr[addr]--; s.byAddr[addr] <= 0 {
					delete(s.byAddr, addr)
				}
			}
		})
	}, nil
}

// open is the number of sockets holding a slot.
func (s *socketSlots) open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}
