package rtmp

import (
	"io"
	"log/slog"
	"testing"

	"vitrine/stream"
)

// BenchmarkChunkGuard measures the guard on every byte a publisher sends.
func BenchmarkChunkGuard(b *testing.B) {
	in := sampleStream(b, true, 0x01000000, 1<<20)
	out := make([]byte, 0, len(in))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if out, err = newChunkGuard(DefaultMaxMessageSize).feed(in, out[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSession measures FLV tags to units into a hub with one reader
// queue, the per-frame work of a publishing connection.
func BenchmarkSession(b *testing.B) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub, err := stream.NewHub(stream.Config{ReaderQueue: 1024, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	defer hub.Close()
	srv := &Server{cfg: Config{Hub: hub}, log: log}
	c := &conn{srv: srv, log: log, closing: make(chan struct{})}
	s := newSession(&handler{c: c}, "bench", 1)
	defer func() {
		s.close()
		close(c.closing)
		srv.wg.Wait()
	}()

	tags := sampleTags(b)
	var size int
	for _, tag := range tags {
		size += len(tag.body)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var base uint32
	for b.Loop() {
		for _, tag := range tags {
			var err error
			switch tag.typ {
			case 8:
				err = s.onAudio(base+tag.ts, tag.body)
			case 9:
				err = s.onVideo(base+tag.ts, tag.body)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		base += 1000
	}
	if s.pub == nil {
		b.Fatal("not published")
	}
}
