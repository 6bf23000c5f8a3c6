package stream

import (
	"sync"
	"time"
)

// PublisherInfo describes who is publishing, for logs and the API.
type PublisherInfo struct {
	Protocol string `json:"protocol"`
	Remote   string `json:"remote"`
}

// Publisher is the write side of a Stream, held by one protocol connection.
type Publisher struct {
	stream *Stream
	info   PublisherInfo
	since  time.Time

	kickOnce  sync.Once
	done      chan struct{}
	closeOnce sync.Once
}

// Stream returns the stream being published.
func (p *Publisher) Stream() *Stream { return p.stream }

// Write hands a unit to every reader of the stream. It never blocks on a
// reader. Ownership of u passes to the stream: see Unit.
func (p *Publisher) Write(u *Unit) {
	p.stream.write(p, u, time.Now())
}

// WriteAt is Write for a unit that arrived at an earlier time, held by the
// protocol meanwhile (until every track had started, say): its capture
// time is reckoned from its arrival.
func (p *Publisher) WriteAt(u *Unit, arrival time.Time) {
	p.stream.write(p, u, arrival)
}

// Done is closed when the server wants this publisher gone (the stream was
// ended, or the server is shutting down); the protocol must then close its
// connection and call Close.
func (p *Publisher) Done() <-chan struct{} { return p.done }

// Close detaches the publisher. The stream waits for a reconnection for the
// hub's reconnect window before it closes. Close is idempotent.
func (p *Publisher) Close() {
	p.closeOnce.Do(func() { p.stream.detach(p) })
}

func (p *Publisher) kick() {
	p.kickOnce.Do(func() { close(p.done) })
}
